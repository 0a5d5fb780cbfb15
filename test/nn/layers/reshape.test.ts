// Flatten and Reshape: values kept in row-major order, the batch axis untouched, -1 inferred,
// element-count errors naming the layer and both shapes, gradients, configs.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as lt from '../../../src/index.js';
import { Flatten, Reshape } from '../../../src/nn/layers/index.js';
import { assertClose, assertThrowsLathe, onEachBackend, rand64 } from '../../helpers.js';
import { gradcheckLayer, roundTrip } from './layer-checks.js';

const EXACT = { atol: 0, rtol: 0 };

onEachBackend('Flatten', () => {
  test('keeps the batch axis and row-major order', () => {
    const x = lt.tensor([[[[1, 2], [3, 4]], [[5, 6], [7, 8]]], [[[9, 10], [11, 12]], [[13, 14], [15, 16]]]]); // [2,2,2,2]
    assertClose(new Flatten().call(x), [[1, 2, 3, 4, 5, 6, 7, 8], [9, 10, 11, 12, 13, 14, 15, 16]], EXACT);
    // a per-example scalar becomes one feature, as in Keras
    assertClose(new Flatten().call(lt.tensor([3, 4])), [[3], [4]], EXACT);
    const already = new Flatten().call(lt.tensor([[1, 2, 3]]));
    assertClose(already, [[1, 2, 3]], EXACT);
  });

  test('computeOutputShape, gradient, config', () => {
    const f = new Flatten();
    assert.deepEqual(f.computeOutputShape([3, 4, 5]), [60]);
    assert.deepEqual(f.computeOutputShape([7]), [7]);
    assert.deepEqual(f.computeOutputShape([]), [1]);
    gradcheckLayer(new Flatten(), rand64([2, 3, 2, 2], 1), []);
    roundTrip(new Flatten({ inputShape: [3, 4, 4], name: 'flat' }));
    assertThrowsLathe(() => new Flatten({ name: 'f0' }).forward(lt.tensor(1)), /^f0: expected input with a batch axis/);
  });
});

onEachBackend('Reshape', () => {
  test('per-example reshape, with and without an inferred axis', () => {
    const x = lt.arange(0, 12).reshape([2, 6]);
    assertClose(new Reshape([2, 3]).call(x), [[[0, 1, 2], [3, 4, 5]], [[6, 7, 8], [9, 10, 11]]], EXACT);
    assertClose(new Reshape([-1, 2]).call(x), [[[0, 1], [2, 3], [4, 5]], [[6, 7], [8, 9], [10, 11]]], EXACT);
    assertClose(new Reshape([3, -1, 1]).call(x), [[[[0], [1]], [[2], [3]], [[4], [5]]], [[[6], [7]], [[8], [9]], [[10], [11]]]], EXACT);
    // a batch of one is still a batch
    assert.deepEqual(new Reshape([3, 2]).call(lt.zeros([1, 2, 3])).shape, [1, 3, 2]);
  });

  test('computeOutputShape', () => {
    assert.deepEqual(new Reshape([4, -1]).computeOutputShape([2, 3, 4]), [4, 6]);
    assert.deepEqual(new Reshape([-1]).computeOutputShape([2, 3, 4]), [24]);
    assert.deepEqual(new Reshape([2, 2, 6]).computeOutputShape([24]), [2, 2, 6]);
  });

  test('element-count errors name the layer and both shapes', () => {
    assertThrowsLathe(() => new Reshape([4], { name: 'r1' }).computeOutputShape([2, 3]), /^r1: cannot reshape per-example shape \[2,3\] \(6 elements\) into \[4\] \(4 elements\)/);
    assertThrowsLathe(() => new Reshape([4, -1], { name: 'r2' }).computeOutputShape([2, 3]), /^r2: cannot reshape per-example shape \[2,3\] \(6 elements\) into \[4,-1\] \(a multiple of 4 elements\)/);
    assertThrowsLathe(() => new Reshape([5], { name: 'r3' }).call(lt.zeros([2, 6])), /^r3: cannot reshape per-example shape \[6\]/);
    assertThrowsLathe(() => new Reshape([5], { name: 'r4', inputShape: [2, 3] }), /^r4: cannot reshape/);
    assertThrowsLathe(() => new Reshape([-1, -1], { name: 'r5' }), /^r5: targetShape must be .* at most one -1, got \[-1,-1\]/);
    assertThrowsLathe(() => new Reshape([0, 3], { name: 'r6' }), /^r6: targetShape must be/);
  });

  test('gradient and config', () => {
    gradcheckLayer(new Reshape([3, -1]), rand64([2, 6, 2], 2), []);
    const r = roundTrip(new Reshape([-1, 3], { inputShape: [6] }));
    assert.deepEqual(r.targetShape, [-1, 3]);
    // Keras writes the inferred axis as null in saved configs
    const k = lt.layers.layerFromConfig({ type: 'reshape', targetShape: [null, 2] }, 'cfg') as Reshape;
    assert.deepEqual(k.computeOutputShape([3, 2]), [3, 2]);
    assertThrowsLathe(() => lt.layers.layerFromConfig({ type: 'reshape', targetShape: [0] }, 'cfg'), /^cfg \(reshape\): "targetShape" must be/);
  });
});
