// The training loop behind Model.fit: shuffle, batch, forward, loss, backward, optimizer step,
// metrics, validation, and the callbacks' hooks. Shuffling draws from its own seeded generator,
// whose state checkpoints save, so a resumed run repeats an uninterrupted one exactly.
import { noGrad } from '../autograd/engine.js';
import { fail } from '../errors.js';
import { Generator, defaultGenerator } from '../tensor/random.js';
import type { Tensor } from '../tensor/tensor.js';
import { ConfusionMatrix } from '../metrics/index.js';
import type { Callback, Logs, StepInfo } from './callbacks/callback.js';
import { ProgressLogger } from './callbacks/progress.js';
import { type Model, checkBatchSize, checkPair, rowRange, rows } from './model.js';

export interface FitOptions {
  epochs?: number;
  batchSize?: number;
  /** Held-out [x, y] evaluated after each epoch (Keras' validation_data). */
  validationData?: [Tensor, Tensor];
  /** The fraction of examples, taken from the end before shuffling, held out for validation. */
  validationSplit?: number;
  validationBatchSize?: number;
  /** Reshuffle the examples every epoch (default true). */
  shuffle?: boolean;
  callbacks?: Callback[];
  /** 0 silent, 1 progress bar (plain lines when not a terminal), 2 one line per epoch. */
  verbose?: 0 | 1 | 2;
  /** The epoch to start at, when resuming (epochs counts from 0 regardless). */
  initialEpoch?: number;
  /** Seeds the shuffle; by default it is drawn from the default generator (lt.manualSeed). */
  seed?: number;
  /** The shuffle generator's saved state, when resuming from a checkpoint. */
  shuffleState?: number[];
}

export interface History {
  epoch: number[];
  history: Record<string, number[]>;
}

