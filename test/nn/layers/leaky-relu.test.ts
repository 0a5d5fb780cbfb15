// LeakyReLU layer: Keras' layer default slope 0.3, gradients, config.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as lt from '../../../src/index.js';
import { LeakyReLU } from '../../../src/nn/layers/index.js';
import { assertClose, assertThrowsLathe, onEachBackend, rand64 } from '../../helpers.js';
import { gradcheckLayer, roundTrip } from './layer-checks.js';

onEachBackend('LeakyReLU', () => {
  test('forward: default slope 0.3, and a given one', () => {
    const x = lt.tensor([[-2, -0.5, 0, 1.5]], { dtype: 'float64' });
    assertClose(new LeakyReLU().call(x), [[-0.6, -0.15, 0, 1.5]], { atol: 1e-15, rtol: 0 });
    assertClose(new LeakyReLU(0.01).call(x), [[-0.02, -0.005, 0, 1.5]], { atol: 1e-15, rtol: 0 });
    assert.deepEqual(new LeakyReLU().computeOutputShape([3, 4]), [3, 4]);
  });

  test('gradient, config, errors', () => {
    // rand64 values are never exactly 0, where the derivative jumps
    gradcheckLayer(new LeakyReLU(0.2), rand64([3, 5], 1), []);
    assert.equal(roundTrip(new LeakyReLU(0.1)).negativeSlope, 0.1);
    assertThrowsLathe(() => new LeakyReLU(NaN, { name: 'lr' }), /^lr: negativeSlope must be a finite number/);
  });
});
