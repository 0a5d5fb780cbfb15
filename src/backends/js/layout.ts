// Layout kernels: fill, and copying between contiguous storage and strided views of it.
import type { Buf, TensorInfo } from '../backend.js';
import { type DType, type TypedArray, allocArray } from '../../tensor/dtype.js';
import { type Shape, sizeOf, stridesOf } from '../../tensor/shape.js';
import { stridedLoop2 } from './strided.js';

export function fill(dtype: DType, size: number, value: number): Buf {
  const out = allocArray(dtype, size);
  if (value !== 0) out.fill(value);
  return out;
}

export function readView(x: TensorInfo, shape: Shape, strides: readonly number[], offset: number): Buf {
  const src = x.buf as TypedArray;
  const out = allocArray(x.dtype, sizeOf(shape));
  stridedLoop2(shape, strides, stridesOf(shape), (i, is) => {
    out[i] = src[offset + is];
  });
  return out;
}

export function writeView(dst: Buf, _dtype: DType, shape: Shape, strides: readonly number[], offset: number, x: TensorInfo): void {
  const out = dst as TypedArray;
  const src = x.buf as TypedArray;
  stridedLoop2(shape, strides, stridesOf(shape), (i, id) => {
    out[offset + id] = src[i];
  });
}
