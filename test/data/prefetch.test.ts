// Dataset.prefetch (issue 5): the same elements in the same order, errors in their place, an
// early break closing the producer, and the overlap itself: async work of the producer proceeds
// while the consumer's synchronous step blocks the thread.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import * as lt from '../../src/index.js';

const { Dataset } = lt.data;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Blocks the thread for ms, as a synchronous training step does. */
function busy(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end);
}

/** Numbers 0..n-1, each after an async wait of its own length; counts what it made and whether it was closed. */
function slowSource(n: number, delay: (i: number) => number) {
  const state = { produced: 0, closed: false };
  const ds = Dataset.fromGenerator(async function* () {
    try {
      for (let i = 0; i < n; i++) {
        await sleep(delay(i));
        state.produced++;
        yield i;
      }
    } finally {
      state.closed = true;
    }
  });
  return { ds, state };
}

describe('prefetch', () => {
  test('gives the same elements in the same order, pass after pass, for any depth', async () => {
    const { ds } = slowSource(15, (i) => (i * 7) % 4);
    for (const n of [1, 2, 5, 40]) {
      const p = ds.map(async (x) => (await sleep(x % 3), x * x)).prefetch(n);
      for (let pass = 0; pass < 2; pass++) assert.deepEqual(await p.toArray(), Array.from({ length: 15 }, (_, i) => i * i), `n=${n} pass ${pass}`);
    }
  });

  test('runs at most n elements ahead of the consumer', async () => {
    const { ds, state } = slowSource(20, () => 1);
    let consumed = 0;
    for await (const x of ds.prefetch(3)) {
      assert.equal(x, consumed++);
      await sleep(3); // give the producer time to run ahead as far as it may
      assert.ok(state.produced <= consumed + 3, `${state.produced} made, ${consumed} consumed`);
    }
    assert.equal(state.produced, 20);
  });

  test('a producer error arrives after the elements before it, and is never an unhandled rejection', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (e: unknown) => unhandled.push(e);
    process.on('unhandledRejection', onUnhandled);
    try {
      const ds = Dataset.fromGenerator(function* () {
        yield* [0, 1, 2];
        throw new Error('corrupt record 3');
      }).prefetch(5);
      const seen: number[] = [];
      await assert.rejects(async () => {
        for await (const x of ds) {
          await sleep(5); // the failure has happened by now, while nothing awaits it yet
          seen.push(x);
        }
      }, /corrupt record 3/);
      assert.deepEqual(seen, [0, 1, 2]);
      await sleep(5);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
    assert.deepEqual(unhandled, []);
  });

  test('breaking out of for-await closes the producer, which then makes nothing more', async () => {
    const { ds, state } = slowSource(1000, () => 2);
    let consumed = 0;
    for await (const x of ds.map((v) => v).prefetch(3)) {
      consumed++;
      if (x === 4) break;
    }
    assert.equal(state.closed, true, 'the source generator ran its finally block');
    const made = state.produced;
    assert.ok(made <= consumed + 3, `${made} made for ${consumed} consumed with prefetch(3)`);
    await sleep(20);
    assert.equal(state.produced, made, 'nothing was made after the loop ended');
  });

  test('overlap: async production proceeds during a synchronous consumer step', async () => {
    // 8 elements, each 30 ms of async wait to make and 30 ms of blocking work to use. In series
    // that is about 8 * 60 = 480 ms; overlapped, about 30 + 8 * 30 = 270 ms (ratio 0.56).
    const n = 8;
    const ms = 30;
    // The timer starts only after the element has come through two earlier stages, a chain of
    // microtasks that would run after the consumer's step had prefetch not let it run first.
    const pipeline = () => Dataset.range(n).map((x) => x + 1).filter(() => true).map(async (x) => (await sleep(ms), x));
    const run = async (ds: lt.data.Dataset<number>) => {
      const t0 = performance.now();
      const seen: number[] = [];
      for await (const x of ds) {
        busy(ms);
        seen.push(x);
      }
      assert.deepEqual(seen, Array.from({ length: n }, (_, i) => i + 1));
      return performance.now() - t0;
    };
    const serial = await run(pipeline());
    const overlapped = await run(pipeline().prefetch(1));
    assert.ok(serial >= n * 2 * ms * 0.95, `without prefetch the two add up: ${serial.toFixed(0)} ms`);
    assert.ok(overlapped < 0.75 * serial, `prefetch took ${overlapped.toFixed(0)} ms, without it ${serial.toFixed(0)} ms`);
  });
});
