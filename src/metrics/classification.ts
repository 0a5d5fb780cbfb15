// Precision, recall, F1 and the confusion matrix. Predictions [N, C] with C > 1 are classes by
// argmax, against class indices or one-hot labels; a single output ([N] or [N, 1]) is binary,
// positive where yPred > threshold and where yTrue is nonzero (Keras casts labels to bool).
import { fail, fmtShape } from '../errors.js';
import type { Tensor } from '../tensor/tensor.js';
import { Metric, argmaxRow, checkThreshold, classRows, elementRows, sampleWeights, trueClass } from './metric.js';

export interface ThresholdOptions {
  name?: string;
  /** For single-output (binary) predictions; 0.5 for probabilities, 0 for logits. */
  threshold?: number;
}

const isBinary = (yPred: Tensor) => yPred.rank === 1 || yPred.shape[yPred.rank - 1] === 1;

/**
 * Visits each example once as (true class, predicted class, weight). Binary predictions are
 * classes 0 and 1; `expect` pins the number of classes (fails on a mismatch), else it is returned.
 */
function visitPairs(where: string, yTrue: Tensor, yPred: Tensor, sampleWeight: Tensor | undefined, threshold: number,
  expect: number | undefined, visit: (label: number, guess: number, w: number) => void): number {
  if (isBinary(yPred)) {
    if (expect !== undefined && expect !== 2) fail(where, `single-output predictions ${fmtShape(yPred.shape)} make 2 classes, expected ${expect}`);
    const { t, p, rows } = elementRows(where, yTrue, yPred);
    const w = sampleWeight === undefined ? null : sampleWeights(where, sampleWeight, rows);
    for (let i = 0; i < rows; i++) visit(t[i] !== 0 ? 1 : 0, p[i] > threshold ? 1 : 0, w ? w[i] : 1);
    return 2;
  }
  const c = classRows(where, yTrue, yPred, 'either');
  if (expect !== undefined && expect !== c.classes) fail(where, `yPred ${fmtShape(yPred.shape)} has ${c.classes} classes, expected ${expect}`);
  const w = sampleWeight === undefined ? null : sampleWeights(where, sampleWeight, c.rows);
  for (let i = 0; i < c.rows; i++) visit(trueClass(c, i), argmaxRow(c.p, i * c.classes, c.classes), w ? w[i] : 1);
  return c.classes;
}

/**
 * Weighted true positives, false positives and false negatives per class. Binary predictions
 * count the positive class only; multi-class ones are macro-averaged by the subclasses.
 */
abstract class ClassCounts extends Metric {
  readonly threshold: number;
  protected tp = new Float64Array(0);
  protected fp = new Float64Array(0);
  protected fn = new Float64Array(0);
  /** Set by the first update: 'binary' or the number of classes. */
  private layout: 'binary' | number | undefined;

  constructor(name: string, threshold: number) {
    super(name);
    this.threshold = checkThreshold(name, threshold);
  }

  override update(yTrue: Tensor, yPred: Tensor, sampleWeight?: Tensor): void {
    const binary = isBinary(yPred);
    if (this.layout !== undefined && binary !== (this.layout === 'binary')) {
      fail(this.name, `yPred ${fmtShape(yPred.shape)} switches between single-output and multi-class predictions since the last reset`);
    }
    const expect = typeof this.layout === 'number' ? this.layout : undefined;
    const n = binary ? 2 : (expect ?? yPred.shape[yPred.rank - 1] ?? 0);
    if (this.tp.length !== n) [this.tp, this.fp, this.fn] = [new Float64Array(n), new Float64Array(n), new Float64Array(n)];
    const { tp, fp, fn } = this;
    // every check runs before the first count, so a rejected batch leaves the state as it was
    visitPairs(this.name, yTrue, yPred, sampleWeight, this.threshold, expect, (label, guess, w) => {
      if (label === guess) tp[label] += w;
      else {
        fp[guess] += w;
        fn[label] += w;
      }
    });
    this.layout = binary ? 'binary' : n;
  }

  /** f for the positive class (binary), or its mean over the classes seen in yTrue or predicted. */
  protected average(f: (tp: number, fp: number, fn: number) => number): number {
    const { tp, fp, fn } = this;
    if (this.layout === 'binary') return f(tp[1], fp[1], fn[1]);
    let s = 0;
    let seen = 0;
    for (let c = 0; c < tp.length; c++) {
      // sklearn's macro average: a class absent from both yTrue and the predictions carries no
      // information and is left out; an undefined ratio of a present class counts as 0.
      if (tp[c] + fp[c] + fn[c] === 0) continue;
      s += f(tp[c], fp[c], fn[c]);
      seen++;
    }
    return seen === 0 ? 0 : s / seen;
  }

  override reset(): void {
    this.tp.fill(0);
    this.fp.fill(0);
    this.fn.fill(0);
    this.layout = undefined;
  }
}

const ratio = (a: number, b: number) => (b === 0 ? 0 : a / b);

/** tp / (tp + fp). */
export class Precision extends ClassCounts {
  constructor(options: ThresholdOptions = {}) {
    super(options.name ?? 'precision', options.threshold ?? 0.5);
  }

  override result(): number {
    return this.average((tp, fp) => ratio(tp, tp + fp));
  }
}

/** tp / (tp + fn). */
export class Recall extends ClassCounts {
  constructor(options: ThresholdOptions = {}) {
    super(options.name ?? 'recall', options.threshold ?? 0.5);
  }

  override result(): number {
    return this.average((tp, _fp, fn) => ratio(tp, tp + fn));
  }
}

/** 2 tp / (2 tp + fp + fn), the harmonic mean of precision and recall; macro: the mean of the per-class F1s. */
export class F1Score extends ClassCounts {
  constructor(options: ThresholdOptions = {}) {
    super(options.name ?? 'f1_score', options.threshold ?? 0.5);
  }

  override result(): number {
    return this.average((tp, fp, fn) => ratio(2 * tp, 2 * tp + fp + fn));
  }
}

/**
 * Weighted counts: result()[i][j] is how many examples of true class i were predicted as j.
 * numClasses may be left out: the first update's predictions fix it (2 for a single output).
 */
export class ConfusionMatrix extends Metric {
  readonly threshold: number;
  private counts: Float64Array;

  constructor(private numClasses?: number, options: ThresholdOptions = {}) {
    super(options.name ?? 'confusion_matrix');
    if (numClasses !== undefined && (!Number.isInteger(numClasses) || numClasses < 2)) fail(this.name, `numClasses must be an integer >= 2, got ${numClasses}`);
    this.threshold = checkThreshold(this.name, options.threshold ?? 0.5);
    this.counts = new Float64Array((numClasses ?? 0) ** 2);
  }

  override update(yTrue: Tensor, yPred: Tensor, sampleWeight?: Tensor): void {
    const fixed = this.numClasses;
    const n = fixed ?? (isBinary(yPred) ? 2 : yPred.shape[yPred.rank - 1]);
    if (n * n !== this.counts.length) this.counts = new Float64Array(n * n);
    const counts = this.counts;
    visitPairs(this.name, yTrue, yPred, sampleWeight, this.threshold, n, (label, guess, w) => {
      counts[label * n + guess] += w;
    });
    this.numClasses = n;
  }

  override result(): number[][] {
    const n = this.numClasses ?? 0;
    return Array.from({ length: n }, (_, i) => Array.from(this.counts.subarray(i * n, (i + 1) * n)));
  }

  override reset(): void {
    this.counts.fill(0);
  }
}
