// predict()'s choice between running the native kernels on all threads and on the calling thread
// alone (ThreadChooser): the policy on synthetic timings, the native flag it sets, and that the
// two ways give the same bits, so the choice can never change a prediction.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import * as lt from '../../src/index.js';
import { nativeAddon } from '../../src/backends/registry.js';
import { ThreadChooser, type Way, WayTimings } from '../../src/backends/threads.js';

/** Drives a WayTimings for `calls` calls where a call of way w takes cost[w] ms; counts the calls of each way. */
function drive(t: WayTimings, cost: [number, number], calls: number): [number, number] {
  const seen: [number, number] = [0, 0];
  for (let i = 0; i < calls; i++) {
    const [way, timed] = t.next();
    seen[way]++;
    if (timed) t.record(way, cost[way]);
  }
  return seen;
}

describe('WayTimings', () => {
  test('settles on the faster way and tries the other in one epoch of 16 calls every 512', () => {
    const t = new WayTimings();
    const seen = drive(t, [0.02, 0.01], 10_000); // one thread twice as fast
    assert.equal(t.best, 1);
    assert.ok(seen[0] <= 10_000 * (16 / 512) + 3 * 64, `all threads ran ${seen[0]} of 10000 calls`); // + the first trials, 64 apart
    assert.ok(seen[0] > 200, 'the other way is still tried');
  });

  test('follows a change in which way is faster within a few hundred calls', () => {
    const t = new WayTimings();
    drive(t, [0.02, 0.01], 2000);
    assert.equal(t.best, 1);
    let switchedAfter = -1;
    for (let i = 0; i < 5000 && switchedAfter < 0; i++) {
      const [way, timed] = t.next();
      if (timed) t.record(way, way === 0 ? 0.005 : 0.01);
      if ((t.best as Way) === 0) switchedAfter = i;
    }
    assert.ok(switchedAfter >= 0 && switchedAfter < 1500, `switched after ${switchedAfter} calls`);
  });

  test('the first choice, after 3 trials 64 calls apart, takes the faster way by any margin', () => {
    const t = new WayTimings();
    drive(t, [0.01, 0.0095], 3 * 64);
    assert.equal(t.best, 1);
  });

  test('later, a gain under 7% does not switch, nor does one trial that finds more', () => {
    const t = new WayTimings();
    drive(t, [0.01, 0.012], 1000);
    drive(t, [0.01, 0.0095], 5000);
    assert.equal(t.best, 0, 'switched for 5%');
    const u = new WayTimings();
    drive(u, [0.02, 0.01], 2000);
    let fastCalls = 0;
    for (let i = 0; i < 2000; i++) {
      const [way, timed] = u.next();
      if (!timed) continue;
      const fast = way === 0 && fastCalls < 14; // one trial's epoch of all threads comes out 20x faster
      if (fast) fastCalls++;
      u.record(way, fast ? 0.001 : way === 0 ? 0.02 : 0.01);
    }
    assert.equal(fastCalls, 14);
    assert.equal(u.best, 1);
  });

  test('each trial is compared with the calls just before it: a host that speeds both ways up switches nothing', () => {
    const t = new WayTimings();
    drive(t, [0.02, 0.01], 3000);
    assert.equal(t.best, 1);
    for (let i = 0; i < 3000; i++) {
      const [way, timed] = t.next();
      if (timed) t.record(way, way === 0 ? 0.004 : 0.003); // both ways faster, one thread still the faster
      assert.equal(t.best, 1, `switched at call ${i}`);
    }
  });

  test('a trial: 16 calls of the way in use timed, then 16 of the other, its first 2 untimed; workers woken 8 calls ahead', () => {
    const t = new WayTimings();
    const trace: [Way, boolean, boolean][] = [];
    for (let i = 0; i < 3000; i++) {
      const step = t.next();
      trace.push(step);
      if (step[1]) t.record(step[0], step[0] === 1 ? 0.01 : 0.012 + 0.01 * (i % 2)); // one thread faster
    }
    assert.equal(t.best, 1);
    const starts = trace.flatMap((s, i) => (i >= 300 && s[1] && s[0] === 1 && !trace[i - 1][1] ? [i] : []));
    assert.ok(starts.length >= 4, `${starts.length} trials in 3000 calls`);
    for (const start of starts) {
      const epoch = (from: number) => trace.slice(from, from + 16);
      assert.ok(epoch(start).every(([w, timed]) => w === 1 && timed), 'the way in use, timed');
      assert.deepEqual(epoch(start + 16).map(([w, timed]) => [w, timed]), [[0, false], [0, false], ...Array(14).fill([0, true])]);
      assert.deepEqual(trace[start - 8], [1, false, true], 'the workers are woken 8 calls ahead');
    }
  });

  test('a slow call that is faster on its way is not questioned (the split cannot lose there)', () => {
    const t = new WayTimings();
    drive(t, [2, 4], 3 * 64); // seeded: 3 trials
    const seen = drive(t, [2, 4], 1000);
    assert.deepEqual(seen, [1000, 0]);
  });
});

const threads = lt.getNumThreads();
const skip = !nativeAddon ? 'the native addon is not loaded' : threads < 2 ? 'one thread: nothing to choose' : false;

describe('ThreadChooser on the native backend', { skip }, () => {
  test('runs some calls on the calling thread alone, and the flag is off after every call, even one that throws', () => {
    const chooser = new ThreadChooser();
    const sizes = new Set<number>();
    for (let i = 0; i < 200; i++) chooser.run(1, () => sizes.add(lt.nativeInfo()!.threads));
    assert.deepEqual([...sizes].sort(), [1, threads].sort());
    for (let i = 0; i < 8; i++) assert.throws(() => chooser.run(2, () => { throw new Error('boom'); }), /boom/);
    assert.equal(lt.nativeInfo()!.threads, threads);
  });

  test('predict gives the same bits on one thread and on all: MLP and CNN, float and int8', () => {
    const L = lt.layers;
    lt.manualSeed(3);
    const mlp = new lt.Sequential([new L.Rescaling(1 / 255, 0, { inputShape: [784] }), new L.Dense(128, { activation: 'relu' }), new L.Dense(10, { activation: 'softmax' })]);
    const cnn = new lt.Sequential([
      new L.Rescaling(1 / 255, 0, { inputShape: [1, 28, 28] }),
      new L.Conv2D(16, 3, { activation: 'relu' }),
      new L.MaxPool2D(2),
      new L.Conv2D(32, 3, { activation: 'relu' }),
      new L.MaxPool2D(2),
      new L.Flatten(),
      new L.Dense(10, { activation: 'softmax' }),
    ]);
    for (const [name, model, shape] of [['mlp', mlp, [784]], ['cnn', cnn, [1, 28, 28]]] as const) {
      const sample = lt.randint(0, 256, [64, ...shape], { generator: new lt.Generator(1) }).cast('float32');
      const int8 = lt.quant.quantizeModel(model, { mode: 'static', sample }).model;
      for (const batch of [1, 32, 64]) {
        const x = lt.randint(0, 256, [batch, ...shape], { generator: new lt.Generator(batch) }).cast('uint8');
        for (const [kind, m] of [['float', model], ['int8', int8]] as const) {
          const all = m.call(x).dataSync();
          nativeAddon!.setSerial(true);
          let one: Float32Array;
          try {
            one = m.call(x).dataSync() as Float32Array;
          } finally {
            nativeAddon!.setSerial(false);
          }
          assert.deepEqual(one, all, `${name} ${kind} batch ${batch}`);
        }
      }
    }
  });
});
