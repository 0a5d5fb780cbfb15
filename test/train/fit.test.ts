// Model/Sequential: compile, fit, evaluate and predict (issue 4), on the synthetic digits of
// ./synthetic-mnist.ts: ten classes, each a bright block in its own cell, which a small MLP learns
// in a few epochs. Weights are compared bit for bit where the claim is determinism.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import * as lt from '../../src/index.js';
import { assertClose, onEachBackend } from '../helpers.js';
import { digitTensors, snapshot } from './synthetic-mnist.js';

const { Dense, Dropout } = lt.layers;
const compileArgs = { optimizer: { type: 'adam', lr: 0.01 }, loss: 'sparse_categorical_crossentropy', metrics: ['accuracy'] };

/** 784-16-10, weights drawn after lt.manualSeed(seed); `lazy` leaves out the input shape. */
function mlp(seed: number, options: { dropout?: number; lazy?: boolean } = {}): lt.Sequential {
  lt.manualSeed(seed);
  const layers: lt.nn.Layer[] = [new Dense(16, { activation: 'relu', ...(options.lazy ? {} : { inputShape: [784] }) })];
  if (options.dropout !== undefined) layers.push(new Dropout(options.dropout));
  layers.push(new Dense(10, { activation: 'softmax' }));
  return new lt.Sequential(layers).compile(compileArgs);
}

/** The fraction of rows whose argmax is the label, computed here rather than by the metric. */
function accuracyOf(probs: lt.Tensor, y: lt.Tensor): number {
  const p = probs.dataSync();
  const labels = y.dataSync();
  const k = probs.shape[1];
  let right = 0;
  for (let i = 0; i < labels.length; i++) {
    let best = 0;
    for (let j = 1; j < k; j++) if (p[i * k + j] > p[i * k + best]) best = j;
    if (best === labels[i]) right++;
  }
  return right / labels.length;
}

const train = digitTensors(300, 1);
const test_ = digitTensors(100, 2);

onEachBackend('fit learns the synthetic digits', () => {
  test('loss falls epoch by epoch and accuracy reaches 95% on held-out digits', async () => {
    const train = digitTensors(300, 1); // on this backend
    const test_ = digitTensors(100, 2);
    const model = mlp(0);
    assert.equal(model.parameters()[0].backend, lt.getBackend());
    const before = await model.evaluate(test_.x, test_.y);
    assert.ok(before.loss > 2, `an untrained model is near chance: loss ${before.loss}`);
    const h = await model.fit(train.x, train.y, { epochs: 4, batchSize: 32, verbose: 0, seed: 1, validationData: [test_.x, test_.y] });
    const losses = h.history.loss;
    for (let e = 1; e < losses.length; e++) assert.ok(losses[e] < losses[e - 1], `loss rose at epoch ${e}: ${losses}`);
    assert.ok(losses[3] < 0.2 * losses[0], `loss fell too little: ${losses}`);
    assert.ok(h.history.val_accuracy[3] >= 0.95, `val accuracy ${h.history.val_accuracy}`);
    // the metric agrees with argmax computed here
    assert.equal(h.history.val_accuracy[3], accuracyOf(model.predict(test_.x), test_.y));
  });
});

