// The training loop behind Model.fit: shuffle, batch, forward, loss, backward, optimizer step,
// metrics, validation, and the callbacks' hooks. Shuffling draws from its own seeded generator,
// whose state checkpoints save, so a resumed run repeats an uninterrupted one exactly.
// On a GPU backend (read back only asynchronously: webgpu) steps are queued without waiting and
// their losses and metrics read back once per interval (readBackEvery), when the callbacks' step
// hooks run for each in order: the NaN guard then stops at the read-back, not before the update.
import { noGrad } from '../autograd/engine.js';
import { fail, fmtShape } from '../errors.js';
import { Dataset } from '../data/dataset.js';
import { Generator, defaultGenerator } from '../tensor/random.js';
import { Tensor } from '../tensor/tensor.js';
import { ConfusionMatrix } from '../metrics/index.js';
import { tensor as makeTensor } from '../ops/functions.js';
import type { Callback, Logs, StepInfo } from './callbacks/callback.js';
import { StepLogger } from './callbacks/loggers.js';
import { ProgressLogger } from './callbacks/progress.js';
import { DeferredSteps, readsBackAsync } from './deferred-steps.js';
import { type Model, checkBatchSize, checkPair, gpuBackendOf, rowRange, rows, toGpu } from './model.js';

export interface FitOptions {
  epochs?: number;
  batchSize?: number;
  /** Held-out [x, y] (or a Dataset of [x, y] batches) evaluated after each epoch (Keras' validation_data). */
  validationData?: [Tensor, Tensor] | Dataset<unknown>;
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
  /**
   * On a backend read back asynchronously (webgpu): steps between read-backs of the losses and
   * metrics, at which the callbacks' step hooks run. By default a StepLogger's interval (the
   * smallest, if several), else about 50 an epoch. Ignored on the CPU backends, which read every step.
   */
  readBackEvery?: number;
}

export interface History {
  epoch: number[];
  history: Record<string, number[]>;
}

/** The batches fit() trains on: a Dataset of [x, y] batches, or tensors it shuffles and slices itself. */
type TrainSource = { kind: 'dataset'; ds: Dataset<unknown> } | { kind: 'tensors'; x: Tensor; y: Tensor };

