// Dropout: identity in eval mode; in training, zeros with frequency `rate`, survivors scaled by
// 1/(1 - rate), the gradient through the same mask, seeded masks that repeat, configs.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as lt from '../../../src/index.js';
import { Dropout } from '../../../src/nn/layers/index.js';
import { assertClose, assertThrowsLathe, onEachBackend, rand64 } from '../../helpers.js';
import { roundTrip, values } from './layer-checks.js';

onEachBackend('Dropout', () => {
  test('eval mode is the identity, training mode is not', () => {
    const x = rand64([4, 50], 1);
    const layer = new Dropout(0.5).eval();
    assertClose(layer.call(x), x, { atol: 0, rtol: 0 });
    layer.train();
    assert.ok(values(layer.call(x)).some((v) => v === 0), 'training mode dropped nothing');
  });

  test('training: zeros at about `rate`, survivors exactly x / (1 - rate), mean kept', () => {
    const rate = 0.3;
    const x = rand64([100, 100], 2, 0.5, 1.5); // no zeros of its own
    const y = new Dropout(rate, { seed: 7 }).call(x);
    const xs = values(x);
    const ys = values(y);
    const dropped = ys.filter((v) => v === 0).length / ys.length;
    // 10^4 Bernoulli(0.3) draws: standard deviation 0.0046, so 0.02 is over 4 sigma (and the seed is fixed)
    assert.ok(Math.abs(dropped - rate) < 0.02, `dropped fraction ${dropped}, expected about ${rate}`);
    ys.forEach((v, i) => {
      if (v !== 0) assert.ok(Math.abs(v - xs[i] / (1 - rate)) <= 1e-15 * Math.abs(v), `element ${i}: ${v} vs ${xs[i] / (1 - rate)}`);
    });
    // inverted dropout keeps the expectation: sums agree to a few standard errors
    const sx = xs.reduce((a, b) => a + b, 0);
    const sy = ys.reduce((a, b) => a + b, 0);
    assert.ok(Math.abs(sy / sx - 1) < 0.02, `sum ratio ${sy / sx}`);
  });

  test('the gradient goes through the mask: 1/(1 - rate) where kept, 0 where dropped', () => {
    const rate = 0.25;
    const x = rand64([6, 7], 3, 0.5, 1.5).requireGrad();
    const w = rand64([6, 7], 4);
    const y = new Dropout(rate, { seed: 1 }).call(x);
    y.mul(w).sum().backward();
    const expected = values(y).map((v, i) => (v === 0 ? 0 : values(w)[i] / (1 - rate)));
    assertClose(x.grad!, Float64Array.from(expected), { atol: 1e-15, rtol: 1e-15 });
  });

  test('a seed repeats the masks; successive calls draw new ones', () => {
    const x = lt.ones([8, 16]);
    const a = new Dropout(0.5, { seed: 42 });
    const b = new Dropout(0.5, { seed: 42 });
    const a1 = values(a.call(x));
    assert.deepEqual(a1, values(b.call(x)));
    assert.deepEqual(values(a.call(x)), values(b.call(x)));
    assert.notDeepEqual(a1, values(a.call(x)));
    assert.notDeepEqual(a1, values(new Dropout(0.5, { seed: 43 }).call(x)));
    // float32 ones scaled by 2 stay exact
    assert.ok(a1.every((v) => v === 0 || v === 2));
  });

  test('rate 0 passes the input through in training too', () => {
    const x = rand64([3, 3], 5);
    assertClose(new Dropout(0).call(x), x, { atol: 0, rtol: 0 });
  });

  test('shapes, errors, config', () => {
    assert.deepEqual(new Dropout(0.1).computeOutputShape([3, 4, 5]), [3, 4, 5]);
    assert.deepEqual(new Dropout(0.1).call(lt.zeros([2, 3, 4])).shape, [2, 3, 4]);
    assertThrowsLathe(() => new Dropout(1, { name: 'd1' }), /^d1: rate must be a number in \[0, 1\), got 1/);
    assertThrowsLathe(() => new Dropout(-0.1, { name: 'd2' }), /^d2: rate must be/);
    assertThrowsLathe(() => new Dropout(0.5, { name: 'd3', seed: 1.5 }), /^d3: seed must be a non-negative integer/);
    const copy = roundTrip(new Dropout(0.4, { seed: 9, inputShape: [10] }));
    assert.deepEqual([copy.rate, copy.seed], [0.4, 9]);
    // the copy's seeded masks are the original's
    assert.deepEqual(values(copy.call(lt.ones([4, 10]))), values(new Dropout(0.4, { seed: 9 }).call(lt.ones([4, 10]))));
    roundTrip(new Dropout(0.2));
    assertThrowsLathe(() => lt.layers.layerFromConfig({ type: 'dropout', rate: 1.5 }, 'cfg'), /^cfg \(dropout\): "rate" must be a number in \[0, 1\]/);
    assertThrowsLathe(() => lt.layers.layerFromConfig({ type: 'dropout', rate: 1 }, 'cfg'), /rate must be a number in \[0, 1\), got 1/);
  });
});
