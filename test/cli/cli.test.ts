// The lathe command as a user runs it: a child process of bin/lathe.js.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const bin = `${root}bin/lathe.js`;
const pkg = JSON.parse(readFileSync(`${root}package.json`, 'utf8')) as { version: string };

test('lathe --version prints the package version', () => {
  assert.equal(execFileSync(process.execPath, [bin, '--version'], { encoding: 'utf8' }).trim(), pkg.version);
});

test('lathe --help lists the commands', () => {
  const out = execFileSync(process.execPath, [bin, '--help'], { encoding: 'utf8' });
  assert.match(out, /Usage: lathe <command>/);
  assert.match(out, /version/);
});

test('an unknown command fails with exit code 2 and says how to get help', () => {
  const r = spawnSync(process.execPath, [bin, 'frobnicate'], { encoding: 'utf8' });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /lathe: unknown command "frobnicate"; run lathe --help/);
});
