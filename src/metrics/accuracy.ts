// Keras' accuracy metrics: the weighted fraction of examples predicted right, by argmax,
// threshold or top-k membership.
import { fail } from '../errors.js';
import type { TypedArray } from '../tensor/dtype.js';
import type { Tensor } from '../tensor/tensor.js';
import { RatioMetric, checkThreshold, classRows, elementRows, sampleWeights, trueClass } from './metric.js';

/** Weighted fraction of rows whose scores `hit` the true class. */
abstract class ClassScoreAccuracy extends RatioMetric {
  protected abstract readonly labels: 'sparse' | 'onehot';
  protected abstract hit(p: TypedArray, off: number, classes: number, label: number): boolean;

  override update(yTrue: Tensor, yPred: Tensor, sampleWeight?: Tensor): void {
    const c = classRows(this.name, yTrue, yPred, this.labels);
    const w = sampleWeight === undefined ? null : sampleWeights(this.name, sampleWeight, c.rows);
    for (let i = 0; i < c.rows; i++) {
      const wi = w ? w[i] : 1;
      if (this.hit(c.p, i * c.classes, c.classes, trueClass(c, i))) this.total += wi;
      this.count += wi;
    }
  }
}

abstract class ArgmaxAccuracy extends ClassScoreAccuracy {
  // argmax without an index array; the first of tied maxima wins, as in tf.argmax
  protected override hit(p: TypedArray, off: number, classes: number, label: number): boolean {
    const s = p[off + label];
    for (let j = 0; j < label; j++) if (p[off + j] >= s) return false;
    for (let j = label + 1; j < classes; j++) if (p[off + j] > s) return false;
    return s === s; // a NaN score is never the argmax
  }
}

/** argmax(yPred) == yTrue, for integer labels [N] or [N,1]. */
export class SparseCategoricalAccuracy extends ArgmaxAccuracy {
  protected readonly labels = 'sparse';
  constructor(options: { name?: string } = {}) {
    super(options.name ?? 'sparse_categorical_accuracy');
  }
}

/** argmax(yPred) == argmax(yTrue), for one-hot labels. */
export class CategoricalAccuracy extends ArgmaxAccuracy {
  protected readonly labels = 'onehot';
  constructor(options: { name?: string } = {}) {
    super(options.name ?? 'categorical_accuracy');
  }
}

/**
 * Keras' binary_accuracy: yTrue == (yPred > threshold) elementwise, averaged over the last axis
 * per example. Labels must be exactly 0 or 1 to match. For logits, pass threshold 0.
 */
export class BinaryAccuracy extends RatioMetric {
  readonly threshold: number;

  constructor(options: { name?: string; threshold?: number } = {}) {
    super(options.name ?? 'binary_accuracy');
    this.threshold = checkThreshold(this.name, options.threshold ?? 0.5);
  }

  override update(yTrue: Tensor, yPred: Tensor, sampleWeight?: Tensor): void {
    const { t, p, rows, width } = elementRows(this.name, yTrue, yPred);
    const w = sampleWeight === undefined ? null : sampleWeights(this.name, sampleWeight, rows);
    for (let i = 0, k = 0; i < rows; i++) {
      let hits = 0;
      for (let j = 0; j < width; j++, k++) if (t[k] === (p[k] > this.threshold ? 1 : 0)) hits++;
      const wi = w ? w[i] : 1;
      this.total += (wi * hits) / width;
      this.count += wi;
    }
  }
}

function checkK(where: string, k: number): number {
  if (!Number.isInteger(k) || k < 1) fail(where, `k must be a positive integer, got ${k}`);
  return k;
}

/**
 * Keras' in_top_k: the true class is a hit when fewer than k classes score strictly higher, so
 * ties at the boundary count in its favour; a NaN score for the true class is a miss.
 */
abstract class TopKAccuracy extends ClassScoreAccuracy {
  readonly k: number;

  constructor(name: string, k: number) {
    super(name);
    this.k = checkK(name, k);
  }

  protected override hit(p: TypedArray, off: number, classes: number, label: number): boolean {
    const s = p[off + label];
    if (s !== s) return false;
    let higher = 0;
    for (let j = 0; j < classes && higher < this.k; j++) if (p[off + j] > s) higher++;
    return higher < this.k;
  }
}

export class SparseTopKCategoricalAccuracy extends TopKAccuracy {
  protected readonly labels = 'sparse';
  constructor(options: { k?: number; name?: string } = {}) {
    super(options.name ?? 'sparse_top_k_categorical_accuracy', options.k ?? 5);
  }
}

export class TopKCategoricalAccuracy extends TopKAccuracy {
  protected readonly labels = 'onehot';
  constructor(options: { k?: number; name?: string } = {}) {
    super(options.name ?? 'top_k_categorical_accuracy', options.k ?? 5);
  }
}