describe('History', () => {
  test('holds loss, accuracy, val_loss, val_accuracy for each epoch, equal to evaluate after the last', async () => {
    const model = mlp(0);
    const h = await model.fit(train.x, train.y, { epochs: 3, batchSize: 50, verbose: 0, seed: 3, validationData: [test_.x, test_.y] });
    assert.deepEqual(h.epoch, [0, 1, 2]);
    assert.deepEqual(Object.keys(h.history).sort(), ['accuracy', 'loss', 'val_accuracy', 'val_loss']);
    for (const [k, v] of Object.entries(h.history)) {
      assert.equal(v.length, 3, k);
      for (const x of v) assert.ok(Number.isFinite(x) && x >= 0, `${k}: ${v}`);
    }
    for (const a of [...h.history.accuracy, ...h.history.val_accuracy]) assert.ok(a <= 1);
    const ev = await model.evaluate(test_.x, test_.y);
    assert.equal(h.history.val_loss[2], ev.loss);
    assert.equal(h.history.val_accuracy[2], ev.accuracy);
  });

  test('without validation there are no val_ entries; initialEpoch numbers the epochs', async () => {
    const model = mlp(0);
    const h = await model.fit(train.x, train.y, { epochs: 3, initialEpoch: 1, verbose: 0, seed: 3 });
    assert.deepEqual(h.epoch, [1, 2]);
    assert.deepEqual(Object.keys(h.history).sort(), ['accuracy', 'loss']);
    assert.equal(h.history.loss.length, 2);
  });

  test('the epoch loss is the example-weighted mean of the batch losses', async () => {
    // 300 examples in batches of 128: 128, 128, 44. One SGD step at lr 0 changes nothing, so
    // each batch's loss can be recomputed afterwards from the order the fit used.
    const model = mlp(0);
    model.compile({ optimizer: { type: 'sgd', lr: 0 }, loss: 'sparse_categorical_crossentropy', metrics: ['accuracy'] });
    const h = await model.fit(train.x, train.y, { epochs: 1, batchSize: 128, shuffle: false, verbose: 0 });
    const whole = await model.evaluate(train.x, train.y, { batchSize: 1000 });
    assertClose([h.history.loss[0], h.history.accuracy[0]], [whole.loss, whole.accuracy], { rtol: 1e-6, atol: 0 });
  });
});

describe('validationSplit', () => {
  test('holds out the tail, before shuffling: the same as validationData = the last 25%', async () => {
    const a = mlp(0);
    const ha = await a.fit(train.x, train.y, { epochs: 2, batchSize: 32, verbose: 0, seed: 4, validationSplit: 0.25 });
    const b = mlp(0);
    const head = [train.x.narrow(0, 0, 225), train.y.narrow(0, 0, 225)];
    const tail: [lt.Tensor, lt.Tensor] = [train.x.narrow(0, 225, 75), train.y.narrow(0, 225, 75)];
    const hb = await b.fit(head[0], head[1], { epochs: 2, batchSize: 32, verbose: 0, seed: 4, validationData: tail });
    assert.deepEqual(ha, hb);
    assert.deepEqual(snapshot(a), snapshot(b));
    assert.equal(ha.history.val_loss[1], (await a.evaluate(tail[0], tail[1])).loss);
    // a head split would have trained on other examples
    const c = mlp(0);
    await c.fit(train.x.narrow(0, 75, 225), train.y.narrow(0, 75, 225), { epochs: 2, batchSize: 32, verbose: 0, seed: 4 });
    assert.notDeepEqual(snapshot(a), snapshot(c));
  });

  test('rejects fractions outside (0, 1)', async () => {
    for (const f of [0, 1, 1.5, -0.1, Number.NaN]) {
      await assert.rejects(mlp(0).fit(train.x, train.y, { validationSplit: f, verbose: 0 }), /validationSplit must be a number in \(0, 1\)/);
    }
  });
});

describe('shuffling', () => {
  const fit = async (seed: number | undefined, shuffle = true) => {
    const m = mlp(7);
    await m.fit(train.x, train.y, { epochs: 2, batchSize: 32, verbose: 0, shuffle, ...(seed === undefined ? {} : { seed }) });
    return snapshot(m);
  };

  test('the same seed gives bit-identical weights; another seed different ones', async () => {
    const a = await fit(11);
    assert.deepEqual(await fit(11), a);
    assert.notDeepEqual(await fit(12), a);
  });

  test('without a seed, lt.manualSeed fixes the shuffle (mlp() seeds before each fit)', async () => {
    assert.deepEqual(await fit(undefined), await fit(undefined));
  });

  test('shuffle: false ignores the seed and differs from a shuffled fit', async () => {
    const a = await fit(11, false);
    assert.deepEqual(await fit(12, false), a);
    assert.notDeepEqual(await fit(11), a);
  });
});

