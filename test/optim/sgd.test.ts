// SGD against PyTorch's torch.optim.SGD update (dampening 0), written out in float64 here.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as lt from '../../src/index.js';
import { assertClose, assertThrowsLathe, onEachBackend } from '../helpers.js';
import { type Float, gradSequence, makeParams, tolerance, train, values } from './steps.js';

interface SgdHyper { lr: number; momentum: number; nesterov: boolean; weightDecay: number }

/** torch.optim.SGD: d = g + wd p; b = mu b + d; d = nesterov ? d + mu b : b; p -= lr d. lrs[k] is step k's rate. */
function torchSgd(p0: number[][], grads: number[][][], h: SgdHyper, lrs?: number[]): number[][] {
  const p = p0.map((v) => [...v]);
  const b = p0.map((v) => v.map(() => 0));
  grads.forEach((step, k) => {
    const lr = lrs?.[k] ?? h.lr;
    step.forEach((g, j) => {
      for (let i = 0; i < g.length; i++) {
        let d = g[i] + h.weightDecay * p[j][i];
        if (h.momentum > 0) {
          b[j][i] = h.momentum * b[j][i] + d;
          d = h.nesterov ? d + h.momentum * b[j][i] : b[j][i];
        }
        p[j][i] -= lr * d;
      }
    });
  });
  return p;
}

/** Keras' SGD: v = mu v - lr g; p += v. Only used to show the two forms part when the rate changes. */
function kerasSgd(p0: number[][], grads: number[][][], momentum: number, lrs: number[]): number[][] {
  const p = p0.map((v) => [...v]);
  const v = p0.map((x) => x.map(() => 0));
  grads.forEach((step, k) => step.forEach((g, j) => g.forEach((gi, i) => {
    v[j][i] = momentum * v[j][i] - lrs[k] * gi;
    p[j][i] += v[j][i];
  })));
  return p;
}

onEachBackend('SGD', () => {
  const init = [values(5, 1), values(3, 2)];
  const grads = gradSequence([5, 3], 5, 10);

  const cases: [string, SgdHyper][] = [
    ['plain', { lr: 0.1, momentum: 0, nesterov: false, weightDecay: 0 }],
    ['momentum', { lr: 0.05, momentum: 0.9, nesterov: false, weightDecay: 0 }],
    ['nesterov', { lr: 0.05, momentum: 0.8, nesterov: true, weightDecay: 0 }],
    ['weight decay with momentum', { lr: 0.1, momentum: 0.5, nesterov: false, weightDecay: 0.1 }],
    ['nesterov and weight decay', { lr: 0.02, momentum: 0.9, nesterov: true, weightDecay: 0.3 }],
  ];
  for (const dtype of ['float64', 'float32'] as Float[]) {
    for (const [name, h] of cases) {
      test(`${name} matches torch.optim.SGD over 5 steps (${dtype})`, () => {
        const params = makeParams(init, dtype);
        train(new lt.SGD(params, h), params, grads);
        const want = torchSgd(init, grads, h);
        params.forEach((p, j) => assertClose(p, want[j], tolerance(dtype), `param ${j}`));
      });
    }
  }

  test('default lr is Keras\' 0.01', () => {
    const [p] = makeParams([[1, 2]], 'float64');
    const opt = new lt.SGD([p]);
    assert.equal(opt.lr, 0.01);
    train(opt, [p], [[[1, -2]]]);
    assertClose(p, [0.99, 2.02], { atol: 1e-15 });
  });

  test('a rate changed mid-training applies at once (PyTorch\'s form, not Keras\' velocity)', () => {
    const params = makeParams(init, 'float64');
    const opt = new lt.SGD(params, { lr: 0.1, momentum: 0.9 });
    train(opt, params, grads.slice(0, 2));
    opt.lr = 0.01; // as ReduceLROnPlateau does
    train(opt, params, grads.slice(2));
    const lrs = [0.1, 0.1, 0.01, 0.01, 0.01];
    const want = torchSgd(init, grads, { lr: 0, momentum: 0.9, nesterov: false, weightDecay: 0 }, lrs);
    params.forEach((p, j) => assertClose(p, want[j], tolerance('float64')));
    const keras = kerasSgd(init, grads, 0.9, lrs);
    assert.ok(Math.abs(keras[0][0] - want[0][0]) > 1e-3, 'the two forms should differ after a rate change');
  });

  test('the momentum slot holds the PyTorch buffer', () => {
    const params = makeParams(init, 'float64');
    const opt = new lt.SGD(params, { momentum: 0.9 });
    train(opt, params, grads.slice(0, 2));
    const b = grads[0][1].map((g, i) => 0.9 * g + grads[1][1][i]);
    assertClose(opt.stateDict().slots['1.momentum'], b, { atol: 1e-15 });
    assert.deepEqual(Object.keys(new lt.SGD(params).stateDict().slots), [], 'no slots without momentum');
  });

  test('backward through a graph built before the step is refused', () => {
    const [p] = makeParams([[2]], 'float32');
    const x = lt.tensor([3], { requiresGrad: true });
    const loss = p.mul(x).sum();
    loss.backward(undefined, { retainGraph: true });
    new lt.SGD([p], { lr: 0.1 }).step();
    assertThrowsLathe(() => loss.backward(), /^backward: an input of mul \[1\] was changed in place/);
  });

  test('nesterov without momentum is refused', () => {
    const [p] = makeParams([[1]], 'float32');
    assertThrowsLathe(() => new lt.SGD([p], { nesterov: true }), /^SGD: nesterov needs momentum > 0$/);
    assertThrowsLathe(() => new lt.SGD([p], { momentum: 1 }), /^SGD: momentum must be a number in \[0, 1\), got 1$/);
  });
});
