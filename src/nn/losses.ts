// Keras' losses with Keras' argument order (yTrue, yPred) and its numerics: probabilities clipped
// to [1e-7, 1 - 1e-7], and a softmax/sigmoid output's remembered logits used in its place.
import { fail, fmtShape } from '../errors.js';
import { cast, clip, log, sub, where } from '../ops/elementwise.js';
import { logSoftmax, softmaxCrossEntropy } from '../ops/nn.js';
import { isFloat } from '../tensor/dtype.js';
import { Tensor } from '../tensor/tensor.js';
import { ConfigReader, type Json } from './config.js';
import { logitsOf } from './logits.js';

/** Keras' backend.epsilon(): the clip applied to probabilities before a log. */
export const EPSILON = 1e-7;

/** How per-example losses combine: their mean (Keras' sum_over_batch_size), sum, or none. */
export type Reduction = 'mean' | 'sum' | 'none';
const REDUCTIONS: readonly Reduction[] = ['mean', 'sum', 'none'];

export interface LossOptions {
  reduction?: Reduction;
}

export interface CrossentropyOptions extends LossOptions {
  /** yPred holds logits rather than probabilities (default false). */
  fromLogits?: boolean;
}

function checkOptions(op: string, options: CrossentropyOptions): { reduction: Reduction; fromLogits: boolean } {
  const reduction = options.reduction ?? 'mean';
  if (!REDUCTIONS.includes(reduction)) fail(op, `reduction must be "mean", "sum" or "none", got ${JSON.stringify(reduction)}`);
  const fromLogits = options.fromLogits ?? false;
  if (typeof fromLogits !== 'boolean') fail(op, `fromLogits must be true or false, got ${JSON.stringify(fromLogits)}`);
  return { reduction, fromLogits };
}

function what(x: unknown): string {
  return x instanceof Tensor ? `${x.dtype} ${fmtShape(x.shape)}` : typeof x;
}

function checkPred(op: string, yTrue: Tensor, yPred: Tensor): void {
  if (!(yPred instanceof Tensor) || !isFloat(yPred.dtype)) fail(op, `yPred must be a float tensor, got ${what(yPred)}`);
  if (!(yTrue instanceof Tensor)) fail(op, `yTrue must be a Tensor, got ${typeof yTrue}`);
}

/**
 * yTrue in yPred's shape and dtype. Like Keras (squeeze_or_expand_to_same_rank), a trailing axis
 * of 1 on either side is tolerated: labels [N] against predictions [N,1]. Anything else must
 * match exactly: broadcasting [N] against [N,1] would silently compare every pair.
 */
function alignTargets(op: string, yTrue: Tensor, yPred: Tensor): Tensor {
  checkPred(op, yTrue, yPred);
  const [t, p] = [yTrue.shape, yPred.shape];
  const same = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((d, i) => d === b[i]);
  let y = yTrue;
  if (!same(t, p)) {
    const squeezedMatch = (t.length === p.length + 1 && t[t.length - 1] === 1 && same(t.slice(0, -1), p))
      || (p.length === t.length + 1 && p[p.length - 1] === 1 && same(p.slice(0, -1), t));
    if (!squeezedMatch) {
      const hint = op === 'categoricalCrossentropy' && same(t, p.slice(0, -1)) ? ' (for integer labels use sparseCategoricalCrossentropy)' : '';
      fail(op, `yTrue ${fmtShape(t)} and yPred ${fmtShape(p)} must have the same shape${hint}`);
    }
    y = yTrue.reshape(p);
  }
  return cast(y, yPred.dtype);
}

/** Per-example values from elementwise ones: the mean over the last axis (Keras), each element an example for 1-D inputs. */
function perExample(x: Tensor): Tensor {
  return x.rank >= 2 ? x.mean(-1) : x;
}

function reduce(op: string, perEx: Tensor, reduction: Reduction): Tensor {
  if (reduction === 'none') return perEx;
  if (reduction === 'sum') return perEx.sum();
  if (perEx.size === 0) fail(op, 'cannot average over an empty batch');
  return perEx.mean();
}

/** mean((yPred - yTrue)^2) over the last axis per example. */
export function meanSquaredError(yTrue: Tensor, yPred: Tensor, options: LossOptions = {}): Tensor {
  const op = 'meanSquaredError';
  const { reduction } = checkOptions(op, options);
  return reduce(op, perExample(yPred.sub(alignTargets(op, yTrue, yPred)).square()), reduction);
}

/** mean(|yPred - yTrue|) over the last axis per example. */
export function meanAbsoluteError(yTrue: Tensor, yPred: Tensor, options: LossOptions = {}): Tensor {
  const op = 'meanAbsoluteError';
  const { reduction } = checkOptions(op, options);
  return reduce(op, perExample(yPred.sub(alignTargets(op, yTrue, yPred)).abs()), reduction);
}

