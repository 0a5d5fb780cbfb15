// MaxPool2D / AvgPool2D (Keras 'valid' and 'same'), their PyTorch spellings, and the global
// poolings: hand-worked values (TensorFlow's results for 'same'), gradients, shapes, configs.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as lt from '../../../src/index.js';
import { AvgPool2D, AvgPool2d, GlobalAveragePooling2D, GlobalMaxPooling2D, MaxPool2D, MaxPool2d } from '../../../src/nn/layers/index.js';
import { assertClose, assertThrowsLathe, onEachBackend, rand64 } from '../../helpers.js';
import { gradcheckLayer, roundTrip } from './layer-checks.js';

const EXACT = { atol: 0, rtol: 0 };
const CLOSE = { atol: 1e-12, rtol: 1e-12 };
// Pooling is piecewise linear (max: away from ties); the inputs below have no ties.
const GRAD = { atol: 1e-6, rtol: 1e-5 };

const x3 = () => lt.tensor([[[[1, 2, 3], [4, 5, 6], [7, 8, 9]]]], { dtype: 'float64' });
const x4 = () => lt.tensor([[[[1, 5, 2, 0], [3, -1, 8, 4], [0, 9, 6, 7], [2, 1, 3, -5]]]], { dtype: 'float64' });

onEachBackend('MaxPool2D and AvgPool2D forward', () => {
  test('valid, poolSize 2 and strides defaulting to it', () => {
    assertClose(new MaxPool2D().call(x4()), [[[[5, 8], [9, 7]]]], EXACT);
    assertClose(new AvgPool2D().call(x4()), [[[[2, 3.5], [3, 2.75]]]], EXACT);
    // strides 1: windows overlap
    assertClose(new MaxPool2D(2, { strides: 1 }).call(x3()), [[[[5, 6], [8, 9]]]], EXACT);
    assertClose(new AvgPool2D([1, 3]).call(x3()), [[[[2], [5], [8]]]], EXACT);
  });

  test("same: padding after, left out of the max and of the average's divisor", () => {
    // 3x3 with poolSize 2: windows rows {0,1},{2}, cols {0,1},{2}
    assertClose(new MaxPool2D(2, { padding: 'same' }).call(x3()), [[[[5, 6], [8, 9]]]], EXACT);
    assertClose(new MaxPool2D(2, { padding: 'same' }).call(x3().neg()), [[[[-1, -3], [-7, -9]]]], EXACT);
    assertClose(new AvgPool2D(2, { padding: 'same' }).call(x3()), [[[[3, 4.5], [7.5, 9]]]], CLOSE);
    // poolSize 3, strides 1: a corner window holds 4 pixels, an edge window 6
    const avg = new AvgPool2D(3, { strides: 1, padding: 'same' }).call(x3());
    assertClose(avg, [[[[12 / 4, 21 / 6, 16 / 4], [27 / 6, 5, 33 / 6], [24 / 4, 39 / 6, 28 / 4]]]], CLOSE);
  });

  test('PyTorch spellings: integer padding is -inf for max and counted zeros for the average', () => {
    assertClose(new MaxPool2d(3, { stride: 1, padding: 1 }).call(x3().neg()), [[[[-1, -1, -2], [-1, -1, -2], [-4, -4, -5]]]], EXACT);
    const avg = new AvgPool2d(3, { stride: 2, padding: 1 }).call(x3());
    assertClose(avg, [[[[12 / 9, 16 / 9], [24 / 9, 28 / 9]]]], CLOSE);
    assertClose(new MaxPool2d(2).call(x4()), [[[[5, 8], [9, 7]]]], EXACT);
  });

  test('channels and batch pool independently', () => {
    const x = lt.concat([x4(), x4().mul(-1)], 1).reshape([1, 2, 4, 4]);
    assertClose(new MaxPool2D().call(lt.concat([x, x.mul(10)], 0)), [
      [[[5, 8], [9, 7]], [[1, 0], [0, 5]]],
      [[[50, 80], [90, 70]], [[10, 0], [0, 50]]],
    ], EXACT);
  });

  test('integer input is pooled as float32', () => {
    const y = new AvgPool2D().call(lt.tensor([[[[1, 2], [3, 5]]]], { dtype: 'int32' }));
    assert.equal(y.dtype, 'float32');
    assertClose(y, [[[[2.75]]]], EXACT);
  });
});

onEachBackend('pooling gradients', () => {
  const layers: [string, () => MaxPool2D | AvgPool2D][] = [
    ['max valid', () => new MaxPool2D(2)],
    ['max same, stride 2', () => new MaxPool2D(3, { strides: 2, padding: 'same' })],
    ['max torch padding', () => new MaxPool2d(3, { stride: 1, padding: 1 })],
    ['avg valid, overlapping', () => new AvgPool2D([2, 3], { strides: 1 })],
    ['avg same (divisor counts real pixels)', () => new AvgPool2D(2, { padding: 'same' })],
    ['avg torch padding', () => new AvgPool2d(3, { stride: 2, padding: 1 })],
  ];
  for (const [title, make] of layers) {
    test(title, () => {
      // distinct values: a shuffled ramp, so every max window has one winner
      const n = 2 * 2 * 5 * 5;
      const order = Array.from(rand64([n], 9).dataSync()).map((v, i) => [v, i]).sort((a, b) => a[0] - b[0]);
      const vals = new Float64Array(n);
      order.forEach(([, i], rank) => (vals[i] = 0.1 * rank - 5));
      gradcheckLayer(make(), lt.tensor(vals, { shape: [2, 2, 5, 5], dtype: 'float64' }), [], GRAD);
    });
  }
});

