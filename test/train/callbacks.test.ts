// Callbacks (issue 4): EarlyStopping, ReduceLROnPlateau, the loggers, ModelCheckpoint and the NaN
// guard, each inside a real fit() on the synthetic digits. Where a callback's decision depends on
// a monitored figure, a Script callback placed before it sets that figure per epoch, so the
// expected epoch of each decision can be worked out by hand.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, test } from 'node:test';
import * as lt from '../../src/index.js';
import { assertClose } from '../helpers.js';
import { digitTensors, snapshot } from './synthetic-mnist.js';

const { Callback, EarlyStopping, ReduceLROnPlateau, JsonLinesLogger, CsvLogger, ModelCheckpoint, NanGuard, NonFiniteError } = lt.callbacks;
const { Dense } = lt.layers;

const train = digitTensors(200, 1);
const val = digitTensors(50, 2);
const tmpRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'lathe-callbacks-'));
after(() => fs.rmSync(tmpRoot, { recursive: true, force: true }));
let tmpCount = 0;
const tmpDir = () => path.join(tmpRoot, String(++tmpCount));

/** 784-8-10 with layers named dense_1 and dense_2 (names are otherwise numbered process-wide). */
function mlp(optimizer: Record<string, unknown> = { type: 'adam', lr: 0.01 }, extra: lt.nn.Layer[] = []): lt.Sequential {
  lt.manualSeed(0);
  return new lt.Sequential([new Dense(8, { activation: 'relu', inputShape: [784], name: 'dense_1' }), ...extra, new Dense(10, { activation: 'softmax', name: 'dense_2' })])
    .compile({ optimizer, loss: 'sparse_categorical_crossentropy', metrics: ['accuracy'] });
}

/** Sets logs[key] to values[epoch] for the callbacks after it. */
class Script extends Callback {
  constructor(readonly key: string, readonly values: number[]) {
    super();
  }
  override onEpochEnd(epoch: number, logs: lt.callbacks.Logs): void {
    logs[this.key] = this.values[epoch];
  }
}

/** Records, after each epoch, the weights, the logs and the learning rate (and after each batch, the weights). */
class Recorder extends Callback {
  weights: Record<string, Float64Array>[] = [];
  logs: lt.callbacks.Logs[] = [];
  lrs: number[] = [];
  batchWeights: Record<string, Float64Array>[] = [];
  constructor(readonly perBatch = false) {
    super();
  }
  override onBatchEnd(): void {
    if (this.perBatch) this.batchWeights.push(snapshot(this.model));
  }
  override onEpochEnd(_epoch: number, logs: lt.callbacks.Logs): void {
    this.weights.push(snapshot(this.model));
    this.logs.push({ ...logs });
    this.lrs.push(this.model.optimizer!.lr);
  }
}

const fitWith = (model: lt.Model, epochs: number, callbacks: lt.callbacks.Callback[], validation = true) =>
  model.fit(train.x, train.y, { epochs, batchSize: 50, verbose: 0, seed: 1, callbacks, ...(validation ? { validationData: [val.x, val.y] as [lt.Tensor, lt.Tensor] } : {}) });

