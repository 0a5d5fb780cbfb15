// The dynamic batcher (issue 7): packing, the queue delay, admission, deadlines, failures,
// concurrency, drain/close, and 10,000 concurrent requests against a bounded queue.
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { BatcherError, DynamicBatcher, type DynamicBatcherOptions } from '../../src/serve/batcher.js';

// Per test, so a hang (a request nobody settles) fails that test instead of stalling the file.
const T = { timeout: 3000 };
const tick = (): Promise<void> => new Promise((r) => setImmediate(r));
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A run() that records each batch's items and finishes only when the test opens its gate. */
function gatedRun<T>() {
  const batches: T[][] = [];
  const gates: Array<(fail?: Error) => void> = [];
  const run = (items: T[]): Promise<string[]> => {
    batches.push(items);
    return new Promise((resolve, reject) => gates.push((err) => (err ? reject(err) : resolve(items.map((x) => `out:${x}`)))));
  };
  return { batches, gates, run };
}

function batcher<T>(run: (items: T[]) => Promise<string[]> | string[], over: Partial<DynamicBatcherOptions<T, string>> = {}) {
  return new DynamicBatcher<T, string>({ maxBatchSize: 4, maxQueueDelayMicroseconds: 10_000_000, maxQueueSize: 64, run, ...over });
}

/** True if p has rejected by the time one setImmediate turn has passed: an "at once" rejection. */
async function rejectsAtOnce(p: Promise<unknown>): Promise<unknown> {
  let error: unknown = 'pending';
  p.catch((e) => (error = e));
  await tick();
  assert.notEqual(error, 'pending', 'expected an immediate rejection');
  return error;
}

test('packs requests FIFO into batches of at most maxBatchSize and splits results back in order', T, async () => {
  const g = gatedRun<string>();
  const b = batcher(g.run, { maxBatchSize: 4 });
  const p1 = b.submit(['a1', 'a2']);
  const p2 = b.submit(['b1', 'b2']); // fills the batch: it starts at once, long before the 10 s delay
  const p3 = b.submit(['c1', 'c2']);
  await tick();
  assert.deepEqual(g.batches, [['a1', 'a2', 'b1', 'b2']]);
  const p4 = b.submit(['d1', 'd2', 'd3']); // c (2) + d (3) > 4: c's batch cannot grow, so it runs next without waiting
  g.gates[0]();
  const [r1, r2] = await Promise.all([p1, p2]);
  assert.deepEqual(r1.outputs, ['out:a1', 'out:a2']);
  assert.deepEqual(r2.outputs, ['out:b1', 'out:b2']);
  assert.equal(r1.batchSize, 4);
  await tick();
  assert.deepEqual(g.batches[1], ['c1', 'c2']);
  g.gates[1]();
  assert.deepEqual((await p3).outputs, ['out:c1', 'out:c2']);
  b.close(); // d waits for the delay; close flushes it
  await tick();
  assert.deepEqual(g.batches[2], ['d1', 'd2', 'd3']);
  g.gates[2]();
  assert.deepEqual((await p4).outputs, ['out:d1', 'out:d2', 'out:d3']);
  assert.deepEqual(b.stats().batchSizeCounts, { 2: 1, 3: 1, 4: 1 });
});

test('a request larger than maxBatchSize runs alone, and one larger than the queue is refused with 413', T, async () => {
  const g = gatedRun<number>();
  const b = batcher(g.run, { maxBatchSize: 2, maxQueueSize: 6 });
  const big = b.submit([1, 2, 3, 4, 5]);
  const small = b.submit([6]);
  await tick();
  assert.deepEqual(g.batches, [[1, 2, 3, 4, 5]]);
  const e = (await rejectsAtOnce(b.submit([1, 2, 3, 4, 5, 6, 7]))) as BatcherError;
  assert.equal(e.reason, 'too_large');
  assert.equal(e.status, 413);
  g.gates[0]();
  assert.equal((await big).outputs.length, 5);
  b.close();
  await tick();
  g.gates[1]();
  assert.deepEqual((await small).outputs, ['out:6']);
});