/**
 * -(z log p + (1 - z) log(1 - p)), averaged over the last axis per example. From logits x it is
 * max(x,0) - x z + log1p(exp(-|x|)) (TF's sigmoid_cross_entropy_with_logits), finite for any x.
 */
export function binaryCrossentropy(yTrue: Tensor, yPred: Tensor, options: CrossentropyOptions = {}): Tensor {
  const op = 'binaryCrossentropy';
  const { reduction, fromLogits } = checkOptions(op, options);
  const z = alignTargets(op, yTrue, yPred);
  const x = fromLogits ? yPred : logitsOf(yPred, 'sigmoid');
  let elementwise: Tensor;
  if (x) {
    // where() rather than relu/abs: their derivatives at x = 0 are 0 by convention, which would
    // give -z instead of sigmoid(0) - z there; one branch per side keeps the gradient exact.
    const pos = x.ge(0);
    elementwise = where(pos, x, 0).sub(x.mul(z)).add(where(pos, x.neg(), x).exp().log1p());
  } else {
    const p = clip(yPred, EPSILON, 1 - EPSILON);
    elementwise = z.mul(log(p)).add(z.neg().add(1).mul(p.neg().add(1).log())).neg();
  }
  return reduce(op, perExample(elementwise), reduction);
}

/**
 * -sum(y log p) over the last axis, y one-hot (or any distribution). From probabilities, as in
 * Keras, p is first renormalised to sum to 1 over the last axis, then clipped.
 */
export function categoricalCrossentropy(yTrue: Tensor, yPred: Tensor, options: CrossentropyOptions = {}): Tensor {
  const op = 'categoricalCrossentropy';
  const { reduction, fromLogits } = checkOptions(op, options);
  const y = alignTargets(op, yTrue, yPred);
  if (yPred.rank === 0) fail(op, 'yPred must have a class axis, got a scalar');
  const x = fromLogits ? yPred : logitsOf(yPred, 'softmax');
  const logP = x ? logSoftmax(x, -1) : clip(yPred.div(yPred.sum(-1, true)), EPSILON, 1 - EPSILON).log();
  // 0 - s rather than -s: a perfect prediction scores 0, not -0
  return reduce(op, sub(0, y.mul(logP).sum(-1)), reduction);
}

/** yTrue as int32 class indices, one per row of yPred; float labels must hold integers in [0, classes). */
function sparseLabels(op: string, yTrue: Tensor, yPred: Tensor): Tensor {
  const batch = yPred.shape.slice(0, -1);
  const t = yTrue.shape;
  const sameBatch = (s: readonly number[]) => s.length === batch.length && s.every((d, i) => d === batch[i]);
  if (!sameBatch(t) && !(t[t.length - 1] === 1 && sameBatch(t.slice(0, -1)))) {
    fail(op, `yTrue ${fmtShape(t)} must hold one class index per row of yPred ${fmtShape(yPred.shape)}: shape ${fmtShape(batch)} or ${fmtShape([...batch, 1])}`);
  }
  if (yTrue.dtype === 'int32') return yTrue;
  if (yTrue.dtype === 'bool') fail(op, 'yTrue must hold class indices, got a bool tensor');
  if (isFloat(yTrue.dtype)) {
    const classes = yPred.shape[yPred.rank - 1];
    const data = yTrue.dataSync();
    for (let i = 0; i < data.length; i++) {
      // checked here, before the cast to int32 could wrap a huge value into range
      if (!Number.isInteger(data[i]) || data[i] < 0 || data[i] >= classes) {
        fail(op, `yTrue[${i}] = ${data[i]} is not a class index in [0, ${classes})`);
      }
    }
  }
  return cast(yTrue, 'int32');
}

/**
 * Cross-entropy against integer class labels: yTrue [...batch] or [...batch, 1], yPred
 * [...batch, C]. A remembered softmax (or fromLogits) goes straight to the fused kernel; from
 * probabilities, Keras' TF backend is followed exactly: log(clip(p)) taken as the logits.
 */
export function sparseCategoricalCrossentropy(yTrue: Tensor, yPred: Tensor, options: CrossentropyOptions = {}): Tensor {
  const op = 'sparseCategoricalCrossentropy';
  const { reduction, fromLogits } = checkOptions(op, options);
  checkPred(op, yTrue, yPred);
  if (yPred.rank === 0) fail(op, 'yPred must have a class axis, got a scalar');
  const labels = sparseLabels(op, yTrue, yPred);
  const logits = (fromLogits ? yPred : logitsOf(yPred, 'softmax')) ?? clip(yPred, EPSILON, 1 - EPSILON).log();
  // The training hot path, logits [N,C] with int32 labels [N], reaches the kernel with no extra op.
  if (logits.rank === 2 && labels.rank === 1) return softmaxCrossEntropy(logits, labels, { reduction });
  const classes = logits.shape[logits.rank - 1];
  const rows = logits.size / classes;
  const losses = softmaxCrossEntropy(logits.reshape([rows, classes]), labels.reshape([rows]), { reduction });
  return reduction === 'none' ? losses.reshape(yPred.shape.slice(0, -1)) : losses;
}

