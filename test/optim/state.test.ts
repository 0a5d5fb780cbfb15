// Optimizer state dicts: train N steps, save, restore into a fresh optimizer and a copy of the
// parameters, train M more, and get bit for bit what N + M uninterrupted steps give.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as lt from '../../src/index.js';
import { assertClose, assertThrowsLathe, onEachBackend } from '../helpers.js';
import { type Float, gradSequence, makeParams, train, values } from './steps.js';

const { ExponentialDecay, CosineDecay } = lt.optim;

/** A state as a checkpoint file would give it back: config through JSON, slots as new tensors. */
function reload(state: lt.optim.OptimizerState): lt.optim.OptimizerState {
  const slots = Object.fromEntries(Object.entries(state.slots).map(([k, t]) => [k, lt.tensor(t.dataSync(), { shape: t.shape, dtype: t.dtype })]));
  return { config: JSON.parse(JSON.stringify(state.config)), iterations: state.iterations, slots };
}

const bits = (ps: readonly lt.Tensor[]) => ps.map((p) => Array.from(p.dataSync()));

onEachBackend('stateDict round trip', () => {
  const init = [values(7, 40), values(3, 41)];
  const grads = gradSequence([7, 3], 9, 50);
  const N = 4;

  const cases: [string, (ps?: lt.Tensor[]) => lt.optim.Optimizer][] = [
    ['Adam', (ps) => (ps ? new lt.Adam(ps, { lr: 0.01 }) : new lt.Adam({ lr: 0.01 }))],
    ['AdamW on a schedule, clipped', (ps) => new lt.AdamW(ps ?? [], { lr: new CosineDecay({ initialLearningRate: 0.05, decaySteps: 6, warmupTarget: 0.1, warmupSteps: 2 }), globalClipNorm: 1 })],
    ['SGD with Nesterov momentum and weight decay', (ps) => new lt.SGD(ps ?? [], { lr: 0.1, momentum: 0.9, nesterov: true, weightDecay: 0.01 })],
    ['RMSprop centered with momentum, clipped per gradient', (ps) => new lt.RMSprop(ps ?? [], { lr: new ExponentialDecay({ initialLearningRate: 0.01, decaySteps: 3, decayRate: 0.7 }), centered: true, momentum: 0.5, clipNorm: 0.8 })],
  ];
  for (const dtype of ['float32', 'float64'] as Float[]) {
    for (const [name, make] of cases) {
      test(`${name}: ${N} steps, save, restore, ${grads.length - N} more equals ${grads.length} in one go (${dtype})`, () => {
        const a = makeParams(init, dtype);
        const optA = make(a);
        train(optA, a, grads.slice(0, N));
        const saved = optA.stateDict();
        const weights = a.map((p) => lt.tensor(p.dataSync(), { shape: p.shape, dtype }));
        train(optA, a, grads.slice(N)); // the uninterrupted run goes on; the saved state must not follow it

        const b = weights.map((w) => w.requireGrad());
        const optB = make(b);
        optB.loadStateDict(reload(saved));
        assert.equal(optB.iterations, N);
        train(optB, b, grads.slice(N));
        assert.deepEqual(bits(b), bits(a));
        assert.deepEqual(bits(Object.values(optB.stateDict().slots)), bits(Object.values(optA.stateDict().slots)));
      });
    }
  }

  test('loading restores the saved hyperparameters, a rate set by hand included', () => {
    const a = makeParams(init, 'float32');
    const optA = new lt.SGD(a, { lr: 0.1, momentum: 0.9 });
    train(optA, a, grads.slice(0, 2));
    optA.lr = 0.03; // ReduceLROnPlateau
    const saved = reload(optA.stateDict());
    const b = makeParams(a.map((p) => Array.from(p.dataSync())), 'float32');
    train(optA, a, grads.slice(2));
    const optB = new lt.SGD(); // Keras-style: compile attaches, then the checkpoint is loaded
    optB.attach(b);
    optB.loadStateDict(saved);
    assert.equal(optB.lr, 0.03);
    assert.equal(optB.momentum, 0.9);
    train(optB, b, grads.slice(2));
    assert.deepEqual(bits(b), bits(a));
  });

  test('the state format: config, iterations, and slots keyed paramIndex.slotName', () => {
    const ps = makeParams([[1, 2], [3]], 'float32');
    const opt = new lt.Adam(ps);
    train(opt, ps, [[[0.5, -0.5], [1]]]);
    const state = opt.stateDict();
    assert.deepEqual(state.config, { type: 'adam', lr: 1e-3, beta1: 0.9, beta2: 0.999, epsilon: 1e-7, weightDecay: 0, decoupled: false });
    assert.equal(state.iterations, 1);
    assert.deepEqual(Object.keys(state.slots), ['0.m', '0.v', '1.m', '1.v']);
    assert.deepEqual(state.slots['0.m'].shape, [2]);
    assertClose(state.slots['1.m'], [0.1], { rtol: 1e-6 }); // (1 - beta1) * g
  });

  test('a bad state is refused with the key named, and nothing changes', () => {
    const ps = makeParams([[1, 2], [3]], 'float32');
    const opt = new lt.Adam(ps, { lr: 0.01 });
    train(opt, ps, [[[1, 1], [1]]]);
    const good = opt.stateDict();
    const slotsBefore = bits(Object.values(good.slots));
    const bad = (change: Partial<lt.optim.OptimizerState> | ((s: lt.optim.OptimizerState) => void)) => {
      const s = { ...good, slots: { ...good.slots }, config: { ...good.config } };
      if (typeof change === 'function') change(s);
      else Object.assign(s, change);
      return () => opt.loadStateDict(s);
    };
    const W = 'Adam.loadStateDict';
    assertThrowsLathe(bad({ config: { ...new lt.SGD().getConfig() } }), new RegExp(`^${W}: config.type is "sgd", expected "adam" \\(a state saved by another optimizer\\)$`));
    assertThrowsLathe(bad((s) => (s.slots['1.v'] = lt.zeros([2]))), new RegExp(`^${W}: slot "1.v" has shape \\[2\\], but its parameter has shape \\[1\\]$`));
    assertThrowsLathe(bad((s) => delete s.slots['0.m']), new RegExp(`^${W}: slot "0.m" is missing$`));
    assertThrowsLathe(bad((s) => (s.slots['2.m'] = lt.zeros([1]))), new RegExp(`^${W}: unknown slot "2.m" \\(expected 0.m, 0.v, 1.m, 1.v\\)$`));
    assertThrowsLathe(bad((s) => (s.slots['0.v'] = [0, 0] as never)), new RegExp(`^${W}: slot "0.v" must be a Tensor, got 0,0$`));
    assertThrowsLathe(bad({ iterations: -1 }), new RegExp(`^${W}: iterations must be an integer >= 0, got -1$`));
    assertThrowsLathe(bad((s) => (s.config.beta1 = 2)), new RegExp(`^${W}: config: "beta1" must be a number in \\[0, 1\\), got 2$`));
    assertThrowsLathe(bad((s) => (s.config.lr = 0.5) && (s.slots = {})), new RegExp(`^${W}: slot "0.m" is missing$`));
    assert.equal(opt.lr, 0.01);
    assert.equal(opt.iterations, 1);
    assert.deepEqual(bits(Object.values(opt.stateDict().slots)), slotsBefore);
    assertThrowsLathe(() => new lt.Adam().loadStateDict(good), /^Adam.loadStateDict: unknown slot "0.m" \(no parameters are attached yet; call attach\(params\) first\)$/);
  });

  test('a state with momentum does not load into SGD without it', () => {
    const ps = makeParams([[1]], 'float32');
    const withMomentum = new lt.SGD(ps, { momentum: 0.5 }).stateDict();
    const opt = new lt.SGD(ps);
    opt.loadStateDict(withMomentum); // the config says momentum 0.5: the slot is expected and loaded
    assert.equal(opt.momentum, 0.5);
    const { slots } = withMomentum;
    assertThrowsLathe(() => opt.loadStateDict({ ...withMomentum, config: new lt.SGD().getConfig(), slots }), /^SGD.loadStateDict: unknown slot "0.momentum" \(expected none: these options keep no slots\)$/);
  });
});
