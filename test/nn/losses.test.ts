// Keras-compatible losses: values by hand and from Keras' formulas (clip at 1e-7), finite losses
// and gradients at extreme logits, the remembered-logits path, finite differences, and errors.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as lt from '../../src/index.js';
import { ACTIVATIONS } from '../../src/nn/activations.js';
import { assertClose, assertThrowsLathe, gradcheck, onEachBackend, rand64 } from '../helpers.js';

const L = lt.losses;
const f64 = (v: lt.NestedArray) => lt.tensor(v, { dtype: 'float64' });
const i32 = (v: lt.NestedArray) => lt.tensor(v, { dtype: 'int32' });
const lse = (r: number[]) => Math.max(...r) + Math.log(r.reduce((s, v) => s + Math.exp(v - Math.max(...r)), 0));
const softplus = (x: number) => Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x)));
const exact = { atol: 1e-14, rtol: 1e-12 };
/** -log(1e-7): what Keras charges for a probability of 0 on the true class. */
const CLIPPED = 16.11809565095832;

function assertFinite(t: lt.Tensor, what: string): void {
  for (const v of t.dataSync()) assert.ok(Number.isFinite(v), `${what}: ${Array.from(t.dataSync())}`);
}

onEachBackend('losses', () => {
  test('mean squared and absolute error by hand, in each reduction', () => {
    const t = f64([[0, 1], [2, 3]]);
    const p = f64([[1, 1], [0, 5]]); // differences [1, 0] and [-2, 2]
    assertClose(L.meanSquaredError(t, p, { reduction: 'none' }), [0.5, 4], exact);
    assertClose(L.meanSquaredError(t, p), 2.25, exact);
    assertClose(L.meanSquaredError(t, p, { reduction: 'sum' }), 4.5, exact);
    assertClose(L.meanAbsoluteError(t, p, { reduction: 'none' }), [0.5, 2], exact);
    assertClose(L.meanAbsoluteError(t, p), 1.25, exact);
    assertClose(L.meanAbsoluteError(t, p, { reduction: 'sum' }), 2.5, exact);
    // labels [N] against one output per example [N,1], as Keras squeezes them: not an [N,N] broadcast
    assertClose(L.meanSquaredError(f64([1, 2]), f64([[1.5], [2]]), { reduction: 'none' }), [0.25, 0], exact);
    assertClose(L.meanAbsoluteError(f64([[1], [2]]), f64([1.5, 2]), { reduction: 'none' }), [0.5, 0], exact);
    assert.equal(L.meanSquaredError(lt.tensor([1, 2]), lt.tensor([[1.5], [2]])).dtype, 'float32');
  });

  test('binary cross-entropy by hand, from probabilities and from logits', () => {
    const z = f64([[1, 0], [0.25, 1]]);
    const p = f64([[0.9, 0.2], [0.5, 0.6]]);
    const bce = (zi: number, pi: number) => -(zi * Math.log(pi) + (1 - zi) * Math.log(1 - pi));
    const want = [(bce(1, 0.9) + bce(0, 0.2)) / 2, (bce(0.25, 0.5) + bce(1, 0.6)) / 2]; // mean over the last axis
    assertClose(L.binaryCrossentropy(z, p, { reduction: 'none' }), want, exact);
    assertClose(L.binaryCrossentropy(z, p), (want[0] + want[1]) / 2, exact);
    assertClose(L.binaryCrossentropy(z, p, { reduction: 'sum' }), want[0] + want[1], exact);
    const x = f64([[2, -1], [0, 3]]);
    const fromX = (zi: number, xi: number) => softplus(xi) - xi * zi;
    assertClose(L.binaryCrossentropy(z, x, { fromLogits: true, reduction: 'none' }), [(fromX(1, 2) + fromX(0, -1)) / 2, (fromX(0.25, 0) + fromX(1, 3)) / 2], exact);
    // the same numbers as probabilities (not remembered logits) agree with the logits form
    const probs = f64([[2, -1], [0, 3]].map((r) => r.map((v) => 1 / (1 + Math.exp(-v)))));
    assertClose(L.binaryCrossentropy(z, probs), L.binaryCrossentropy(z, x, { fromLogits: true }), { atol: 1e-12 });
  });

  test('categorical and sparse categorical cross-entropy by hand', () => {
    const x = f64([[1, 2, 3], [0, 0, 0], [-1, 4, 0.5]]);
    const want = [lse([1, 2, 3]) - 3, Math.log(3), lse([-1, 4, 0.5]) - 4];
    const onehot = f64([[0, 0, 1], [1, 0, 0], [0, 1, 0]]);
    assertClose(L.categoricalCrossentropy(onehot, x, { fromLogits: true, reduction: 'none' }), want, exact);
    assertClose(L.sparseCategoricalCrossentropy(i32([2, 0, 1]), x, { fromLogits: true, reduction: 'none' }), want, exact);
    // Keras also takes float labels holding integers, and [N,1]
    assertClose(L.sparseCategoricalCrossentropy(f64([2, 0, 1]), x, { fromLogits: true, reduction: 'none' }), want, exact);
    assertClose(L.sparseCategoricalCrossentropy(i32([[2], [0], [1]]), x, { fromLogits: true }), (want[0] + want[1] + want[2]) / 3, exact);
    // soft labels: -sum y log softmax(x)
    const soft = L.categoricalCrossentropy(f64([[0.5, 0.5, 0]]), f64([[1, 2, 3]]), { fromLogits: true });
    assertClose(soft, 0.5 * (lse([1, 2, 3]) - 1) + 0.5 * (lse([1, 2, 3]) - 2), exact);
    // probabilities that sum to 1 give -log p[y]
    const p = f64([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]]);
    assertClose(L.categoricalCrossentropy(f64([[1, 0, 0], [0, 0, 1]]), p, { reduction: 'none' }), [-Math.log(0.7), -Math.log(0.8)], exact);
    assertClose(L.sparseCategoricalCrossentropy(i32([0, 2]), p, { reduction: 'none' }), [-Math.log(0.7), -Math.log(0.8)], exact);
    // labels over more axes: [N,T] against [N,T,C]; 'none' keeps [N,T]
    const seq = L.sparseCategoricalCrossentropy(i32([[2, 0, 1]]), x.reshape([1, 3, 3]), { fromLogits: true, reduction: 'none' });
    assertClose(seq, [want], exact);
  });

  test("Keras' conventions: clip at 1e-7, and renormalise categorical probabilities", () => {
    // a probability of 0 for the true class costs -log(1e-7) = 16.118..., not Infinity
    assertClose(L.binaryCrossentropy(f64([1]), f64([0])), CLIPPED, exact);
    assertClose(L.categoricalCrossentropy(f64([[1, 0]]), f64([[0, 1]])), CLIPPED, exact);
    assertClose(L.sparseCategoricalCrossentropy(i32([0]), f64([[0, 1]])), CLIPPED, exact);
    // in float32, 1 - 1e-7 rounds to 1 - 2^-23, so a confident wrong p = 1 costs 15.9424 (Keras' float32 figure)
    assertClose(L.binaryCrossentropy(lt.tensor([0]), lt.tensor([1])), -Math.log(2 ** -23), { atol: 1e-5 });
    // probabilities summing to 0.4 are rescaled to [0.5, 0.5] before the log
    assertClose(L.categoricalCrossentropy(f64([[1, 0]]), f64([[0.2, 0.2]])), Math.LN2, exact);
    assertClose(L.sparseCategoricalCrossentropy(i32([0]), f64([[0.2, 0.2]])), Math.LN2, exact);
    // a perfect prediction scores +0, also per example
    assert.ok(Object.is(L.categoricalCrossentropy(f64([[1, 0]]), f64([[1e4, -1e4]]), { fromLogits: true, reduction: 'none' }).item(), 0));
  });

  test('extreme logits give finite losses and exact, finite gradients (float32)', () => {
    const x = lt.tensor([[1e4, -1e4, 0], [-1e30, 1e30, 0], [88, -88, 89]]).requireGrad();
    const cce = L.categoricalCrossentropy(lt.tensor([[1, 0, 0], [1, 0, 0], [0, 0, 1]]), x, { fromLogits: true, reduction: 'none' });
    assertClose(cce, [0, 2e30, Math.log1p(Math.exp(-1))], { atol: 1e-6, rtol: 1e-6 });
    cce.sum().backward();
    assertFinite(x.grad!, 'categorical gradient');
    const e = Math.exp(-1) / (1 + Math.exp(-1));
    assertClose(x.grad!, [[0, 0, 0], [-1, 1, 0], [e, 0, -e]], { atol: 1e-6 });

    const xs = lt.tensor([[1e4, -1e4, 0], [-1e30, 1e30, 0], [88, -88, 89]]).requireGrad();
    const sce = L.sparseCategoricalCrossentropy(i32([0, 0, 2]), xs, { fromLogits: true, reduction: 'none' });
    assertClose(sce, [0, 2e30, Math.log1p(Math.exp(-1))], { atol: 1e-6, rtol: 1e-6 });
    sce.sum().backward();
    assertClose(xs.grad!, x.grad!, { atol: 1e-6 });

    const b = lt.tensor([1e4, -1e4, 1e30, -1e30, 88, -88, 0]).requireGrad();
    const bce = L.binaryCrossentropy(lt.tensor([0, 1, 0, 1, 1, 0, 1]), b, { fromLogits: true, reduction: 'none' });
    assertClose(bce, [1e4, 1e4, 1e30, 1e30, Math.exp(-88), Math.exp(-88), Math.LN2], { atol: 1e-6, rtol: 1e-6 });
    bce.sum().backward();
    // sigmoid(x) - z; at x = 0 exactly, 0.5 - z (relu/abs-based forms give -z there)
    assertClose(b.grad!, [1, -1, 1, -1, 0, 0, -0.5], { atol: 1e-6 });

    // clipped probabilities at 0 and 1: finite losses, and gradients that stop at the clip
    const pr = lt.tensor([[0, 1], [1, 0]]).requireGrad();
    const fromP = L.categoricalCrossentropy(lt.tensor([[1, 0], [1, 0]]), pr).add(L.binaryCrossentropy(lt.tensor([[1, 0], [0, 1]]), pr));
    assertFinite(fromP, 'probability loss');
    fromP.backward();
    assertFinite(pr.grad!, 'probability gradient');
  });

  test('a remembered softmax sends sparse cross-entropy straight to the fused kernel', () => {
    const logits = lt.tensor([[0, -200, 3], [1, 2, 0.5]]).requireGrad();
    const labels = i32([1, 2]);
    const probs = ACTIVATIONS.softmax(logits);
    const loss = L.sparseCategoricalCrossentropy(labels, probs);
    // one op, fed the logits and labels themselves: no clip, log, cast or reshape in between
    assert.equal(loss.node?.op.name, 'softmaxCrossEntropy');
    assert.equal(loss.node?.inputs?.[0], logits);
    assert.equal(loss.node?.inputs?.[1], labels);
    // exact where the probability underflowed: 203 from the logits, not the clipped 16.1
    const want = [lse([0, -200, 3]) + 200, lse([1, 2, 0.5]) - 0.5];
    assertClose(loss, (want[0] + want[1]) / 2, { rtol: 1e-6 });
    assertClose(loss, L.sparseCategoricalCrossentropy(labels, logits, { fromLogits: true }), { atol: 0 });
  });

  test('remembered softmax and sigmoid logits in categorical and binary cross-entropy', () => {
    const logits = f64([[0, -200, 3]]);
    const y = f64([[0, 1, 0]]);
    const viaProbs = L.categoricalCrossentropy(y, ACTIVATIONS.softmax(logits));
    assertClose(viaProbs, L.categoricalCrossentropy(y, logits, { fromLogits: true }), exact);
    assertClose(viaProbs, lse([0, -200, 3]) + 200, exact);
    const x = f64([[-50, 40]]);
    const z = f64([[1, 0]]);
    assertClose(L.binaryCrossentropy(z, ACTIVATIONS.sigmoid(x)), L.binaryCrossentropy(z, x, { fromLogits: true }), exact);
    assertClose(L.binaryCrossentropy(z, ACTIVATIONS.sigmoid(x)), (softplus(-50) + 50 + softplus(40)) / 2, exact);
    // a plain softmax (nothing remembered) is clipped as Keras clips it
    assertClose(L.categoricalCrossentropy(y, lt.softmax(logits)), CLIPPED, exact);
  });

  // float64 central differences with eps 1e-6 are good to ~1e-9; inputs stay clear of kinks and clips.
  // Tensors are made inside each test: the suite's backend is only set once its tests run.
  type Case = [string, (x: lt.Tensor, reduction: lt.losses.Reduction) => lt.Tensor, [number, number]];
  const labels = () => i32([1, 4, 0]);
  const onehot = () => f64([[0, 1, 0, 0, 0], [0, 0, 0, 0, 1], [1, 0, 0, 0, 0]]);
  const target = () => rand64([3, 5], 7, 0, 1);
  const cases: Case[] = [
    ['meanSquaredError', (x, reduction) => L.meanSquaredError(target(), x, { reduction }), [-2, 2]],
    ['meanAbsoluteError', (x, reduction) => L.meanAbsoluteError(target(), x, { reduction }), [1.1, 2]],
    ['binaryCrossentropy, probabilities', (x, reduction) => L.binaryCrossentropy(target(), x, { reduction }), [0.05, 0.95]],
    ['binaryCrossentropy, logits', (x, reduction) => L.binaryCrossentropy(target(), x, { reduction, fromLogits: true }), [-4, 4]],
    ['binaryCrossentropy, remembered sigmoid', (x, reduction) => L.binaryCrossentropy(target(), ACTIVATIONS.sigmoid(x), { reduction }), [-4, 4]],
    ['categoricalCrossentropy, probabilities', (x, reduction) => L.categoricalCrossentropy(onehot(), x, { reduction }), [0.1, 1]],
    ['categoricalCrossentropy, logits', (x, reduction) => L.categoricalCrossentropy(target(), x, { reduction, fromLogits: true }), [-3, 3]],
    ['sparseCategoricalCrossentropy, probabilities', (x, reduction) => L.sparseCategoricalCrossentropy(labels(), x, { reduction }), [0.1, 1]],
    ['sparseCategoricalCrossentropy, remembered softmax', (x, reduction) => L.sparseCategoricalCrossentropy(labels(), ACTIVATIONS.softmax(x), { reduction }), [-3, 3]],
  ];
  cases.forEach(([name, f, [low, high]], i) => {
    test(`gradient by finite differences: ${name}`, () => {
      for (const reduction of ['mean', 'none'] as const) gradcheck((v) => f(v, reduction), [rand64([3, 5], 20 + i, low, high)], { atol: 1e-7, rtol: 1e-5 });
    });
  });

  test('errors name the values and shapes', () => {
    const x = lt.zeros([2, 3]);
    assertThrowsLathe(() => L.sparseCategoricalCrossentropy(i32([0, 3]), x), /labels\[1\] = 3 is out of range for 3 classes/);
    assertThrowsLathe(() => L.sparseCategoricalCrossentropy(lt.tensor([0, 1.5]), x), /^sparseCategoricalCrossentropy: yTrue\[1\] = 1.5 is not a class index in \[0, 3\)$/);
    assertThrowsLathe(() => L.sparseCategoricalCrossentropy(lt.tensor([0, 1e10]), x), /yTrue\[1\] = 10000000000 is not a class index/);
    assertThrowsLathe(() => L.sparseCategoricalCrossentropy(i32([0, 1, 2]), x), /yTrue \[3\] must hold one class index per row of yPred \[2,3\]: shape \[2\] or \[2,1\]/);
    assertThrowsLathe(() => L.meanSquaredError(lt.zeros([2, 3]), lt.zeros([3, 2])), /^meanSquaredError: yTrue \[2,3\] and yPred \[3,2\] must have the same shape$/);
    assertThrowsLathe(() => L.binaryCrossentropy(lt.zeros([4]), lt.zeros([4, 4])), /yTrue \[4\] and yPred \[4,4\] must have the same shape/);
    assertThrowsLathe(() => L.categoricalCrossentropy(i32([0, 2]), x), /yTrue \[2\] and yPred \[2,3\] must have the same shape \(for integer labels use sparseCategoricalCrossentropy\)/);
    assertThrowsLathe(() => L.meanSquaredError(x, i32([[0, 0, 0], [0, 0, 0]])), /yPred must be a float tensor, got int32 \[2,3\]/);
    assertThrowsLathe(() => L.meanAbsoluteError(x, x, { reduction: 'avg' as 'mean' }), /reduction must be "mean", "sum" or "none", got "avg"/);
    assertThrowsLathe(() => L.binaryCrossentropy(x, x, { fromLogits: 1 as unknown as boolean }), /fromLogits must be true or false, got 1/);
  });
});