describe('evaluate and predict', () => {
  const x = test_.x;
  const y = test_.y;

  /** Outputs in eval mode, by hand. */
  const evalOutputs = (m: lt.Model) => {
    const was = m.training;
    m.eval();
    const out = lt.noGrad(() => m.call(x));
    m.train(was);
    return out;
  };
  const modes = (m: lt.Sequential) => [m.training, ...m.layers.map((l) => l.training)];

  test('predict runs in eval mode (Dropout inactive) and leaves the mode as it was', () => {
    const m = mlp(0, { dropout: 0.5 });
    const ref = evalOutputs(m);
    const trainOut = lt.noGrad(() => m.call(x));
    assert.notDeepEqual(Array.from(trainOut.dataSync()), Array.from(ref.dataSync()), 'Dropout is active in train mode (or this test cannot tell)');
    m.train();
    const p = m.predict(x);
    assert.deepEqual(p.shape, [100, 10]);
    assert.deepEqual(Array.from(p.dataSync()), Array.from(ref.dataSync()));
    assert.deepEqual(modes(m), [true, true, true, true]);
    m.eval();
    m.predict(x);
    assert.deepEqual(modes(m), [false, false, false, false]);
  });

  test('evaluate runs in eval mode and leaves the mode as it was', async () => {
    const m = mlp(0, { dropout: 0.5 });
    const ref = evalOutputs(m);
    const loss = m.loss!.compute(y, ref).item();
    m.train();
    const logs = await m.evaluate(x, y);
    assertClose([logs.loss, logs.accuracy], [loss, accuracyOf(ref, y)], { rtol: 1e-6, atol: 0 });
    assert.deepEqual(modes(m), [true, true, true, true]);
    m.eval();
    const again = await m.evaluate(x, y, { batchSize: 7 });
    assertClose([again.loss, again.accuracy], [loss, accuracyOf(ref, y)], { rtol: 1e-5, atol: 0 });
    assert.deepEqual(modes(m), [false, false, false, false]);
  });

  test('inside predict, code that saves and restores a layer\'s mode leaves it as it was', () => {
    const m = mlp(0, { dropout: 0.5 });
    const drop = m.layers.find((l) => l.type === 'dropout')!;
    const forward = drop.forward.bind(drop);
    const seen: boolean[] = [];
    drop.forward = (t) => {
      const was = drop.training;
      drop.train(true); // ignored in inference mode
      seen.push(drop.training);
      drop.train(was);
      return forward(t);
    };
    m.train();
    m.predict(x);
    assert.deepEqual(seen, [false]);
    assert.deepEqual(modes(m), [true, true, true, true]);
  });

  test('the mode is restored even when the call throws', () => {
    const m = mlp(0, { dropout: 0.5 });
    m.train();
    assert.throws(() => m.predict(lt.zeros([3, 783])), /expected input \[batch,784\]/);
    assert.deepEqual(modes(m), [true, true, true, true]);
  });

  test('predict in batches equals predict in one call, including a ragged last batch', () => {
    const m = mlp(0);
    const one = Array.from(m.predict(x, { batchSize: 1000 }).dataSync());
    for (const b of [1, 7, 64, 99]) assert.deepEqual(Array.from(m.predict(x, { batchSize: b }).dataSync()), one, `batchSize ${b}`);
  });
});