test('a lone request waits for maxQueueDelay, not less, and not much more', T, async () => {
  let ranAt = -1;
  const b = batcher((items: number[]) => ((ranAt = performance.now()), items.map(String)), { maxQueueDelayMicroseconds: 40_000 });
  const t0 = performance.now();
  const p = b.submit([1]);
  await sleep(25);
  assert.equal(ranAt, -1, 'ran before the delay');
  const r = await p;
  assert.ok(ranAt - t0 >= 40, `ran after ${ranAt - t0} ms`);
  assert.ok(ranAt - t0 < 400, `ran after ${ranAt - t0} ms`);
  assert.ok(r.queueMicros >= 40_000 && r.queueMicros < 400_000, `queueMicros ${r.queueMicros}`);
  assert.equal(r.batchSize, 1);
});

test('a full queue rejects at once with 503 and a Retry-After hint; waiting requests are unaffected', T, async () => {
  const g = gatedRun<number>();
  const b = batcher(g.run, { maxBatchSize: 2, maxQueueSize: 4, retryAfterSeconds: 3 });
  const running = b.submit([0, 0]); // full: runs, and holds the only slot
  const queued = [b.submit([1, 2]), b.submit([3]), b.submit([4])];
  assert.equal(b.stats().queuedExamples, 4);
  const e = (await rejectsAtOnce(b.submit([5]))) as BatcherError;
  assert.ok(e instanceof BatcherError);
  assert.equal(e.reason, 'queue_full');
  assert.equal(e.status, 503);
  assert.equal(e.retryAfterSeconds, 3);
  assert.match(e.message, /^batcher: queue full \(4 of 4 examples waiting, 1 more asked\)$/);
  assert.equal(b.stats().rejected.queue_full, 1);
  g.gates[0]();
  await running;
  await tick();
  g.gates[1]();
  await tick();
  g.gates[2]();
  assert.deepEqual((await Promise.all(queued)).map((r) => r.outputs), [['out:1', 'out:2'], ['out:3'], ['out:4']]);
});

test('a deadline in the queue rejects with 504 and takes the request out; an abort signal does too; a started request completes', T, async () => {
  const g = gatedRun<string>();
  const b = batcher(g.run, { maxBatchSize: 1 });
  const first = b.submit(['x']);
  const late = b.submit(['late'], { timeoutMs: 20 });
  const ac = new AbortController();
  const aborted = b.submit(['gone'], { signal: ac.signal });
  const kept = b.submit(['kept']);
  assert.equal(b.stats().queuedExamples, 3);
  ac.abort();
  await assert.rejects(aborted, (e: BatcherError) => e.reason === 'aborted' && e.status === 499);
  await assert.rejects(late, (e: BatcherError) => e.reason === 'timeout' && e.status === 504 && /timed out after 20 ms in the queue/.test(e.message));
  assert.equal(b.stats().queuedExamples, 1);
  g.gates[0]();
  await first;
  await tick();
  assert.deepEqual(g.batches, [['x'], ['kept']]); // neither removed request ever reaches run()
  g.gates[1]();
  await kept;
  // A request whose batch started before its deadline completes, however long the batch takes (Triton's queue policy).
  await tick();
  const slow = b.submit(['slow'], { timeoutMs: 10 });
  assert.equal(b.stats().runningBatches, 1, 'it started at once');
  await new Promise((r) => setTimeout(r, 40));
  g.gates[2]();
  assert.deepEqual((await slow).outputs, ['out:slow']);
  assert.equal(b.stats().rejected.timeout, 1);
});

test('a throwing run rejects exactly its batch, with its error, and the batcher keeps working', T, async () => {
  const boom = new Error('kernel failed');
  const b = batcher((items: string[]) => {
    if (items.includes('bad')) throw boom;
    return items.map((x) => x.toUpperCase());
  }, { maxBatchSize: 2 });
  const results = await Promise.allSettled([b.submit(['a']), b.submit(['bad']), b.submit(['c']), b.submit(['d'])]);
  assert.deepEqual(results.map((r) => r.status), ['rejected', 'rejected', 'fulfilled', 'fulfilled']);
  assert.equal((results[0] as PromiseRejectedResult).reason, boom);
  assert.deepEqual((results[3] as PromiseFulfilledResult<{ outputs: string[] }>).value.outputs, ['D']);
  // An async failure and a wrong output count are batch failures too.
  const wrong = batcher(async (items: string[]) => items.slice(1), { maxBatchSize: 1 });
  await assert.rejects(wrong.submit(['a']), /run\(\) returned 0 outputs for a batch of 1 examples/);
  assert.deepEqual((await b.submit(['e', 'f'])).outputs, ['E', 'F']);
  assert.equal(b.stats().failed, 2);
});

