// The Optimizer base: PyTorch- and Keras-style construction, attach, the registry and configs,
// and the errors a user meets.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as lt from '../../src/index.js';
import { assertThrowsLathe, onEachBackend } from '../helpers.js';
import { gradSequence, makeParams, train, values } from './steps.js';

const { optimizerFromConfig, getOptimizer, ExponentialDecay } = lt.optim;

test('the optimizers are exported at the top level and under lt.optim', () => {
  assert.equal(lt.optim.Adam, lt.Adam);
  assert.equal(lt.optim.AdamW, lt.AdamW);
  assert.equal(lt.optim.SGD, lt.SGD);
  assert.equal(lt.optim.RMSprop, lt.RMSprop);
  assert.ok(new lt.SGD() instanceof lt.optim.Optimizer);
});

onEachBackend('Keras-style construction', () => {
  const init = [values(4, 5), values(3, 6)];
  const grads = gradSequence([4, 3], 4, 30);
  const makers: [string, () => lt.optim.Optimizer, (ps: lt.Tensor[]) => lt.optim.Optimizer][] = [
    ['Adam', () => new lt.Adam({ learningRate: 0.01 }), (ps) => new lt.Adam(ps, { lr: 0.01 })],
    ['AdamW', () => new lt.AdamW({ learningRate: 0.01, weightDecay: 0.1 }), (ps) => new lt.AdamW(ps, { lr: 0.01, weightDecay: 0.1 })],
    ['SGD', () => new lt.SGD({ learningRate: 0.1, momentum: 0.9, nesterov: true }), (ps) => new lt.SGD(ps, { lr: 0.1, momentum: 0.9, nesterov: true })],
    ['RMSprop', () => new lt.RMSprop({ centered: true }), (ps) => new lt.RMSprop(ps, { centered: true })],
  ];
  for (const [name, keras, torch] of makers) {
    test(`${name}: attach(params) later steps exactly as passing them to the constructor`, () => {
      const a = makeParams(init, 'float32');
      const b = makeParams(init, 'float32');
      const late = keras();
      assert.deepEqual(late.params, []);
      late.attach(a);
      const now = torch(b);
      train(late, a, grads);
      train(now, b, grads);
      a.forEach((p, i) => assert.deepEqual(p.toArray(), b[i].toArray()));
      assert.deepEqual(late.getConfig(), now.getConfig());
    });
  }

  test('step before attach, and attaching to other parameters, are refused', () => {
    const opt = new lt.Adam();
    opt.zeroGrad(); // nothing to clear yet
    assertThrowsLathe(() => opt.step(), /^Adam.step: no parameters to step; pass them to the constructor \(new Adam\(params, options\)\) or call attach\(params\) first/);
    const ps = makeParams([[1], [2]], 'float32');
    opt.attach(ps);
    opt.attach(ps); // the same ones again: compile twice
    assertThrowsLathe(() => opt.attach([ps[0]]), /^Adam.attach: already attached to 2 other parameters/);
    assertThrowsLathe(() => new lt.SGD().attach([lt.zeros([2])]), /^SGD.attach: params\[0\] does not require grad$/);
  });

  test('zeroGrad clears every attached gradient', () => {
    const ps = makeParams([[1], [2]], 'float32');
    const opt = new lt.SGD().attach(ps);
    ps.forEach((p) => (p.grad = lt.onesLike(p)));
    opt.zeroGrad();
    assert.deepEqual(ps.map((p) => p.grad), [null, null]);
  });
});

test('defaults: Keras\' rates, Adam\'s betas and AdamW\'s PyTorch decay', () => {
  assert.deepEqual(new lt.Adam().getConfig(), { type: 'adam', lr: 1e-3, beta1: 0.9, beta2: 0.999, epsilon: 1e-7, weightDecay: 0, decoupled: false });
  assert.deepEqual(new lt.AdamW().getConfig(), { type: 'adamw', lr: 1e-3, beta1: 0.9, beta2: 0.999, epsilon: 1e-7, weightDecay: 0.01 });
  assert.deepEqual(new lt.SGD().getConfig(), { type: 'sgd', lr: 0.01, momentum: 0, nesterov: false, weightDecay: 0 });
  assert.equal(new lt.RMSprop().lr, 1e-3);
});

