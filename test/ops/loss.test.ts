// The fused softmax cross-entropy: values against -log softmax computed here, stability at
// extreme logits, gradients by finite differences, and the label checks.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as lt from '../../src/index.js';
import { assertClose, assertThrowsLathe, gradcheck, onEachBackend, rand64 } from '../helpers.js';

/** -log(exp(x[y]) / sum exp(x)) per row, in float64 with the max subtracted. */
function reference(rows: number[][], labels: number[]): number[] {
  return rows.map((r, i) => {
    const m = Math.max(...r);
    const lse = m + Math.log(r.reduce((s, v) => s + Math.exp(v - m), 0));
    return lse - r[labels[i]];
  });
}

onEachBackend('softmaxCrossEntropy', () => {
  const rows = [[1, 2, 3], [0.5, -1, 0], [10, 10, 10], [-3, 4, 0.25]];
  const labels = [2, 0, 1, 1];

  test('per-example losses, mean and sum against -log softmax', () => {
    const y = lt.tensor(labels, { dtype: 'int32' });
    const x = lt.tensor(rows, { dtype: 'float64' });
    const want = reference(rows, labels);
    assertClose(lt.softmaxCrossEntropy(x, y, { reduction: 'none' }), want, { atol: 1e-14, rtol: 1e-13 });
    assertClose(lt.softmaxCrossEntropy(x, y).item(), want.reduce((a, b) => a + b) / 4, { atol: 1e-14, rtol: 1e-13 });
    assertClose(lt.softmaxCrossEntropy(x, y, { reduction: 'sum' }).item(), want.reduce((a, b) => a + b), { atol: 1e-14, rtol: 1e-13 });
    assertClose(lt.softmaxCrossEntropy(lt.tensor([[0, 0]]), lt.tensor([1], { dtype: 'int32' })).item(), Math.LN2, { atol: 1e-7 }); // by hand: -log(1/2)
  });

  test('extreme logits give finite, exact losses and gradients in float32', () => {
    const x = lt.tensor([[1e4, -1e4, 0], [-1e4, -1e4, -1e4], [88, 89, -1e30]]).requireGrad();
    const l = lt.softmaxCrossEntropy(x, lt.tensor([1, 2, 0], { dtype: 'int32' }), { reduction: 'none' });
    assertClose(l, [2e4, Math.log(3), 1 + Math.log1p(Math.exp(-1))], { atol: 1e-3, rtol: 1e-6 });
    l.sum().backward();
    for (const v of x.grad!.dataSync()) assert.ok(Number.isFinite(v));
    assertClose(x.grad!, [[1, -1, 0], [1 / 3, 1 / 3, -2 / 3], [1 / (1 + Math.E) - 1, Math.E / (1 + Math.E), 0]], { atol: 1e-6 });
  });

  test('matches logSoftmax + gather, forward and backward', () => {
    const x = rand64([5, 7], 3, -3, 3);
    const labels5 = lt.tensor([6, 0, 3, 3, 1], { dtype: 'int32' });
    const fused = lt.softmaxCrossEntropy(x, labels5);
    const composite = x.logSoftmax(1).gather(1, labels5.reshape([5, 1])).mean().neg();
    assertClose(fused, composite, { atol: 1e-14, rtol: 1e-13 });
  });

  for (const reduction of ['mean', 'sum', 'none'] as const) {
    test(`gradient by finite differences (reduction ${reduction})`, () => {
      // float64, eps 1e-6: central differences are good to ~1e-9 here
      gradcheck((x) => lt.softmaxCrossEntropy(x, lt.tensor([1, 4, 0], { dtype: 'int32' }), { reduction }), [rand64([3, 5], 11, -2, 2)], { atol: 1e-7, rtol: 1e-5 });
    });
  }

  test('bad labels and logits are named', () => {
    const x = lt.zeros([2, 3]);
    assertThrowsLathe(() => lt.softmaxCrossEntropy(x, lt.tensor([0, 3], { dtype: 'int32' })), /^softmaxCrossEntropy: labels\[1\] = 3 is out of range for 3 classes$/);
    assertThrowsLathe(() => lt.softmaxCrossEntropy(x, lt.tensor([0, 1])), /labels must be an int32 tensor of shape \[2\], got float32 \[2\]/);
    assertThrowsLathe(() => lt.softmaxCrossEntropy(lt.zeros([2, 3, 1]), lt.tensor([0, 1], { dtype: 'int32' })), /logits must be a 2-D float tensor \[batch, classes\], got float32 \[2,3,1\]/);
    assertThrowsLathe(() => lt.softmaxCrossEntropy(x, lt.tensor([0, 1], { dtype: 'int32' }), { reduction: 'avg' as 'mean' }), /reduction must be "mean", "sum" or "none"/);
  });
});
