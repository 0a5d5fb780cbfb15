// The dynamic batcher behind the HTTP APIs (config.json "batching"): concurrent requests are
// answered from shared batches with the same numbers as in-process predictions, and a full queue
// answers 503 with Retry-After at once.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import * as lt from '../../src/index.js';
import { startServer } from '../../src/serve/http/server.js';
import { parseModelConfig } from '../../src/serve/repository.js';
import { buildRepository, pixels, type Fixture } from './repository-fixture.js';

let fx: Fixture;
before(async () => {
  fx = await buildRepository();
  for (const [name, batching] of [['batched', { maxBatchSize: 8, maxQueueDelayMicroseconds: 20000 }], ['tiny-queue', { maxBatchSize: 8, maxQueueDelayMicroseconds: 300000, maxQueueSize: 1 }]] as const) {
    lt.save(fx.v2, path.join(fx.root, name, '1'));
    fs.writeFileSync(path.join(fx.root, name, 'config.json'), JSON.stringify({ batching }));
  }
});
after(() => fs.rmSync(fx.root, { recursive: true, force: true }));

const post = (url: string, body: unknown) => fetch(url, { method: 'POST', body: JSON.stringify(body) });

test('32 concurrent requests share batches and get the in-process numbers, through both APIs', async () => {
  const server = await startServer({ repository: fx.root, port: 0 });
  try {
    const x = pixels(32, 5);
    const want = fx.v2.predict(x).toArray() as number[][];
    const rows = x.toArray() as number[][];
    const answers = await Promise.all(rows.map((row, i) =>
      i % 2 === 0
        ? post(`${server.url}/v1/models/batched:predict`, { instances: [row] }).then(async (r) => (assert.equal(r.status, 200), ((await r.json()) as { predictions: number[][] }).predictions[0]))
        : post(`${server.url}/v2/models/batched/infer`, { inputs: [{ name: 'input', shape: [1, 784], datatype: 'FP32', data: row }] }).then(async (r) => (assert.equal(r.status, 200), ((await r.json()) as { outputs: { data: number[] }[] }).outputs[0].data)),
    ));
    answers.forEach((got, i) => got.forEach((v, k) => assert.ok(Math.abs(v - want[i][k]) <= 1e-6, `request ${i} output ${k}: ${v} vs ${want[i][k]}`)));
    const stats = server.repository.model('batched')!.versions.get(1)!.batcher!.stats();
    assert.equal(stats.completed, 32);
    assert.ok(Object.keys(stats.batchSizeCounts).some((size) => Number(size) > 1), `batches were shared: ${JSON.stringify(stats.batchSizeCounts)}`);
  } finally {
    await server.close();
  }
});

test('a full queue answers 503 with Retry-After at once, and the queued request still succeeds', async () => {
  const server = await startServer({ repository: fx.root, port: 0 });
  try {
    const row = (pixels(1, 9).toArray() as number[][])[0];
    const first = post(`${server.url}/v1/models/tiny-queue:predict`, { instances: [row] }); // waits out the 300 ms delay
    await new Promise((r) => setTimeout(r, 50));
    const t0 = performance.now();
    const second = await post(`${server.url}/v1/models/tiny-queue:predict`, { instances: [row] });
    assert.ok(performance.now() - t0 < 200, 'rejected without waiting');
    assert.equal(second.status, 503);
    assert.ok(Number(second.headers.get('retry-after')) >= 1);
    assert.match(((await second.json()) as { error: string }).error, /queue/i);
    assert.equal((await first).status, 200);
  } finally {
    await server.close();
  }
});

test('bad batching fields in config.json are named', () => {
  assert.throws(() => parseModelConfig({ batching: { maxBatchSize: 0 } }, 'config.json'), /^LatheError: config\.json: batching\.maxBatchSize: must be an integer >= 1, got 0$/);
  assert.throws(() => parseModelConfig({ batching: { maxDelay: 5 } }, 'config.json'), /config\.json: batching: unknown field "maxDelay"/);
  assert.deepEqual(parseModelConfig({ batching: {} }, 'c').batching, { maxBatchSize: 32, maxQueueDelayMicroseconds: 500, maxQueueSize: 256 });
  assert.equal(parseModelConfig({ batching: { defaultTimeoutMicroseconds: 2500 } }, 'c').batching!.defaultTimeoutMicroseconds, 2500);
  assert.throws(() => parseModelConfig({ batching: { defaultTimeoutMicroseconds: 0 } }, 'config.json'), /config\.json: batching\.defaultTimeoutMicroseconds: must be an integer >= 1, got 0/);
  assert.throws(() => parseModelConfig({ runtime: 'tensorrt' }, 'config.json'), /config\.json: runtime: must be one of "auto", "lathe", "lathe-worker", "webgpu", "onnxruntime", got "tensorrt"/);
});
