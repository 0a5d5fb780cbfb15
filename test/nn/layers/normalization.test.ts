// BatchNormalization (and BatchNorm1d/2d) and LayerNormalization (and LayerNorm): forward against
// float64 loops, moving averages after several steps against the update formula (biased variance
// for Keras, unbiased for PyTorch), eval mode on the moving statistics, gradients, configs.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as lt from '../../../src/index.js';
import { BatchNorm1d, BatchNorm2d, BatchNormalization, LayerNorm, LayerNormalization } from '../../../src/nn/layers/index.js';
import { assertClose, assertThrowsLathe, onEachBackend, rand64 } from '../../helpers.js';
import { gradcheckLayer, roundTrip, values } from './layer-checks.js';

const TOL = { atol: 1e-12, rtol: 1e-12 };
const f64 = (v: number[]) => lt.tensor(v, { dtype: 'float64' });

/** Per-channel (axis 1) mean and biased variance over every other axis, and the count per channel. */
function channelStats(x: lt.Tensor): { mean: number[]; biased: number[]; count: number } {
  const [N, C] = x.shape;
  const inner = x.size / (N * C);
  const X = values(x);
  const mean = new Array(C).fill(0);
  const biased = new Array(C).fill(0);
  const at = (n: number, c: number, k: number) => X[(n * C + c) * inner + k];
  for (let c = 0; c < C; c++) {
    for (let n = 0; n < N; n++) for (let k = 0; k < inner; k++) mean[c] += at(n, c, k);
    mean[c] /= N * inner;
    for (let n = 0; n < N; n++) for (let k = 0; k < inner; k++) biased[c] += (at(n, c, k) - mean[c]) ** 2;
    biased[c] /= N * inner;
  }
  return { mean, biased, count: N * inner };
}

/** (x - mean[c]) / sqrt(var[c] + eps) * gamma[c] + beta[c] for every element of channel c. */
function refBatchNorm(x: lt.Tensor, mean: number[], variance: number[], gamma: number[], beta: number[], eps: number): Float64Array {
  const [N, C] = x.shape;
  const inner = x.size / (N * C);
  return Float64Array.from(values(x), (v, i) => {
    const c = Math.floor(i / inner) % C;
    return ((v - mean[c]) / Math.sqrt(variance[c] + eps)) * gamma[c] + beta[c];
  });
}

/** A float64 BatchNormalization with gamma = 1 + 0.5 c and beta = 0.1 c - 0.2, so neither is trivial. */
function batchNorm(channels: number, options: ConstructorParameters<typeof BatchNormalization>[0] = {}): { layer: BatchNormalization; gamma: number[]; beta: number[] } {
  const layer = new BatchNormalization({ dtype: 'float64', numFeatures: channels, ...options });
  const gamma = Array.from({ length: channels }, (_, c) => 1 + 0.5 * c);
  const beta = Array.from({ length: channels }, (_, c) => 0.1 * c - 0.2);
  layer.gamma!.assign(f64(gamma));
  layer.beta!.assign(f64(beta));
  return { layer, gamma, beta };
}