test('option errors name the option', () => {
  const p = lt.zeros([1]).requireGrad();
  assertThrowsLathe(() => new lt.SGD(p as never), /^SGD: params must be an array of tensors, got one Tensor; pass \[p\]$/);
  assertThrowsLathe(() => new lt.SGD({ learning_rate: 0.1 } as never), /^SGD: unknown option "learning_rate" \(expected one of: lr, learningRate, clipNorm, globalClipNorm, clipValue, momentum, nesterov, weightDecay\)$/);
  assertThrowsLathe(() => new lt.SGD({ lr: 0.1, learningRate: 0.1 }), /^SGD: pass lr or learningRate, not both$/);
  assertThrowsLathe(() => new lt.SGD({ learningRate: NaN }), /^SGD: learningRate must be a number in \[0, Infinity\) or a LearningRateSchedule, got NaN$/);
  assertThrowsLathe(() => new lt.RMSprop([p], { centered: 1 } as never), /^RMSprop: centered must be true or false, got 1$/);
  assertThrowsLathe(() => new lt.AdamW([p], { beta2: -0.5 }), /^AdamW: beta2 must be a number in \[0, 1\), got -0.5$/);
  assertThrowsLathe(() => new lt.AdamW({ decoupled: false } as never), /^AdamW: unknown option "decoupled"/);
});

test('the registry: names (any case), instances and configs', () => {
  assert.ok(getOptimizer('adam') instanceof lt.Adam);
  assert.ok(getOptimizer('AdamW') instanceof lt.AdamW);
  assert.ok(getOptimizer('sgd') instanceof lt.SGD);
  assert.ok(getOptimizer('rmsprop') instanceof lt.RMSprop);
  const mine = new lt.SGD({ lr: 0.3 });
  assert.equal(getOptimizer(mine), mine);
  assert.deepEqual(getOptimizer({ type: 'sgd', lr: 0.3, momentum: 0.5 }).getConfig(), { type: 'sgd', lr: 0.3, momentum: 0.5, nesterov: false, weightDecay: 0 });
  assertThrowsLathe(() => getOptimizer('adagrad'), /^getOptimizer: unknown optimizer "adagrad" \(expected one of adam, adamw, sgd, rmsprop\)$/);
});

test('every optimizer survives its config, through JSON, schedule and clipping included', () => {
  const all = [
    new lt.Adam({ lr: new ExponentialDecay({ initialLearningRate: 0.1, decaySteps: 10, decayRate: 0.9 }), globalClipNorm: 1, weightDecay: 0.01 }),
    new lt.AdamW({ learningRate: 3e-4, clipNorm: 2 }),
    new lt.SGD({ lr: 0.1, momentum: 0.9, nesterov: true, clipValue: 0.5 }),
    new lt.RMSprop({ rho: 0.8, momentum: 0.1, centered: true, epsilon: 1e-6, weightDecay: 0.2 }),
  ];
  for (const opt of all) {
    const config = JSON.parse(JSON.stringify(opt.getConfig()));
    const back = optimizerFromConfig(config, 'config.optimizer');
    assert.equal(back.constructor, opt.constructor);
    assert.deepEqual(back.getConfig(), opt.getConfig());
  }
  const scheduled = optimizerFromConfig({ type: 'adam', learningRate: { type: 'stepDecay', initialLearningRate: 0.1, stepSize: 2 } });
  assert.ok(scheduled.schedule instanceof lt.optim.StepDecay);
});

test('config errors name the field', () => {
  const where = 'config.compile.optimizer';
  assertThrowsLathe(() => optimizerFromConfig({ type: 'adam', beta1: 1 }, where), /^config.compile.optimizer \(adam\): "beta1" must be a number in \[0, 1\), got 1$/);
  assertThrowsLathe(() => optimizerFromConfig({ type: 'sgd', momentum: '0.9' }, where), /^config.compile.optimizer \(sgd\): "momentum" must be a number in \[0, 1\), got "0.9"$/);
  assertThrowsLathe(() => optimizerFromConfig({ type: 'sgd', nesterov: 'yes' }, where), /^config.compile.optimizer \(sgd\): "nesterov" must be true or false, got "yes"$/);
  assertThrowsLathe(() => optimizerFromConfig({ type: 'sgd', beta1: 0.9 }, where), /^config.compile.optimizer \(sgd\): unknown field "beta1"/);
  assertThrowsLathe(() => optimizerFromConfig({ type: 'rmsprop', lr: -1 }, where), /^config.compile.optimizer \(rmsprop\): "lr" must be a number >= 0 or a schedule config, got -1$/);
  assertThrowsLathe(() => optimizerFromConfig({ type: 'rmsprop', clipNorm: 0 }, where), /^config.compile.optimizer \(rmsprop\): "clipNorm" must be a number > 0 or null, got 0$/);
  assertThrowsLathe(() => optimizerFromConfig({ type: 'adam', lr: { type: 'linear' } }, where), /^config.compile.optimizer \(adam\).lr: unknown schedule type "linear"/);
  assertThrowsLathe(() => optimizerFromConfig({ type: 'nadam' }, where), /^config.compile.optimizer: unknown optimizer "nadam"/);
  assertThrowsLathe(() => optimizerFromConfig({ lr: 0.1 }, where), /^config.compile.optimizer: "type" must be a string, got nothing$/);
  assertThrowsLathe(() => optimizerFromConfig({ type: 'sgd', nesterov: true }, where), /^config.compile.optimizer \(sgd\): nesterov needs momentum > 0$/);
});
