// Dense / Linear: y = act(x W + b) against hand-computed values for every activation, with and
// without bias, rank-3 input, float32; finite-difference gradients in input, kernel and bias;
// shapes, errors that name the layer or config entry, configs, remembered logits.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as lt from '../../../src/index.js';
import { Dense, Linear } from '../../../src/nn/layers/index.js';
import { logitsOf } from '../../../src/nn/logits.js';
import { erfRef } from '../../ops/elementwise-reference.js';
import { assertClose, assertThrowsLathe, onEachBackend, rand64 } from '../../helpers.js';
import { ACTIVATION_VALUES, gradcheckLayer, roundTrip, values } from './layer-checks.js';

const f64 = (v: lt.NestedArray) => lt.tensor(v, { dtype: 'float64' });
const TOL64 = { atol: 1e-14, rtol: 1e-13 };
const TOL32 = { atol: 1e-6, rtol: 1e-6 };

// x [2,3], W [3,2], b [2]: x W + b = [[4, 0.5], [-1, -0.5]] and x W = [[3.5, 3], [-1.5, 2]] (worked by hand)
const X = [[1, 2, 3], [-1, 0, 1]];
const W = [[1, -1], [2, 0.5], [-0.5, 1]];
const B = [0.5, -2.5];
const Z_NOBIAS = [[3.5, 3], [-1.5, 2]];

const EXPECTED = ACTIVATION_VALUES;

