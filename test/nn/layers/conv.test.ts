// Conv2D / Conv2d: forward against hand-worked values and a float64 loop with Keras' 'same'
// padding written out per case, gradients in input and weights, shapes, errors, configs, init.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as lt from '../../../src/index.js';
import { Conv2D, Conv2d } from '../../../src/nn/layers/index.js';
import { assertClose, assertThrowsLathe, onEachBackend, rand64 } from '../../helpers.js';
import { gradcheckLayer, roundTrip, values } from './layer-checks.js';

const EXACT = { atol: 0, rtol: 0 };
// float64: reference and kernel sum the same <= 54 products in different orders.
const TOL64 = { atol: 1e-12, rtol: 1e-12 };
// float32: products of float32 values in [-1, 1], <= 54 terms, rounded per term at worst.
const TOL32 = { atol: 1e-5, rtol: 1e-5 };

interface Case {
  x: number[];
  filters: number;
  options: ConstructorParameters<typeof Conv2D>[2] & { kernelSize: number | [number, number] };
  /** Padding before (top, left) and the output size, worked out by hand from TensorFlow's 'same' rule. */
  pt: number;
  pl: number;
  out: [number, number];
}

const pair = (v: number | [number, number] | undefined, d: number): [number, number] => (v === undefined ? [d, d] : typeof v === 'number' ? [v, v] : v);

/** out[n,o,i,j] = b[o] + sum x[n, g Cg + c, i sh - pt + a dh, j sw - pl + b dw] w[o,c,a,b]; outside the image is 0. */
function refConv(x: lt.Tensor, layer: Conv2D, c: Case): Float64Array {
  const [N, C, H, W] = x.shape;
  const [O, Cg, KH, KW] = layer.kernel.shape;
  const [sh, sw] = pair(c.options.strides, 1);
  const [dh, dw] = pair(c.options.dilationRate, 1);
  const [OH, OW] = c.out;
  const X = values(x);
  const K = values(layer.kernel);
  const B = layer.bias ? values(layer.bias) : null;
  const perGroup = O / (C / Cg);
  const out = new Float64Array(N * O * OH * OW);
  for (let n = 0; n < N; n++)
    for (let o = 0; o < O; o++)
      for (let i = 0; i < OH; i++)
        for (let j = 0; j < OW; j++) {
          let s = B ? B[o] : 0;
          for (let ci = 0; ci < Cg; ci++)
            for (let a = 0; a < KH; a++)
              for (let b = 0; b < KW; b++) {
                const ih = i * sh - c.pt + a * dh;
                const iw = j * sw - c.pl + b * dw;
                if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                const ch = Math.floor(o / perGroup) * Cg + ci;
                s += X[((n * C + ch) * H + ih) * W + iw] * K[((o * Cg + ci) * KH + a) * KW + b];
              }
          out[((n * O + o) * OH + i) * OW + j] = s;
        }
  return out;
}

const cases: Case[] = [
  { x: [2, 3, 7, 6], filters: 4, options: { kernelSize: [3, 2] }, pt: 0, pl: 0, out: [5, 5] },
  // even kernel, stride 2: height pads 1 before and 2 after (total 3), width 1 and 1
  { x: [1, 2, 7, 8], filters: 3, options: { kernelSize: 4, strides: 2, padding: 'same' }, pt: 1, pl: 1, out: [4, 4] },
  // 2x2 'same' at stride 1: the one padded row and column go after
  { x: [1, 2, 5, 6], filters: 2, options: { kernelSize: 2, padding: 'same', useBias: false }, pt: 0, pl: 0, out: [5, 6] },
  { x: [1, 2, 9, 7], filters: 2, options: { kernelSize: 3, dilationRate: 2, padding: 'same' }, pt: 2, pl: 2, out: [9, 7] },
  { x: [2, 4, 5, 5], filters: 6, options: { kernelSize: 3, groups: 2, padding: 1 }, pt: 1, pl: 1, out: [5, 5] },
  { x: [1, 3, 8, 7], filters: 2, options: { kernelSize: [3, 2], strides: [2, 1], padding: 'same' }, pt: 0, pl: 0, out: [4, 7] },
  { x: [1, 2, 5, 5], filters: 2, options: { kernelSize: 3, padding: [1, 2] }, pt: 1, pl: 2, out: [5, 7] },
];

const make = (c: Case, dtype: 'float32' | 'float64') => new Conv2D(c.filters, c.options.kernelSize, { ...c.options, dtype, biasInitializer: 'glorotUniform' });

