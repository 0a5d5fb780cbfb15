// The two layout kernels as tensor-level helpers: read a strided view into a new tensor, and
// write tensors into strided windows of a new, filled one. Slice, permute, expand, pad and
// concat are all built from these.
import { Tensor } from '../tensor/tensor.js';
import { sizeOf } from '../tensor/shape.js';

export interface Window {
  shape: readonly number[];
  strides: readonly number[];
  offset: number;
}

export function readViewOf(x: Tensor, shape: readonly number[], strides: readonly number[], offset: number): Tensor {
  return new Tensor(shape, x.dtype, x.backend.readView(x, shape, strides, offset), x.backend);
}

/** A new tensor of `shape` filled with `value`, with each window's `src` written into it. */
export function writeIntoFilled(shape: readonly number[], value: number, windows: (Window & { src: Tensor })[]): Tensor {
  const { backend, dtype } = windows[0].src;
  const buf = backend.fill(dtype, sizeOf(shape), value);
  for (const w of windows) backend.writeView(buf, dtype, w.shape, w.strides, w.offset, w.src);
  return new Tensor(shape, dtype, buf, backend);
}
