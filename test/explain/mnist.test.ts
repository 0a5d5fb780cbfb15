// Issue 8, acceptance 3, on the brief's MNIST MLP (Rescaling 1/255, 784-128 relu, 10 softmax),
// trained here properly: one epoch of Adam at batch 32 on all 60000 training images (1875 steps,
// about 2 s on 2 cores; 96% on the test images). Needs $LATHE_DATA/mnist.
//
// Where saliency puts its mass (300 test images; stroke: pixel > 0, 18% of the area). Measured
// from untrained to 3 epochs (7%, 92% after 375 steps, 96%, 97%, 97.6%), the share of |attribution|
// mass on stroke pixels, and the ratio of mean |attribution| on stroke to background:
//   |gradient| (saliency's default)          share 18% 22% 19% 18% 18%, ratio 1.03 1.32 1.10 1.01 0.99
//   SmoothGrad, noise 0.1-0.2, 25-50 samples  the same within 0.01 (ratio 1.10 at one epoch)
//   signed gradient, its positive part        share 21% 32% 29% 27% 26% of the positive mass
//   gradient x input, IG from black           100%: zero wherever the pixel is zero, by construction
// |gradient| says where ink would change the score, and a trained MLP looks at the background
// too (against background pixels that training ever inked, the ratio is 0.92 at one epoch), so
// it does not concentrate on the stroke; SmoothGrad does not change that for a ReLU MLP. What
// does, and is tested below, is the evidence for the class: the signed gradient's positive part
// (how much adding ink raises the predicted class's logit), per image its share of the positive
// mass on stroke pixels over the stroke's share of the area: 1.70 and 1.78 for seeds 0 and 1
// after one epoch, 1.19 and 1.13 untrained. It fades with long training (1.40 after 5 epochs,
// 1.29 after 10), so the bound is for the model trained here.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { before, describe, test } from 'node:test';
import * as lt from '../../src/index.js';
import { assertClose } from '../helpers.js';

const data = process.env.LATHE_DATA ? path.join(process.env.LATHE_DATA, 'mnist') : '';
const ready = data !== '' && fs.existsSync(data);
const cntk = data ? path.join(data, '..', '..', 'models', 'onnx', 'mnist-cntk.onnx') : '';

/**
 * Mean over images of (share of the positive part of s on stroke pixels, x > 0) / (stroke
 * pixels' share of the image): 1 when the evidence for the class is spread like the ink.
 */
export function positiveStrokeConcentration(x: lt.Tensor, s: lt.Tensor): number {
  const xv = x.dataSync();
  const sv = s.dataSync();
  const d = x.size / x.shape[0];
  let total = 0;
  for (let i = 0; i < x.shape[0]; i++) {
    let [onStroke, all, strokePixels] = [0, 0, 0];
    for (let p = i * d; p < (i + 1) * d; p++) {
      const evidence = Math.max(0, sv[p]);
      all += evidence;
      if (xv[p] > 0) [onStroke, strokePixels] = [onStroke + evidence, strokePixels + 1];
    }
    total += onStroke / all / (strokePixels / d);
  }
  return total / x.shape[0];
}

function mlp(): lt.Sequential {
  const { Dense, Rescaling } = lt.layers;
  return new lt.Sequential([new Rescaling(1 / 255, 0, { inputShape: [784] }), new Dense(128, { activation: 'relu' }), new Dense(10, { activation: 'softmax' })]);
}

