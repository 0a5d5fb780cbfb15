// Activation / ReLU / Softmax and Rescaling: forward against hand-computed values, gradients
// by finite differences, shapes, dtypes (uint8 pixels in, float32 out), errors and configs.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as lt from '../../../src/index.js';
import { Activation, ReLU, Rescaling, Softmax } from '../../../src/nn/layers/index.js';
import { assertClose, assertThrowsLathe, onEachBackend, rand64 } from '../../helpers.js';
import { ACTIVATION_VALUES, gradcheckLayer, roundTrip, values } from './layer-checks.js';

const f64 = (v: lt.NestedArray) => lt.tensor(v, { dtype: 'float64' });
const EXACT = { atol: 0, rtol: 0 };
const TOL64 = { atol: 1e-14, rtol: 1e-13 };
const Z = [[4, 0.5], [-1, -0.5]];

/** act(Z): the table dense.test.ts uses too, reached here without a matmul. */
const EXPECTED = ACTIVATION_VALUES;

onEachBackend('Activation', () => {
  for (const [name, expected] of Object.entries(EXPECTED)) {
    test(`${name}: forward, float32 keeps its dtype, gradient`, () => {
      const layer = new Activation(name);
      assert.equal(layer.activation, name);
      assertClose(layer.call(f64(Z)), expected, TOL64);
      const y32 = layer.call(lt.tensor(Z));
      assert.equal(y32.dtype, 'float32');
      assertClose(y32, expected, { atol: 1e-6, rtol: 1e-6 });
      // away from relu's kink at 0: the random draws are at least 0.05 from it
      const x = rand64([3, 4], 31).add(rand64([3, 4], 32).sign().mul(0.05));
      gradcheckLayer(layer, x, [], { atol: 1e-7, rtol: 1e-5 });
    });
  }

  test('ReLU and Softmax shortcuts; softmax is over the last axis of any rank', () => {
    assertClose(new ReLU().call(f64([[-2, 3], [0.5, -0.25]])), [[0, 3], [0.5, 0]], EXACT);
    const x = f64([[[4, 0.5], [-1, -0.5]], [[0, 0], [1000, 1000]]]);
    // equal logits give 1/2 each, also when large (softmax subtracts the maximum)
    assertClose(new Softmax().call(x), [EXPECTED.softmax, [[0.5, 0.5], [0.5, 0.5]]], TOL64);
    assert.deepEqual(new Softmax().computeOutputShape([3, 5, 7]), [3, 5, 7]);
    assert.equal(new ReLU().countParameters(), 0);
  });

  test("Keras' snake_case names are accepted and stored camelCase", () => {
    assert.equal(new Activation('leaky_relu').activation, 'leakyRelu');
    assert.equal(new Activation('log_softmax').activation, 'logSoftmax');
    assertClose(new Activation('leaky_relu').call(f64(Z)), EXPECTED.leakyRelu, EXACT);
  });

  test('errors name the layer or config entry', () => {
    assertThrowsLathe(() => new Activation('nope', { name: 'a1' }), /^a1: unknown activation "nope" \(expected one of linear, relu, sigmoid, tanh, softmax, logSoftmax, gelu, elu, leakyRelu, softplus, silu, swish\)$/);
    assertThrowsLathe(() => new Activation('constructor', { name: 'a2' }), /^a2: unknown activation "constructor"/);
    assertThrowsLathe(() => new Activation(7 as never, { name: 'a3' }), /^a3: unknown activation 7/);
    const at = (c: Record<string, unknown>) => () => lt.layers.layerFromConfig({ type: 'activation', ...c }, 'layers[2]');
    assertThrowsLathe(at({}), /^layers\[2\] \(activation\): "activation" must be a string, got nothing$/);
    assertThrowsLathe(at({ activation: 'rleu' }), /^layers\[2\] \(activation\): unknown activation "rleu"/);
    assertThrowsLathe(at({ activation: 'relu', alpha: 1 }), /^layers\[2\] \(activation\): unknown field "alpha"/);
  });

  test('config round trip: the shortcuts save as activation', () => {
    const relu = roundTrip(new ReLU({ name: 'r', inputShape: [3] }));
    assert.deepEqual(relu.getConfig(), { type: 'activation', name: 'r', inputShape: [3], activation: 'relu' });
    assert.ok(relu instanceof Activation);
    const sm = roundTrip(new Softmax({ dtype: 'float64' }));
    assert.equal(sm.activation, 'softmax');
    assert.equal(sm.dtype, 'float64');
    assertClose(sm.call(f64(Z)), EXPECTED.softmax, TOL64);
  });
});

