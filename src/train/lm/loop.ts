// The language-model training loop, nanoGPT's train.py in shape: each optimizer step takes
// gradientAccumulation micro-batches of random windows from the training split (one seeded
// generator), sums their gradients (each loss divided by the count, so the step sees the mean),
// then steps (the optimizer's schedule and clipping apply per step). Every evalInterval steps
// and at the last, the loss on evalIterations random validation batches (the same windows every
// time: a generator of their own, seed + 1), a sample, and a checkpoint.
//
// The loop knows no model family: the caller gives the loss of (logits, targets) and the
// sampler, so it lives in train while the GPT (which is a train Model) sits above it.
// A checkpoint holds the weights, the optimizer's slots and step count, the window generator's
// and the default generator's states (dropout), so a resumed run repeats an uninterrupted one.
//
// On a GPU (a backend read back asynchronously: webgpu) the steps only queue work: each batch
// goes up explicitly, each step's loss stays on the device until the next log, evaluation or the
// end, and then all of them come back in one read-back, so the loop never waits for the GPU in
// between. A non-finite loss is found there, named by its step. ms_per_iter is then the wall time
// between read-backs per step, which includes the GPU's work.
import { noGrad } from '../../autograd/engine.js';
import type { Backend } from '../../backends/backend.js';
import { fail } from '../../errors.js';
import type { TokenSplit, TokenWindows } from '../../data/text/index.js';
import { Generator } from '../../tensor/random.js';
import type { Tensor } from '../../tensor/tensor.js';
import { readCheckpoint, restoreCheckpoint, saveCheckpoint, saveCheckpointAsync } from '../checkpoint.js';
import { DeferredSteps } from '../deferred-steps.js';
import { type Model, gpuBackendOf, toGpu } from '../model.js';
import type { EvalRecord, StepRecord } from '../runs/run-format.js';
import type { LanguageModelFitSpec } from './config.js';

export interface LanguageModelTraining extends LanguageModelFitSpec {
  seed: number;
  /** The next-token loss of logits [B, T, V] against targets [B, T] (a GPT's nextTokenLoss). */
  loss(logits: Tensor, targets: Tensor): Tensor;
  /** Text the model writes at an evaluation (sampleTokens tokens); none when absent or sampleTokens is 0. */
  sample?(maxTokens: number): string | Promise<string>;
  /** Written at every evaluation and at the end; with resume, read first. */
  checkpointFile?: string;
  resume?: boolean;
  /** Seconds since the run started, for the records' time (default: since this call). */
  time?(): number;
  onStep?(record: StepRecord): void;
  onEval?(record: EvalRecord, sample: string | null): void;
}

export interface LanguageModelResult {
  /** Steps done in all (across resumes). */
  iterations: number;
  /** The step a resume started from (steps done before it), or null. */
  resumedAt: number | null;
  /** Median milliseconds per optimizer step in this process, evaluations excluded; null when none ran. */
  msPerIter: number | null;
  /** The last evaluation's figures. */
  loss: number | null;
  valLoss: number | null;
  evaluations: EvalRecord[];
}

const CHECKPOINT_KIND = 'language-model';

