// Adam and AdamW against their published update rules, step by step, written out here in
// plain JS: Kingma & Ba (2015) Algorithm 1, and Loshchilov & Hutter (2019) for AdamW.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as lt from '../../src/index.js';
import { assertClose, assertThrowsLathe, onEachBackend } from '../helpers.js';

interface Hyper { lr: number; beta1: number; beta2: number; epsilon: number; weightDecay: number; decoupled: boolean }

/** Runs `steps` updates of the reference rule on p with the gradient sequence grads[t]. */
function reference(p0: number[], grads: number[][], h: Hyper): number[] {
  const p = [...p0];
  const m = p.map(() => 0);
  const v = p.map(() => 0);
  grads.forEach((g0, k) => {
    const t = k + 1;
    for (let i = 0; i < p.length; i++) {
      const g = h.decoupled ? g0[i] : g0[i] + h.weightDecay * p[i];
      m[i] = h.beta1 * m[i] + (1 - h.beta1) * g;
      v[i] = h.beta2 * v[i] + (1 - h.beta2) * g * g;
      const mHat = m[i] / (1 - h.beta1 ** t);
      const vHat = v[i] / (1 - h.beta2 ** t);
      if (h.decoupled) p[i] -= h.lr * h.weightDecay * p[i];
      p[i] -= (h.lr * mHat) / (Math.sqrt(vHat) + h.epsilon);
    }
  });
  return p;
}

onEachBackend('Adam', () => {
  const p0 = [0.5, -1.5, 2, 0, 3e-3];
  const grads = [[0.1, -0.2, 0.3, 0, 1], [0.2, 0.1, -0.3, 0.5, -1], [-0.4, 0.3, 0.1, 0.05, 0.5], [0.01, 0.02, 0.03, -0.04, 0]];

  function run(make: (p: lt.Tensor) => lt.Adam, dtype: 'float32' | 'float64'): lt.Tensor {
    const p = lt.tensor(p0, { dtype, requiresGrad: true });
    const opt = make(p);
    for (const g of grads) {
      opt.zeroGrad();
      p.mul(lt.tensor(g, { dtype })).sum().backward(); // dL/dp = g
      opt.step();
    }
    return p;
  }

  for (const dtype of ['float64', 'float32'] as const) {
    const tol = dtype === 'float64' ? { atol: 1e-14, rtol: 1e-12 } : { atol: 1e-6, rtol: 1e-5 };
    test(`Adam with Keras defaults matches Algorithm 1 over 4 steps (${dtype})`, () => {
      const got = run((p) => new lt.Adam([p]), dtype);
      assertClose(got, reference(p0, grads, { lr: 1e-3, beta1: 0.9, beta2: 0.999, epsilon: 1e-7, weightDecay: 0, decoupled: false }), tol);
    });

    test(`Adam with L2 weight decay and custom betas (${dtype})`, () => {
      const h = { lr: 0.05, beta1: 0.8, beta2: 0.99, epsilon: 1e-6, weightDecay: 0.1, decoupled: false };
      const got = run((p) => new lt.Adam([p], h), dtype);
      assertClose(got, reference(p0, grads, h), tol);
    });

    test(`AdamW decays weights directly (${dtype})`, () => {
      const got = run((p) => new lt.AdamW([p], { lr: 0.01 }), dtype);
      assertClose(got, reference(p0, grads, { lr: 0.01, beta1: 0.9, beta2: 0.999, epsilon: 1e-7, weightDecay: 0.01, decoupled: true }), tol);
    });
  }

  test('parameters without a gradient are left alone, and identity is kept', () => {
    const a = lt.tensor([1, 2], { requiresGrad: true });
    const b = lt.tensor([3], { requiresGrad: true });
    const opt = new lt.Adam([a, b], { lr: 0.1 });
    a.sum().backward();
    opt.step();
    assert.deepEqual(b.toArray(), [3]);
    assertClose(a, [0.9, 1.9], { atol: 1e-6 }); // the first Adam step moves each weight by lr * sign(g)
  });

  test('bad hyperparameters are named', () => {
    const p = lt.zeros([1], { requiresGrad: true });
    assertThrowsLathe(() => new lt.Adam([p], { beta1: 1 }), /Adam: beta1 must be a number in \[0, 1\), got 1/);
    assertThrowsLathe(() => new lt.Adam([p], { lr: -1 }), /Adam: lr must be a number/);
    assertThrowsLathe(() => new lt.Adam([lt.zeros([1])]), /Adam: params\[0\] does not require grad/);
  });
});
