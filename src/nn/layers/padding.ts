// Spatial padding shared by Conv2D and the pooling layers: Keras' 'valid' and 'same', and
// PyTorch's explicit symmetric padding, resolved per axis into [before, after] and an output size.
import { fail } from '../../errors.js';
import { pad } from '../../ops/functions.js';
import type { Tensor } from '../../tensor/tensor.js';
import type { ConfigReader, Json } from '../config.js';

/** 'valid' (none), 'same' (output = ceil(input / stride), as in Keras), or explicit zeros on each side (PyTorch). */
export type Padding = 'valid' | 'same' | number | readonly [number, number];

/** Padding after validation: explicit padding always as an [h, w] pair. */
export type PaddingSpec = 'valid' | 'same' | [number, number];

export interface AxisPlan {
  before: number;
  after: number;
  /** The output size along this axis; below 1 when the window does not fit. */
  out: number;
}

export function checkPadding(where: string, padding: unknown, label = 'padding'): PaddingSpec {
  if (padding === 'valid' || padding === 'same') return padding;
  const p = typeof padding === 'number' ? [padding, padding] : padding;
  if (!Array.isArray(p) || p.length !== 2 || p.some((v) => !Number.isInteger(v) || v < 0)) {
    fail(where, `${label} must be "valid", "same", a non-negative integer or a pair of them, got ${JSON.stringify(padding)}`);
  }
  return [p[0], p[1]];
}

/** How padding appears in a config: the string, or the pair. */
export function paddingJson(p: PaddingSpec): Json {
  return typeof p === 'string' ? p : [...p];
}

/** Both spatial axes of a per-example [C, H, W] input under a window (conv or pooling). */
export function planAxes(inputShape: readonly number[], kernel: readonly [number, number], strides: readonly [number, number], dilation: readonly [number, number], padding: PaddingSpec): [AxisPlan, AxisPlan] {
  return [planAxis(inputShape[1], kernel[0], strides[0], dilation[0], padding, 0), planAxis(inputShape[2], kernel[1], strides[1], dilation[1], padding, 1)];
}

/** One axis: `size` input positions, window `k` with dilation `d`, stride `s`; which of h (0) or w (1). */
export function planAxis(size: number, k: number, s: number, d: number, padding: PaddingSpec, axis: 0 | 1): AxisPlan {
  const span = d * (k - 1) + 1;
  if (padding === 'same') {
    // TensorFlow's rule: the odd extra pixel goes after (bottom, right); PyTorch's 'same' agrees.
    const out = Math.ceil(size / s);
    const total = Math.max((out - 1) * s + span - size, 0);
    const before = Math.floor(total / 2);
    return { before, after: total - before, out };
  }
  const p = padding === 'valid' ? 0 : padding[axis];
  return { before: p, after: p, out: Math.floor((size + 2 * p - span) / s) + 1 };
}

/** x [N, C, H, W] with the planned padding filled by `value` (0, or -Infinity for max pooling). */
export function padSpatial(x: Tensor, h: AxisPlan, w: AxisPlan, value = 0): Tensor {
  if (h.before + h.after + w.before + w.after === 0) return x;
  return pad(x, [[0, 0], [0, 0], [h.before, h.after], [w.before, w.after]], value);
}

/** A kernel size, stride or dilation option: a positive integer or an [h, w] pair of them. */
export function checkPair(where: string, name: string, v: unknown): [number, number] {
  const p = typeof v === 'number' ? [v, v] : v;
  if (!Array.isArray(p) || p.length !== 2 || p.some((d) => !Number.isInteger(d) || d < 1)) {
    fail(where, `${name} must be a positive integer or a pair of them, got ${JSON.stringify(v)}`);
  }
  return [p[0], p[1]];
}

/** Reads a padding field from a config: a string or an integer or a pair. */
export function paddingFromConfig(r: ConfigReader, dflt: PaddingSpec = 'valid'): PaddingSpec {
  return r.has('padding') ? checkPadding(r.where, r.obj.padding, '"padding"') : dflt;
}