onEachBackend('BatchNormalization', () => {
  test('hand-computed: one feature, batch [1, 3]: mean 2, variance 1, epsilon 1e-3', () => {
    const y = new BatchNormalization({ dtype: 'float64' }).call(lt.tensor([[1], [3]], { dtype: 'float64' }));
    assertClose(y, [[-1 / Math.sqrt(1.001)], [1 / Math.sqrt(1.001)]], TOL);
  });

  test('training normalises with the batch statistics over every axis but 1 (ranks 2, 3, 4)', () => {
    for (const [i, shape] of [[5, 3], [4, 2, 6], [3, 4, 2, 5]].entries()) {
      const { layer, gamma, beta } = batchNorm(shape[1]);
      const x = rand64(shape, 10 + i, -2, 3);
      const s = channelStats(x);
      assertClose(layer.call(x), refBatchNorm(x, s.mean, s.biased, gamma, beta, 1e-3), TOL, `shape [${shape}]`);
    }
  });

  test('moving averages after three steps follow moving = moving m + batch (1 - m), biased variance', () => {
    const m = 0.8;
    const { layer, gamma, beta } = batchNorm(3, { momentum: m });
    const mm = [0, 0, 0];
    const mv = [1, 1, 1];
    for (let step = 0; step < 3; step++) {
      const x = rand64([4, 3, 2, 2], 20 + step, -1 + step, 2 + 2 * step);
      layer.call(x);
      const s = channelStats(x);
      for (let c = 0; c < 3; c++) {
        mm[c] = mm[c] * m + s.mean[c] * (1 - m);
        mv[c] = mv[c] * m + s.biased[c] * (1 - m);
      }
    }
    assertClose(layer.movingMean, Float64Array.from(mm), TOL);
    assertClose(layer.movingVariance, Float64Array.from(mv), TOL);
    // eval mode normalises with them, and leaves them alone
    layer.eval();
    const x = rand64([2, 3, 3, 3], 30);
    assertClose(layer.call(x), refBatchNorm(x, mm, mv, gamma, beta, 1e-3), TOL);
    assertClose(layer.movingMean, Float64Array.from(mm), TOL);
    assertClose(layer.movingVariance, Float64Array.from(mv), TOL);
  });

  test("Keras' default momentum 0.99: one step moves the statistics by 1%", () => {
    const layer = new BatchNormalization({ dtype: 'float64' });
    const x = rand64([6, 2], 3, 1, 4);
    layer.call(x);
    const s = channelStats(x);
    assertClose(layer.movingMean, Float64Array.from(s.mean, (v) => 0.01 * v), TOL);
    assertClose(layer.movingVariance, Float64Array.from(s.biased, (v) => 0.99 + 0.01 * v), TOL);
  });

  test('BatchNorm2d: PyTorch momentum 0.1 (the batch weight), eps 1e-5, unbiased running variance', () => {
    const layer = new BatchNorm2d(2, { dtype: 'float64' });
    const mm = [0, 0];
    const mv = [1, 1];
    for (let step = 0; step < 2; step++) {
      const x = rand64([3, 2, 2, 2], 40 + step, -1, 3);
      layer.call(x);
      const s = channelStats(x);
      for (let c = 0; c < 2; c++) {
        mm[c] = 0.9 * mm[c] + 0.1 * s.mean[c];
        mv[c] = 0.9 * mv[c] + 0.1 * s.biased[c] * (s.count / (s.count - 1));
      }
    }
    assertClose(layer.movingVariance, Float64Array.from(mv), TOL);
    assertClose(layer.movingMean, Float64Array.from(mm), TOL);
    layer.eval();
    const x = rand64([1, 2, 3, 3], 50);
    assertClose(layer.call(x), refBatchNorm(x, mm, mv, [1, 1], [0, 0], 1e-5), TOL);
    assertThrowsLathe(() => new BatchNorm1d(2, { name: 'bn1' }).call(lt.zeros([1, 2])), /^bn1: needs more than one value per channel/);
  });

  test('gradients in x, gamma and beta: training (through the batch statistics) and eval', () => {
    for (const shape of [[4, 3], [3, 2, 2, 3]]) {
      const { layer } = batchNorm(shape[1], { momentum: 0.5 });
      gradcheckLayer(layer, rand64(shape, 60, -1, 2), ['gamma', 'beta']);
      layer.eval();
      gradcheckLayer(layer, rand64(shape, 61, -1, 2), ['gamma', 'beta']);
    }
  });

  test('moving statistics are buffers: saved, never trained, no gradient', () => {
    const layer = new BatchNormalization({ inputShape: [3, 4, 4] });
    assert.deepEqual(layer.namedParameters().map(([n]) => n), ['gamma', 'beta']);
    assert.deepEqual(layer.namedBuffers().map(([n]) => n), ['movingMean', 'movingVariance']);
    assert.deepEqual(Object.keys(layer.stateDict()), ['gamma', 'beta', 'movingMean', 'movingVariance']);
    layer.call(rand64([2, 3, 4, 4], 1).cast('float32')).sum().backward();
    assert.equal(layer.movingMean.requiresGrad, false);
    assert.equal(layer.movingMean.grad, null);
    assert.ok(layer.gamma!.grad && layer.beta!.grad);
    assert.deepEqual(values(layer.movingVariance).length, 3);
    const plain = new BatchNormalization({ center: false, scale: false, numFeatures: 2 });
    assert.deepEqual(plain.parameters(), []);
  });

  test('shapes and errors name the layer', () => {
    assert.deepEqual(new BatchNormalization().computeOutputShape([3, 5, 5]), [3, 5, 5]);
    assert.deepEqual(new BatchNormalization().computeOutputShape([7]), [7]);
    assertThrowsLathe(() => new BatchNormalization({ name: 'b1', inputShape: [3] }).call(lt.zeros([4, 5])), /^b1: expected input with 3 channels on axis 0, got per-example shape \[5\]/);
    assertThrowsLathe(() => new BatchNorm2d(4, { name: 'b2' }).computeOutputShape([3, 2, 2]), /^b2: expected input with 4 channels/);
    assertThrowsLathe(() => new BatchNormalization({ name: 'b3', numFeatures: 2 }).forward(lt.zeros([2])), /^b3: expected input \[batch, channels, \.\.\.\], got \[2\]/);
    assertThrowsLathe(() => new BatchNormalization({ name: 'b4', momentum: 1.5 }), /^b4: momentum must be a number in \[0, 1\]/);
    assertThrowsLathe(() => new BatchNormalization({ name: 'b5', epsilon: 0 }), /^b5: epsilon must be a positive number/);
  });

  test('getConfig -> fromConfig round trip', () => {
    const bn = roundTrip(new BatchNormalization({ momentum: 0.9, epsilon: 1e-4, center: false, inputShape: [4, 2, 2] }));
    assert.deepEqual(bn.namedParameters().map(([n]) => n), ['gamma']);
    const torch = roundTrip(new BatchNorm1d(5));
    assert.ok(torch instanceof BatchNormalization);
    assert.deepEqual([torch.momentum, torch.epsilon, torch.movingVarianceCorrection, torch.numFeatures], [0.9, 1e-5, 1, 5]);
    assertThrowsLathe(() => lt.layers.layerFromConfig({ type: 'batchnormalization', movingVarianceCorrection: 2 }, 'cfg'), /^cfg \(batchnormalization\): "movingVarianceCorrection" must be 0 or 1/);
  });
});

