// Model: Keras' training API on a Module. compile() binds an optimizer, a loss and metrics;
// fit(), evaluate() and predict() run them. Subclass it and write forward(), or use Sequential.
import { noGrad } from '../autograd/engine.js';
import { fail, fmtShape } from '../errors.js';
import { getLoss, type Loss } from '../nn/losses.js';
import { Module, inInference } from '../nn/module.js';
import { concat, indexSelect, narrow, tensor as makeTensor } from '../ops/functions.js';
import { getMetric, type Metric } from '../metrics/index.js';
import { getOptimizer, type Optimizer } from '../optim/index.js';
import type { Generator } from '../tensor/random.js';
import { Tensor } from '../tensor/tensor.js';
import { type FitOptions, type History, batchPair, fitLoop } from './fit.js';
import { Dataset } from '../data/dataset.js';
import type { Callback, Logs } from './callbacks/callback.js';
import type { SavedCallbackState } from './checkpoint.js';
import type { Backend } from '../backends/backend.js';
import { ThreadChooser } from '../backends/threads.js';
import { DeferredSteps, readsBackAsync } from './deferred-steps.js';

/** Batches evaluate() queues on a backend read back asynchronously (webgpu) before one read-back. */
const EVALUATE_READBACK_BATCHES = 16;

export interface CompileOptions {
  optimizer: Optimizer | string | Record<string, unknown>;
  loss: Loss | string | Record<string, unknown>;
  metrics?: (Metric | string)[];
}

export abstract class Model extends Module {
  optimizer?: Optimizer;
  loss?: Loss;
  metrics: Metric[] = [];
  /** Set by a callback (EarlyStopping, the NaN guard) to end fit() after the current step. */
  stopTraining = false;
  /**
   * While fit() runs: its shuffle generator, the current epoch, the history and the callbacks,
   * for checkpoints; a resume sets callbackStates for fit() to hand back to the callbacks.
   */
  fitState?: { rng: Generator; epoch: number; history: History; callbacks: Callback[]; callbackStates?: SavedCallbackState[] };
  /** predict()'s choice, per input shape, between running the kernels on all threads and on one. */
  private readonly threadChooser = new ThreadChooser();

  abstract forward(x: Tensor): Tensor;

  call(x: Tensor): Tensor {
    return this.forward(x);
  }

  compile(options: CompileOptions): this {
    if (!options || options.optimizer === undefined || options.loss === undefined) fail('compile', 'needs { optimizer, loss } (metrics optional)');
    this.loss = getLoss(options.loss as never);
    this.metrics = (options.metrics ?? []).map((m) => getMetric(m as never, { loss: this.loss! }));
    this.optimizer = getOptimizer(options.optimizer as never);
    // Layers without an input shape have no weights until their first call: fit() attaches then.
    const params = this.parameters();
    if (params.length > 0) this.optimizer.attach(params);
    return this;
  }

  /**
   * Trains on x and y (tensors whose first axis is the example), or on a Dataset of [x, y]
   * batches: fit(dataset, options). Resolves to the per-epoch history.
   */
  async fit(x: Tensor | Dataset<unknown>, y?: Tensor | FitOptions, options: FitOptions = {}): Promise<History> {
    if (!this.optimizer || !this.loss) fail('fit', 'call compile({ optimizer, loss }) first');
    if (x instanceof Dataset) {
      if (y instanceof Tensor) fail('fit', 'a Dataset holds its own labels: call fit(dataset, options) with [x, y] batches');
      return fitLoop(this, x, undefined, (y as FitOptions | undefined) ?? options);
    }
    return fitLoop(this, x, y as Tensor, options);
  }

