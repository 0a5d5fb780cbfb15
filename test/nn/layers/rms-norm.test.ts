// RMSNormalization / RMSNorm: x / sqrt(mean(x^2) + eps) * gamma over the last axis, against a
// float64 loop; gradients by finite differences; configs round-trip; bad options are named.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as lt from '../../../src/index.js';
import { assertClose, assertThrowsLathe, onEachBackend, rand64 } from '../../helpers.js';
import { gradcheckLayer } from './layer-checks.js';

const { RMSNormalization, RMSNorm } = lt.layers;

function reference(x: lt.Tensor, gamma: Float64Array | null, eps: number): Float64Array {
  const data = Float64Array.from(x.dataSync() as ArrayLike<number>);
  const f = x.shape[x.rank - 1];
  const out = new Float64Array(data.length);
  for (let r = 0; r < data.length / f; r++) {
    let ms = 0;
    for (let j = 0; j < f; j++) ms += data[r * f + j] ** 2;
    const inv = 1 / Math.sqrt(ms / f + eps);
    for (let j = 0; j < f; j++) out[r * f + j] = data[r * f + j] * inv * (gamma ? gamma[j] : 1);
  }
  return out;
}

onEachBackend('RMSNormalization', () => {
  test('against a float64 loop, with and without gamma, on [N, F] and [N, T, F]', () => {
    for (const shape of [[4, 7], [2, 3, 5]]) {
      const x = rand64(shape, shape.length).mul(3);
      const layer = new RMSNormalization({ epsilon: 1e-5, dtype: 'float64' });
      layer.call(x); // builds gamma (ones)
      layer.gamma!.assign(rand64([shape[shape.length - 1]], 9));
      assertClose(layer.call(x), reference(x, Float64Array.from(layer.gamma!.dataSync() as ArrayLike<number>), 1e-5), { atol: 1e-12, rtol: 1e-12 }, `${shape}`);
      const plain = new RMSNormalization({ epsilon: 1e-5, scale: false, dtype: 'float64' });
      assertClose(plain.call(x), reference(x, null, 1e-5), { atol: 1e-12, rtol: 1e-12 }, `${shape} without gamma`);
      assert.equal(plain.parameters().length, 0);
    }
  });

  test('gradients of x and gamma by float64 finite differences', () => {
    const layer = new RMSNormalization({ dtype: 'float64', numFeatures: 6 });
    layer.gamma!.assign(rand64([6], 4));
    gradcheckLayer(layer, rand64([3, 2, 6], 2), ['gamma']);
  });

  test('PyTorch RMSNorm(n, {eps, elementwiseAffine}); config round trip; bad options named', () => {
    const torchLike = new RMSNorm(8, { eps: 1e-5, elementwiseAffine: false });
    assert.equal(torchLike.epsilon, 1e-5);
    assert.equal(torchLike.gamma, null);
    const layer = new RMSNormalization({ numFeatures: 8, epsilon: 1e-4 });
    const again = lt.Sequential.fromConfig([{ ...layer.getConfig(), inputShape: [8] }]).layers[0] as InstanceType<typeof RMSNormalization>;
    assert.equal(again.type, 'rmsnormalization');
    assert.equal(again.epsilon, 1e-4);
    assertThrowsLathe(() => new RMSNormalization({ epsilon: 0 }), /epsilon must be a positive number, got 0/);
    assertThrowsLathe(() => new RMSNorm([2, 3] as unknown as [number]), /RMSNorm: normalizedShape must be the size of the last axis/);
    assertThrowsLathe(() => new RMSNormalization({ numFeatures: 4 }).call(lt.ones([2, 5])), /with 4 features on the last axis/);
  });
});
