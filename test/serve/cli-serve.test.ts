// `lathe serve` as a user runs it: a child process of bin/lathe.js on port 0 prints its
// listening line, serves both APIs, and on SIGTERM finishes and exits 0; bad flags fail clearly.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { LATHE_BIN as bin, startListening } from '../cli-process.js';
import { buildRepository, type Fixture, pixels } from './repository-fixture.js';
let fx: Fixture;
before(async () => (fx = await buildRepository()));
after(() => fs.rmSync(fx.root, { recursive: true, force: true }));

test('lathe serve prints {"listening"}, serves, and exits 0 on SIGTERM', async () => {
  const { child, info, exited, stderr } = await startListening(['serve', '--model-repository', fx.root, '--port', '0']);
  const { listening } = info;
  assert.match(listening, /^http:\/\/127\.0\.0\.1:\d+$/);
  assert.equal((await fetch(`${listening}/v2/health/ready`)).status, 200);
  const x = pixels(2, 3);
  const r = await (await fetch(`${listening}/v1/models/mlp:predict`, { method: 'POST', body: JSON.stringify({ instances: x.toArray() }) })).json();
  const want = fx.v2.predict(x).toArray() as number[][];
  assert.ok(r.predictions.flat().every((v: number, i: number) => Math.abs(v - want.flat()[i]) <= 1e-6));
  // The load log names the broken version and its error, as JSON lines on stderr.
  const logs = stderr().trim().split('\n').map((l) => JSON.parse(l));
  assert.ok(logs.some((l) => l.event === 'load' && l.model === 'broken' && l.version === 1 && l.state === 'END' && /model\.json/.test(l.error)), stderr());
  child.kill('SIGTERM');
  assert.equal(await exited, 0, stderr());
});

test('lathe serve refuses a missing repository and a bad port with a clear message', () => {
  const missing = spawnSync(process.execPath, [bin, 'serve', '--model-repository', path.join(fx.root, 'nope')], { encoding: 'utf8' });
  assert.equal(missing.status, 1);
  assert.match(missing.stderr, /lathe: serve: --model-repository .*nope is not a directory/);
  const port = spawnSync(process.execPath, [bin, 'serve', '--model-repository', fx.root, '--port', '70000'], { encoding: 'utf8' });
  assert.equal(port.status, 1);
  assert.match(port.stderr, /--port must be an integer from 0 to 65535, got 70000/);
});

/** Spawns `lathe serve`, resolves with its URL once it prints {"listening"}. */
async function serveCli(args: string[], env: NodeJS.ProcessEnv = process.env) {
  const { child, info, exited, stderr } = await startListening(['serve', '--model-repository', fx.root, '--port', '0', ...args], env);
  return { url: info.listening as string, stop: async () => (child.kill('SIGTERM'), await exited), stderr };
}

test('--management-token-file turns the repository API on; the token never reaches the log', async () => {
  const token = 'c0ffee00c0ffee00c0ffee00c0ffee00';
  const file = path.join(fx.root, 'token');
  fs.writeFileSync(file, `${token}\n`, { mode: 0o600 });
  const s = await serveCli(['--management-token-file', file, '--access-log', '--request-timeout-ms', '5000']);
  try {
    assert.equal((await fetch(`${s.url}/v2/repository/index`, { method: 'POST' })).status, 401);
    const r = await fetch(`${s.url}/v2/repository/index`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
    assert.equal(r.status, 200);
    assert.ok(((await r.json()) as { name: string }[]).some((e) => e.name === 'mlp'));
  } finally {
    assert.equal(await s.stop(), 0);
  }
  assert.match(s.stderr(), /"event":"management","enabled":true/);
  assert.ok(!s.stderr().includes(token), 'the token is not in the log');
  assert.ok(!/"event":"warning"[^\n]*token/.test(s.stderr()), 'a token file of mode 600 gives no warning');
});

test('the token from the command line warns; short tokens, two sources and a bad timeout are refused', () => {
  const run = (args: string[], env: NodeJS.ProcessEnv = {}) => spawnSync(process.execPath, [bin, 'serve', '--model-repository', fx.root, ...args], { encoding: 'utf8', env: { ...process.env, ...env } });
  const flag = run(['--management-token', 'short']);
  assert.equal(flag.status, 1);
  assert.match(flag.stderr, /--management-token puts the token on the command line, where ps and shell history show it/);
  assert.match(flag.stderr, /--management-token: the management token must be at least 16 characters/);
  const env = run([], { LATHE_MANAGEMENT_TOKEN: 'x' });
  assert.equal(env.status, 1);
  assert.match(env.stderr, /LATHE_MANAGEMENT_TOKEN: the management token must be at least 16 characters/);
  const both = run(['--management-token-file', path.join(fx.root, 'token')], { LATHE_MANAGEMENT_TOKEN: 'x'.repeat(20) });
  assert.equal(both.status, 1);
  assert.match(both.stderr, /give the management token one way/);
  const missing = run(['--management-token-file', path.join(fx.root, 'no-such-token')]);
  assert.match(missing.stderr, /--management-token-file .*no-such-token: cannot read it \(ENOENT\)/);
  assert.match(run(['--request-timeout-ms', '0']).stderr, /--request-timeout-ms must be a number > 0, got 0/);
});
