// What every attribution method shares: which output is explained (the score f), which class,
// and one batched pass that gives each row's target score and its gradient with respect to the
// row. The model runs in eval mode, so Dropout is off and BatchNorm uses its running statistics.
import { valueAndGrad } from '../autograd/functional.js';
import { fail, fmtShape } from '../errors.js';
import { logitsOf } from '../nn/logits.js';
import { argmax, mul, sum } from '../ops/functions.js';
import { fromArray } from '../tensor/create.js';
import { isFloat } from '../tensor/dtype.js';
import type { Tensor } from '../tensor/tensor.js';
import type { Model } from '../train/model.js';

/** A class index for every example, or one index for all of them. */
export type Target = number | readonly number[] | Int32Array;

/**
 * Which output f is explained. 'logits' (default): the pre-activation score when the model ends
 * in softmax or sigmoid (Captum's and tf-explain's usual choice: a confident softmax saturates,
 * and its gradient vanishes), else the model's output itself. 'outputs': always the model's
 * output, probabilities included.
 */
export type ScoreKind = 'logits' | 'outputs';

export interface ScoreOptions {
  /** The class to explain; default the predicted class (argmax of the output) per example. */
  target?: Target;
  score?: ScoreKind;
}

/** What f turned out to be for this model: a logit (before softmax or sigmoid) or the output. */
export type ScoreUsed = 'logit' | 'output';

/** The model's float dtype: its first parameter's (float32 for models Lathe trains). */
export function modelDtype(model: Model): 'float32' | 'float64' {
  const p = model.parameters()[0];
  return p && p.dtype === 'float64' ? 'float64' : 'float32';
}

/** The per-example input shape, when the model knows it. */
export function modelInputShape(model: Model): readonly number[] | undefined {
  return (model as { inputShape?: readonly number[] }).inputShape;
}

/**
 * Checks x is a batch for the model and returns it as a float tensor of the model's dtype: a
 * gradient needs a float input, and uint8 pixels go through a Rescaling layer unchanged.
 */
export function checkInput(where: string, model: Model, x: Tensor): Tensor {
  if (!model || typeof (model as { call?: unknown }).call !== 'function') fail(where, 'expected a Lathe Model (a Sequential, a loaded saved model or an imported ONNX model)');
  if (!x || typeof (x as { shape?: unknown }).shape !== 'object' || typeof (x as { dataSync?: unknown }).dataSync !== 'function') fail(where, 'x must be a Tensor holding a batch of examples');
  const shape = modelInputShape(model);
  if (shape && (x.rank !== shape.length + 1 || shape.some((d, i) => d !== x.shape[i + 1]))) {
    fail(where, `x must be a batch [n,${shape.join(',')}] for this model's input [${shape.join(',')}], got ${fmtShape(x.shape)}`);
  }
  if (x.rank < 1 || x.shape[0] < 1) fail(where, `x must hold at least one example, got ${fmtShape(x.shape)}`);
  if (x.dtype === 'bool') fail(where, 'x must be numeric, got a bool tensor');
  const dtype = modelDtype(model);
  return x.dtype === dtype ? x : x.cast(isFloat(x.dtype) || dtype === 'float64' ? dtype : 'float32');
}

/** The [rows, classes] scores f is taken from, and what they are. */
export function scoresOf(where: string, out: Tensor, kind: ScoreKind = 'logits'): { scores: Tensor; used: ScoreUsed } {
  let scores = out;
  let used: ScoreUsed = 'output';
  if (kind === 'logits') {
    const logits = logitsOf(out, 'softmax') ?? logitsOf(out, 'sigmoid');
    if (logits) [scores, used] = [logits, 'logit'];
  } else if (kind !== 'outputs') {
    fail(where, `score must be "logits" or "outputs", got ${JSON.stringify(kind)}`);
  }
  if (scores.rank === 1) scores = scores.reshape([scores.shape[0], 1]);
  if (scores.rank !== 2) fail(where, `the model's output ${fmtShape(out.shape)} is not one score per class ([n, classes]); attributions need a per-class score`);
  return { scores, used };
}

/** One class index per example: the given target(s), checked, or `predicted()`. */
export function resolveTargets(where: string, target: Target | undefined, n: number, classes: number, predicted: () => Int32Array): Int32Array {
  if (target === undefined) return predicted();
  if (typeof target !== 'number' && !Array.isArray(target) && !(target instanceof Int32Array)) fail(where, `target must be a class index or one per example, got ${JSON.stringify(target)}`);
  const list = typeof target === 'number' ? Array<number>(n).fill(target) : Array.from(target as ArrayLike<number>);
  if (list.length !== n) fail(where, `target lists ${list.length} classes for ${n} examples`);
  list.forEach((t, i) => {
    if (!Number.isInteger(t) || t < 0 || t >= classes) {
      fail(where, `target ${JSON.stringify(t)}${n > 1 && typeof target !== 'number' ? ` (example ${i})` : ''} is out of range: the model has ${classes} output${classes === 1 ? '' : 's'} (classes 0..${classes - 1})`);
    }
  });
  return Int32Array.from(list);
}

