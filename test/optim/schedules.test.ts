// Learning-rate schedules against their published formulas (Keras ExponentialDecay and
// CosineDecay, PyTorch StepLR), and an optimizer following one step by step.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as lt from '../../src/index.js';
import { assertClose, assertThrowsLathe, onEachBackend } from '../helpers.js';

const { ExponentialDecay, StepDecay, CosineDecay, Warmup, scheduleFromConfig } = lt.optim;
const STEPS = [0, 1, 2, 7, 10, 11, 99, 100, 101, 250, 1000];

function expectEach(s: lt.optim.LearningRateSchedule, formula: (t: number) => number): void {
  for (const t of STEPS) assertClose([s.at(t)], [formula(t)], { atol: 0, rtol: 1e-15 }, `step ${t}`);
}

test('ExponentialDecay: initial * rate^(step / decaySteps), floored with staircase', () => {
  expectEach(new ExponentialDecay({ initialLearningRate: 0.1, decaySteps: 10, decayRate: 0.96 }), (t) => 0.1 * 0.96 ** (t / 10));
  expectEach(new ExponentialDecay({ initialLearningRate: 0.1, decaySteps: 10, decayRate: 0.5, staircase: true }), (t) => 0.1 * 0.5 ** Math.floor(t / 10));
  assert.equal(new ExponentialDecay({ initialLearningRate: 1, decaySteps: 10, decayRate: 0.5, staircase: true }).at(19), 0.5);
});

test('StepDecay: lr * gamma^floor(step / stepSize) (PyTorch StepLR)', () => {
  expectEach(new StepDecay({ initialLearningRate: 0.5, stepSize: 30, gamma: 0.1 }), (t) => 0.5 * 0.1 ** Math.floor(t / 30));
  const s = new StepDecay({ initialLearningRate: 1, stepSize: 2 });
  assert.deepEqual([0, 1, 2, 3, 4].map((t) => s.at(t)), [1, 1, 0.1, 0.1, 0.1 ** 2]);
});

test('CosineDecay: Keras\' cosine with alpha, flat after decaySteps', () => {
  const cos = (t: number, init: number, d: number, alpha: number) => init * ((1 - alpha) * 0.5 * (1 + Math.cos((Math.PI * Math.min(t, d)) / d)) + alpha);
  expectEach(new CosineDecay({ initialLearningRate: 0.1, decaySteps: 100 }), (t) => cos(t, 0.1, 100, 0));
  expectEach(new CosineDecay({ initialLearningRate: 0.1, decaySteps: 100, alpha: 0.2 }), (t) => cos(t, 0.1, 100, 0.2));
  const s = new CosineDecay({ initialLearningRate: 2, decaySteps: 10, alpha: 0.25 });
  assertClose([s.at(0), s.at(5), s.at(10), s.at(50)], [2, 2 * (0.75 * 0.5 + 0.25), 0.5, 0.5], { atol: 1e-15 });
});

test('CosineDecay with warmup: linear to warmupTarget, then the cosine from there', () => {
  const s = new CosineDecay({ initialLearningRate: 0, decaySteps: 100, warmupTarget: 0.1, warmupSteps: 10, alpha: 0.1 });
  const want = (t: number) => {
    if (t < 10) return 0.1 * (t / 10);
    const u = Math.min(t, 110) - 10;
    return 0.1 * (0.9 * 0.5 * (1 + Math.cos((Math.PI * u) / 100)) + 0.1);
  };
  expectEach(s, want);
  assert.equal(s.at(10), 0.1);
});

test('Warmup in front of a schedule equals Keras\' built-in cosine warmup', () => {
  const wrapped = new Warmup(new CosineDecay({ initialLearningRate: 0.1, decaySteps: 100, alpha: 0.1 }), { warmupSteps: 10, initialLearningRate: 0.01 });
  const builtIn = new CosineDecay({ initialLearningRate: 0.01, decaySteps: 100, warmupTarget: 0.1, warmupSteps: 10, alpha: 0.1 });
  for (const t of STEPS) assertClose([wrapped.at(t)], [builtIn.at(t)], { atol: 1e-17, rtol: 1e-15 }, `step ${t}`);
  const flat = new Warmup(0.5, { warmupSteps: 4 });
  assert.deepEqual([0, 1, 2, 3, 4, 100].map((t) => flat.at(t)), [0, 0.125, 0.25, 0.375, 0.5, 0.5]);
});