describe('EarlyStopping', () => {
  /** The epochs run and the epoch it stopped at, for scripted val_loss values. */
  async function run(values: number[], options: ConstructorParameters<typeof EarlyStopping>[0], key = 'val_loss') {
    const es = new EarlyStopping({ monitor: key, ...options });
    const h = await fitWith(mlp(), values.length, [new Script(key, values), es]);
    return { epochs: h.epoch, stopped: es.stoppedEpoch };
  }

  test('stops after `patience` epochs without improvement (Keras), and an improvement resets the count', async () => {
    assert.deepEqual(await run([1, 0.9, 0.95, 0.96, 0.97, 0.98], { patience: 2 }), { epochs: [0, 1, 2, 3], stopped: 3 });
    assert.deepEqual(await run([1, 0.9, 0.95, 0.85, 0.9, 0.95, 0.99], { patience: 2 }), { epochs: [0, 1, 2, 3, 4, 5], stopped: 5 });
    assert.deepEqual(await run([1, 0.9, 0.95, 0.85], { patience: 0 }), { epochs: [0, 1, 2], stopped: 2 });
    assert.deepEqual(await run([1, 0.9, 0.8, 0.7], { patience: 1 }), { epochs: [0, 1, 2, 3], stopped: -1 });
  });

  test('minDelta: a smaller improvement does not count', async () => {
    const values = [1, 0.95, 0.85, 0.8, 0.79, 0.78, 0.77];
    assert.deepEqual(await run(values, { patience: 2, minDelta: 0.1 }), { epochs: [0, 1, 2, 3, 4], stopped: 4 });
    assert.deepEqual(await run(values, { patience: 2, minDelta: -0.1 }), { epochs: [0, 1, 2, 3, 4], stopped: 4 }, 'the sign of minDelta does not matter');
    assert.deepEqual(await run(values, { patience: 2 }), { epochs: [0, 1, 2, 3, 4, 5, 6], stopped: -1 });
  });

  test('mode: max for accuracies (auto from the name or explicit), min otherwise', async () => {
    const rising = [0.5, 0.6, 0.7, 0.65, 0.66, 0.8];
    assert.deepEqual(await run(rising, { patience: 2 }, 'val_accuracy'), { epochs: [0, 1, 2, 3, 4], stopped: 4 });
    assert.deepEqual(await run(rising, { patience: 2, mode: 'max' }, 'val_loss'), { epochs: [0, 1, 2, 3, 4], stopped: 4 });
    assert.deepEqual(await run(rising, { patience: 2 }, 'val_loss'), { epochs: [0, 1, 2], stopped: 2 });
    assert.deepEqual(await run(rising, { patience: 2, mode: 'min' }, 'val_accuracy'), { epochs: [0, 1, 2], stopped: 2 });
    assert.throws(() => new EarlyStopping({ mode: 'up' as never }), /EarlyStopping: mode must be "min", "max" or "auto", got "up"/);
    assert.throws(() => new EarlyStopping({ patience: -1 }), /EarlyStopping: patience must be a non-negative integer, got -1/);
  });

  test('restoreBestWeights puts back the best epoch\'s weights exactly, BatchNorm statistics included', async () => {
    for (const extra of [[], [new lt.layers.BatchNormalization({ name: 'bn' })]]) {
      const rec = new Recorder();
      const es = new EarlyStopping({ patience: 2, restoreBestWeights: true });
      const model = mlp({ type: 'adam', lr: 0.01 }, extra);
      await fitWith(model, 6, [new Script('val_loss', [1, 0.5, 0.7, 0.8, 0.9, 1]), rec, es]);
      assert.equal(es.stoppedEpoch, 3);
      assert.equal(rec.weights.length, 4);
      assert.notDeepEqual(rec.weights[3], rec.weights[1], 'training moved the weights after the best epoch');
      assert.deepEqual(snapshot(model), rec.weights[1]);
    }
  });

  test('without restoreBestWeights the last epoch\'s weights stay', async () => {
    const rec = new Recorder();
    const model = mlp();
    await fitWith(model, 6, [new Script('val_loss', [1, 0.5, 0.7, 0.8, 0.9, 1]), rec, new EarlyStopping({ patience: 2 })]);
    assert.deepEqual(snapshot(model), rec.weights[3]);
  });

  test('a monitor missing from the logs is an error naming it and the logs there are', async () => {
    await assert.rejects(
      fitWith(mlp(), 2, [new EarlyStopping()], false),
      (e: Error) => e instanceof lt.LatheError && /EarlyStopping: monitor "val_loss" is not among the logs \(loss, accuracy\); give fit\(\) validationData/.test(e.message),
    );
    await assert.rejects(fitWith(mlp(), 2, [new EarlyStopping({ monitor: 'val_acc' })]), /monitor "val_acc" is not among the logs \(loss, accuracy, val_loss, val_accuracy\)/);
  });
});

