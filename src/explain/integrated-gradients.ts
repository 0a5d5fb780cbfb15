// Integrated gradients (Sundararajan et al., 2017): attribution_j = (x_j - b_j) times the mean
// of df/dx_j along the straight path from the baseline b to x. Completeness, that the
// attributions sum to f(x) - f(b), holds for the exact integral; with a quadrature it holds up
// to the quadrature's error, which `delta` reports so a caller can raise `steps`.
import { fail, fmtShape } from '../errors.js';
import { fromArray } from '../tensor/create.js';
import { Tensor } from '../tensor/tensor.js';
import type { Model } from '../train/model.js';
import { type Attribution } from './saliency.js';
import {
  type ScoreOptions, checkBatchSizeOption, checkInput, forEachRowGradient, pickTargets,
} from './score.js';

export interface IntegratedGradientsOptions extends ScoreOptions {
  /** Where the path starts: a number (every feature), one example ([...shape]) or one per example ([n, ...shape]); default 0. */
  baseline?: number | Tensor;
  /** Trapezoid intervals on the path (steps + 1 gradient evaluations per example); default 64. */
  steps?: number;
  /** Path points per forward and backward pass; default 256. */
  batchSize?: number;
}

export interface IntegratedGradientsResult extends Attribution {
  /** f(baseline) per example. */
  baselineScores: Float64Array;
  /** The completeness gap per example: sum(attributions) - (f(x) - f(baseline)). */
  delta: Float64Array;
}

/**
 * Integrated gradients of the target class's score, the same shape as x. f is the score
 * saliency() uses: the target's logit when the model ends in softmax or sigmoid (the default,
 * so f(x) - f(baseline) is not squeezed into [-1, 1] by a saturated softmax), else the model's
 * output; `score: 'outputs'` explains the probability. The integral is the trapezoid rule over
 * `steps` equal intervals (exact where f is linear, and piecewise-linear ReLU nets have few kinks
 * per path); gradients come in the model's dtype and are summed in float64.
 */
export function integratedGradients(model: Model, x: Tensor, options: IntegratedGradientsOptions = {}): Tensor {
  return integratedGradientsWithDelta(model, x, options).attributions;
}

/** integratedGradients(), with the classes, f(x), f(baseline) and the completeness delta per example (Captum's return_convergence_delta). */
export function integratedGradientsWithDelta(model: Model, x: Tensor, options: IntegratedGradientsOptions = {}): IntegratedGradientsResult {
  const where = 'integratedGradients';
  const xf = checkInput(where, model, x);
  const steps = options.steps ?? 64;
  if (!Number.isInteger(steps) || steps < 1) fail(where, `steps must be a positive integer, got ${JSON.stringify(steps)}`);
  const batchSize = checkBatchSizeOption(where, options.batchSize);
  const n = xf.shape[0];
  const d = xf.size / n;
  const xs = Float64Array.from(xf.dataSync() as ArrayLike<number>);
  const bs = baselineValues(where, options.baseline ?? 0, xf);
  const targets = pickTargets(where, model, xf, options.target);

  // Row r is point k = r % (steps + 1) of example i = r / (steps + 1), at alpha = k / steps.
  const points = steps + 1;
  const meanGrad = new Float64Array(xf.size);
  const scores = new Float64Array(n);
  const baselineScores = new Float64Array(n);
  const used = forEachRowGradient(where, model, xf, n * points, batchSize, (r, dst) => {
    const i = Math.floor(r / points);
    const alpha = (r % points) / steps;
    for (let j = 0; j < d; j++) dst[j] = bs[i * d + j] + alpha * (xs[i * d + j] - bs[i * d + j]);
  }, (r) => targets[Math.floor(r / points)], options.score ?? 'logits', (r, score, g) => {
    const i = Math.floor(r / points);
    const k = r % points;
    if (k === 0) baselineScores[i] = score;
    if (k === steps) scores[i] = score;
    const w = (k === 0 || k === steps ? 0.5 : 1) / steps; // the trapezoid's weights
    for (let j = 0; j < d; j++) meanGrad[i * d + j] += w * g[j];
  });

  const attr = new Float64Array(xf.size);
  const delta = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let total = 0;
    for (let j = i * d; j < (i + 1) * d; j++) total += attr[j] = (xs[j] - bs[j]) * meanGrad[j];
    delta[i] = total - (scores[i] - baselineScores[i]);
  }
  return {
    attributions: fromArray(xf.dtype === 'float64' ? attr : Float32Array.from(attr), xf.shape, { dtype: xf.dtype, backend: xf.backend }, where, true),
    targets, scores, baselineScores, delta, score: used,
  };
}

/** The baseline for every example, float64, broadcast to x's shape. */
function baselineValues(where: string, baseline: number | Tensor, x: Tensor): Float64Array {
  if (typeof baseline === 'number') {
    if (!Number.isFinite(baseline)) fail(where, `baseline must be a finite number or a tensor, got ${baseline}`);
    return new Float64Array(x.size).fill(baseline);
  }
  if (!(baseline instanceof Tensor)) fail(where, `baseline must be a number or a tensor, got ${JSON.stringify(baseline)}`);
  const one = x.shape.slice(1);
  const values = Float64Array.from(baseline.dataSync() as ArrayLike<number>);
  if (baseline.shape.join() === x.shape.join()) return values;
  if (baseline.shape.join() === one.join()) {
    const out = new Float64Array(x.size);
    for (let i = 0; i < x.shape[0]; i++) out.set(values, i * values.length);
    return out;
  }
  return fail(where, `baseline must have one example's shape ${fmtShape(one)} or x's shape ${fmtShape(x.shape)}, got ${fmtShape(baseline.shape)}`);
}

