// Static calibration: each quantized layer's input range, measured on sample inputs, fixes its
// uint8 scale and zero point once. 'minmax' takes the whole range; 'percentile' drops the
// extreme tails (a few outliers otherwise stretch the scale and cost every other value
// precision), estimated from an evenly strided sample of at most 2^18 values per layer.
import type { InputQuantization } from '../backends/backend.js';
import { uint8Params } from '../backends/js/quantized.js';
import { fail } from '../errors.js';

export { uint8Params };

export type CalibrationMethod = 'minmax' | 'percentile';

const SAMPLE_LIMIT = 1 << 18;

/** The running statistics of one layer's input. */
export class RangeObserver {
  private lo = Infinity;
  private hi = -Infinity;
  private sample: number[] = [];
  private seen = 0;

  constructor(readonly method: CalibrationMethod, readonly percentile = 99.99) {
    if (method === 'percentile' && !(percentile > 50 && percentile <= 100)) fail('calibrate', `percentile must be in (50, 100], got ${percentile}`);
  }

  observe(values: ArrayLike<number>): void {
    // Keep every k-th value so the sample stays under the limit over the whole calibration set.
    const stride = Math.max(1, Math.ceil((this.seen + values.length) / SAMPLE_LIMIT));
    for (let i = 0; i < values.length; i++) {
      const v = values[i];
      if (!Number.isFinite(v)) continue; // a NaN example should not set everyone's scale
      if (v < this.lo) this.lo = v;
      if (v > this.hi) this.hi = v;
      if (this.method === 'percentile' && (this.seen + i) % stride === 0) this.sample.push(v);
    }
    this.seen += values.length;
    if (this.sample.length > SAMPLE_LIMIT) this.sample = this.sample.filter((_, i) => i % 2 === 0);
  }

  get count(): number {
    return this.seen;
  }

  /** The range to quantize over: [min, max], or the percentile's tails cut off. */
  range(): [number, number] {
    if (this.seen === 0 || this.lo > this.hi) fail('calibrate', 'no finite input values were observed');
    if (this.method === 'minmax' || this.sample.length === 0) return [this.lo, this.hi];
    const sorted = Float64Array.from(this.sample).sort();
    const at = (p: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.round((p / 100) * (sorted.length - 1))))];
    return [at(100 - this.percentile), at(this.percentile)];
  }

  /** uint8 parameters over the range widened to hold 0 (so zero is exact: padding, ReLU's zeros). */
  quantization(): InputQuantization {
    return uint8Params(...this.range());
  }
}