describe('ReduceLROnPlateau', () => {
  async function lrs(values: number[], options: ConstructorParameters<typeof ReduceLROnPlateau>[0]) {
    const rec = new Recorder();
    const model = mlp({ type: 'sgd', lr: 0.1 });
    await fitWith(model, values.length, [new Script('val_loss', values), new ReduceLROnPlateau(options), rec]);
    assert.deepEqual(rec.logs.map((l) => l.lr), [0.1, ...rec.lrs.slice(0, -1)], 'logs.lr is the rate the epoch ran with');
    return rec.lrs;
  }

  test('cuts the rate by `factor` after `patience` epochs without improvement', async () => {
    assert.deepEqual(await lrs([1, 1.1, 1.2, 1.3, 1.4, 0.5, 0.6, 0.7], { factor: 0.5, patience: 2 }), [0.1, 0.1, 0.05, 0.05, 0.025, 0.025, 0.025, 0.0125]);
  });

  test('waits `cooldown` epochs after a cut before counting again', async () => {
    const rising = [1, 2, 3, 4, 5, 6, 7, 8];
    assert.deepEqual(await lrs(rising, { factor: 0.5, patience: 1, cooldown: 2 }), [0.1, 0.05, 0.05, 0.025, 0.025, 0.0125, 0.0125, 0.00625]);
    assert.deepEqual(await lrs(rising, { factor: 0.5, patience: 1 }), [0.1, 0.05, 0.025, 0.0125, 0.00625, 0.003125, 0.0015625, 0.00078125]);
  });

  test('never goes below minLr', async () => {
    assertClose(await lrs([1, 2, 3, 4, 5], { factor: 0.1, patience: 1, minLr: 0.002 }), [0.1, 0.01, 0.002, 0.002, 0.002], { rtol: 1e-12, atol: 0 });
  });

  test('the new rate is the one the optimizer steps with', async () => {
    // lr cut to 0 at the end of epoch 1 (minLr 0, factor tiny): epoch 2 then changes nothing.
    const rec = new Recorder();
    const model = mlp({ type: 'sgd', lr: 0.1 });
    await fitWith(model, 3, [new Script('val_loss', [1, 2, 3]), new ReduceLROnPlateau({ factor: 1e-300, patience: 1 }), rec]);
    assert.notDeepEqual(rec.weights[1], rec.weights[0]);
    assert.ok(rec.lrs[1] < 1e-290);
    assertClose(Object.values(rec.weights[2]).flatMap((a) => [...a]), Object.values(rec.weights[1]).flatMap((a) => [...a]), { atol: 1e-30, rtol: 1e-12 });
  });

  test('a missing monitor and a bad factor are errors', async () => {
    await assert.rejects(fitWith(mlp(), 1, [new ReduceLROnPlateau()], false), /ReduceLROnPlateau: monitor "val_loss" is not among the logs/);
    assert.throws(() => new ReduceLROnPlateau({ factor: 1 }), /ReduceLROnPlateau: factor must be in \(0, 1\), got 1/);
  });
});

