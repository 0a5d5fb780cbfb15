// rescale: x * scale + offset in one pass, from any numeric dtype to float (Keras' Rescaling).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as lt from '../../src/index.js';
import { assertClose, assertThrowsLathe, gradcheck, onEachBackend, rand64 } from '../helpers.js';

onEachBackend('rescale', () => {
  test('uint8, int32, float32 and float64 inputs against hand values', () => {
    const u8 = lt.tensor([0, 1, 128, 255], { dtype: 'uint8' });
    const a = lt.rescale(u8, 1 / 255);
    assert.equal(a.dtype, 'float32');
    assertClose(a, [0, 1 / 255, 128 / 255, 1], { atol: 1e-7, rtol: 0 });
    const b = lt.rescale(lt.tensor([-3, 0, 7], { dtype: 'int32' }), 2, -1, 'float64');
    assert.equal(b.dtype, 'float64');
    assert.deepEqual(b.toArray(), [-7, -1, 13]);
    assert.deepEqual(lt.rescale(lt.tensor([[1.5, -2]]), 0.5, 1).toArray(), [[1.75, 0]]);
    assert.equal(lt.rescale(lt.tensor([1], { dtype: 'float64' }), 3).dtype, 'float64');
    assertThrowsLathe(() => lt.rescale(u8, NaN), /^rescale: scale and offset must be finite numbers, got NaN and 0$/);
  });

  test('the gradient is scale, by finite differences', () => {
    gradcheck((x) => lt.rescale(x, -0.7, 3).square().sum(), [rand64([3, 4], 1)]);
  });

  test('a large uint8 batch (the native kernel splits it over threads) matches a plain loop', () => {
    const n = 200_000;
    const data = Uint8Array.from({ length: n }, (_, i) => (i * 37) % 256);
    const y = lt.rescale(lt.tensor(data, { dtype: 'uint8' }), 1 / 255).dataSync();
    // float32 arithmetic (native) and float64 rounded once (js) may differ by an ulp
    for (let i = 0; i < n; i += 997) assert.ok(Math.abs(y[i] - data[i] / 255) <= 1.2e-7 * (data[i] / 255), `element ${i}: ${y[i]}`);
  });
});
