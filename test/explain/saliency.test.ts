// Saliency against finite differences of an independent float64 implementation of the same
// model, SmoothGrad's limits, and the errors bad calls get.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import * as lt from '../../src/index.js';
import { assertClose, assertThrowsLathe } from '../helpers.js';
import { TINY_X, finiteDifferences, tinyModel } from './tiny-model.js';

const x64 = () => lt.tensor(TINY_X, { dtype: 'float64' });

describe('saliency', () => {
  test('equals the finite-difference gradient of the target logit, per example (signed and absolute)', () => {
    const tiny = tinyModel();
    const targets = [2, 0, 1];
    const signed = lt.explain.saliency(tiny.model, x64(), { target: targets, absolute: false });
    const absolute = lt.explain.saliency(tiny.model, x64(), { target: targets });
    assert.deepEqual(signed.shape, [3, 4]);
    assert.equal(signed.dtype, 'float64');
    const want = TINY_X.map((x, i) => finiteDifferences((v) => tiny.logits(v)[targets[i]], x));
    assertClose(signed, want, { atol: 1e-8, rtol: 1e-6 });
    assertClose(absolute, want.map((r) => r.map(Math.abs)), { atol: 1e-8, rtol: 1e-6 });
  });

  test('score "outputs" differentiates the softmax probability instead of the logit', () => {
    const tiny = tinyModel();
    const got = lt.explain.saliency(tiny.model, x64(), { target: 1, absolute: false, score: 'outputs' });
    assertClose(got, TINY_X.map((x) => finiteDifferences((v) => tiny.probabilities(v)[1], x)), { atol: 1e-8, rtol: 1e-6 });
  });

  test('the default target is the predicted class, and the result reports it with the logit', () => {
    const tiny = tinyModel();
    const r = lt.explain.saliencyWithTargets(tiny.model, x64());
    const predicted = TINY_X.map((x) => {
      const z = tiny.logits(x);
      return z.indexOf(Math.max(...z));
    });
    assert.deepEqual(Array.from(r.targets), predicted);
    assert.equal(r.score, 'logit');
    assertClose(r.scores, TINY_X.map((x, i) => tiny.logits(x)[predicted[i]]), { atol: 1e-12 });
  });

  test('gradients go through a Rescaling first layer to the raw input', () => {
    const tiny = tinyModel(5, { rescale: 1 / 255 });
    const raw = TINY_X.map((r) => r.map((v) => v * 100));
    const got = lt.explain.saliency(tiny.model, lt.tensor(raw, { dtype: 'float64' }), { target: 0, absolute: false });
    assertClose(got, raw.map((x) => finiteDifferences((v) => tiny.logits(v)[0], x, 1e-4)), { atol: 1e-9, rtol: 1e-5 });
  });

  test('batchSize does not change the answer', () => {
    const tiny = tinyModel();
    assertClose(lt.explain.saliency(tiny.model, x64(), { batchSize: 1 }), lt.explain.saliency(tiny.model, x64()), { atol: 0 });
  });

  test('SmoothGrad with zero noise is the plain saliency; with noise it is seeded and differs', () => {
    const tiny = tinyModel();
    const plain = lt.explain.saliency(tiny.model, x64(), { target: 0 });
    assertClose(lt.explain.saliency(tiny.model, x64(), { target: 0, samples: 4, noise: 0 }), plain, { atol: 1e-15 });
    const a = lt.explain.saliency(tiny.model, x64(), { target: 0, samples: 8, noise: 0.2, seed: 7 });
    const b = lt.explain.saliency(tiny.model, x64(), { target: 0, samples: 8, noise: 0.2, seed: 7 });
    assertClose(a, b, { atol: 0 });
    const gap = Math.max(...Array.from(a.sub(plain).abs().dataSync()));
    assert.ok(gap > 1e-6, `SmoothGrad should differ from the plain gradient, max gap ${gap}`);
  });

  test('multiplyByInput is gradient x input: the signed gradient times x, absolute on request, and with SmoothGrad', () => {
    const tiny = tinyModel();
    const x = x64();
    const signed = lt.explain.saliency(tiny.model, x, { target: [2, 0, 1], absolute: false });
    const times = lt.explain.saliency(tiny.model, x, { target: [2, 0, 1], absolute: false, multiplyByInput: true });
    assertClose(times, signed.mul(x), { atol: 1e-15 });
    assert.ok(Math.max(...Array.from(times.sub(signed).abs().dataSync())) > 1e-3, 'x is not all ones, so the product differs from the gradient');
    assertClose(lt.explain.saliency(tiny.model, x, { target: [2, 0, 1], multiplyByInput: true }), times.abs(), { atol: 1e-15 });
    const smooth = lt.explain.saliency(tiny.model, x, { target: 0, samples: 4, noise: 0.2, multiplyByInput: true, absolute: false });
    const smoothGrad = lt.explain.saliency(tiny.model, x, { target: 0, samples: 4, noise: 0.2, absolute: false });
    assertClose(smooth, smoothGrad.mul(x), { atol: 1e-15 });
    assertThrowsLathe(() => lt.explain.saliency(tiny.model, x, { multiplyByInput: 1 as never }), /saliency: multiplyByInput must be true or false, got 1/);
  });

  test('a float32 model explains float32 and uint8 input, in float32', () => {
    lt.manualSeed(1);
    const model = new lt.Sequential([new lt.layers.Rescaling(1 / 255, 0, { inputShape: [6] }), new lt.layers.Dense(3, { activation: 'softmax' })]);
    const x = lt.tensor([[0, 10, 200, 255, 3, 40]], { dtype: 'uint8' });
    const s = lt.explain.saliency(model, x, { target: 2, absolute: false });
    assert.equal(s.dtype, 'float32');
    const kernel = model.namedParameters().find(([k]) => k.endsWith('kernel'))![1].dataSync();
    assertClose(s, [[0, 1, 2, 3, 4, 5].map((i) => kernel[i * 3 + 2] / 255)], { rtol: 1e-6 }); // a linear model's gradient is its weight column
  });

  test('bad calls fail with errors that name the problem', () => {
    const tiny = tinyModel();
    assertThrowsLathe(() => lt.explain.saliency(tiny.model, lt.tensor([1, 2, 3, 4], { dtype: 'float64' })), /saliency: x must be a batch \[n,4\] for this model's input \[4\], got \[4\]/);
    assertThrowsLathe(() => lt.explain.saliency(tiny.model, lt.zeros([2, 5], { dtype: 'float64' })), /got \[2,5\]/);
    assertThrowsLathe(() => lt.explain.saliency(tiny.model, x64(), { target: 3 }), /saliency: target 3 is out of range: the model has 3 outputs \(classes 0\.\.2\)/);
    assertThrowsLathe(() => lt.explain.saliency(tiny.model, x64(), { target: [0, 1] }), /target lists 2 classes for 3 examples/);
    assertThrowsLathe(() => lt.explain.saliency(tiny.model, x64(), { target: [0, 1.5, 2] }), /target 1\.5 \(example 1\) is out of range/);
    assertThrowsLathe(() => lt.explain.saliency(tiny.model, x64(), { samples: -1 }), /samples must be a non-negative integer/);
    assertThrowsLathe(() => lt.explain.saliency(tiny.model, x64(), { score: 'probs' as never }), /score must be "logits" or "outputs"/);
    assertThrowsLathe(() => lt.explain.saliency(tiny.model, x64(), { batchSize: 0 }), /batchSize must be a positive integer/);
  });

  test('the model is left in the mode it was in', () => {
    const tiny = tinyModel();
    tiny.model.train();
    lt.explain.saliency(tiny.model, x64());
    assert.equal(tiny.model.training, true);
  });
});