onEachBackend('Conv2D forward', () => {
  test('hand-computed: 3x3 input, 2x2 kernel, valid and same', () => {
    const x = lt.tensor([[[[1, 2, 3], [4, 5, 6], [7, 8, 9]]]], { dtype: 'float64' });
    const valid = new Conv2D(1, 2, { dtype: 'float64', inChannels: 1 });
    valid.kernel.assign(lt.tensor([[[[1, 2], [3, 4]]]], { dtype: 'float64' }));
    valid.bias!.assign(lt.tensor([0.5], { dtype: 'float64' }));
    // out[i,j] = x[i,j] + 2 x[i,j+1] + 3 x[i+1,j] + 4 x[i+1,j+1] + 0.5
    assertClose(valid.call(x), [[[[37.5, 47.5], [67.5, 77.5]]]], EXACT);
    const same = new Conv2D(1, 2, { dtype: 'float64', padding: 'same', useBias: false, inChannels: 1 });
    same.kernel.assign(lt.tensor([[[[1, 2], [3, 4]]]], { dtype: 'float64' }));
    // the padded zeros sit below and to the right: out[0,2] = 3 + 3*6, out[2,0] = 7 + 2*8, out[2,2] = 9
    assertClose(same.call(x), [[[[37, 47, 21], [67, 77, 33], [23, 26, 9]]]], EXACT);
  });

  test('activation is applied after the bias', () => {
    const layer = new Conv2D(1, 1, { dtype: 'float64', activation: 'relu', inChannels: 1 });
    layer.kernel.assign(lt.tensor([[[[2]]]], { dtype: 'float64' }));
    layer.bias!.assign(lt.tensor([-1], { dtype: 'float64' }));
    assertClose(layer.call(lt.tensor([[[[0, 1, 2]]]], { dtype: 'float64' })), [[[[0, 1, 3]]]], EXACT);
  });

  for (const dtype of ['float64', 'float32'] as const) {
    test(`against the reference loop, ${dtype}`, () => {
      cases.forEach((c, i) => {
        const layer = make(c, dtype);
        const x = rand64(c.x, 10 + i).cast(dtype);
        const y = layer.call(x);
        assert.deepEqual([...y.shape], [c.x[0], c.filters, ...c.out], `case ${i} shape`);
        assert.deepEqual(layer.computeOutputShape(c.x.slice(1)), [c.filters, ...c.out], `case ${i} computeOutputShape`);
        assertClose(y, refConv(x, layer, c), dtype === 'float64' ? TOL64 : TOL32, `case ${i}`);
      });
    });
  }

  test('float32 input to a float64 layer is cast, as Keras casts to the layer dtype', () => {
    const c = cases[0];
    const layer = make(c, 'float64');
    const x = rand64(c.x, 3).cast('float32');
    const y = layer.call(x);
    assert.equal(y.dtype, 'float64');
    assertClose(y, refConv(x, layer, c), TOL64);
  });
});

onEachBackend('Conv2D gradients', () => {
  // Convolution is linear in input and weights: central differences have only rounding error.
  const GRAD = { atol: 1e-6, rtol: 1e-5 };
  cases.forEach((c, i) => {
    test(`input, kernel and bias: case ${i} ${JSON.stringify(c.options)}`, () => {
      const layer = make(c, 'float64');
      const x = rand64([1, ...c.x.slice(1)], 50 + i);
      layer.build(c.x.slice(1));
      gradcheckLayer(layer, x, layer.bias ? ['kernel', 'bias'] : ['kernel'], GRAD);
    });
  });
});