onEachBackend('global pooling', () => {
  test('forward: mean and max over height and width', () => {
    const x = lt.concat([x3(), x4().slice([0, 0, 0, 0], [1, 1, 3, 3])], 1); // [1, 2, 3, 3]
    assertClose(new GlobalAveragePooling2D().call(x), [[5, (1 + 5 + 2 + 3 - 1 + 8 + 0 + 9 + 6) / 9]], CLOSE);
    assertClose(new GlobalMaxPooling2D().call(x), [[9, 9]], EXACT);
    assertClose(new GlobalAveragePooling2D({ keepdims: true }).call(x3()), [[[[5]]]], EXACT);
    assert.deepEqual(new GlobalMaxPooling2D({ keepdims: true }).computeOutputShape([7, 4, 5]), [7, 1, 1]);
    assert.deepEqual(new GlobalAveragePooling2D().computeOutputShape([7, 4, 5]), [7]);
  });

  test('gradients', () => {
    gradcheckLayer(new GlobalAveragePooling2D(), rand64([2, 3, 4, 5], 1), [], GRAD);
    gradcheckLayer(new GlobalMaxPooling2D(), rand64([2, 3, 4, 5], 2), [], GRAD);
  });

  test('errors and config', () => {
    assertThrowsLathe(() => new GlobalAveragePooling2D({ name: 'gap' }).computeOutputShape([3, 4]), /^gap: expected input \[channels, height, width\], got per-example shape \[3,4\]/);
    // unbuilt, call() builds from the batch's shape first, so the per-example shape is reported
    assertThrowsLathe(() => new GlobalMaxPooling2D({ name: 'gmp' }).call(lt.zeros([2, 3])), /^gmp: expected input \[channels, height, width\], got per-example shape \[3\]/);
    assertThrowsLathe(() => new GlobalMaxPooling2D({ name: 'gmp2', inputShape: [2, 3, 3] }).call(lt.zeros([2, 3, 3])), /^gmp2: expected input \[batch, channels, height, width\], got \[2,3,3\]/);
    roundTrip(new GlobalAveragePooling2D({ keepdims: true }));
    roundTrip(new GlobalMaxPooling2D({ inputShape: [3, 4, 4] }));
  });
});

onEachBackend('pooling shapes, errors, config', () => {
  test('computeOutputShape', () => {
    assert.deepEqual(new MaxPool2D().computeOutputShape([3, 5, 7]), [3, 2, 3]);
    assert.deepEqual(new MaxPool2D(2, { padding: 'same' }).computeOutputShape([3, 5, 7]), [3, 3, 4]);
    assert.deepEqual(new AvgPool2D(2, { strides: 1 }).computeOutputShape([3, 5, 7]), [3, 4, 6]);
    assert.deepEqual(new AvgPool2D([3, 1], { strides: [3, 2], padding: 'same' }).computeOutputShape([1, 7, 7]), [1, 3, 4]);
    assert.deepEqual(new MaxPool2d(3, { stride: 2, padding: 1 }).computeOutputShape([2, 8, 8]), [2, 4, 4]);
  });

  test('errors name the layer', () => {
    assertThrowsLathe(() => new MaxPool2D(3, { name: 'p1' }).computeOutputShape([2, 2, 5]), /^p1: pool \[3,3\] does not fit per-example input \[2,2,5\] with padding "valid"/);
    assertThrowsLathe(() => new AvgPool2D(2, { name: 'p2' }).computeOutputShape([4, 4]), /^p2: expected input \[channels, height, width\]/);
    assertThrowsLathe(() => new MaxPool2D(2, { name: 'p3', inputShape: [4, 4, 4] }).call(lt.zeros([4, 4, 4])), /^p3: expected input \[batch, channels, height, width\], got \[4,4,4\]/);
    assertThrowsLathe(() => new MaxPool2D(2, { name: 'p4', padding: 2 }), /^p4: padding \[2,2\] must be at most half the pool size \[2,2\]/);
    assertThrowsLathe(() => new MaxPool2D(0, { name: 'p5' }), /^p5: poolSize must be a positive integer/);
    assertThrowsLathe(() => new AvgPool2D(2, { name: 'p6', strides: [1, 0] }), /^p6: strides must be a positive integer/);
    // a shape fixed at construction is checked at construction
    assertThrowsLathe(() => new MaxPool2D(4, { name: 'p7', inputShape: [1, 3, 3] }), /^p7: pool \[4,4\] does not fit/);
  });

  test('getConfig -> fromConfig round trip', () => {
    const max = roundTrip(new MaxPool2D([3, 2], { strides: [1, 2], padding: 'same', inputShape: [2, 6, 6] }));
    assert.ok(max instanceof MaxPool2D);
    const avg = roundTrip(new AvgPool2d(3, { stride: 2, padding: 1 }));
    assert.deepEqual(avg.getConfig().padding, [1, 1]);
    const x = rand64([1, 2, 5, 5], 4);
    assertClose(avg.call(x), new AvgPool2d(3, { stride: 2, padding: 1 }).call(x), EXACT);
    // Keras defaults when the config leaves them out: poolSize 2, strides = poolSize, 'valid'
    const dflt = lt.layers.layerFromConfig({ type: 'maxpool2d', poolSize: 3 }, 'cfg') as MaxPool2D;
    assert.deepEqual([dflt.poolSize, dflt.strides, dflt.padding], [[3, 3], [3, 3], 'valid']);
    assertThrowsLathe(() => lt.layers.layerFromConfig({ type: 'avgpool2d', pool: 2 }, 'cfg'), /^cfg \(avgpool2d\): unknown field "pool"/);
  });
});
