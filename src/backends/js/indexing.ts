// Indexing kernels. The op layer has already checked every index against its axis.
import type { Buf, TensorInfo } from '../backend.js';
import { type DType, type TypedArray, allocArray } from '../../tensor/dtype.js';
import { type Shape, sizeOf, stridesOf } from '../../tensor/shape.js';
import { stridedLoop2 } from './strided.js';
import { around } from './reduce.js';

/** Calls visit(indexPosition, offsetInData) where data has `shape` and index picks along `axis` (torch.gather's map). */
function alongIndex(shape: Shape, axis: number, index: TensorInfo, visit: (i: number, off: number) => void): void {
  const idx = index.buf as Int32Array;
  const strides = stridesOf(shape);
  const axisStride = strides[axis];
  const base = strides.map((s, d) => (d === axis ? 0 : s));
  stridedLoop2(index.shape, base, stridesOf(index.shape), (i, off) => visit(i, off + idx[i] * axisStride));
}

export function gather(x: TensorInfo, axis: number, index: TensorInfo): Buf {
  const src = x.buf as TypedArray;
  const out = allocArray(x.dtype, sizeOf(index.shape));
  alongIndex(x.shape, axis, index, (i, off) => {
    out[i] = src[off];
  });
  return out;
}

export function scatterAdd(shape: Shape, dtype: DType, axis: number, index: TensorInfo, src: TensorInfo): Buf {
  const s = src.buf as TypedArray;
  const out = allocArray(dtype, sizeOf(shape));
  alongIndex(shape, axis, index, (i, off) => {
    out[off] += s[i];
  });
  return out;
}

export function indexSelect(x: TensorInfo, axis: number, index: TensorInfo): Buf {
  const src = x.buf as TypedArray;
  const idx = index.buf as Int32Array;
  const [outer, n, inner] = around(x.shape, axis);
  const m = idx.length;
  const out = allocArray(x.dtype, outer * m * inner);
  for (let o = 0; o < outer; o++) {
    for (let j = 0; j < m; j++) {
      const from = (o * n + idx[j]) * inner;
      out.set(src.subarray(from, from + inner), (o * m + j) * inner);
    }
  }
  return out;
}

export function indexAdd(shape: Shape, dtype: DType, axis: number, index: TensorInfo, src: TensorInfo): Buf {
  const s = src.buf as TypedArray;
  const idx = index.buf as Int32Array;
  const [outer, n, inner] = around(shape, axis);
  const m = idx.length;
  const out = allocArray(dtype, sizeOf(shape));
  for (let o = 0; o < outer; o++) {
    for (let j = 0; j < m; j++) {
      const to = (o * n + idx[j]) * inner;
      const from = (o * m + j) * inner;
      for (let i = 0; i < inner; i++) out[to + i] += s[from + i];
    }
  }
  return out;
}