onEachBackend('Conv2D shapes, errors, config, init', () => {
  test('computeOutputShape', () => {
    assert.deepEqual(new Conv2D(5, 3).computeOutputShape([3, 7, 9]), [5, 5, 7]);
    assert.deepEqual(new Conv2D(5, 3, { strides: 2 }).computeOutputShape([3, 7, 9]), [5, 3, 4]);
    assert.deepEqual(new Conv2D(5, 3, { strides: 2, padding: 'same' }).computeOutputShape([3, 7, 9]), [5, 4, 5]);
    assert.deepEqual(new Conv2D(5, 3, { dilationRate: 2 }).computeOutputShape([1, 7, 7]), [5, 3, 3]);
    assert.deepEqual(new Conv2D(5, [1, 3], { padding: 1 }).computeOutputShape([1, 4, 4]), [5, 6, 4]);
  });

  test('shape errors name the layer', () => {
    assertThrowsLathe(() => new Conv2D(2, 3, { name: 'c1' }).computeOutputShape([3, 7]), /^c1: expected input \[channels, height, width\], got per-example shape \[3,7\]/);
    assertThrowsLathe(() => new Conv2D(2, 5, { name: 'c2' }).computeOutputShape([3, 4, 9]), /^c2: kernel \[5,5\].*does not fit per-example input \[3,4,9\]/);
    const built = new Conv2D(2, 3, { name: 'c3', inputShape: [3, 8, 8] });
    assertThrowsLathe(() => built.call(lt.zeros([1, 4, 8, 8])), /^c3: expected input with 3 channels, got per-example shape \[4,8,8\]/);
    assertThrowsLathe(() => built.call(lt.zeros([3, 8, 8])), /^c3: expected input \[batch, channels, height, width\], got \[3,8,8\]/);
    assertThrowsLathe(() => new Conv2D(4, 3, { name: 'c4', groups: 2 }).computeOutputShape([3, 8, 8]), /^c4: .*divisible by groups 2/);
  });

  test('option errors name the layer', () => {
    assertThrowsLathe(() => new Conv2D(0, 3, { name: 'c5' }), /^c5: filters must be a positive integer, got 0/);
    assertThrowsLathe(() => new Conv2D(2, [3, 0], { name: 'c6' }), /^c6: kernelSize must be a positive integer or a pair/);
    assertThrowsLathe(() => new Conv2D(2, 3, { name: 'c7', padding: 'full' as never }), /^c7: padding must be "valid", "same"/);
    assertThrowsLathe(() => new Conv2D(3, 3, { name: 'c8', groups: 2 }), /^c8: groups must be a positive integer dividing filters 3/);
    assertThrowsLathe(() => new Conv2D(2, 3, { name: 'c9', activation: 'nope' }), /^c9: unknown activation "nope"/);
  });

  test('getConfig -> fromConfig round trip, and the copy computes the same after loading the weights', () => {
    const layer = new Conv2D(4, [3, 2], { strides: [2, 1], padding: 'same', dilationRate: [1, 2], activation: 'tanh', inputShape: [2, 6, 7], dtype: 'float64' });
    const copy = roundTrip(layer);
    assert.deepEqual(copy.kernel.shape, [4, 2, 3, 2]);
    copy.loadStateDict(layer.stateDict());
    const x = rand64([2, 2, 6, 7], 7);
    assertClose(copy.call(x), layer.call(x), EXACT);
    roundTrip(new Conv2D(3, 1, { padding: [0, 2], groups: 3, useBias: false, kernelInitializer: 'he_normal' }));
  });

  test('config errors name the field', () => {
    assertThrowsLathe(() => lt.layers.layerFromConfig({ type: 'conv2d', filters: 2, kernelSize: 3, padding: 'full' }, 'model.layers[0]'), /^model\.layers\[0\] \(conv2d\): "padding" must be/);
    assertThrowsLathe(() => lt.layers.layerFromConfig({ type: 'conv2d', filters: 2, kernelSize: 3, stride: 2 }, 'model.layers[0]'), /unknown field "stride"/);
  });

  test('predict runs a conv or pool forward replaced on the instance (no fused conv-pool kernel past it)', () => {
    for (const which of ['conv', 'pool'] as const) {
      lt.manualSeed(3);
      const conv = new Conv2D(2, 3, { activation: 'relu', inputShape: [1, 6, 6] });
      const pool = new lt.layers.MaxPool2D(2);
      const model = new lt.Sequential([conv, pool]);
      const x = lt.rand([2, 1, 6, 6]);
      const plain = model.predict(x);
      const replaced = which === 'conv' ? conv : pool;
      const own = replaced.forward.bind(replaced);
      replaced.forward = (t) => lt.mul(own(t), 2);
      assertClose(model.predict(x), lt.mul(plain, 2), TOL32);
    }
  });

  test('Conv2d (PyTorch spelling) has its weights before any input and saves as conv2d', () => {
    const layer = new Conv2d(3, 8, 5, { stride: 2, padding: 2, bias: false, dtype: 'float64' });
    assert.deepEqual(layer.parameters().map((p) => [...p.shape]), [[8, 3, 5, 5]]);
    assert.deepEqual(layer.call(lt.zeros([1, 3, 9, 9], { dtype: 'float64' })).shape, [1, 8, 5, 5]);
    const copy = roundTrip(layer);
    assert.ok(copy instanceof Conv2D);
    assert.equal(copy.getConfig().inChannels, 3);
    assert.deepEqual(copy.parameters().map((p) => [...p.shape]), [[8, 3, 5, 5]]);
  });

  test('glorotUniform uses Keras conv fans: fanIn = in*kh*kw, fanOut = filters*kh*kw', () => {
    const layer = new Conv2D(8, 3, { inChannels: 4 });
    const limit = Math.sqrt(6 / (4 * 9 + 8 * 9));
    const k = values(layer.kernel).map(Math.abs);
    // 288 uniform draws: all within the limit, and the largest within 10% of it (missing that has probability 0.9^288)
    assert.ok(Math.max(...k) <= limit, `max |w| ${Math.max(...k)} exceeds ${limit}`);
    assert.ok(Math.max(...k) > 0.9 * limit, `max |w| ${Math.max(...k)} is far below ${limit}`);
    assert.deepEqual(values(layer.bias!), new Array(8).fill(0));
    assert.deepEqual(layer.namedParameters().map(([n, t]) => [n, t.name]), [['kernel', `${layer.name}.kernel`], ['bias', `${layer.name}.bias`]]);
  });
});