export async function fitLoop(model: Model, xAll: Tensor, yAll: Tensor, options: FitOptions): Promise<History> {
  const { epochs = 1, shuffle = true, verbose = 1, initialEpoch = 0 } = options;
  checkPair('fit', xAll, yAll);
  const batchSize = checkBatchSize('fit', options.batchSize ?? 32);
  if (!Number.isInteger(epochs) || epochs < 0) fail('fit', `epochs must be a non-negative integer, got ${JSON.stringify(epochs)}`);
  if (!Number.isInteger(initialEpoch) || initialEpoch < 0) fail('fit', `initialEpoch must be a non-negative integer, got ${initialEpoch}`);
  let [x, y] = [xAll, yAll];
  let validation = options.validationData;
  if (validation !== undefined) {
    if (!Array.isArray(validation) || validation.length !== 2) fail('fit', 'validationData must be [x, y]');
    checkPair('fit: validationData', validation[0], validation[1]);
  } else if (options.validationSplit !== undefined) {
    const f = options.validationSplit;
    if (typeof f !== 'number' || !(f > 0 && f < 1)) fail('fit', `validationSplit must be a number in (0, 1), got ${f}`);
    const n = xAll.shape[0];
    const cut = n - Math.max(1, Math.round(n * f));
    if (cut < 1) fail('fit', `validationSplit ${f} leaves no training examples out of ${n}`);
    [x, y] = [rowRange(xAll, 0, cut), rowRange(yAll, 0, cut)];
    validation = [rowRange(xAll, cut, n), rowRange(yAll, cut, n)];
  }

  const optimizer = model.optimizer!;
  const loss = model.loss!;
  if (optimizer.params.length === 0) {
    // Built lazily (no input shape): one example in eval mode creates the weights, so that the
    // optimizer, and a checkpoint being restored, see them before the first step.
    const wasTraining = model.training;
    model.eval();
    try {
      noGrad(() => model.call(rowRange(x, 0, 1)));
    } finally {
      model.train(wasTraining);
    }
    optimizer.attach(model.parameters(), 'fit');
  }
  const rng = new Generator(options.seed ?? defaultGenerator.nextUint32());
  if (options.shuffleState) rng.setState(options.shuffleState);
  const n = x.shape[0];
  const stepsPerEpoch = Math.ceil(n / batchSize);
  const callbacks = [...(options.callbacks ?? [])];
  if (verbose) callbacks.push(new ProgressLogger(verbose));
  for (const c of callbacks) c.setModel(model);
  model.stopTraining = false;
  const state: NonNullable<Model['fitState']> = (model.fitState = { rng, epoch: initialEpoch, history: { epoch: [], history: {} }, callbacks });
  // Callbacks may move the start (BackupAndRestore resumes from a checkpoint).
  for (const c of callbacks) c.onTrainBegin({ epochs, stepsPerEpoch, initialEpoch });
  // A resume hands each callback back its state after onTrainBegin has reset it: the k-th
  // callback of a type gets the k-th saved state of that type.
  if (state.callbackStates) {
    const saved = state.callbackStates.filter((s) => s !== null);
    for (const c of callbacks) {
      const i = saved.findIndex((s) => s.type === c.constructor.name);
      if (i >= 0) c.loadStateDict(saved.splice(i, 1)[0].state);
    }
  }
  // Checkpoints save (and loggers report) the state the other callbacks leave at an epoch's end.
  const epochEndOrder = [...callbacks.filter((c) => !c.runsLastAtEpochEnd), ...callbacks.filter((c) => c.runsLastAtEpochEnd)];
  const history = state.history;
  let logs: Logs = {};
  const order = new Int32Array(n);
  // A confusion matrix is not a number; it is read from the metric itself, not the logs.
  const scalarMetrics = model.metrics.filter((m) => !(m instanceof ConfusionMatrix));
  for (let epoch = state.epoch; epoch < epochs && !model.stopTraining; epoch++) {
    model.fitState.epoch = epoch;
    for (const c of callbacks) c.onEpochBegin(epoch);
    model.train();
    for (let i = 0; i < n; i++) order[i] = i;
    if (shuffle) shuffleInPlace(order, rng);
    for (const m of model.metrics) m.reset();
    let lossSum = 0;
    let seen = 0;
    let refused = false;
    for (let b = 0; b < stepsPerEpoch && !model.stopTraining; b++) {
      const idx = order.subarray(b * batchSize, Math.min(n, (b + 1) * batchSize));
      const xb = rows(x, idx);
      const yb = rows(y, idx);
      optimizer.zeroGrad();
      const out = model.call(xb);
      const lossT = loss.compute(yb, out);
      lossT.backward();
      const info: StepInfo = { epoch, batch: b, step: optimizer.iterations, loss: lossT.item() };
      for (const c of callbacks) c.onAfterBackward(info, lossT);
      if (model.stopTraining) {
        refused = true; // a guard refused this step's gradients: keep the last good weights
        break;
      }
      optimizer.step();
      lossSum += info.loss * idx.length;
      seen += idx.length;
      for (const m of model.metrics) m.update(yb, out);
      const batchLogs: Logs = { loss: lossSum / seen };
      for (const m of scalarMetrics) batchLogs[m.name] = m.result() as number;
      for (const c of callbacks) c.onBatchEnd(info, batchLogs);
    }
    // An epoch cut short by a refused step did not complete: it is neither logged nor checkpointed.
    if (refused || seen === 0) break;
    logs = { loss: lossSum / seen };
    for (const m of scalarMetrics) logs[m.name] = m.result() as number;
    if (validation && !model.stopTraining) {
      const v = await model.evaluate(validation[0], validation[1], { batchSize: options.validationBatchSize ?? Math.max(batchSize, 256) });
      for (const [k, val] of Object.entries(v)) logs[`val_${k}`] = val;
    }
    history.epoch.push(epoch);
    for (const [k, val] of Object.entries(logs)) (history.history[k] ??= []).push(val);
    model.fitState.epoch = epoch + 1;
    for (const c of epochEndOrder) await c.onEpochEnd(epoch, logs);
    await new Promise((r) => setImmediate(r)); // let I/O (progress, signals, servers) run between epochs
  }
  for (const c of callbacks) c.onTrainEnd(logs);
  return history;
}

/** Fisher-Yates with the fit's own generator. */
function shuffleInPlace(a: Int32Array, g: Generator): void {
  for (let i = a.length - 1; i > 0; i--) {
    const j = g.nextInt(i + 1);
    const t = a[i];
    a[i] = a[j];
    a[j] = t;
  }
}
