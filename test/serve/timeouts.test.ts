// Per-request deadlines in the batching queue: config.json's batching.defaultTimeoutMicroseconds,
// the server's --request-timeout-ms, and KServe's parameters.timeout (microseconds, as Triton). A
// request still queued at its deadline is answered 504 at once and counted as outcome "timeout";
// one already computing completes. A slow fake runtime stands in for a slow model.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import * as lt from '../../src/index.js';
import { startServer, type RunningServer } from '../../src/serve/http/server.js';
import { buildRepository, pixels, type Fixture } from './repository-fixture.js';

let fx: Fixture;
before(async () => {
  fx = await buildRepository();
  // One request per batch, no delay: a second request queues behind a running one.
  const one = { maxBatchSize: 1, maxQueueDelayMicroseconds: 0 };
  for (const [name, batching] of [['slow', { ...one, defaultTimeoutMicroseconds: 100_000 }], ['slow-default', one]] as const) {
    lt.save(fx.v2, path.join(fx.root, name, '1'));
    fs.writeFileSync(path.join(fx.root, name, 'config.json'), JSON.stringify({ batching }));
  }
});
after(() => fs.rmSync(fx.root, { recursive: true, force: true }));

/** Makes a version's runtime take `ms` per batch: the slow fake runner. */
function slowDown(s: RunningServer, model: string, ms: number): void {
  const runtime = s.repository.model(model)!.versions.get(1)!.serving!;
  const real = runtime.run.bind(runtime);
  (runtime as { run: typeof runtime.run }).run = async (x) => {
    await new Promise((r) => setTimeout(r, ms));
    return real(x);
  };
}

const row = (pixels(1, 2).toArray() as number[][])[0];
const infer = (s: RunningServer, model: string, parameters?: unknown) =>
  fetch(`${s.url}/v2/models/${model}/infer`, { method: 'POST', body: JSON.stringify({ inputs: [{ name: 'input', shape: [1, 784], datatype: 'FP32', data: row }], ...(parameters !== undefined ? { parameters } : {}) }) });

async function timed(p: Promise<Response>): Promise<{ status: number; ms: number; json: any }> {
  const t0 = performance.now();
  const r = await p;
  return { status: r.status, json: await r.json(), ms: performance.now() - t0 };
}

test('config.json defaultTimeoutMicroseconds: a queued request gets 504 at its deadline, the running one completes, /metrics counts a timeout', async () => {
  const s = await startServer({ repository: fx.root, port: 0 });
  try {
    slowDown(s, 'slow', 400);
    const running = timed(infer(s, 'slow'));
    await new Promise((r) => setTimeout(r, 30)); // the first is computing now
    const queued = await timed(infer(s, 'slow'));
    assert.equal(queued.status, 504);
    assert.match(queued.json.error, /^batcher slow\/1: timed out after 100 ms in the queue/);
    assert.ok(queued.ms >= 95 && queued.ms < 350, `answered at the deadline, not after the running batch: ${queued.ms.toFixed(0)} ms`);
    const first = await running;
    assert.equal(first.status, 200, 'a request already computing completes past the deadline');
    assert.ok(first.ms >= 400);
    const stats = s.repository.model('slow')!.versions.get(1)!.batcher!.stats();
    assert.equal(stats.rejected.timeout, 1);
    assert.equal(stats.queuedRequests, 0, 'the timed-out request left the queue');
    assert.equal(stats.batchesRun, 1, 'and never reached the model');
    const metrics = await (await fetch(`${s.url}/metrics`)).text();
    assert.match(metrics, /lathe_requests_total\{api="kserve",model="slow",version="1",outcome="timeout",code="504"\} 1\n/);
    assert.match(metrics, /lathe_requests_total\{api="kserve",model="slow",version="1",outcome="success",code="200"\} 1\n/);
  } finally {
    await s.close();
  }
});

test('KServe parameters.timeout (microseconds) shortens the deadline, never lengthens it, and is checked', async () => {
  const s = await startServer({ repository: fx.root, port: 0 });
  try {
    slowDown(s, 'slow', 300);
    const running = infer(s, 'slow');
    await new Promise((r) => setTimeout(r, 30));
    const short = await timed(infer(s, 'slow', { timeout: 20_000 }));
    assert.equal(short.status, 504);
    assert.match(short.json.error, /timed out after 20 ms in the queue/);
    assert.ok(short.ms < 90, `${short.ms.toFixed(0)} ms`);
    const long = await timed(infer(s, 'slow', { timeout: 60_000_000 }));
    assert.equal(long.status, 504);
    assert.match(long.json.error, /timed out after 100 ms/, 'capped at the model\'s deadline');
    assert.equal((await running).status, 200);
    for (const bad of [{ timeout: 'soon' }, { timeout: 0 }, { timeout: 1.5 }, 'fast']) {
      const r = await timed(infer(s, 'slow', bad));
      assert.equal(r.status, 400, JSON.stringify(bad));
      assert.match(r.json.error, /parameters/);
    }
  } finally {
    await s.close();
  }
});

test('--request-timeout-ms is the deadline of models whose config.json sets none', async () => {
  const s = await startServer({ repository: fx.root, port: 0, requestTimeoutMs: 50 });
  try {
    slowDown(s, 'slow-default', 250);
    const running = infer(s, 'slow-default');
    await new Promise((r) => setTimeout(r, 30));
    const queued = await timed(infer(s, 'slow-default'));
    assert.equal(queued.status, 504);
    assert.match(queued.json.error, /timed out after 50 ms in the queue/);
    assert.equal((await running).status, 200);
    // A model's own setting wins over the server's.
    slowDown(s, 'slow', 250);
    const other = infer(s, 'slow');
    await new Promise((r) => setTimeout(r, 30));
    const own = await timed(infer(s, 'slow'));
    assert.equal(own.status, 504);
    assert.match(own.json.error, /timed out after 100 ms in the queue/);
    assert.equal((await other).status, 200);
  } finally {
    await s.close();
  }
});
