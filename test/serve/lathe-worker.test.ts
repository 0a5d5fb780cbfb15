// The "lathe-worker" runtime (issue 7: Lathe models run through an async path, so the event loop
// never blocks): the same answers as the in-process "lathe" runtime (<= 1e-6), through the
// server batched or not, with LatheErrors still 400; and while a big batch computes in the
// worker, a 2 ms timer keeps firing on the main thread, where the in-process runtime stalls it.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import * as lt from '../../src/index.js';
import { Dense, Rescaling } from '../../src/nn/layers/index.js';
import { startServer } from '../../src/serve/http/server.js';
import { loadLatheRuntime } from '../../src/serve/runtimes/lathe.js';
import { loadLatheWorkerRuntime } from '../../src/serve/runtimes/lathe-worker.js';
import { addMlpCopies, buildRepository, type Fixture, maxDiff, pixels } from './repository-fixture.js';

let fx: Fixture;
before(async () => {
  fx = await buildRepository();
  addMlpCopies(fx, { 'mlp-worker': { runtime: 'lathe-worker' }, 'mlp-worker-batched': { runtime: 'lathe-worker', batching: { maxBatchSize: 8, maxQueueDelayMicroseconds: 2000 } } });
});
after(() => fs.rmSync(fx.root, { recursive: true, force: true }));

test('the worker answers what the in-process runtime does, and its errors keep their kind', async () => {
  const dir = path.join(fx.root, 'mlp', '2');
  const worker = await loadLatheWorkerRuntime(dir);
  try {
    await worker.warmUp();
    const inProcess = loadLatheRuntime(dir);
    assert.equal(worker.name, 'lathe-worker');
    assert.deepEqual(worker.signature, inProcess.signature);
    for (const n of [1, 7, 64]) {
      const x = pixels(n, 40 + n);
      const [a, b] = await Promise.all([worker.run(x), inProcess.run(x)]);
      assert.deepEqual(a.shape, [n, 10]);
      assert.ok(maxDiff(a.dataSync(), b.dataSync()) <= 1e-6);
    }
    // Several batches in flight at once come back to their own callers.
    const xs = [3, 5, 2].map((n, i) => pixels(n, 90 + i));
    const outs = await Promise.all(xs.map((x) => worker.run(x)));
    outs.forEach((o, i) => assert.ok(maxDiff(o.dataSync(), fx.v2.predict(xs[i]).dataSync()) <= 1e-6));
    await assert.rejects(worker.run(lt.zeros([2, 5])), (e: Error) => e instanceof lt.LatheError);
  } finally {
    await worker.close();
  }
  await assert.rejects(worker.run(pixels(1, 1)), /the runtime is closed/);
});

test('served with "runtime": "lathe-worker", batched or not: predictions equal in-process ones (<= 1e-6)', async () => {
  const srv = await startServer({ repository: fx.root, port: 0 });
  try {
    const x = pixels(20, 77);
    const want = fx.v2.predict(x).dataSync();
    for (const model of ['mlp-worker', 'mlp-worker-batched']) {
      const meta = await (await fetch(`${srv.url}/v2/models/${model}`)).json();
      assert.equal(meta.runtime, 'lathe-worker');
      const rows = x.toArray() as number[][];
      // One request of 20 rows, and 20 requests of one row at once (the batched model coalesces them).
      const whole = await (await fetch(`${srv.url}/v1/models/${model}:predict`, { method: 'POST', body: JSON.stringify({ instances: rows }) })).json();
      assert.ok(maxDiff((whole.predictions as number[][]).flat(), want) <= 1e-6, model);
      const single = await Promise.all(rows.map((r) => fetch(`${srv.url}/v1/models/${model}:predict`, { method: 'POST', body: JSON.stringify({ instances: [r] }) }).then((res) => res.json())));
      assert.ok(maxDiff(single.flatMap((s) => (s.predictions as number[][]).flat()), want) <= 1e-6, model);
    }
    const bad = await fetch(`${srv.url}/v1/models/mlp-worker:predict`, { method: 'POST', body: '{"instances": [[1, 2]]}' });
    assert.equal(bad.status, 400);
    // :explain runs on the main thread's copy of the model.
    const ex = await fetch(`${srv.url}/v1/models/mlp-worker:explain`, { method: 'POST', body: JSON.stringify({ instances: [(x.toArray() as number[][])[0]], steps: 8 }) });
    assert.equal(ex.status, 200);
  } finally {
    await srv.close();
  }
});

/**
 * How late a 2 ms timer chain fires while `work` runs (the event loop's responsiveness), and how
 * long the work took. A timer rather than a setImmediate spin, which would take a core from the work.
 */
async function timerLateness(work: () => Promise<unknown>): Promise<{ maxLateMs: number; ms: number; ticks: number }> {
  let maxLateMs = 0;
  let ticks = 0;
  let done = false;
  const arm = () => {
    const due = performance.now() + 2;
    setTimeout(() => {
      maxLateMs = Math.max(maxLateMs, performance.now() - due);
      ticks++;
      if (!done) arm();
    }, 2);
  };
  const t0 = performance.now();
  arm();
  await work();
  const ms = performance.now() - t0;
  await new Promise((resolve) => setTimeout(resolve, 5)); // one more timer, so a loop blocked by `work` records its lateness
  done = true;
  return { maxLateMs, ms, ticks };
}

test('the event loop keeps turning while the worker computes a big batch; in-process it stalls', async (t) => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lathe-worker-big-'));
  try {
    lt.manualSeed(3);
    const big = new lt.Sequential([new Rescaling(1 / 255, 0, { inputShape: [784] }), new Dense(1024, { activation: 'relu' }), new Dense(1024, { activation: 'relu' }), new Dense(10)]);
    lt.save(big, tmp);
    const x = pixels(4096, 5);
    const worker = await loadLatheWorkerRuntime(tmp);
    const inProcess = loadLatheRuntime(tmp);
    try {
      await worker.warmUp();
      await inProcess.warmUp();
      // One big batch each first, as a server has run before: the first batch of a size faults in
      // fresh memory (the worker's staging buffer on the main thread too), which on a VM where a
      // page costs ~10 us held the loop for tens of ms on its own.
      await worker.run(x);
      inProcess.run(x);
      let yWorker!: lt.Tensor;
      let yInProcess!: lt.Tensor;
      const off = await timerLateness(async () => (yWorker = await worker.run(x)));
      const on = await timerLateness(async () => (yInProcess = inProcess.run(x) as lt.Tensor));
      assert.ok(maxDiff(yWorker.dataSync(), yInProcess.dataSync()) <= 1e-6);
      const report = `worker: ${off.ms.toFixed(0)} ms, a 2 ms timer at most ${off.maxLateMs.toFixed(1)} ms late (${off.ticks} fired); in-process: ${on.ms.toFixed(0)} ms, at most ${on.maxLateMs.toFixed(1)} ms late`;
      t.diagnostic(report);
      // In-process, the timer waits for the whole batch; with the worker, a fraction of it.
      assert.ok(on.maxLateMs >= 0.8 * on.ms - 5, report);
      assert.ok(off.maxLateMs < Math.max(25, off.ms / 4), report);
      assert.ok(off.ticks >= 10, report);
    } finally {
      await worker.close();
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});
