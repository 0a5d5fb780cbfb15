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

test('the model repository API with a token: index, unload, load; without it, 401', async () => {
  const token = 'feedfacefeedfacefeedfacefeedface';
  const s = await startServer({ repository: fx.root, port: 0, managementToken: token });
  try {
    const c = new LatheClient(s.url, { managementToken: token });
    const index = await c.repositoryIndex();
    assert.deepEqual(index.filter((e) => e.name === 'old'), [{ name: 'old', version: '7', state: 'READY', reason: '', runtime: 'lathe' }]);
    assert.deepEqual(await c.unloadModel('old'), [{ name: 'old', state: 'UNAVAILABLE', reason: 'unloaded' }]);
    await assert.rejects(c.predict('old', pixels(1, 1).toArray() as number[][]), (e: LatheClientError) => e.status === 404);
    assert.ok(!(await c.repositoryIndex({ ready: true })).some((e) => e.name === 'old'));
    assert.deepEqual((await c.loadModel('old')).map((e) => [e.version, e.state]), [['7', 'READY']]);
    assert.equal((await c.predict('old', pixels(1, 1).toArray() as number[][])).predictions.length, 1);
    await assert.rejects(new LatheClient(s.url).repositoryIndex(), (e: LatheClientError) => e.status === 401 && /Authorization: Bearer/.test(e.message));
    await assert.rejects(new LatheClient(s.url, { managementToken: 'x'.repeat(32) }).loadModel('old'), (e: LatheClientError) => e.status === 401);
    const r = await c.infer('mlp', [{ name: 'input', shape: [1, 784], datatype: 'FP32', data: (pixels(1, 1).toArray() as number[][])[0] }], { timeoutMicroseconds: 1_000_000 });
    assert.equal(r.outputs[0].shape.join(), '1,10');
  } finally {
    await s.close();
  }
});

test('explain: integrated gradients by label with a class-name target; a bad method is a 400 LatheClientError', async () => {
  const c = new LatheClient(server.url);
  const rows = pixels(2, 8).toArray() as number[][];
  const r = await c.explain('mlp', rows, { target: 'seven', steps: 16 }, { label: 'stable' });
  assert.equal(r.method, 'ig');
  assert.deepEqual(r.explanations.map((e) => [e.target, e.class, e.attributions.length]), [[7, 'seven', 784], [7, 'seven', 784]]);
  for (const e of r.explanations) {
    const sum = (e.attributions as number[]).reduce((a, b) => a + b, 0);
    assert.ok(Math.abs(sum - (e.score - e.baseline_score!) - e.delta!) <= 1e-6 * Math.max(1, Math.abs(e.score)));
  }
  await assert.rejects(c.explain('mlp', rows, { method: 'shap' as 'ig' }), (e: unknown) => e instanceof LatheClientError && e.status === 400 && /"method" must be one of/.test(e.message));
});