export interface TargetGradients {
  /** f for each row, float64. */
  scores: Float64Array;
  /** df/dx for each row, row-major like the chunk, float64. */
  grads: Float64Array;
  used: ScoreUsed;
}

/**
 * Each row's target score and its gradient with respect to the row, in one forward and one
 * backward: rows are independent in eval mode, so the gradient of the sum of the rows' scores
 * is every row's own gradient. `targetsFor` picks the rows' classes from the scores (the
 * predicted ones) when they are not known beforehand.
 */
export function targetGradients(where: string, model: Model, rows: Tensor, targetsFor: (scores: Tensor, classes: number) => Int32Array, kind: ScoreKind = 'logits'): TargetGradients & { targets: Int32Array } {
  let scores = new Float64Array(0);
  let used: ScoreUsed = 'output';
  let targets: Int32Array = new Int32Array(0);
  const wasTraining = model.training;
  model.eval();
  try {
    const [, [g]] = valueAndGrad((xb: Tensor) => {
      const s = scoresOf(where, model.call(xb), kind);
      used = s.used;
      const [n, classes] = s.scores.shape;
      targets = targetsFor(s.scores, classes);
      const mask = new (s.scores.dtype === 'float64' ? Float64Array : Float32Array)(n * classes);
      targets.forEach((t, i) => (mask[i * classes + t] = 1));
      const picked = sum(mul(s.scores, fromArray(mask, [n, classes], { dtype: s.scores.dtype, backend: s.scores.backend }, where, true)), 1);
      scores = Float64Array.from(picked.detach().dataSync() as ArrayLike<number>);
      return sum(picked);
    })(rows);
    return { scores, grads: Float64Array.from(g.dataSync() as ArrayLike<number>), used, targets };
  } finally {
    model.train(wasTraining);
  }
}

/** The predicted class of each row (argmax of its scores, the same argmax as of the probabilities). */
export function predictedClasses(scores: Tensor): Int32Array {
  return Int32Array.from(argmax(scores.detach(), 1).dataSync() as ArrayLike<number>);
}

/** Rows per forward and backward pass when the caller does not say; about 0.8 MB of input for MNIST. */
export const DEFAULT_BATCH_SIZE = 256;

export function checkBatchSizeOption(where: string, b: unknown): number {
  if (b === undefined) return DEFAULT_BATCH_SIZE;
  if (!Number.isInteger(b) || (b as number) < 1) fail(where, `batchSize must be a positive integer, got ${JSON.stringify(b)}`);
  return b as number;
}

/** The batch size an imported ONNX graph fixes (CNTK's MNIST takes exactly 1), if it fixes one. */
function fixedBatch(model: Model): number | undefined {
  const first = (model as { inputs?: { shape: (number | null)[] | null }[] }).inputs?.[0]?.shape?.[0];
  return typeof first === 'number' && first > 0 ? first : undefined;
}

/** The class per example: the given target(s), checked, or the predicted class at x. */
export function pickTargets(where: string, model: Model, x: Tensor, target: Target | undefined): Int32Array {
  const { scores } = scoresOf(where, model.predict(x), 'outputs');
  return resolveTargets(where, target, x.shape[0], scores.shape[1], () => predictedClasses(scores));
}

/**
 * Gradients of `total` synthetic rows (noisy copies, points on a path) that never exist all at
 * once: rows are built on the host `batchSize` at a time by `fill(r, dst)`, scored for class
 * `targetOf(r)`, and handed to `visit(r, score, grad)` with grad a view of that row's gradient.
 */
export function forEachRowGradient(
  where: string, model: Model, like: Tensor, total: number, batchSize: number,
  fill: (r: number, dst: Float64Array) => void, targetOf: (r: number) => number, kind: ScoreKind,
  visit: (r: number, score: number, grad: Float64Array) => void,
): ScoreUsed {
  const rowShape = like.shape.slice(1);
  const d = rowShape.reduce((a, b) => a * b, 1);
  const row = new Float64Array(d);
  // A graph with a fixed batch gets exactly that many rows a pass, the last pass padded with
  // copies of its last row, whose gradients (independent of the others') are dropped.
  const fixed = fixedBatch(model);
  const size = fixed ?? batchSize;
  let used: ScoreUsed = 'output';
  for (let start = 0; start < total; start += size) {
    const count = Math.min(size, total - start);
    const rows = fixed ?? count;
    const data = new (like.dtype === 'float64' ? Float64Array : Float32Array)(rows * d);
    for (let j = 0; j < rows; j++) {
      if (j < count) fill(start + j, row);
      data.set(row, j * d);
    }
    const chunk = fromArray(data, [rows, ...rowShape], { dtype: like.dtype, backend: like.backend }, where, true);
    const res = targetGradients(where, model, chunk, (_, classes) => Int32Array.from({ length: rows }, (_, j) => {
      const t = targetOf(start + Math.min(j, count - 1));
      if (t >= classes) fail(where, `target ${t} is out of range: the model has ${classes} outputs (classes 0..${classes - 1})`);
      return t;
    }), kind);
    used = res.used;
    for (let j = 0; j < count; j++) visit(start + j, res.scores[j], res.grads.subarray(j * d, (j + 1) * d));
  }
  return used;
}