test('getLoss: Keras names, camelCase, configs, functions, and errors listing the names', () => {
  for (const n of ['sparse_categorical_crossentropy', 'sparseCategoricalCrossentropy', 'SparseCategoricalCrossentropy']) {
    assert.equal(L.getLoss(n).name, 'sparseCategoricalCrossentropy', n);
  }
  for (const [n, want] of [['mse', 'meanSquaredError'], ['MSE', 'meanSquaredError'], ['mean_squared_error', 'meanSquaredError'], ['mae', 'meanAbsoluteError'], ['bce', 'binaryCrossentropy'], ['categorical_crossentropy', 'categoricalCrossentropy']]) {
    assert.equal(L.getLoss(n).name, want, n);
  }
  const x = f64([[2, -1], [0.5, 3]]);
  const z = f64([[1, 0], [0, 1]]);
  const bce = L.getLoss('binary_crossentropy', { fromLogits: true, reduction: 'sum' });
  assert.equal(bce.fromLogits, true);
  assertClose(bce.compute(z, x), L.binaryCrossentropy(z, x, { fromLogits: true, reduction: 'sum' }), exact);
  const fromConfig = L.getLoss({ type: 'sparseCategoricalCrossentropy', fromLogits: true });
  assert.deepEqual(fromConfig.getConfig(), { type: 'sparseCategoricalCrossentropy', reduction: 'mean', fromLogits: true });
  assert.deepEqual(L.getLoss(fromConfig.getConfig()).getConfig(), fromConfig.getConfig());
  assert.deepEqual(L.getLoss('mae').getConfig(), { type: 'meanAbsoluteError', reduction: 'mean' });
  assert.equal(L.getLoss(fromConfig), fromConfig);
  // a function's per-element result is averaged, as Keras reduces custom losses
  const custom = L.getLoss(function halfSquare(t: lt.Tensor, p: lt.Tensor) { return p.sub(t).square().mul(0.5); });
  assert.equal(custom.name, 'halfSquare');
  assertClose(custom.compute(z, x), (1 + 1 + 0.25 + 4) / 2 / 4, exact);

  assertThrowsLathe(() => L.getLoss('cross_entropy'), /^loss: unknown loss "cross_entropy" \(expected one of: mean_squared_error, mse, mean_absolute_error, mae, binary_crossentropy, bce, categorical_crossentropy, sparse_categorical_crossentropy, or their camelCase\)$/);
  assertThrowsLathe(() => L.getLoss({ type: 'mse', fromLogits: true }), /unknown field "fromLogits" \(expected one of: type, reduction\)/);
  assertThrowsLathe(() => L.getLoss({ type: 'bce', from_logits: true }), /unknown field "from_logits"/);
  assertThrowsLathe(() => L.getLoss({ type: 'bce', reduction: 'avg' }), /"reduction" must be one of "mean", "sum", "none", got "avg"/);
  assertThrowsLathe(() => L.getLoss('mse', { fromLogits: true }), /fromLogits applies only to the cross-entropies/);
  assertThrowsLathe(() => L.getLoss(() => 3 as unknown as lt.Tensor).compute(z, x), /must return a Tensor, got number/);
});