/** The same activations as scalar/row formulas, for the no-bias values. */
const sig = (v: number) => 1 / (1 + Math.exp(-v));
const rowWise = (f: (row: number[]) => number[]) => (z: number[][]) => z.map(f);
const each = (f: (v: number) => number) => rowWise((r) => r.map(f));
const softmaxRow = (r: number[]) => {
  const m = Math.max(...r);
  const e = r.map((v) => Math.exp(v - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
};
const FORMULA: Record<string, (z: number[][]) => number[][]> = {
  linear: each((v) => v),
  relu: each((v) => Math.max(v, 0)),
  sigmoid: each(sig),
  tanh: each(Math.tanh),
  softmax: rowWise(softmaxRow),
  logSoftmax: rowWise((r) => softmaxRow(r).map(Math.log)),
  gelu: each((v) => 0.5 * v * (1 + erfRef(v / Math.SQRT2))),
  elu: each((v) => (v > 0 ? v : Math.expm1(v))),
  leakyRelu: each((v) => (v >= 0 ? v : 0.2 * v)),
  softplus: each((v) => Math.log1p(Math.exp(v))),
  silu: each((v) => v * sig(v)),
  swish: each((v) => v * sig(v)),
};

function dense(activation: string, options: { useBias?: boolean; dtype?: 'float32' | 'float64' } = {}): Dense {
  const dtype = options.dtype ?? 'float64';
  const layer = new Dense(2, { activation, inputShape: [3], useBias: options.useBias, dtype });
  layer.kernel.assign(lt.tensor(W, { dtype }));
  layer.bias?.assign(lt.tensor(B, { dtype }));
  return layer;
}

onEachBackend('Dense forward', () => {
  test('the activation list is the one tested here', () => {
    assert.deepEqual([...lt.nn.ACTIVATION_NAMES].sort(), Object.keys(EXPECTED).sort());
  });

  for (const activation of Object.keys(EXPECTED)) {
    test(`${activation}: with bias, without bias, float32`, () => {
      assertClose(dense(activation).call(f64(X)), EXPECTED[activation], TOL64, 'with bias');
      const nobias = dense(activation, { useBias: false });
      assert.equal(nobias.bias, null);
      assert.deepEqual(nobias.namedParameters().map(([n]) => n), ['kernel']);
      assertClose(nobias.call(f64(X)), FORMULA[activation](Z_NOBIAS), TOL64, 'without bias');
      const y32 = dense(activation, { dtype: 'float32' }).call(lt.tensor(X));
      assert.equal(y32.dtype, 'float32');
      assertClose(y32, EXPECTED[activation], TOL32, 'float32');
    });
  }

  test('input of rank 3: the kernel applies on the last axis', () => {
    const layer = dense('tanh');
    const x3 = f64([X, X.map((r) => r.map((v) => -v))]);
    const y = layer.call(x3);
    assert.deepEqual(y.shape, [2, 2, 2]);
    // -x: -x W + b = [[-3.5+0.5, -3-2.5], [1.5+0.5, -2-2.5]]
    assertClose(y, [EXPECTED.tanh, [[-3, -5.5], [2, -4.5]].map((r) => r.map(Math.tanh))], TOL64);
    assert.deepEqual(layer.computeOutputShape([5, 3]), [5, 2]);
  });

  test('softmax and sigmoid outputs remember their logits (for fused cross-entropy)', () => {
    assertClose(logitsOf(dense('softmax').call(f64(X)), 'softmax')!, EXPECTED.linear, TOL64);
    assertClose(logitsOf(dense('sigmoid').call(f64(X)), 'sigmoid')!, EXPECTED.linear, TOL64);
    assert.equal(logitsOf(dense('softmax').call(f64(X)), 'sigmoid'), undefined);
    assert.equal(logitsOf(dense('relu').call(f64(X)), 'softmax'), undefined);
  });
});

onEachBackend('Dense gradients', () => {
  const GRAD = { atol: 1e-7, rtol: 1e-5 };
  for (const activation of Object.keys(EXPECTED)) {
    test(`input, kernel and bias: ${activation}`, () => {
      const layer = new Dense(3, { activation, dtype: 'float64', inputShape: [4], biasInitializer: 'glorotUniform' });
      gradcheckLayer(layer, rand64([2, 4], 21), ['kernel', 'bias'], GRAD);
    });
  }

  test('rank-3 input (the kernel gradient sums over both leading axes), no bias', () => {
    const layer = new Dense(3, { activation: 'sigmoid', dtype: 'float64', inputShape: [4], useBias: false });
    gradcheckLayer(layer, rand64([2, 3, 4], 22), ['kernel'], GRAD);
    const withBias = new Dense(2, { activation: 'gelu', dtype: 'float64', inputShape: [3], biasInitializer: 'glorotUniform' });
    gradcheckLayer(withBias, rand64([3, 2, 3], 23), ['kernel', 'bias'], GRAD);
  });
});

onEachBackend('Dense shapes, errors, config', () => {
  test('built lazily from the first call; weight names and Keras layout [in, out]', () => {
    const layer = new Dense(2, { name: 'lazy' });
    assert.equal(layer.built, false);
    assert.deepEqual(layer.parameters(), []);
    assert.deepEqual(layer.call(lt.ones([4, 5])).shape, [4, 2]);
    assert.equal(layer.built, true);
    assert.deepEqual(layer.inputShape, [5]);
    assert.deepEqual(layer.namedParameters().map(([n, t]) => [n, t.name, [...t.shape]]), [['kernel', 'lazy.kernel', [5, 2]], ['bias', 'lazy.bias', [2]]]);
    assert.equal(layer.countParameters(), 12);
  });

  test('computeOutputShape and shape errors name the layer', () => {
    assert.deepEqual(new Dense(4).computeOutputShape([3]), [4]);
    assert.deepEqual(new Dense(4).computeOutputShape([7, 6, 3]), [7, 6, 4]);
    assertThrowsLathe(() => new Dense(4, { name: 'd0' }).computeOutputShape([]), /^d0: expected input with at least one axis \(features\), got per-example shape \[\]$/);
    const built = new Dense(4, { name: 'd1', inputShape: [3] });
    assertThrowsLathe(() => built.computeOutputShape([5]), /^d1: expected input with 3 features on the last axis, got per-example shape \[5\]$/);
    assertThrowsLathe(() => built.call(lt.ones([2, 5])), /^d1: expected 3 features on the last axis, got input \[2,5\]$/);
  });

  test('option errors name the layer', () => {
    assertThrowsLathe(() => new Dense(0, { name: 'd2' }), /^d2: units must be a positive integer, got 0$/);
    assertThrowsLathe(() => new Dense(2.5, { name: 'd2' }), /^d2: units must be a positive integer, got 2\.5$/);
    assertThrowsLathe(() => new Dense(2, { name: 'd3', activation: 'nope' }), /^d3: unknown activation "nope" \(expected one of linear, relu, sigmoid, tanh, softmax, logSoftmax, gelu, elu, leakyRelu, softplus, silu, swish\)$/);
    assertThrowsLathe(() => new Dense(2, { name: 'd3', activation: 'toString' }), /^d3: unknown activation "toString"/);
    assertThrowsLathe(() => new Dense(2, { name: 'd4', kernelInitializer: 'nope' }), /^d4: kernelInitializer: unknown initializer "nope" \(expected one of zeros, ones, glorotUniform, glorotNormal, heUniform, heNormal, lecunUniform, lecunNormal, randomNormal, randomUniform\)$/);
    assertThrowsLathe(() => new Dense(2, { name: 'd5', biasInitializer: 'constructor' }), /^d5: biasInitializer: unknown initializer "constructor"/);
    assertThrowsLathe(() => new Dense(2, { name: 'd6', dtype: 'float16' as never }), /^d6: dtype must be float32 or float64, got "float16"$/);
  });

  test('config errors name the config entry and the field', () => {
    const at = (c: Record<string, unknown>) => () => lt.layers.layerFromConfig({ type: 'dense', ...c }, 'config.model.layers[1]');
    assertThrowsLathe(at({}), /^config\.model\.layers\[1\] \(dense\): "units" is required \(a positive integer\)$/);
    assertThrowsLathe(at({ units: '128a' }), /^config\.model\.layers\[1\] \(dense\): "units" must be a positive integer, got "128a"$/);
    assertThrowsLathe(at({ units: 2, activaton: 'relu' }), /^config\.model\.layers\[1\] \(dense\): unknown field "activaton" \(expected one of: type, name, inputShape, dtype, units, activation, useBias, kernelInitializer, biasInitializer\)$/);
    assertThrowsLathe(at({ units: 2, activation: 'softmx' }), /^config\.model\.layers\[1\] \(dense\): unknown activation "softmx" \(expected one of linear, /);
    assertThrowsLathe(at({ units: 2, kernelInitializer: 'glorot' }), /^config\.model\.layers\[1\] \(dense\): kernelInitializer: unknown initializer "glorot" \(expected one of zeros, /);
    assertThrowsLathe(at({ units: 2, useBias: 'no' }), /^config\.model\.layers\[1\] \(dense\): "useBias" must be true or false, got "no"$/);
    assertThrowsLathe(at({ units: 2, inputShape: [0] }), /^config\.model\.layers\[1\] \(dense\): "inputShape" must be an array of positive integers, got \[0\]$/);
  });

  test('getConfig -> layerFromConfig round trip; the copy computes the same after loading the weights', () => {
    const layer = new Dense(3, { name: 'd7', activation: 'leaky_relu', useBias: false, kernelInitializer: 'he_normal', inputShape: [4], dtype: 'float64' });
    assert.deepEqual(layer.getConfig(), { type: 'dense', name: 'd7', inputShape: [4], dtype: 'float64', units: 3, activation: 'leakyRelu', useBias: false, kernelInitializer: 'heNormal', biasInitializer: 'zeros' });
    const copy = roundTrip(layer);
    assert.deepEqual(copy.kernel.shape, [4, 3]);
    assert.equal(copy.bias, null);
    copy.loadStateDict(layer.stateDict());
    const x = rand64([5, 4], 9);
    assertClose(copy.call(x), layer.call(x), { atol: 0, rtol: 0 });
    // an unbuilt layer saves no inputShape, and its copy is unbuilt too
    const lazy = roundTrip(new Dense(2, { activation: 'softmax' }));
    assert.equal(lazy.built, false);
    assert.equal('inputShape' in lazy.getConfig(), false);
  });

  test('Linear (PyTorch spelling) is built at once and saves as dense', () => {
    const layer = new Linear(3, 2, { dtype: 'float64' });
    assert.ok(layer.built);
    assert.deepEqual(layer.parameters().map((p) => [...p.shape]), [[3, 2], [2]]);
    layer.kernel.assign(f64(W));
    layer.bias!.assign(f64(B));
    assertClose(layer.call(f64(X)), EXPECTED.linear, TOL64);
    const copy = roundTrip(layer);
    assert.equal(copy.type, 'dense');
    assert.deepEqual(copy.inputShape, [3]);
    assert.deepEqual(values(new Linear(2, 1, { useBias: false }).call(lt.zeros([1, 2]))), [0]);
  });
});