// ---- the registry ---------------------------------------------------------------------------------------
export type LossFn = (yTrue: Tensor, yPred: Tensor) => Tensor;

/**
 * A loss bound to its options, as `compile` takes it. `name` is the function's name
 * ('sparseCategoricalCrossentropy'), also the `type` of its config, which getLoss reads back.
 */
export interface Loss {
  readonly name: string;
  readonly reduction: Reduction;
  /** Present on the cross-entropies. */
  readonly fromLogits?: boolean;
  compute(yTrue: Tensor, yPred: Tensor): Tensor;
  getConfig(): Record<string, Json>;
}

type Builtin = (yTrue: Tensor, yPred: Tensor, options?: CrossentropyOptions) => Tensor;

const BUILTINS: Record<string, { fn: Builtin; crossentropy: boolean; aliases: string[] }> = {
  meanSquaredError: { fn: meanSquaredError, crossentropy: false, aliases: ['mse'] },
  meanAbsoluteError: { fn: meanAbsoluteError, crossentropy: false, aliases: ['mae'] },
  binaryCrossentropy: { fn: binaryCrossentropy, crossentropy: true, aliases: ['bce'] },
  categoricalCrossentropy: { fn: categoricalCrossentropy, crossentropy: true, aliases: [] },
  sparseCategoricalCrossentropy: { fn: sparseCategoricalCrossentropy, crossentropy: true, aliases: [] },
};

/** snake_case, camelCase and Keras' class names (MeanSquaredError) all fold to one key. */
const fold = (name: string) => name.replace(/_/g, '').toLowerCase();

const BY_KEY = new Map<string, string>();
for (const [name, { aliases }] of Object.entries(BUILTINS)) {
  for (const n of [name, ...aliases]) BY_KEY.set(fold(n), name);
}

const snake = (name: string) => name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
export const LOSS_NAMES: readonly string[] = Object.entries(BUILTINS).flatMap(([name, b]) => [snake(name), ...b.aliases]);

/** The camelCase name of a built-in loss under any accepted spelling, or undefined. */
export function lossName(name: unknown): string | undefined {
  return typeof name === 'string' ? BY_KEY.get(fold(name)) : undefined;
}

function builtinName(where: string, name: unknown): string {
  const found = lossName(name);
  if (!found) fail(where, `unknown loss ${JSON.stringify(name)} (expected one of: ${LOSS_NAMES.join(', ')}, or their camelCase)`);
  return found;
}

function bind(name: string, options: CrossentropyOptions): Loss {
  const { fn, crossentropy } = BUILTINS[name];
  if (!crossentropy && options.fromLogits !== undefined) fail(`loss ${name}`, 'fromLogits applies only to the cross-entropies');
  const { reduction, fromLogits } = checkOptions(name, options);
  const bound: CrossentropyOptions & Record<string, Json> = crossentropy ? { reduction, fromLogits } : { reduction };
  return {
    name,
    reduction,
    ...(crossentropy ? { fromLogits } : {}),
    compute: (yTrue, yPred) => fn(yTrue, yPred, bound),
    getConfig: () => ({ type: name, ...bound }),
  };
}

const isLoss = (x: unknown): x is Loss => typeof x === 'object' && x !== null && typeof (x as Loss).compute === 'function';

/**
 * A Loss from a name ('sparse_categorical_crossentropy', 'sparseCategoricalCrossentropy', 'mse'),
 * a config ({type: 'binaryCrossentropy', fromLogits: true}), a Loss (returned as is), or a
 * function (yTrue, yPred) => Tensor, whose non-scalar results are averaged as Keras does.
 */
export function getLoss(loss: string | Record<string, unknown> | LossFn | Loss, options: CrossentropyOptions = {}): Loss {
  if (typeof loss === 'string') return bind(builtinName('loss', loss), options);
  if (typeof loss === 'function') {
    const name = loss.name || 'customLoss';
    return {
      name,
      reduction: 'mean',
      compute: (yTrue, yPred) => {
        const out = loss(yTrue, yPred);
        if (!(out instanceof Tensor)) fail(`loss ${name}`, `must return a Tensor, got ${typeof out}`);
        return out.rank === 0 ? out : out.mean();
      },
      getConfig: () => ({ type: name }),
    };
  }
  if (isLoss(loss)) return loss;
  const r = new ConfigReader('loss', loss);
  const name = builtinName('loss.type', r.string('type'));
  r.rejectUnknown(BUILTINS[name].crossentropy ? ['type', 'reduction', 'fromLogits'] : ['type', 'reduction']);
  return bind(name, {
    reduction: r.oneOf('reduction', REDUCTIONS, options.reduction ?? 'mean'),
    ...(BUILTINS[name].crossentropy ? { fromLogits: r.bool('fromLogits', options.fromLogits ?? false) } : {}),
  });
}