for (const limit of [1, 3]) {
  test(`never more than ${limit} batch(es) at once`, T, async () => {
    let active = 0;
    let peak = 0;
    const b = batcher(async (items: number[]) => {
      peak = Math.max(peak, ++active);
      await sleep(2);
      active--;
      return items.map(String);
    }, { maxBatchSize: 2, maxConcurrentBatches: limit === 1 ? undefined : limit });
    await Promise.all(Array.from({ length: 24 }, (_, i) => b.submit([i])));
    assert.equal(peak, limit);
    assert.equal(b.stats().batchesRun, 12);
  });
}

test('close() rejects new submits at once with 503; drain() waits for everything admitted', T, async () => {
  const g = gatedRun<number>();
  const b = batcher(g.run, { maxBatchSize: 2 });
  const settled: number[] = [];
  const ps = [b.submit([1, 2]), b.submit([3])].map((p, i) => p.then(() => settled.push(i)));
  b.close();
  const e = (await rejectsAtOnce(b.submit([9]))) as BatcherError;
  assert.equal(e.reason, 'closed');
  assert.equal(e.status, 503);
  let drained = false;
  const d = b.drain().then(() => (drained = true));
  g.gates[0]();
  await sleep(5);
  assert.equal(drained, false, 'drained while a request still waited');
  g.gates[1](); // queued behind the first batch; close() lets it run without its 10 s delay
  await d;
  await Promise.all(ps);
  assert.deepEqual(settled.sort(), [0, 1]);
  assert.deepEqual(b.stats().queuedExamples + b.stats().runningBatches, 0);
});

test('10,000 concurrent submits of random sizes all settle cleanly and the queue stays bounded', T, async () => {
  let seed = 12345;
  const random = (): number => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
  const maxQueueSize = 256;
  let peakDepth = 0;
  let peakRunning = 0;
  const b = new DynamicBatcher<number, number>({
    maxBatchSize: 32,
    maxQueueDelayMicroseconds: 500,
    maxQueueSize,
    maxConcurrentBatches: 2,
    run: async (items) => {
      peakRunning = Math.max(peakRunning, b.stats().runningBatches);
      await new Promise((r) => setImmediate(r));
      return items.map((x) => x * 2);
    },
  });
  const outcomes = { ok: 0, full: 0, timeout: 0 };
  const all: Promise<void>[] = [];
  for (let i = 0; i < 10_000; i++) {
    const n = 1 + Math.floor(random() * 8);
    const rows = Array.from({ length: n }, (_, k) => i * 10 + k);
    const timeoutMs = random() < 0.05 ? 1 : undefined;
    all.push(b.submit(rows, { timeoutMs }).then(
      (r) => { assert.deepEqual(r.outputs, rows.map((x) => x * 2)); outcomes.ok++; },
      (e: BatcherError) => {
        assert.ok(e instanceof BatcherError, String(e));
        if (e.reason === 'queue_full') outcomes.full++;
        else if (e.reason === 'timeout') outcomes.timeout++;
        else assert.fail(`unexpected rejection ${e.reason}`);
      },
    ));
    peakDepth = Math.max(peakDepth, b.stats().queuedExamples);
    if (i % 100 === 99) await tick(); // arrivals spread over event-loop turns, so batches run between them
  }
  await Promise.all(all);
  await b.drain();
  const s = b.stats();
  assert.ok(peakDepth <= maxQueueSize, `queue depth reached ${peakDepth}`);
  assert.equal(peakRunning, 2);
  assert.equal(outcomes.ok + outcomes.full + outcomes.timeout, 10_000);
  assert.ok(outcomes.ok > 1000 && outcomes.full > 0, JSON.stringify(outcomes));
  assert.equal(s.completed, outcomes.ok);
  assert.equal(s.rejected.queue_full, outcomes.full);
  assert.deepEqual([s.queuedExamples, s.queuedRequests, s.runningBatches], [0, 0, 0]);
  assert.ok(Object.keys(s.batchSizeCounts).every((k) => Number(k) >= 1 && Number(k) <= 32));
});

test('options are checked and name the field', T, () => {
  assert.throws(() => batcher((x: number[]) => x.map(String), { maxBatchSize: 0 }), /^LatheError: DynamicBatcher: "maxBatchSize" must be a positive integer, got 0$/);
  assert.throws(() => batcher((x: number[]) => x.map(String), { maxQueueDelayMicroseconds: -1 }), /"maxQueueDelayMicroseconds" must be a finite number >= 0, got -1/);
});