export async function fitLoop(model: Model, xAll: Tensor | Dataset<unknown>, yAll: Tensor | undefined, options: FitOptions): Promise<History> {
  const { epochs = 1, shuffle = true, verbose = 1, initialEpoch = 0 } = options;
  const batchSize = checkBatchSize('fit', options.batchSize ?? 32);
  if (!Number.isInteger(epochs) || epochs < 0) fail('fit', `epochs must be a non-negative integer, got ${JSON.stringify(epochs)}`);
  if (!Number.isInteger(initialEpoch) || initialEpoch < 0) fail('fit', `initialEpoch must be a non-negative integer, got ${initialEpoch}`);
  const every = options.readBackEvery;
  if (every !== undefined && (!Number.isInteger(every) || every < 1)) fail('fit', `readBackEvery must be a positive integer, got ${JSON.stringify(every)}`);
  let source: TrainSource;
  let validation: [Tensor, Tensor] | Dataset<unknown> | undefined = options.validationData;
  if (xAll instanceof Dataset) {
    // A Dataset batches and shuffles itself (its shuffle is seeded per pass, so pass k of a resumed run is pass k).
    if (yAll !== undefined) fail('fit', 'a Dataset holds its own labels: call fit(dataset, options) with [x, y] batches');
    if (options.validationSplit !== undefined) fail('fit', 'validationSplit needs tensors; split a Dataset beforehand (lt.data.trainTestSplit) and pass validationData');
    source = { kind: 'dataset', ds: xAll };
  } else {
    if (!(yAll instanceof Tensor)) fail('fit', 'expected fit(x, y, options) with tensors, or fit(dataset, options)');
    checkPair('fit', xAll, yAll);
    source = { kind: 'tensors', x: xAll, y: yAll };
    if (validation === undefined && options.validationSplit !== undefined) {
      const f = options.validationSplit;
      if (typeof f !== 'number' || !(f > 0 && f < 1)) fail('fit', `validationSplit must be a number in (0, 1), got ${f}`);
      const n = xAll.shape[0];
      const cut = n - Math.max(1, Math.round(n * f));
      if (cut < 1) fail('fit', `validationSplit ${f} leaves no training examples out of ${n}`);
      source = { kind: 'tensors', x: rowRange(xAll, 0, cut), y: rowRange(yAll, 0, cut) };
      validation = [rowRange(xAll, cut, n), rowRange(yAll, cut, n)];
    }
  }
  if (validation !== undefined && !(validation instanceof Dataset)) {
    if (!Array.isArray(validation) || validation.length !== 2) fail('fit', 'validationData must be [x, y] or a Dataset of [x, y] batches');
    checkPair('fit: validationData', validation[0], validation[1]);
  }

  const optimizer = model.optimizer!;
  const loss = model.loss!;
  if (optimizer.params.length === 0) {
    // Built lazily (no input shape): one example in eval mode creates the weights, so that the
    // optimizer, and a checkpoint being restored, see them before the first step.
    const wasTraining = model.training;
    model.eval();
    try {
      const sample = source.kind === 'tensors' ? source.x : (await firstBatch(source.ds))[0];
      noGrad(() => model.call(rowRange(sample, 0, 1)));
    } finally {
      model.train(wasTraining);
    }
    optimizer.attach(model.parameters(), 'fit');
  }
  // A GPU model trains on host data a batch at a time (see gpuBackendOf).
  const gpu = gpuBackendOf(model);
  const rng = new Generator(options.seed ?? defaultGenerator.nextUint32());
  if (options.shuffleState) rng.setState(options.shuffleState);
  const n = source.kind === 'tensors' ? source.x.shape[0] : 0;
  const card = source.kind === 'dataset' ? source.ds.cardinality() : null;
  if (card === Infinity) fail('fit', 'the Dataset never ends (repeat() without a count): take(n) the steps an epoch should have');
  // 0 when a Dataset's length is unknown until a pass ends (after filter()).
  const stepsPerEpoch = source.kind === 'tensors' ? Math.ceil(n / batchSize) : card ?? 0;
  const callbacks = [...(options.callbacks ?? [])];
  if (verbose) callbacks.push(new ProgressLogger(verbose));
  for (const c of callbacks) c.setModel(model);
  model.stopTraining = false;
  const state: NonNullable<Model['fitState']> = (model.fitState = { rng, epoch: initialEpoch, history: { epoch: [], history: {} }, callbacks });
  // Callbacks may move the start (BackupAndRestore resumes from a checkpoint).
  for (const c of callbacks) c.onTrainBegin({ epochs, stepsPerEpoch, initialEpoch });
  const readBackEvery = readBackInterval(options.readBackEvery, callbacks, stepsPerEpoch);
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
  const batches = (epoch: number): Iterable<unknown> | AsyncIterable<unknown> => {
    if (source.kind === 'dataset') return source.ds.iterate(epoch);
    for (let i = 0; i < n; i++) order[i] = i;
    if (shuffle) rng.shuffle(order);
    return tensorBatches(source.x, source.y, order, batchSize);
  };
  // A confusion matrix is not a number; it is read from the metric itself, not the logs.
  const scalarMetrics = model.metrics.filter((m) => !(m instanceof ConfusionMatrix));
  for (let epoch = state.epoch; epoch < epochs && !model.stopTraining; epoch++) {
    model.fitState.epoch = epoch;
    for (const c of callbacks) c.onEpochBegin(epoch);
    model.train();
    for (const m of model.metrics) m.reset();
    let lossSum = 0;
    let seen = 0;
    let refused = false;
    let b = 0;
    // GPU steps, queued until the next read-back; their hooks then run in order with their figures.
    const queue = new DeferredSteps<Omit<StepInfo, 'loss'>>();
    const replay = async (): Promise<void> => {
      for (const s of await queue.readBack()) {
        if (model.stopTraining) break; // as on the CPU, no hooks run after a stop (the interval's later updates did run)
        const info: StepInfo = Object.assign({}, s.info, { loss: s.loss });
        for (const c of callbacks) c.onAfterBackward(info, makeTensor([s.loss], { shape: [], backend: 'js' }));
        if (model.stopTraining) {
          refused = true;
          break;
        }
        lossSum += info.loss * s.examples;
        seen += s.examples;
        for (const m of model.metrics) m.update(s.yTrue!, s.yPred!);
        const batchLogs: Logs = { loss: lossSum / seen };
        for (const m of scalarMetrics) batchLogs[m.name] = m.result() as number;
        for (const c of callbacks) c.onBatchEnd(info, batchLogs);
      }
    };
    for await (const item of batches(epoch)) {
      if (model.stopTraining) break;
      const pair = batchPair(item, b);
      const [xb, yb] = pair.map((t) => toGpu(t, gpu));
      optimizer.zeroGrad();
      const out = model.call(xb);
      const lossT = loss.compute(yb, out);
      lossT.backward();
      if (readsBackAsync(lossT)) {
        // Queue the step without waiting for the GPU; read back once per interval.
        const info = { epoch, batch: b, step: optimizer.iterations, readBackEvery };
        optimizer.step();
        queue.push(info, lossT, xb.shape[0], model.metrics.length > 0 ? [yb, out] : undefined);
        // The inputs fit uploaded itself go back to the pool now rather than when the GC finds them.
        if (xb !== pair[0] && xb.buf !== out.buf) xb.recycle();
        b++;
        if (optimizer.iterations % readBackEvery === 0) await replay();
        if (refused) break;
        continue;
      }
      const info: StepInfo = { epoch, batch: b, step: optimizer.iterations, loss: lossT.item() };
      for (const c of callbacks) c.onAfterBackward(info, lossT);
      if (model.stopTraining) {
        refused = true; // a guard refused this step's gradients: keep the last good weights
        break;
      }
      optimizer.step();
      lossSum += info.loss * xb.shape[0];
      seen += xb.shape[0];
      for (const m of model.metrics) m.update(yb, out);
      const batchLogs: Logs = { loss: lossSum / seen };
      for (const m of scalarMetrics) batchLogs[m.name] = m.result() as number;
      for (const c of callbacks) c.onBatchEnd(info, batchLogs);
      b++;
    }
    if (!refused && queue.length > 0) await replay();
    // An epoch cut short by a refused step did not complete: it is neither logged nor checkpointed.
    if (refused || seen === 0) break;
    logs = { loss: lossSum / seen };
    for (const m of scalarMetrics) logs[m.name] = m.result() as number;
    if (validation && !model.stopTraining) {
      const evalOptions = { batchSize: options.validationBatchSize ?? Math.max(batchSize, 256) };
      const v = validation instanceof Dataset ? await model.evaluate(validation, evalOptions) : await model.evaluate(validation[0], validation[1], evalOptions);
      for (const [k, val] of Object.entries(v)) logs[`val_${k}`] = val;
    }
    history.epoch.push(epoch);
    for (const [k, val] of Object.entries(logs)) (history.history[k] ??= []).push(val);
    model.fitState.epoch = epoch + 1;
    for (const c of epochEndOrder) await c.onEpochEnd(epoch, logs);
    // let I/O (progress, signals, servers) run between epochs; a browser has no setImmediate
    await new Promise((r) => (typeof setImmediate === 'function' ? setImmediate(r) : setTimeout(r, 0)));
  }
  for (const c of callbacks) c.onTrainEnd(logs);
  return history;
}

