// What happens when the native addon is missing or broken: a reason that names the file.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadAddon } from '../../src/backends/native/addon.js';
import * as lt from '../../src/index.js';
import { assertThrowsLathe } from '../helpers.js';

test('a missing addon file is reported with its path', () => {
  const r = loadAddon('/nonexistent/lathe_native.node');
  assert.ok('error' in r);
  assert.match(r.error, /^\/nonexistent\/lathe_native\.node does not exist \(the native build did not run or failed\)$/);
});

test('a corrupt addon file is reported with its path and the loader\'s reason', () => {
  const file = join(mkdtempSync(join(tmpdir(), 'lathe-')), 'lathe_native.node');
  writeFileSync(file, 'not a shared object');
  const r = loadAddon(file);
  assert.ok('error' in r);
  assert.ok(r.error.startsWith(`${file} failed to load: `), r.error);
});

test('asking for an unknown backend names the ones there are', () => {
  assertThrowsLathe(() => lt.setBackend('cuda'), /^backend: unknown backend "cuda" \(available: js/);
});