test('every schedule survives its config, through JSON', () => {
  const all = [
    new ExponentialDecay({ initialLearningRate: 0.1, decaySteps: 7, decayRate: 0.9, staircase: true }),
    new StepDecay({ initialLearningRate: 0.3, stepSize: 5, gamma: 0.5 }),
    new CosineDecay({ initialLearningRate: 0.1, decaySteps: 50, alpha: 0.05, warmupTarget: 0.2, warmupSteps: 5 }),
    new Warmup(new StepDecay({ initialLearningRate: 0.3, stepSize: 5 }), { warmupSteps: 3, initialLearningRate: 0.001 }),
  ];
  for (const s of all) {
    const back = scheduleFromConfig(JSON.parse(JSON.stringify(s.getConfig())));
    assert.equal(back.constructor, s.constructor);
    for (const t of STEPS) assert.equal(back.at(t), s.at(t), `${s.type} at ${t}`);
  }
});

test('bad schedules and configs are named', () => {
  assertThrowsLathe(() => new ExponentialDecay({ initialLearningRate: 0.1, decaySteps: 0, decayRate: 0.5 }), /^ExponentialDecay: decaySteps must be a number > 0, got 0$/);
  assertThrowsLathe(() => new StepDecay({ initialLearningRate: 0.1, stepSize: 2.5 }), /^StepDecay: stepSize must be a positive integer, got 2.5$/);
  assertThrowsLathe(() => new CosineDecay({ initialLearningRate: 0.1, decaySteps: 10, warmupSteps: 5 }), /^CosineDecay: warmupSteps needs warmupTarget/);
  assertThrowsLathe(() => new CosineDecay({ initialLearningRate: 0.1, decaySteps: 10 }).at(-1), /^CosineDecay.at: step must be a number >= 0, got -1$/);
  assertThrowsLathe(() => scheduleFromConfig({ type: 'cosine' }, 'config.lr'), /^config.lr: unknown schedule type "cosine" \(expected one of exponentialDecay, stepDecay, cosineDecay, warmup\)$/);
  assertThrowsLathe(() => scheduleFromConfig({ type: 'stepDecay', initialLearningRate: 0.1 }, 'config.lr'), /^config.lr \(stepDecay\): "stepSize" is required/);
  assertThrowsLathe(() => scheduleFromConfig({ type: 'stepDecay', initialLearningRate: 0.1, stepSize: 3, decay: 2 }, 'c'), /^c \(stepDecay\): unknown field "decay"/);
  assertThrowsLathe(() => scheduleFromConfig({ type: 'warmup', warmupSteps: 2, schedule: { type: 'x' } }, 'c'), /^c \(warmup\).schedule: unknown schedule type "x"/);
});

onEachBackend('optimizers on a schedule', () => {
  test('each step uses the schedule at the steps taken before it', () => {
    const schedule = new ExponentialDecay({ initialLearningRate: 0.5, decaySteps: 2, decayRate: 0.5 });
    const p = lt.tensor([1], { dtype: 'float64', requiresGrad: true });
    const opt = new lt.SGD([p], { lr: schedule });
    let want = 1;
    for (let k = 0; k < 5; k++) {
      assert.equal(opt.lr, schedule.at(k));
      p.grad = lt.tensor([1], { dtype: 'float64' });
      opt.step();
      want -= 0.5 * 0.5 ** (k / 2);
    }
    assertClose(p, [want], { atol: 1e-15 });
    assert.equal(opt.iterations, 5);
  });

  test('setting lr while a schedule drives it is refused; a constant rate can be set', () => {
    const p = lt.zeros([1]).requireGrad();
    const opt = new lt.Adam([p], { learningRate: new StepDecay({ initialLearningRate: 0.1, stepSize: 10 }) });
    assertThrowsLathe(() => (opt.lr = 0.01), /^Adam: lr follows a schedule \(StepDecay\) and cannot be set/);
    const fixed = new lt.Adam([p], { learningRate: 0.1 });
    fixed.lr = 0.05;
    assert.equal(fixed.lr, 0.05);
    assert.equal(fixed.learningRate, 0.05);
    assertThrowsLathe(() => (fixed.lr = -1), /^Adam: lr must be a number in \[0, Infinity\), got -1$/);
  });
});
