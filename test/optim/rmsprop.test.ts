// RMSprop against Keras' keras.optimizers.RMSprop update, written out in float64 here.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as lt from '../../src/index.js';
import { assertClose, onEachBackend } from '../helpers.js';
import { type Float, gradSequence, makeParams, tolerance, train, values } from './steps.js';

interface RmsHyper { lr: number; rho: number; momentum: number; epsilon: number; centered: boolean; weightDecay: number }

/** Keras: v = rho v + (1-rho) g^2; mg = rho mg + (1-rho) g; inc = lr g / sqrt(v [- mg^2] + eps); b = mu b + inc; p -= b. */
function kerasRmsprop(p0: number[][], grads: number[][][], h: RmsHyper): number[][] {
  const p = p0.map((v) => [...v]);
  const zero = () => p0.map((v) => v.map(() => 0));
  const [v, mg, b] = [zero(), zero(), zero()];
  for (const step of grads) {
    step.forEach((g0, j) => {
      for (let i = 0; i < g0.length; i++) {
        const g = g0[i] + h.weightDecay * p[j][i];
        v[j][i] = h.rho * v[j][i] + (1 - h.rho) * g * g;
        let denom = v[j][i];
        if (h.centered) {
          mg[j][i] = h.rho * mg[j][i] + (1 - h.rho) * g;
          denom -= mg[j][i] * mg[j][i];
        }
        const inc = (h.lr * g) / Math.sqrt(denom + h.epsilon);
        if (h.momentum > 0) {
          b[j][i] = h.momentum * b[j][i] + inc;
          p[j][i] -= b[j][i];
        } else {
          p[j][i] -= inc;
        }
      }
    });
  }
  return p;
}

const KERAS = { lr: 1e-3, rho: 0.9, momentum: 0, epsilon: 1e-7, centered: false, weightDecay: 0 };

onEachBackend('RMSprop', () => {
  const init = [values(6, 3), values(2, 4)];
  const grads = gradSequence([6, 2], 5, 20);

  const cases: [string, RmsHyper][] = [
    ['Keras defaults', KERAS],
    ['momentum', { ...KERAS, lr: 0.01, momentum: 0.9 }],
    ['centered', { ...KERAS, lr: 0.01, rho: 0.8, centered: true }],
    ['centered with momentum and weight decay', { ...KERAS, lr: 0.02, momentum: 0.5, centered: true, weightDecay: 0.1 }],
    ['a large epsilon (inside the sqrt, Keras\' place)', { ...KERAS, lr: 0.1, epsilon: 0.5 }],
  ];
  for (const dtype of ['float64', 'float32'] as Float[]) {
    for (const [name, h] of cases) {
      test(`${name} matches Keras' RMSprop over 5 steps (${dtype})`, () => {
        const params = makeParams(init, dtype);
        const opt = name === 'Keras defaults' ? new lt.RMSprop(params) : new lt.RMSprop(params, h);
        train(opt, params, grads);
        const want = kerasRmsprop(init, grads, h);
        params.forEach((p, j) => assertClose(p, want[j], tolerance(dtype), `param ${j}`));
      });
    }
  }

  test('defaults and slots are Keras\'', () => {
    const [p] = makeParams([[1, 2]], 'float32');
    const opt = new lt.RMSprop([p]);
    assert.deepEqual(opt.getConfig(), { type: 'rmsprop', lr: 1e-3, rho: 0.9, momentum: 0, epsilon: 1e-7, centered: false, weightDecay: 0 });
    assert.deepEqual(Object.keys(opt.stateDict().slots), ['0.velocity']);
    const full = new lt.RMSprop([p], { centered: true, momentum: 0.5 });
    assert.deepEqual(Object.keys(full.stateDict().slots), ['0.velocity', '0.averageGradient', '0.momentum']);
  });
});