/** Steps between read-backs on an async backend: the option, else the finest StepLogger's interval, else about 50 an epoch. */
function readBackInterval(option: number | undefined, callbacks: Callback[], stepsPerEpoch: number): number {
  if (option !== undefined) return option;
  const loggers = callbacks.filter((c): c is StepLogger => c instanceof StepLogger).map((c) => c.every);
  return loggers.length > 0 ? Math.min(...loggers) : StepLogger.defaultEvery(stepsPerEpoch);
}

/** The slices of x and y in `order`, batchSize at a time. */
function* tensorBatches(x: Tensor, y: Tensor, order: Int32Array, batchSize: number): IterableIterator<[Tensor, Tensor]> {
  for (let start = 0; start < order.length; start += batchSize) {
    const idx = order.subarray(start, Math.min(order.length, start + batchSize));
    yield [rows(x, idx), rows(y, idx)];
  }
}

/** A Dataset element as an [x, y] pair of batches with one batch size. */
export function batchPair(item: unknown, b: number): [Tensor, Tensor] {
  if (!Array.isArray(item) || item.length !== 2 || !(item[0] instanceof Tensor) || !(item[1] instanceof Tensor)) {
    fail('fit', `batch ${b}: expected [x, y] tensors (a Dataset of pairs, batched), got ${Array.isArray(item) ? `an array of ${item.length}` : typeof item}`);
  }
  const [x, y] = item as [Tensor, Tensor];
  if (x.rank < 1 || y.rank < 1 || x.shape[0] !== y.shape[0]) fail('fit', `batch ${b}: x ${fmtShape(x.shape)} and y ${fmtShape(y.shape)} hold different numbers of examples; batch() the Dataset first`);
  return [x, y];
}

async function firstBatch(ds: Dataset<unknown>): Promise<[Tensor, Tensor]> {
  const it = ds.iterate(0);
  const first = await it.next();
  await it.return(undefined);
  if (first.done) fail('fit', 'the Dataset is empty');
  return batchPair(first.value, 0);
}