describe('loggers', () => {
  test('JsonLinesLogger writes one JSON object per epoch with the history\'s figures, and appends', async () => {
    const file = path.join(tmpDir(), 'sub', 'metrics.jsonl');
    const records: Record<string, unknown>[] = [];
    const h = await fitWith(mlp(), 3, [new JsonLinesLogger(file), new JsonLinesLogger((r) => records.push(r))]);
    const lines = fs.readFileSync(file, 'utf8').split('\n');
    assert.equal(lines.pop(), '', 'every line ends with a newline');
    assert.equal(lines.length, 3);
    const parsed = lines.map((l) => JSON.parse(l));
    assert.deepEqual(parsed.map((r) => r.epoch), [1, 2, 3]);
    parsed.forEach((r, i) => {
      assert.deepEqual(Object.keys(r), ['epoch', 'seconds', 'loss', 'accuracy', 'val_loss', 'val_accuracy']);
      assert.ok(typeof r.seconds === 'number' && r.seconds >= 0 && r.seconds < 60, `seconds ${r.seconds}`);
      for (const k of ['loss', 'accuracy', 'val_loss', 'val_accuracy']) assert.equal(r[k], h.history[k][i], `${k} at epoch ${i + 1}`);
    });
    assert.deepEqual(records.map((r) => ({ ...r, seconds: 0 })), parsed.map((r) => ({ ...r, seconds: 0 })));
    await fitWith(mlp(), 2, [new JsonLinesLogger(file)]);
    assert.deepEqual(fs.readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l).epoch), [1, 2, 3, 1, 2]);
  });

  test('loggers and checkpoints see the epoch\'s end after the other callbacks, whatever the list order', async () => {
    const records: Record<string, unknown>[] = [];
    const dir = tmpDir();
    await fitWith(mlp({ type: 'sgd', lr: 0.1 }), 3, [
      new JsonLinesLogger((r) => records.push(r)),
      new ModelCheckpoint(dir),
      new Script('val_loss', [1, 2, 3]),
      new ReduceLROnPlateau({ factor: 0.5, patience: 1 }),
    ]);
    assert.deepEqual(records.map((r) => r.val_loss), [1, 2, 3], 'the scripted figure, set after the logger in the list');
    assert.deepEqual(records.map((r) => r.lr), [0.1, 0.1, 0.05]);
    assert.equal(lt.readCheckpoint(path.join(dir, 'last.safetensors')).state.optimizer.config.lr, 0.025, 'the rate as cut at the end of the last epoch');
  });

  test('CsvLogger writes a header and one row per epoch (Keras: epochs from 0); append keeps the file', async () => {
    const file = path.join(tmpDir(), 'log.csv');
    const h = await fitWith(mlp(), 3, [new CsvLogger(file)]);
    const rows = fs.readFileSync(file, 'utf8').trimEnd().split('\n').map((l) => l.split(','));
    assert.deepEqual(rows[0], ['epoch', 'loss', 'accuracy', 'val_loss', 'val_accuracy']);
    assert.equal(rows.length, 4);
    rows.slice(1).forEach((r, i) => {
      assert.equal(Number(r[0]), i);
      ['loss', 'accuracy', 'val_loss', 'val_accuracy'].forEach((k, j) => assert.equal(Number(r[j + 1]), h.history[k][i], `${k} at epoch ${i}`));
    });
    await fitWith(mlp(), 2, [new CsvLogger(file, { append: true })]);
    const appended = fs.readFileSync(file, 'utf8').trimEnd().split('\n');
    assert.equal(appended.length, 6);
    assert.equal(appended.filter((l) => l.startsWith('epoch,')).length, 1, 'one header');
    await fitWith(mlp(), 1, [new CsvLogger(file)]);
    assert.equal(fs.readFileSync(file, 'utf8').trimEnd().split('\n').length, 2, 'without append the file starts over');
  });
});