/** Trains `model` (its optimizer attached) on random windows of `windows.train`. */
export async function trainLanguageModel(model: Model, windows: TokenWindows, t: LanguageModelTraining): Promise<LanguageModelResult> {
  const optimizer = model.optimizer ?? fail('trainLanguageModel', 'the model has no optimizer; set model.optimizer (attached to its parameters) first');
  const start0 = performance.now();
  const time = t.time ?? (() => +((performance.now() - start0) / 1000).toFixed(3));
  const rng = new Generator(t.seed);
  let done = 0;
  let resumedAt: number | null = null;
  const evaluations: EvalRecord[] = [];
  if (t.resume) {
    if (!t.checkpointFile) fail('trainLanguageModel', 'resume needs a checkpointFile');
    const ckpt = readCheckpoint(t.checkpointFile);
    if (ckpt.state.extra?.kind !== CHECKPOINT_KIND) fail(t.checkpointFile, `not a language model's checkpoint (kind ${JSON.stringify(ckpt.state.extra?.kind)})`);
    restoreCheckpoint(model, ckpt);
    if (ckpt.state.shuffleState) rng.setState(ckpt.state.shuffleState);
    done = resumedAt = ckpt.state.epoch;
    evaluations.push(...((ckpt.state.extra.evaluations as EvalRecord[] | undefined) ?? []));
  }
  const tokensPerStep = t.batchSize * t.gradientAccumulation * windows.blockSize;
  const gpu = gpuBackendOf(model);
  const queued = new DeferredSteps<number>(); // on a GPU: the steps' losses since the last read-back
  let queuedSince = performance.now();
  const times: number[] = [];
  let sinceEval: number[] = [];
  let sinceLog: number[] = [];
  const addLoss = (loss: number, step: number) => {
    if (!Number.isFinite(loss)) fail('train', `the training loss is ${loss} at step ${step}; lower the learning rate (config.compile.optimizer.lr) or set "globalClipNorm"`);
    sinceEval.push(loss);
    sinceLog.push(loss);
  };
  model.train();
  for (let step = done + 1; step <= t.iterations; step++) {
    const began = performance.now();
    const lr = optimizer.lr;
    optimizer.zeroGrad();
    let lossSum = 0;
    let lossOnDevice: Tensor | null = null;
    for (let micro = 0; micro < t.gradientAccumulation; micro++) {
      const [x, y] = windows.train.sampleBatch(t.batchSize, rng);
      const loss = t.loss(model.forward(toGpu(x, gpu)), toGpu(y, gpu));
      const scaled = t.gradientAccumulation > 1 ? loss.div(t.gradientAccumulation) : loss;
      scaled.backward();
      if (gpu) lossOnDevice = noGrad(() => (lossOnDevice ? lossOnDevice.add(scaled) : scaled.detach()));
      else lossSum += loss.item();
    }
    if (gpu) queued.push(step, lossOnDevice!, 1);
    else addLoss(lossSum / t.gradientAccumulation, step);
    optimizer.step();
    if (!gpu) times.push(performance.now() - began);
    const logs = step % t.logEvery === 0 || step === t.iterations;
    const evaluates = step % t.evalInterval === 0 || step === t.iterations;
    if (gpu && (logs || evaluates)) {
      const read = await queued.readBack(); // waits for the GPU to finish the queued steps
      const perStep = +((performance.now() - queuedSince) / read.length).toFixed(1);
      for (const r of read) (addLoss(r.loss, r.info), times.push(perStep));
    }
    if (logs) {
      t.onStep?.({ kind: 'step', step, epoch: 1 + Math.floor((step * tokensPerStep) / windows.train.tokens.length), loss: round(mean(sinceLog)), time: time() });
      sinceLog = [];
    }
    if (evaluates) {
      const valLoss = windows.val.numStarts > 0 ? await estimateLoss(model, windows.val, t) : null;
      const record: EvalRecord = { kind: 'eval', step, loss: round(mean(sinceEval)), val_loss: valLoss === null ? null : round(valLoss), lr, ms_per_iter: median(times)!, time: time() };
      sinceEval = [];
      evaluations.push(record);
      const sample = t.sample && t.sampleTokens > 0 ? await t.sample(t.sampleTokens) : null;
      if (t.checkpointFile) {
        const state = { epoch: step, shuffleState: rng.getState(), history: { epoch: [], history: {} }, extra: { kind: CHECKPOINT_KIND, evaluations } };
        if (gpu) await saveCheckpointAsync(t.checkpointFile, model, state);
        else saveCheckpoint(t.checkpointFile, model, state);
      }
      t.onEval?.(record, sample);
    }
    // Lets timers and signals run between steps; a step is tens of milliseconds.
    await new Promise((resolve) => setImmediate(resolve));
    if (gpu && (logs || evaluates)) queuedSince = performance.now(); // evaluations are not steps
  }
  const last = evaluations[evaluations.length - 1];
  return { iterations: Math.max(done, t.iterations), resumedAt, msPerIter: median(times), loss: last?.loss ?? null, valLoss: last?.val_loss ?? null, evaluations };
}

/**
 * The mean loss over evalIterations random windows of a split, in eval mode and without
 * gradients. On a GPU the losses add up there and come back in one read-back.
 */
export async function estimateLoss(model: Model, split: TokenSplit, t: Pick<LanguageModelTraining, 'seed' | 'batchSize' | 'evalIterations' | 'loss'>): Promise<number> {
  const rng = new Generator(t.seed + 1);
  const gpu: Backend | null = gpuBackendOf(model);
  const wasTraining = model.training;
  model.eval();
  try {
    let sum = 0;
    let onDevice: Tensor | null = null;
    for (let b = 0; b < t.evalIterations; b++) {
      const [x, y] = split.sampleBatch(t.batchSize, rng);
      const loss = noGrad(() => t.loss(model.forward(toGpu(x, gpu)), toGpu(y, gpu)));
      if (gpu) onDevice = noGrad(() => (onDevice ? onDevice.add(loss) : loss));
      else sum += loss.item();
    }
    if (onDevice) sum = (await onDevice.data())[0];
    return sum / t.evalIterations;
  } finally {
    model.train(wasTraining);
  }
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const round = (x: number) => +x.toFixed(4);

function median(xs: number[]): number | null {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  return +((s[(s.length - 1) >> 1] + s[s.length >> 1]) / 2).toFixed(1);
}
