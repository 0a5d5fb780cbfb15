// Gradient descent written by hand against the tensor API (issue 2, acceptance 3): a forward
// pass, the loss, backward(), then p = p - lr * p.grad, with no optimizer class. This is the
// brief's core algorithm end to end on small synthetic problems.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as lt from '../../src/index.js';
import { onEachBackend } from '../helpers.js';

/** Two interleaved spirals, 1.5 turns each, `n` points per class, deterministic. */
function spirals(n: number): { x: lt.Tensor; y: lt.Tensor } {
  const xs: number[][] = [];
  const ys: number[] = [];
  for (let c = 0; c < 2; c++) {
    for (let i = 0; i < n; i++) {
      const t = 0.3 + (3 * Math.PI * i) / n; // radius grows with the angle
      const a = t + c * Math.PI;
      xs.push([(t * Math.cos(a)) / (3 * Math.PI), (t * Math.sin(a)) / (3 * Math.PI)]);
      ys.push(c);
    }
  }
  return { x: lt.tensor(xs), y: lt.tensor(ys, { dtype: 'int32' }) };
}

/**
 * Trains a 2-layer tanh MLP by plain gradient descent; returns the final loss and accuracy.
 * The first layer starts wide (std `inScale`, random biases), so that its tanh units cut the
 * plane at many angles and offsets: the spirals then need ~500 steps instead of ~10000.
 */
function trainMlp(x: lt.Tensor, y: lt.Tensor, hidden: number, lr: number, steps: number, inScale: number): { loss: number; accuracy: number } {
  const g = new lt.Generator(0);
  const inputs = x.shape[1];
  const w1 = lt.randn([inputs, hidden], { generator: g, std: inScale }).requireGrad();
  const b1 = lt.randn([hidden], { generator: g, std: inScale / 4 }).requireGrad();
  const w2 = lt.randn([hidden, 2], { generator: g, std: Math.sqrt(1 / hidden) }).requireGrad();
  const b2 = lt.zeros([2]).requireGrad();
  const params = [w1, b1, w2, b2];
  const labels = y.reshape([-1, 1]);
  const forward = () => x.matmul(w1).add(b1).tanh().matmul(w2).add(b2);
  let loss = Infinity;
  for (let step = 0; step < steps; step++) {
    // cross-entropy: the mean over examples of -log softmax(logits)[label]
    const l = forward().logSoftmax(1).gather(1, labels).mean().neg();
    for (const p of params) p.zeroGrad();
    l.backward();
    lt.noGrad(() => {
      for (const p of params) p.assign(p.sub(p.grad!.mul(lr)));
    });
    loss = l.item();
  }
  const predicted = lt.noGrad(() => forward().argmax(1));
  const accuracy = predicted.eq(y).cast('float32').mean().item();
  return { loss, accuracy };
}

onEachBackend('hand-written gradient descent', () => {
  test('XOR: loss < 0.01 and every point right', () => {
    const x = lt.tensor([[0, 0], [0, 1], [1, 0], [1, 1]]);
    const y = lt.tensor([0, 1, 1, 0], { dtype: 'int32' });
    const { loss, accuracy } = trainMlp(x, y, 8, 1.0, 1500, 1);
    assert.ok(loss < 0.01, `final loss ${loss}`);
    assert.equal(accuracy, 1);
  });

  test('two interleaved spirals (200 points): loss < 0.05 and 100% accuracy', () => {
    const { x, y } = spirals(100);
    const { loss, accuracy } = trainMlp(x, y, 64, 1.0, 1000, 4);
    assert.ok(loss < 0.05, `final loss ${loss}`);
    assert.equal(accuracy, 1, `accuracy ${accuracy}`);
  });
});