describe('ModelCheckpoint', () => {
  /** Lists the checkpoint folder after each epoch, after ModelCheckpoint wrote. */
  class Lister extends Callback {
    override readonly runsLastAtEpochEnd = true; // after ModelCheckpoint, which runs last too
    seen: string[][] = [];
    constructor(readonly dir: string) {
      super();
    }
    override onEpochEnd(): void {
      this.seen.push(fs.readdirSync(this.dir).sort());
    }
  }
  test('writes last.safetensors every epoch and best.safetensors at the best val_loss, leaving no temp files', async () => {
    const dir = tmpDir();
    const rec = new Recorder();
    const lister = new Lister(dir);
    const model = mlp();
    const h = await fitWith(model, 4, [new Script('val_loss', [1, 0.5, 0.7, 0.6]), rec, new ModelCheckpoint(dir), lister]);
    for (const names of lister.seen) assert.deepEqual(names, ['best.safetensors', 'last.safetensors']);
    const last = lt.readCheckpoint(path.join(dir, 'last.safetensors'));
    assert.equal(last.state.epoch, 4);
    assert.equal(last.state.optimizer.iterations, 4 * 4);
    assert.deepEqual(last.state.history.epoch, [0, 1, 2, 3]);
    assert.deepEqual(last.state.history.history.loss, h.history.loss);
    assert.deepEqual(weightsOf(path.join(dir, 'last.safetensors')), rec.weights[3]);
    assert.deepEqual(weightsOf(path.join(dir, 'last.safetensors')), snapshot(model));
    const best = lt.readCheckpoint(path.join(dir, 'best.safetensors'));
    assert.equal(best.state.epoch, 2);
    assert.deepEqual(weightsOf(path.join(dir, 'best.safetensors')), rec.weights[1]);
    assert.equal(Object.keys(best.slots).length, 8, 'Adam\'s m and v for 4 parameters');
  });

  test('saveBest: false writes only last.safetensors; mode max follows val_accuracy', async () => {
    const dir = tmpDir();
    await fitWith(mlp(), 2, [new ModelCheckpoint(dir, { saveBest: false })]);
    assert.deepEqual(fs.readdirSync(dir), ['last.safetensors']);
    const dir2 = tmpDir();
    const rec = new Recorder();
    await fitWith(mlp(), 3, [new Script('val_accuracy', [0.5, 0.9, 0.8]), rec, new ModelCheckpoint(dir2, { monitor: 'val_accuracy' })]);
    assert.equal(lt.readCheckpoint(path.join(dir2, 'best.safetensors')).state.epoch, 2);
    assert.deepEqual(weightsOf(path.join(dir2, 'best.safetensors')), rec.weights[1]);
  });

  test('non-finite logs never replace a checkpoint', async () => {
    for (const bad of [Number.NaN, Infinity]) {
      const dir = tmpDir();
      const rec = new Recorder();
      await fitWith(mlp(), 3, [new Script('val_loss', [1, 0.5, bad]), rec, new ModelCheckpoint(dir)]);
      assert.notDeepEqual(rec.weights[2], rec.weights[1]);
      assert.equal(lt.readCheckpoint(path.join(dir, 'last.safetensors')).state.epoch, 2);
      assert.deepEqual(weightsOf(path.join(dir, 'last.safetensors')), rec.weights[1]);
      assert.deepEqual(weightsOf(path.join(dir, 'best.safetensors')), rec.weights[1]);
      assert.deepEqual(fs.readdirSync(dir).sort(), ['best.safetensors', 'last.safetensors']);
    }
  });
});

