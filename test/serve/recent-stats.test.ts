// The serving view's sliding window on a fake clock: the request rate divides by the time the
// window covers, percentiles are nearest-rank over successful requests only, old seconds drop
// out, and a second busier than the reservoir still weighs as many requests as it had.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RecentStats, WINDOW_SECONDS } from '../../src/serve/recent-stats.js';

function clock(startMs: number) {
  const c = { t: startMs, now: () => c.t };
  return c;
}

test('rate, p50/p99 and mean batch size over the window', () => {
  const c = clock(1_000_000.5 * 1000); // half way through a second
  const s = new RecentStats(c.now);
  c.t += 4000; // 4 s after start: the window covers those 4 s only
  for (let i = 1; i <= 100; i++) s.request('m', i, true); // latencies 1..100 ms
  s.request('m', 5000, false); // an error counts in the rate, not in latency
  s.batch('m', 4);
  s.batch('m', 2);
  const f = s.figures('m');
  assert.ok(Math.abs(f.requestRate - 101 / 4) < 1e-9, `rate ${f.requestRate}`);
  assert.deepEqual(f.latencyMs, { p50: 50, p99: 99 });
  assert.equal(f.meanBatchSize, 3);
  assert.deepEqual(s.figures('other'), { requestRate: 0, latencyMs: { p50: null, p99: null }, meanBatchSize: null });
});

test('seconds older than the window drop out; the rate then divides by the whole window', () => {
  const c = clock(2_000_000 * 1000);
  const s = new RecentStats(c.now);
  c.t += 60_000;
  for (let i = 0; i < 30; i++) s.request('m', 1, true);
  c.t += 3000;
  for (let i = 0; i < 20; i++) s.request('m', 2, true);
  const f = s.figures('m');
  // 3.0 s into second 63: the window is seconds 54..63, 9 whole seconds and 0 of the current one.
  assert.ok(Math.abs(f.requestRate - 50 / 9) < 1e-6, `rate ${f.requestRate}`);
  c.t += (WINDOW_SECONDS - 2) * 1000; // the first 30 now lie outside the window
  assert.ok(Math.abs(s.figures('m').requestRate - 20 / 9) < 1e-6);
  assert.deepEqual(s.figures('m').latencyMs, { p50: 2, p99: 2 });
  c.t += WINDOW_SECONDS * 1000;
  assert.deepEqual(s.figures('m'), { requestRate: 0, latencyMs: { p50: null, p99: null }, meanBatchSize: null });
});

test('a second busier than its reservoir keeps its weight against a quiet one', () => {
  const c = clock(3_000_000 * 1000);
  const s = new RecentStats(c.now);
  c.t += 20_000;
  for (let i = 0; i < 10_000; i++) s.request('m', 10, true); // 10k requests at 10 ms: a reservoir of 1024 stands for them
  c.t += 1000;
  for (let i = 0; i < 500; i++) s.request('m', 1, true); // 500 at 1 ms
  assert.equal(s.figures('m').latencyMs.p50, 10);
  for (let i = 0; i < 2000; i++) s.request('m', 1, true); // 2500 at 1 ms against 10000 at 10 ms: 20% are fast
  // Unweighted, 1024 fast samples against 1024 slow ones would put p50 at 1 ms; weighted, it stays 10 ms.
  const f = s.figures('m');
  assert.equal(f.latencyMs.p50, 10);
  assert.ok(Math.abs(f.requestRate - 12_500 / 9) < 1e-6);
});