describe('explanations of the MNIST MLP', { skip: ready ? false : 'needs $LATHE_DATA/mnist' }, () => {
  let model: lt.Sequential;
  let images: lt.Tensor; // the first 1000 test images, raw pixels as float32 [1000, 784]

  before(async () => {
    const { train, test: split } = await lt.data.datasets.mnist.load({ dir: data });
    lt.manualSeed(0);
    model = mlp();
    model.compile({ optimizer: new lt.Adam(), loss: 'sparse_categorical_crossentropy', metrics: ['accuracy'] });
    await model.fit(train.images.reshape([60000, 784]).cast('float32'), train.labels, { epochs: 1, batchSize: 32, verbose: 0 });
    images = split.images.narrow(0, 0, 1000).reshape([1000, 784]).cast('float32');
    const { accuracy } = await model.evaluate(images, split.labels.narrow(0, 0, 1000));
    assert.ok(accuracy >= 0.95, `the MLP trained one epoch should pass 95% on the test images, got ${accuracy}`);
  });

  test('integrated gradients with 64 steps sum to f(x) - f(black) within 1%, on 100 test images', () => {
    const x = images.narrow(0, 0, 100);
    const r = lt.explain.integratedGradientsWithDelta(model, x, { steps: 64 });
    assert.equal(r.score, 'logit');
    const sums = lt.sum(r.attributions.cast('float64'), 1).dataSync();
    let worst = 0;
    for (let i = 0; i < 100; i++) {
      const change = r.scores[i] - r.baselineScores[i];
      assert.ok(Math.abs(change) > 1, `image ${i}: f(x) - f(baseline) = ${change} is too small to test a relative error`);
      worst = Math.max(worst, Math.abs(sums[i] - change) / Math.abs(change));
    }
    assert.ok(worst <= 0.01, `the worst completeness error is ${(worst * 100).toFixed(3)}% (bound 1%)`);
    // Zero where the pixel equals the black baseline: stroke pixels only.
    const xv = x.dataSync();
    const av = r.attributions.dataSync();
    assert.ok(xv.every((v, k) => v > 0 || av[k] === 0));
  });

  test('saliency: the evidence for the predicted class (signed gradient, positive part) sits on the stroke at 1.4x its area share or more, over 300 test images', () => {
    const x = images.narrow(0, 0, 300);
    const trained = positiveStrokeConcentration(x, lt.explain.saliency(model, x, { absolute: false }));
    lt.manualSeed(0);
    const untrained = positiveStrokeConcentration(x, lt.explain.saliency(mlp(), x, { absolute: false }));
    assert.ok(trained >= 1.4, `positive saliency on the stroke, relative to its area: ${trained.toFixed(3)} (bound 1.4; measured 1.70)`);
    assert.ok(untrained < 1.25, `the control, an untrained MLP, should show little concentration: ${untrained.toFixed(3)} (measured 1.19)`);
    // gradient x input, like integrated gradients from black, is zero wherever the pixel is
    const times = lt.explain.saliency(model, x, { multiplyByInput: true }).dataSync();
    const xv = x.dataSync();
    assert.ok(times.every((v, k) => xv[k] > 0 || v === 0), 'gradient x input is zero on the background');
  });

  test('an imported ONNX model with a fixed batch of 1 (mnist-cntk.onnx) is explained one path point a pass', { skip: fs.existsSync(cntk) ? false : `needs ${cntk}` }, () => {
    const onnx = lt.loadOnnx(cntk);
    const x = images.narrow(0, 0, 3).reshape([3, 1, 28, 28]);
    const r = lt.explain.integratedGradientsWithDelta(onnx, x, { steps: 64 });
    assert.equal(r.score, 'output'); // the graph ends in raw scores, not a Lathe softmax
    assert.deepEqual(r.attributions.shape, [3, 1, 28, 28]);
    r.delta.forEach((d, i) => assert.ok(Math.abs(d) <= 0.01 * Math.abs(r.scores[i] - r.baselineScores[i]), `image ${i}: delta ${d}`));
    assert.deepEqual(lt.explain.saliency(onnx, x).shape, [3, 1, 28, 28]);
  });

  test('a saved and reloaded model explains the same as the one in memory', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lathe-explain-'));
    try {
      lt.save(model, path.join(dir, 'm'));
      const loaded = lt.load(path.join(dir, 'm')).model;
      const x = images.narrow(0, 0, 5);
      assertClose(lt.explain.integratedGradients(loaded, x, { steps: 16 }), lt.explain.integratedGradients(model, x, { steps: 16 }), { atol: 1e-6 });
      assertClose(lt.explain.saliency(loaded, x), lt.explain.saliency(model, x), { atol: 1e-9 });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
