// Serving on the GPU (issue 11: "train and serve on any GPU"): a version whose config.json says
// "runtime": "webgpu" loads its weights onto the GPU and answers what the CPU runtime does
// (<= 1e-5), one request or many batched; closing the runtime frees its GPU buffers. Skips, saying
// why, without the `webgpu` package or an adapter (CI: lavapipe).
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startServer } from '../../src/serve/http/server.js';
import { loadWebGPURuntime } from '../../src/serve/runtimes/webgpu.js';
import { addMlpCopies, buildRepository, type Fixture, maxDiff, pixels } from '../serve/repository-fixture.js';
import { gpu, skip } from './webgpu-setup.js';

let fx: Fixture;
before(async () => {
  fx = await buildRepository();
  addMlpCopies(fx, { 'mlp-gpu': { runtime: 'webgpu' }, 'mlp-gpu-batched': { runtime: 'webgpu', batching: { maxBatchSize: 8, maxQueueDelayMicroseconds: 2000 } } });
});
after(() => fs.rmSync(fx.root, { recursive: true, force: true }));

describe('the webgpu serving runtime', { skip }, () => {
  test('runs on the GPU, answers as the CPU does, and frees its buffers when closed', async () => {
    const inUse = () => gpu!.memory().inUseBytes;
    const before = inUse();
    const runtime = await loadWebGPURuntime(path.join(fx.root, 'mlp', '2'));
    assert.equal(runtime.name, 'webgpu');
    await runtime.warmUp();
    for (const n of [1, 9]) {
      const x = pixels(n, 50 + n);
      const y = await runtime.run(x);
      assert.notEqual(y.backend.name, 'webgpu', 'the output comes back to the host');
      assert.ok(maxDiff(y.dataSync(), fx.v2.predict(x).dataSync()) <= 1e-5);
    }
    const weightBytes = 4 * (784 * 16 + 16 + 16 * 10 + 10);
    const loaded = inUse();
    assert.ok(loaded - before >= weightBytes, `the weights live on the GPU (${loaded - before} bytes in use)`);
    await runtime.close();
    assert.ok(loaded - inUse() >= weightBytes, `closing frees them (${loaded - inUse()} bytes)`);
    await assert.rejects(async () => runtime.run(pixels(1, 1)), /the runtime is closed/);
  });

  test('served with "runtime": "webgpu", batched or not: predictions equal the CPU\'s (<= 1e-5)', async () => {
    const srv = await startServer({ repository: fx.root, port: 0 });
    try {
      const x = pixels(20, 78);
      const want = fx.v2.predict(x).dataSync();
      const rows = x.toArray() as number[][];
      for (const model of ['mlp-gpu', 'mlp-gpu-batched']) {
        const meta = await (await fetch(`${srv.url}/v2/models/${model}`)).json();
        assert.equal(meta.runtime, 'webgpu');
        const whole = await (await fetch(`${srv.url}/v1/models/${model}:predict`, { method: 'POST', body: JSON.stringify({ instances: rows }) })).json();
        assert.ok(maxDiff((whole.predictions as number[][]).flat(), want) <= 1e-5, model);
        const single = await Promise.all(rows.map((r) => fetch(`${srv.url}/v1/models/${model}:predict`, { method: 'POST', body: JSON.stringify({ instances: [r] }) }).then((res) => res.json())));
        assert.ok(maxDiff(single.flatMap((s) => (s.predictions as number[][]).flat()), want) <= 1e-5, model);
      }
      const bad = await fetch(`${srv.url}/v1/models/mlp-gpu:predict`, { method: 'POST', body: '{"instances": [[1, 2]]}' });
      assert.equal(bad.status, 400);
      // :explain runs on the host copy of the model
      const ex = await fetch(`${srv.url}/v1/models/mlp-gpu:explain`, { method: 'POST', body: JSON.stringify({ instances: [rows[0]], steps: 8 }) });
      assert.equal(ex.status, 200, await ex.clone().text());
    } finally {
      await srv.close();
    }
  });
});