onEachBackend('Rescaling', () => {
  test('uint8 pixels come out float32: x * scale + offset', () => {
    const x = lt.tensor([[0, 1, 128, 255]], { dtype: 'uint8' });
    const y = new Rescaling(0.5, -1).call(x);
    assert.equal(y.dtype, 'float32');
    assertClose(y, [[-1, -0.5, 63, 126.5]], EXACT);
    const unit = new Rescaling(1 / 255).call(x);
    assert.equal(unit.dtype, 'float32');
    assertClose(unit, [[0, 1 / 255, 128 / 255, 1]], { atol: 0, rtol: 1.2e-7 });
    assert.deepEqual(values(new Rescaling(2, 3).call(lt.tensor([-4, 5], { dtype: 'int32' }))), [-5, 13]);
    assert.equal(new Rescaling(2).call(lt.tensor([1], { dtype: 'int32' })).dtype, 'float32');
  });

  test('float input keeps its dtype; offset 0 is a plain scale', () => {
    const y = new Rescaling(0.1, 0.2).call(f64([[1, 2, 3]]));
    assert.equal(y.dtype, 'float64');
    assertClose(y, [[0.1 + 0.2, 0.2 + 0.2, 0.30000000000000004 + 0.2]], TOL64);
    assertClose(new Rescaling(-2).call(f64([1.5, -3])), [-3, 6], EXACT);
  });

  test('gradient is the scale', () => {
    const layer = new Rescaling(-0.75, 3);
    gradcheckLayer(layer, rand64([2, 5], 33), []);
    const x = rand64([2, 3], 34).requireGrad();
    layer.call(x).sum().backward();
    assertClose(x.grad!, [[-0.75, -0.75, -0.75], [-0.75, -0.75, -0.75]], EXACT);
  });

  test('shapes, errors, config', () => {
    assert.deepEqual(new Rescaling(1).computeOutputShape([1, 28, 28]), [1, 28, 28]);
    assert.equal(new Rescaling(1).countParameters(), 0);
    assertThrowsLathe(() => new Rescaling(NaN, 0, { name: 'r1' }), /^r1: scale and offset must be finite numbers, got NaN and 0$/);
    assertThrowsLathe(() => new Rescaling(1, Infinity, { name: 'r2' }), /^r2: scale and offset must be finite numbers, got 1 and Infinity$/);
    const at = (c: Record<string, unknown>) => () => lt.layers.layerFromConfig({ type: 'rescaling', ...c }, 'layers[0]');
    assertThrowsLathe(at({}), /^layers\[0\] \(rescaling\): "scale" is required \(a number\)$/);
    assertThrowsLathe(at({ scale: '1/255' }), /^layers\[0\] \(rescaling\): "scale" must be a finite number, got "1\/255"$/);
    const copy = roundTrip(new Rescaling(1 / 255, -0.5, { name: 'pre', inputShape: [28, 28] }));
    assert.deepEqual(copy.getConfig(), { type: 'rescaling', name: 'pre', inputShape: [28, 28], scale: 1 / 255, offset: -0.5 });
    assert.equal(roundTrip(new Rescaling(3)).offset, 0);
  });
});