describe('NaN guard', () => {
  const advice = [/lower the learning rate/, /clip gradients/, /change the optimizer/];

  for (const type of ['sgd', 'adam']) {
    test(`${type} at learning rate 1e6 stops with a NonFiniteError naming the step and a parameter; the weights stay finite`, async () => {
      const model = mlp({ type, lr: 1e6 });
      const rec = new Recorder(true);
      const guard = new NanGuard();
      const dir = tmpDir();
      await assert.rejects(fitWith(model, 5, [guard, rec, new ModelCheckpoint(dir)]), (e: Error) => {
        assert.ok(e instanceof NonFiniteError, `got ${e}`);
        assert.ok(e instanceof lt.LatheError);
        assert.match(e.message, /^NaN guard: step (\d+) \(epoch (\d+), batch (\d+)\): /);
        assert.match(e.message, /dense_[12]\.(kernel|bias)/);
        assert.match(e.message, /\(now 1000000\)/);
        for (const a of advice) assert.match(e.message, a);
        return true;
      });
      assert.equal(guard.error?.name, 'NonFiniteError');
      const step = Number(/step (\d+)/.exec(guard.error!.message)![1]);
      // the step the guard refused was not applied: the weights are those after the step before it
      assert.equal(rec.batchWeights.length, step - 1);
      assert.equal(model.optimizer!.iterations, step - 1);
      const now = snapshot(model);
      assert.deepEqual(now, rec.batchWeights[step - 2]);
      for (const [k, w] of Object.entries(now)) assert.ok(w.every(Number.isFinite), `${k} is finite`);
      assert.ok(!fs.existsSync(path.join(dir, 'last.safetensors')), 'no epoch completed, so no checkpoint');
    });
  }

  /** Replaces one parameter's gradient with NaN at one step, before the guard looks. */
  class Saboteur extends Callback {
    constructor(readonly at: { epoch: number; batch: number }, readonly param: string) {
      super();
    }
    override onAfterBackward(info: lt.callbacks.StepInfo): void {
      if (info.epoch !== this.at.epoch || info.batch !== this.at.batch) return;
      const p = this.model.parameters().find((t) => t.name === this.param)!;
      p.grad = lt.full([...p.shape], Number.NaN);
    }
  }

  test('a NaN gradient mid-epoch: names the parameter, keeps the last good weights and the last complete epoch\'s checkpoint', async () => {
    const dir = tmpDir();
    const rec = new Recorder(true);
    const model = mlp();
    const guard = new NanGuard();
    await assert.rejects(
      fitWith(model, 3, [new Saboteur({ epoch: 1, batch: 2 }, 'dense_1.kernel'), guard, rec, new ModelCheckpoint(dir)]),
      /^NonFiniteError: NaN guard: step 7 \(epoch 2, batch 3\): the gradient of dense_1\.kernel is not finite\. Training stopped before this update/,
    );
    assert.equal(rec.batchWeights.length, 6);
    assert.deepEqual(snapshot(model), rec.batchWeights[5]);
    assert.equal(rec.weights.length, 1, 'the interrupted epoch is not reported as complete');
    const last = lt.readCheckpoint(path.join(dir, 'last.safetensors'));
    assert.equal(last.state.epoch, 1);
    assert.equal(last.state.optimizer.iterations, 4);
    assert.deepEqual(weightsOf(path.join(dir, 'last.safetensors')), rec.weights[0]);
  });

  test('a NaN in the data: the loss is named, the update skipped', async () => {
    const x = Float32Array.from(train.x.dataSync());
    x[60 * 784 + 5] = Number.NaN; // example 60: the second batch of 50 without shuffling
    const model = mlp();
    const before = snapshot(model);
    const rec = new Recorder(true);
    await assert.rejects(
      model.fit(lt.tensor(x, { shape: [200, 784] }), train.y, { epochs: 1, batchSize: 50, shuffle: false, verbose: 0, callbacks: [new NanGuard(), rec] }),
      /NaN guard: step 2 \(epoch 1, batch 2\): the loss is NaN; the gradient of dense_\d\.(kernel|bias) is not finite/,
    );
    assert.notDeepEqual(rec.batchWeights[0], before);
    assert.deepEqual(snapshot(model), rec.batchWeights[0]);
  });

  test('a healthy run passes the guard untouched', async () => {
    const a = mlp();
    const b = mlp();
    await fitWith(a, 2, [new NanGuard()]);
    await fitWith(b, 2, []);
    assert.deepEqual(snapshot(a), snapshot(b));
  });
});

/** A checkpoint's model weights, as snapshot() gives them. */
function weightsOf(file: string): Record<string, Float64Array> {
  const { model } = lt.readCheckpoint(file);
  return Object.fromEntries(Object.entries(model).map(([k, t]) => [k, Float64Array.from(t.dataSync())]));
}
