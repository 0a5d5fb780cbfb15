// Integrated gradients: exact on a linear model, complete on a smooth one, the same for any
// batching, against a direct float64 quadrature of the independent implementation, and the
// errors bad calls get.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import * as lt from '../../src/index.js';
import { assertClose, assertThrowsLathe } from '../helpers.js';
import { TINY_X, finiteDifferences, tinyModel } from './tiny-model.js';

const x64 = () => lt.tensor(TINY_X, { dtype: 'float64' });

describe('integratedGradients', () => {
  test('on a linear model the attributions are exactly w * (x - baseline), for any steps', () => {
    lt.manualSeed(2);
    const model = new lt.Sequential([new lt.layers.Dense(3, { inputShape: [4], dtype: 'float64' })]);
    const w = model.namedParameters().find(([k]) => k.endsWith('kernel'))![1].dataSync();
    const baseline = lt.tensor([0.1, 0.2, -0.3, 0.4], { dtype: 'float64' });
    const got = lt.explain.integratedGradients(model, x64(), { target: 1, steps: 1, baseline });
    assertClose(got, TINY_X.map((x) => x.map((v, i) => w[i * 3 + 1] * (v - [0.1, 0.2, -0.3, 0.4][i]))), { atol: 1e-12 });
  });

  test('matches a direct float64 trapezoid of the independent implementation, and is complete', () => {
    const tiny = tinyModel();
    const steps = 16;
    const r = lt.explain.integratedGradientsWithDelta(tiny.model, x64(), { steps, target: [0, 1, 2] });
    const want = TINY_X.map((x, i) => {
      const mean = x.map(() => 0);
      for (let k = 0; k <= steps; k++) {
        const g = finiteDifferences((v) => tiny.logits(v)[i], x.map((v) => (v * k) / steps));
        g.forEach((gj, j) => (mean[j] += ((k === 0 || k === steps ? 0.5 : 1) / steps) * gj));
      }
      return x.map((v, j) => v * mean[j]);
    });
    assertClose(r.attributions, want, { atol: 1e-8, rtol: 1e-6 });
    assertClose(r.scores, TINY_X.map((x, i) => tiny.logits(x)[i]), { atol: 1e-12 });
    assertClose(r.baselineScores, [0, 1, 2].map((i) => tiny.logits([0, 0, 0, 0])[i]), { atol: 1e-12 });
    // Completeness: the reported delta is the gap, and with 64 steps the smooth model closes it to 1e-3.
    const sums = Array.from({ length: 3 }, (_, i) => (r.attributions.toArray() as number[][])[i].reduce((a, b) => a + b, 0));
    assertClose(r.delta, sums.map((s, i) => s - (r.scores[i] - r.baselineScores[i])), { atol: 1e-12 });
    const fine = lt.explain.integratedGradientsWithDelta(tiny.model, x64(), { steps: 64, target: [0, 1, 2] });
    fine.delta.forEach((d, i) => assert.ok(Math.abs(d) <= 1e-3 * Math.abs(fine.scores[i] - fine.baselineScores[i]), `example ${i}: delta ${d}`));
  });

  test('batchSize does not change the answer; a per-example baseline and a number both work', () => {
    const tiny = tinyModel();
    const a = lt.explain.integratedGradients(tiny.model, x64(), { steps: 8, batchSize: 5 });
    const b = lt.explain.integratedGradients(tiny.model, x64(), { steps: 8, batchSize: 1000 });
    assertClose(a, b, { atol: 1e-14 });
    const zeros = lt.explain.integratedGradients(tiny.model, x64(), { steps: 8, baseline: lt.zeros([3, 4], { dtype: 'float64' }) });
    assertClose(zeros, b, { atol: 1e-14 });
    const atOne = lt.explain.integratedGradientsWithDelta(tiny.model, x64(), { steps: 8, baseline: 1, target: 0 });
    assertClose(atOne.baselineScores, [1, 1, 1].map(() => tiny.logits([1, 1, 1, 1])[0]), { atol: 1e-12 });
  });

  test('score "outputs" integrates the probability, so the attributions sum to the change in probability', () => {
    const tiny = tinyModel();
    const r = lt.explain.integratedGradientsWithDelta(tiny.model, x64(), { steps: 64, score: 'outputs', target: 2 });
    assert.equal(r.score, 'output');
    assertClose(r.scores, TINY_X.map((x) => tiny.probabilities(x)[2]), { atol: 1e-12 });
    r.delta.forEach((d) => assert.ok(Math.abs(d) < 1e-4, `delta ${d}`));
  });

  test('bad calls fail with errors that name the problem', () => {
    const tiny = tinyModel();
    assertThrowsLathe(() => lt.explain.integratedGradients(tiny.model, x64(), { steps: 0 }), /integratedGradients: steps must be a positive integer, got 0/);
    assertThrowsLathe(() => lt.explain.integratedGradients(tiny.model, x64(), { baseline: lt.zeros([2, 4]) }), /baseline must have one example's shape \[4\] or x's shape \[3,4\], got \[2,4\]/);
    assertThrowsLathe(() => lt.explain.integratedGradients(tiny.model, x64(), { baseline: Number.NaN }), /baseline must be a finite number/);
    assertThrowsLathe(() => lt.explain.integratedGradients(tiny.model, x64(), { target: -1 }), /target -1 is out of range/);
    assertThrowsLathe(() => lt.explain.integratedGradients(tiny.model, lt.zeros([3, 4, 1], { dtype: 'float64' })), /x must be a batch \[n,4\]/);
    assertThrowsLathe(() => lt.explain.explain(tiny.model, x64(), { method: 'lime' as never }), /explain: method must be one of ig, saliency/);
  });
});
