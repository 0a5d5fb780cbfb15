// Saliency maps (Simonyan et al., 2013): the gradient of the target class's score with respect
// to the input, per example; with `samples`, SmoothGrad (Smilkov et al., 2017) averages it over
// noisy copies of the input, which the paper finds removes much of a raw gradient's speckle;
// with `multiplyByInput`, gradient x input (Shrikumar et al., 2016).
//
// What each shows, measured on the MNIST MLP after one epoch (96% on test; test/explain/mnist.test.ts):
// |gradient| answers "where would ink change the score", which is the background as much as the
// stroke (stroke pixels, 18% of the area, hold 19% of its mass; SmoothGrad the same). The signed
// gradient's positive part, the evidence for the class, does sit on the stroke: 1.7x the stroke's
// area share. Gradient x input and integrated gradients from black are stroke-only by construction.
import { fail } from '../errors.js';
import { fromArray } from '../tensor/create.js';
import { Generator } from '../tensor/random.js';
import type { Tensor } from '../tensor/tensor.js';
import type { Model } from '../train/model.js';
import {
  type ScoreOptions, type ScoreUsed, checkBatchSizeOption, checkInput, forEachRowGradient, pickTargets,
} from './score.js';

export interface SaliencyOptions extends ScoreOptions {
  /** |gradient| (default true, as Captum's Saliency and the paper); false keeps the sign. */
  absolute?: boolean;
  /** SmoothGrad: average over this many noisy copies of each example (0, the default: the plain gradient). */
  samples?: number;
  /** SmoothGrad's noise: its standard deviation as a fraction of each example's value range (max - min); default 0.15, the paper's 10-20%. */
  noise?: number;
  /** Seeds SmoothGrad's noise; default 0, so a call repeats. */
  seed?: number;
  /** Rows per forward and backward pass; default 256. */
  batchSize?: number;
  /** Gradient x input: each feature's gradient times its value (default false); with `absolute`, |gradient x input|. */
  multiplyByInput?: boolean;
}

/** Attributions with what they explain: the class and the score f per example. */
export interface Attribution {
  /** Same shape as x, in the model's float dtype. */
  attributions: Tensor;
  /** The class explained for each example. */
  targets: Int32Array;
  /** f(x) per example: the target class's logit, or its output (see `score`). */
  scores: Float64Array;
  score: ScoreUsed;
}

/** f(x), df/dx and the target for every example of x (x already checked and cast). */
export function gradientsAt(where: string, model: Model, x: Tensor, options: ScoreOptions & { batchSize?: number }): { grads: Float64Array; scores: Float64Array; targets: Int32Array; used: ScoreUsed } {
  const n = x.shape[0];
  const d = x.size / n;
  const batchSize = checkBatchSizeOption(where, options.batchSize);
  const targets = pickTargets(where, model, x, options.target);
  const xs = x.dataSync() as ArrayLike<number>;
  const grads = new Float64Array(x.size);
  const scores = new Float64Array(n);
  const used = forEachRowGradient(where, model, x, n, batchSize, (r, dst) => {
    for (let j = 0; j < d; j++) dst[j] = xs[r * d + j];
  }, (r) => targets[r], options.score ?? 'logits', (r, score, g) => {
    scores[r] = score;
    grads.set(g, r * d);
  });
  return { grads, scores, targets, used };
}

/**
 * The gradient of the target class's score with respect to each example of x, the same shape
 * as x. The score is the class's logit when the model ends in softmax or sigmoid (the logits
 * Lathe's activations remember), else the model's output; `score: 'outputs'` takes the
 * probability instead. The target defaults to the predicted class. Gradients are with respect
 * to x as given, through every layer, so a model with a Rescaling first layer is explained in
 * raw pixels.
 */
export function saliency(model: Model, x: Tensor, options: SaliencyOptions = {}): Tensor {
  return saliencyWithTargets(model, x, options).attributions;
}

/** saliency(), also returning the classes explained and their scores. */
export function saliencyWithTargets(model: Model, x: Tensor, options: SaliencyOptions = {}): Attribution {
  const where = 'saliency';
  const xf = checkInput(where, model, x);
  const absolute = options.absolute ?? true;
  if (typeof absolute !== 'boolean') fail(where, `absolute must be true or false, got ${JSON.stringify(absolute)}`);
  const samples = options.samples ?? 0;
  if (!Number.isInteger(samples) || samples < 0) fail(where, `samples must be a non-negative integer (0: no SmoothGrad), got ${JSON.stringify(samples)}`);
  const noise = options.noise ?? 0.15;
  if (typeof noise !== 'number' || !(noise >= 0) || !Number.isFinite(noise)) fail(where, `noise must be a non-negative number (a fraction of the input's range), got ${JSON.stringify(noise)}`);
  const multiplyByInput = options.multiplyByInput ?? false;
  if (typeof multiplyByInput !== 'boolean') fail(where, `multiplyByInput must be true or false, got ${JSON.stringify(multiplyByInput)}`);
  const clean = gradientsAt(where, model, xf, options);
  let out = clean.grads;
  if (samples > 0) out = smoothGrad(where, model, xf, clean.targets, samples, noise, absolute, options);
  if (multiplyByInput) {
    const xs = xf.dataSync() as ArrayLike<number>;
    out = out.map((g, j) => g * xs[j]);
  }
  if (absolute) out = out.map(Math.abs);
  const data = xf.dtype === 'float64' ? out : Float32Array.from(out);
  return {
    attributions: fromArray(data, xf.shape, { dtype: xf.dtype, backend: xf.backend }, where, true),
    targets: clean.targets, scores: clean.scores, score: clean.used,
  };
}

/** The mean over `samples` noisy copies of each example's gradient (|gradient| when absolute, as Captum's NoiseTunnel does). */
function smoothGrad(where: string, model: Model, x: Tensor, targets: Int32Array, samples: number, noise: number, absolute: boolean, options: SaliencyOptions): Float64Array {
  const n = x.shape[0];
  const d = x.size / n;
  const xs = Float64Array.from(x.dataSync() as ArrayLike<number>);
  const sigma = Array.from({ length: n }, (_, i) => {
    let lo = Infinity;
    let hi = -Infinity;
    for (let j = i * d; j < (i + 1) * d; j++) [lo, hi] = [Math.min(lo, xs[j]), Math.max(hi, xs[j])];
    return noise * (hi - lo);
  });
  const rng = new Generator(options.seed ?? 0);
  const eps = new Float64Array(d);
  const sums = new Float64Array(x.size);
  forEachRowGradient(where, model, x, n * samples, checkBatchSizeOption(where, options.batchSize), (r, dst) => {
    const i = Math.floor(r / samples);
    rng.fillNormal(eps, 0, 1);
    for (let j = 0; j < d; j++) dst[j] = xs[i * d + j] + sigma[i] * eps[j];
  }, (r) => targets[Math.floor(r / samples)], options.score ?? 'logits', (r, _, g) => {
    const o = Math.floor(r / samples) * d;
    for (let j = 0; j < d; j++) sums[o + j] += absolute ? Math.abs(g[j]) : g[j];
  });
  return sums.map((v) => v / samples);
}