describe('a subclassed Model', () => {
  class TwoLayer extends lt.Model {
    hidden: lt.layers.Dense;
    out: lt.layers.Dense;
    constructor(lazy: boolean) {
      super();
      this.hidden = new Dense(16, { activation: 'relu', ...(lazy ? {} : { inputShape: [784] }) });
      this.out = new Dense(10, { activation: 'softmax', ...(lazy ? {} : { inputShape: [16] }) });
    }
    forward(x: lt.Tensor): lt.Tensor {
      return this.out.call(this.hidden.call(x));
    }
  }

  for (const lazy of [false, true]) {
    test(`with forward() trains like a Sequential${lazy ? ' (layers built by the first batch)' : ''}`, async () => {
      lt.manualSeed(0);
      const m = new TwoLayer(lazy).compile(compileArgs);
      const h = await m.fit(train.x, train.y, { epochs: 3, batchSize: 32, verbose: 0, seed: 1, validationData: [test_.x, test_.y] });
      assert.deepEqual(m.namedParameters().map(([k]) => k), ['hidden.kernel', 'hidden.bias', 'out.kernel', 'out.bias']);
      assert.equal(m.optimizer!.params.length, 4, 'the optimizer steps every parameter');
      assert.ok(h.history.loss[2] < 0.5 * h.history.loss[0], `loss ${h.history.loss}`);
      assert.ok(h.history.val_accuracy[2] >= 0.9, `val accuracy ${h.history.val_accuracy}`);
    });
  }

  test('a Sequential without an input shape trains too, the same as one with it', async () => {
    const eager = mlp(0);
    const lazy = mlp(0, { lazy: true });
    await eager.fit(train.x, train.y, { epochs: 2, verbose: 0, seed: 1 });
    await lazy.fit(train.x, train.y, { epochs: 2, verbose: 0, seed: 1 });
    assert.deepEqual(snapshot(lazy), snapshot(eager));
  });
});

describe('errors', () => {
  test('fit and evaluate before compile', async () => {
    lt.manualSeed(0);
    const m = new lt.Sequential([new Dense(10, { inputShape: [784] })]);
    await assert.rejects(m.fit(train.x, train.y), (e: Error) => e instanceof lt.LatheError && /fit: call compile\(\{ optimizer, loss \}\) first/.test(e.message));
    await assert.rejects(m.evaluate(train.x, train.y), /evaluate: call compile/);
  });

  test('x and y of different lengths, named with their shapes', async () => {
    await assert.rejects(mlp(0).fit(train.x, train.y.narrow(0, 0, 299), { verbose: 0 }), /fit: x and y must hold the same number of examples on their first axis, got x \[300,784\] and y \[299\]/);
    await assert.rejects(mlp(0).evaluate(train.x.narrow(0, 0, 5), train.y), /evaluate: x and y .* got x \[5,784\] and y \[300\]/);
  });

  test('batchSize and epochs must be valid', async () => {
    for (const b of [0, -1, 1.5, Number.NaN]) {
      await assert.rejects(mlp(0).fit(train.x, train.y, { batchSize: b, verbose: 0 }), new RegExp(`fit: batchSize must be a positive integer, got ${JSON.stringify(b)}`));
    }
    await assert.rejects(mlp(0).evaluate(train.x, train.y, { batchSize: 0 }), /evaluate: batchSize must be a positive integer, got 0/);
    assert.throws(() => mlp(0).predict(train.x, { batchSize: 0 }), /predict: batchSize must be a positive integer, got 0/);
    await assert.rejects(mlp(0).fit(train.x, train.y, { epochs: -1, verbose: 0 }), /fit: epochs must be a non-negative integer, got -1/);
  });

  test('bad validationData: not a pair, or x and y of different lengths', async () => {
    const bad = [[test_.x], [test_.x, test_.y, test_.y], test_.x] as unknown as [lt.Tensor, lt.Tensor][];
    for (const v of bad) await assert.rejects(mlp(0).fit(train.x, train.y, { validationData: v, verbose: 0 }), /fit: validationData must be \[x, y\]/);
    await assert.rejects(
      mlp(0).fit(train.x, train.y, { validationData: [test_.x, test_.y.narrow(0, 0, 10)], verbose: 0 }),
      /fit: validationData: x and y must hold the same number of examples on their first axis, got x \[100,784\] and y \[10\]/,
    );
  });

  test('a failed fit changes no weights', async () => {
    const m = mlp(0);
    const before = snapshot(m);
    await assert.rejects(m.fit(train.x, train.y, { batchSize: 0, verbose: 0 }));
    assert.deepEqual(snapshot(m), before);
  });
});
