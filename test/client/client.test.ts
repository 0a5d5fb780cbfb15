// lathe/client against a running `lathe serve`: every call answers what the HTTP APIs answer,
// errors carry the status and the server's message, and the package exports it as lathe/client.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { after, before, test } from 'node:test';
import { LatheClient, LatheClientError } from '../../src/client/index.js';
import { startServer, type RunningServer } from '../../src/serve/http/server.js';
import { buildRepository, CLASS_NAMES, pixels, type Fixture } from '../serve/repository-fixture.js';

let fx: Fixture;
let server: RunningServer;
before(async () => {
  fx = await buildRepository();
  server = await startServer({ repository: fx.root, port: 0 });
});
after(async () => {
  await server.close();
  fs.rmSync(fx.root, { recursive: true, force: true });
});

test('status, metadata, predict, classify, infer and ready', async () => {
  const c = new LatheClient(`${server.url}/`);
  const x = pixels(3, 4);
  const rows = x.toArray() as number[][];
  const want = fx.v1.predict(x).toArray() as number[][];
  assert.equal((await c.status('mlp', { version: 1 })).model_version_status[0].state, 'AVAILABLE');
  const meta = (await c.metadata('mlp', { label: 'stable' })) as { metadata: { signature_def: unknown } };
  assert.ok(meta.metadata.signature_def, 'TF Serving nests the SignatureDefMap under metadata');
  const p = await c.predict('mlp', rows, { label: 'stable' });
  p.predictions.forEach((row, i) => (row as number[]).forEach((v, k) => assert.ok(Math.abs(v - want[i][k]) <= 1e-6)));
  assert.deepEqual(p.classes, want.map((r) => CLASS_NAMES[r.indexOf(Math.max(...r))]));
  const cl = await c.classify('mlp', rows.slice(0, 1), { version: 1 });
  assert.deepEqual(cl.results[0].map(([label]) => label), CLASS_NAMES);
  const inf = await c.infer('mlp', [{ name: 'input', shape: [1, 784], datatype: 'FP32', data: rows[0] }], { version: 1, id: 'r1' });
  assert.equal(inf.id, 'r1');
  inf.outputs[0].data.forEach((v, k) => assert.ok(Math.abs((v as number) - want[0][k]) <= 1e-6));
  assert.equal(await c.ready('mlp'), true);
  assert.equal(await c.ready('mlp', 99), false);
});

test('errors carry the status and the server\'s message', async () => {
  const c = new LatheClient(server.url);
  await assert.rejects(c.predict('nope', [[1]]), (e: unknown) => e instanceof LatheClientError && e.status === 404 && /nope/.test(e.message));
  await assert.rejects(c.predict('mlp', [[1, 2]]), (e: unknown) => e instanceof LatheClientError && e.status === 400 && /784/.test(e.message));
});

test('the package exports it as lathe/client', () => {
  const pkg = JSON.parse(fs.readFileSync(new URL('../../../package.json', import.meta.url), 'utf8'));
  assert.equal(pkg.exports['./client'].default, './dist/src/client/index.js');
  assert.ok(fs.existsSync(new URL('../../src/client/index.js', import.meta.url)));
});