/** Each row over the last axis: (x - mean) / sqrt(biased var + eps) * gamma + beta. */
function refLayerNorm(x: lt.Tensor, gamma: number[], beta: number[], eps: number): Float64Array {
  const D = x.shape[x.rank - 1];
  const X = values(x);
  const out = new Float64Array(X.length);
  for (let r = 0; r < X.length / D; r++) {
    const row = X.slice(r * D, (r + 1) * D);
    const mean = row.reduce((a, b) => a + b, 0) / D;
    const variance = row.reduce((a, b) => a + (b - mean) ** 2, 0) / D;
    row.forEach((v, k) => (out[r * D + k] = ((v - mean) / Math.sqrt(variance + eps)) * gamma[k] + beta[k]));
  }
  return out;
}

onEachBackend('LayerNormalization', () => {
  test('hand-computed: default epsilon 1e-3 (Keras), LayerNorm 1e-5 (PyTorch)', () => {
    const x = lt.tensor([[1, 2, 3, 4]], { dtype: 'float64' }); // mean 2.5, variance 1.25
    const expect = (eps: number) => Float64Array.from([-1.5, -0.5, 0.5, 1.5], (v) => v / Math.sqrt(1.25 + eps));
    assertClose(new LayerNormalization({ dtype: 'float64' }).call(x), expect(1e-3), TOL);
    assertClose(new LayerNorm(4, { dtype: 'float64' }).call(x), expect(1e-5), TOL);
  });

  test('against the reference with gamma and beta, same in training and eval', () => {
    const layer = new LayerNormalization({ dtype: 'float64', numFeatures: 5 });
    const gamma = [1, 2, -1, 0.5, 3];
    const beta = [0, 0.1, 0.2, -0.3, 1];
    layer.gamma!.assign(f64(gamma));
    layer.beta!.assign(f64(beta));
    const x = rand64([2, 3, 5], 1, -2, 2);
    assertClose(layer.call(x), refLayerNorm(x, gamma, beta, 1e-3), TOL);
    assertClose(layer.eval().call(x), refLayerNorm(x, gamma, beta, 1e-3), TOL);
  });

  test('gradients in x, gamma and beta', () => {
    const layer = new LayerNormalization({ dtype: 'float64', inputShape: [4] });
    layer.gamma!.assign(f64([1, 2, 0.5, -1]));
    gradcheckLayer(layer, rand64([3, 4], 2, -1, 2), ['gamma', 'beta']);
    gradcheckLayer(new LayerNorm(3, { dtype: 'float64' }), rand64([2, 2, 3], 3), ['gamma', 'beta']);
  });

  test('shapes, errors, config', () => {
    assert.deepEqual(new LayerNormalization().computeOutputShape([3, 7]), [3, 7]);
    const built = new LayerNormalization({ name: 'ln1', inputShape: [6] });
    assert.deepEqual(built.gamma!.shape, [6]);
    assertThrowsLathe(() => built.call(lt.zeros([2, 5])), /^ln1: expected input with 6 features on the last axis, got per-example shape \[5\]/);
    assertThrowsLathe(() => new LayerNormalization({ name: 'ln2' }).computeOutputShape([]), /^ln2: expected input with at least one axis/);
    assertThrowsLathe(() => new LayerNorm([2, 3] as never), /^LayerNorm: normalizedShape must be the size of the last axis/);
    const copy = roundTrip(new LayerNorm(8, { elementwiseAffine: false }));
    assert.deepEqual([copy.epsilon, copy.numFeatures, copy.parameters().length], [1e-5, 8, 0]);
    roundTrip(new LayerNormalization({ epsilon: 1e-6, inputShape: [2, 3] }));
  });
});
