// Regression metrics: Keras' MeanSquaredError and MeanAbsoluteError, each example's error
// averaged over the last axis, then a weighted mean over examples.
import type { Tensor } from '../tensor/tensor.js';
import { RatioMetric, elementRows, sampleWeights } from './metric.js';

abstract class ErrorMetric extends RatioMetric {
  protected abstract readonly squared: boolean;

  override update(yTrue: Tensor, yPred: Tensor, sampleWeight?: Tensor): void {
    const { t, p, rows, width } = elementRows(this.name, yTrue, yPred);
    const w = sampleWeight === undefined ? null : sampleWeights(this.name, sampleWeight, rows);
    for (let i = 0, k = 0; i < rows; i++) {
      let s = 0;
      if (this.squared) for (let j = 0; j < width; j++, k++) s += (p[k] - t[k]) ** 2;
      else for (let j = 0; j < width; j++, k++) s += Math.abs(p[k] - t[k]);
      const wi = w ? w[i] : 1;
      this.total += (wi * s) / width;
      this.count += wi;
    }
  }
}

export class MeanSquaredError extends ErrorMetric {
  protected readonly squared = true;
  constructor(options: { name?: string } = {}) {
    super(options.name ?? 'mean_squared_error');
  }
}

export class MeanAbsoluteError extends ErrorMetric {
  protected readonly squared = false;
  constructor(options: { name?: string } = {}) {
    super(options.name ?? 'mean_absolute_error');
  }
}