  /** The loss and metrics on x and y (or a Dataset of [x, y] batches), in eval mode: { loss, accuracy, ... }. */
  async evaluate(x: Tensor | Dataset<unknown>, y?: Tensor | { batchSize?: number }, options: { batchSize?: number } = {}): Promise<Logs> {
    if (!this.loss) fail('evaluate', 'call compile({ optimizer, loss }) first');
    let batches: Iterable<unknown> | AsyncIterable<unknown>;
    if (x instanceof Dataset) {
      batches = x.iterate(0);
    } else {
      if (!(y instanceof Tensor)) fail('evaluate', 'expected evaluate(x, y, options) with tensors, or evaluate(dataset, options)');
      checkPair('evaluate', x, y);
      const batchSize = checkBatchSize('evaluate', options.batchSize ?? 256);
      batches = (function* () {
        for (let start = 0; start < x.shape[0]; start += batchSize) {
          const end = Math.min(x.shape[0], start + batchSize);
          yield [rowRange(x, start, end), rowRange(y, start, end)];
        }
      })();
    }
    const wasTraining = this.training;
    this.eval();
    try {
      let lossSum = 0;
      let seen = 0;
      let b = 0;
      for (const m of this.metrics) m.reset();
      // On a GPU the batches' losses and outputs are read back a few batches at a time, in order.
      const queue = new DeferredSteps<null>();
      const gpu = gpuBackendOf(this);
      const drain = async () => {
        for (const s of await queue.readBack()) {
          lossSum += s.loss * s.examples;
          for (const m of this.metrics) m.update(s.yTrue!, s.yPred!);
        }
      };
      for await (const item of batches) {
        const [xb, yb] = batchPair(item, b++).map((t) => toGpu(t, gpu));
        // noGrad per batch: a flag held across an await would leak into other code.
        noGrad(() => {
          const out = this.call(xb);
          const lossT = this.loss!.compute(yb, out);
          if (readsBackAsync(lossT)) {
            queue.push(null, lossT, xb.shape[0], this.metrics.length > 0 ? [yb, out] : undefined);
            return;
          }
          lossSum += lossT.item() * xb.shape[0];
          for (const m of this.metrics) m.update(yb, out);
        });
        seen += xb.shape[0];
        if (queue.length >= EVALUATE_READBACK_BATCHES) await drain();
      }
      if (queue.length > 0) await drain();
      if (seen === 0) fail('evaluate', 'no examples');
      const logs: Logs = { loss: lossSum / seen };
      for (const m of this.metrics) {
        const r = m.result();
        if (typeof r === 'number') logs[m.name] = r;
      }
      return logs;
    } finally {
      this.train(wasTraining);
    }
  }

  /**
   * The model's outputs for x, computed in eval mode in batches. They are plain values, as Keras'
   * predict returns arrays: a softmax output does not carry its logits to a loss (evaluate() does).
   */
  predict(x: Tensor, options: { batchSize?: number } = {}): Tensor {
    const batchSize = checkBatchSize('predict', options.batchSize ?? 256);
    if (x.rank < 1 || x.shape[0] < 1) fail('predict', `expected a batch of examples, got shape ${fmtShape(x.shape)}`);
    const gpu = gpuBackendOf(this);
    // A batch on the native backend runs on one thread or all, whichever has been faster for its
    // shape (ThreadChooser, keyed by the batch's size and examples: a string key cost 0.1 us more
    // a call); a GPU's batches do not wait for their results, so are not timed.
    const run = (b: Tensor) => {
      if (gpu || b.backend.name !== 'native') return this.call(toGpu(b, gpu));
      return this.threadChooser.run(b.size * 2 ** 20 + Math.min(b.shape[0], 2 ** 20 - 1), () => this.call(b));
    };
    // Every module in eval mode for the call only (inInference), without gradients.
    return inInference(() =>
      noGrad(() => {
        if (x.shape[0] <= batchSize) return run(x);
        const outs: Tensor[] = [];
        for (let start = 0; start < x.shape[0]; start += batchSize) outs.push(run(rowRange(x, start, Math.min(x.shape[0], start + batchSize))));
        return concat(outs, 0);
      }),
    );
  }
}

export function checkBatchSize(where: string, b: unknown): number {
  if (!Number.isInteger(b) || (b as number) < 1) fail(where, `batchSize must be a positive integer, got ${JSON.stringify(b)}`);
  return b as number;
}

export function checkPair(where: string, x: Tensor, y: Tensor): void {
  if (x.rank < 1 || y.rank < 1 || x.shape[0] !== y.shape[0]) {
    fail(where, `x and y must hold the same number of examples on their first axis, got x ${fmtShape(x.shape)} and y ${fmtShape(y.shape)}`);
  }
  if (x.shape[0] === 0) fail(where, 'no examples (x has 0 rows)');
}

/** Examples start..end-1 (the whole tensor when that is all of it). */
export function rowRange(x: Tensor, start: number, end: number): Tensor {
  return start === 0 && end === x.shape[0] ? x : narrow(x, 0, start, end - start);
}

/** The examples at `idx` (a shuffled batch), as a new tensor on x's backend. */
export function rows(x: Tensor, idx: Int32Array): Tensor {
  return indexSelect(x, 0, makeTensor(idx, { dtype: 'int32', backend: x.backend }));
}

/**
 * The backend a model computes on when it is a GPU (read back asynchronously), else null. Data
 * on the CPU then goes up one batch at a time, an explicit transfer (Tensor.to) by fit, evaluate
 * and predict, as a data loader feeds a GPU: a dataset need not fit in one GPU buffer (lavapipe's
 * limit is 128 MiB; MNIST's training images are 188 MB as 4-byte elements).
 */
export function gpuBackendOf(model: Module): Backend | null {
  const p = model.firstTensor();
  return p && readsBackAsync(p) ? p.backend : null;
}

/** x on `gpu` when there is one and x is on the host; otherwise x itself (CPU backends never move data implicitly). */
export function toGpu(x: Tensor, gpu: Backend | null): Tensor {
  return gpu && x.backend !== gpu && !readsBackAsync(x) ? x.to(gpu) : x;
}
