// `lathe ui` as a user runs it: bin/lathe.js on port 0 prints its listening line on 127.0.0.1,
// answers the runs API, and exits 0 on SIGTERM; a missing runs folder fails with a clear error.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { RUN_IDS, writeFixtureRuns } from './fixtures.js';

const bin = path.join(fileURLToPath(new URL('../../../', import.meta.url)), 'bin', 'lathe.js');

test('lathe ui serves a runs folder on 127.0.0.1 and exits 0 on SIGTERM', async () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lathe-ui-cli-'));
  try {
    const runs = writeFixtureRuns(path.join(tmp, 'runs'));
    const child = spawn(process.execPath, [bin, 'ui', '--runs', runs, '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (c) => (stderr += c));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const line = await new Promise<string>((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (c) => {
        out += c;
        if (out.includes('\n')) resolve(out.split('\n')[0]);
      });
      child.once('exit', (code) => reject(new Error(`exited ${code} before listening: ${stderr}`)));
    });
    const { listening } = JSON.parse(line);
    assert.match(listening, /^http:\/\/127\.0\.0\.1:\d+\/ui\/$/);
    const { runs: listed } = await (await fetch(new URL('../api/runs', listening))).json();
    assert.ok(listed.some((r: { id: string }) => r.id === RUN_IDS.mlp));
    child.kill('SIGTERM');
    assert.equal(await exited, 0, stderr);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});

test('lathe ui names a missing runs folder and a bad port', () => {
  const missing = spawnSync(process.execPath, [bin, 'ui', '--runs', '/nonexistent/runs'], { encoding: 'utf8' });
  assert.equal(missing.status, 1);
  assert.match(missing.stderr, /lathe: ui: --runs \/nonexistent\/runs: no such folder/);
  const port = spawnSync(process.execPath, [bin, 'ui', '--runs', os.tmpdir(), '--port', '70000'], { encoding: 'utf8' });
  assert.equal(port.status, 1);
  assert.match(port.stderr, /--port must be an integer from 0 to 65535/);
});
