// Streaming metrics (Keras' Metric: update every batch, result at any time, reset per epoch).
// They run on every training batch, so they read each tensor once with dataSync() and count
// in plain loops over the typed arrays, accumulating in float64 JS numbers.
import { fail, fmtShape } from '../errors.js';
import type { TypedArray } from '../tensor/dtype.js';
import { Tensor } from '../tensor/tensor.js';

export abstract class Metric {
  constructor(readonly name: string) {
    if (typeof name !== 'string' || name === '') fail('Metric', `name must be a non-empty string, got ${JSON.stringify(name)}`);
  }

  /** Adds a batch. sampleWeight, if given, holds one weight per example (row of yPred). */
  abstract update(yTrue: Tensor, yPred: Tensor, sampleWeight?: Tensor): void;
  /** The value over every batch since the last reset; 0 before any (Keras' divide_no_nan). */
  abstract result(): number | number[][];
  abstract reset(): void;
}

/** A weighted average over examples: Keras' MeanMetricWrapper, the shape of every accuracy. */
export abstract class RatioMetric extends Metric {
  protected total = 0;
  protected count = 0;

  override result(): number {
    return this.count === 0 ? 0 : this.total / this.count;
  }

  override reset(): void {
    this.total = 0;
    this.count = 0;
  }
}

/**
 * The running (weighted) mean of the values given: Keras' Mean, which fit uses for the loss.
 * update(batchLoss, batchSize) weights each batch by its size, so the result is per example.
 */
export class Mean extends RatioMetric {
  constructor(name = 'mean') {
    super(name);
  }

  override update(values: Tensor | number, sampleWeight?: Tensor | number): void {
    if (typeof values === 'number') {
      const w = sampleWeight === undefined ? 1 : typeof sampleWeight === 'number' ? sampleWeight : sampleWeight.item();
      this.total += values * w;
      this.count += w;
      return;
    }
    if (!(values instanceof Tensor)) fail(this.name, `values must be a Tensor or a number, got ${typeof values}`);
    const v = values.dataSync();
    if (sampleWeight === undefined || typeof sampleWeight === 'number') {
      const w = sampleWeight ?? 1;
      let s = 0;
      for (let i = 0; i < v.length; i++) s += v[i];
      this.total += s * w;
      this.count += v.length * w;
      return;
    }
    const w = sampleWeights(this.name, sampleWeight, v.length);
    for (let i = 0; i < v.length; i++) {
      this.total += v[i] * w[i];
      this.count += w[i];
    }
  }
}

export function checkTensors(where: string, yTrue: Tensor, yPred: Tensor): void {
  if (!(yTrue instanceof Tensor) || !(yPred instanceof Tensor)) fail(where, 'yTrue and yPred must be Tensors');
  if (yPred.dtype === 'bool') fail(where, 'yPred must be numeric, got bool');
}

/** One weight per example, or a LatheError naming the shapes. */
export function sampleWeights(where: string, sampleWeight: Tensor, rows: number): TypedArray {
  if (!(sampleWeight instanceof Tensor)) fail(where, `sampleWeight must be a Tensor, got ${typeof sampleWeight}`);
  if (sampleWeight.size !== rows) fail(where, `sampleWeight ${fmtShape(sampleWeight.shape)} must hold one weight per example (${rows})`);
  return sampleWeight.dataSync();
}

const same = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((d, i) => d === b[i]);

/**
 * yTrue and yPred read elementwise, as rows of the last axis (Keras averages each example over
 * it); a 1-D input is one value per example. A trailing axis of 1 on one side is tolerated.
 */
export function elementRows(where: string, yTrue: Tensor, yPred: Tensor): { t: TypedArray; p: TypedArray; rows: number; width: number } {
  checkTensors(where, yTrue, yPred);
  const [a, b] = [yTrue.shape, yPred.shape];
  const ok = same(a, b) || (a.length === b.length + 1 && a[a.length - 1] === 1 && same(a.slice(0, -1), b))
    || (b.length === a.length + 1 && b[b.length - 1] === 1 && same(b.slice(0, -1), a));
  if (!ok) fail(where, `yTrue ${fmtShape(a)} and yPred ${fmtShape(b)} must have the same shape`);
  const width = yPred.rank >= 2 ? yPred.shape[yPred.rank - 1] : 1;
  return { t: yTrue.dataSync(), p: yPred.dataSync(), rows: width === 0 ? 0 : yPred.size / width, width };
}

/** Index of the first largest of n values from off (tf.argmax's tie rule); NaNs never win. */
export function argmaxRow(a: TypedArray, off: number, n: number): number {
  let best = 0;
  let top = -Infinity;
  for (let j = 0; j < n; j++) {
    if (a[off + j] > top) {
      top = a[off + j];
      best = j;
    }
  }
  return best;
}

export interface ClassRows {
  p: TypedArray;
  t: TypedArray;
  rows: number;
  classes: number;
  /** yTrue holds a one-hot row per example (read by argmax) rather than one index. */
  oneHot: boolean;
}

/**
 * yPred [..., C] class scores with their targets: one-hot yTrue of yPred's shape, or class
 * indices [...] / [..., 1] (int or float holding integers), checked to lie in [0, C).
 */
export function classRows(where: string, yTrue: Tensor, yPred: Tensor, labels: 'sparse' | 'onehot' | 'either'): ClassRows {
  checkTensors(where, yTrue, yPred);
  if (yPred.rank < 2) fail(where, `yPred must be [batch, classes] scores, got ${fmtShape(yPred.shape)}`);
  const classes = yPred.shape[yPred.rank - 1];
  const batch = yPred.shape.slice(0, -1);
  const t = yTrue.dataSync();
  const rows = classes === 0 ? 0 : yPred.size / classes;
  const oneHot = same(yTrue.shape, yPred.shape) && !(classes === 1 && labels === 'sparse');
  const sparse = !oneHot && (same(yTrue.shape, batch) || same(yTrue.shape, [...batch, 1]));
  if (oneHot ? labels === 'sparse' : !sparse || labels === 'onehot') {
    const want = labels === 'sparse' ? `shape ${fmtShape(batch)} or ${fmtShape([...batch, 1])} (class indices)`
      : labels === 'onehot' ? `shape ${fmtShape(yPred.shape)} (one-hot)`
      : `shape ${fmtShape(batch)} (class indices) or ${fmtShape(yPred.shape)} (one-hot)`;
    fail(where, `yTrue ${fmtShape(yTrue.shape)} does not fit yPred ${fmtShape(yPred.shape)}: expected ${want}`);
  }
  if (!oneHot) {
    for (let i = 0; i < rows; i++) {
      if (!Number.isInteger(t[i]) || t[i] < 0 || t[i] >= classes) fail(where, `yTrue[${i}] = ${t[i]} is not a class index in [0, ${classes})`);
    }
  }
  return { p: yPred.dataSync(), t, rows, classes, oneHot };
}

export function trueClass(c: ClassRows, row: number): number {
  return c.oneHot ? argmaxRow(c.t, row * c.classes, c.classes) : c.t[row];
}

export function checkThreshold(where: string, threshold: number): number {
  if (typeof threshold !== 'number' || !Number.isFinite(threshold)) fail(where, `threshold must be a finite number, got ${threshold}`);
  return threshold;
}
