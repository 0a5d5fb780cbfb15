// `lathe ui` as a user runs it: bin/lathe.js on port 0 prints its listening line on 127.0.0.1,
// answers the runs API, and exits 0 on SIGTERM; a missing runs folder fails with a clear error.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { LATHE_BIN as bin, startListening } from '../cli-process.js';
import { RUN_IDS, writeFixtureRuns } from './fixtures.js';

test('lathe ui serves a runs folder on 127.0.0.1 and exits 0 on SIGTERM', async () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lathe-ui-cli-'));
  try {
    const runs = writeFixtureRuns(path.join(tmp, 'runs'));
    const { child, info, exited, stderr } = await startListening(['ui', '--runs', runs, '--port', '0']);
    const { listening } = info;
    assert.match(listening, /^http:\/\/127\.0\.0\.1:\d+\/ui\/$/);
    const { runs: listed } = await (await fetch(new URL('../api/runs', listening))).json();
    assert.ok(listed.some((r: { id: string }) => r.id === RUN_IDS.mlp));
    child.kill('SIGTERM');
    assert.equal(await exited, 0, stderr());
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
