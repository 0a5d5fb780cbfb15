// Reductions and softmax. A reduction over any set of axes is one strided walk: every input
// element adds into the output slot its non-reduced coordinates name.
import type { Buf, ReduceOp, TensorInfo } from '../backend.js';
import { type TypedArray, allocArray } from '../../tensor/dtype.js';
import { sizeOf, stridesOf } from '../../tensor/shape.js';
import { stridedLoop2 } from './strided.js';

export function reduce(op: ReduceOp, x: TensorInfo, axes: readonly number[]): Buf {
  const src = x.buf as TypedArray;
  const outShape = x.shape.filter((_, i) => !axes.includes(i));
  const out = allocArray(x.dtype, sizeOf(outShape));
  // Output strides seen from the input's coordinates: 0 on reduced axes.
  const outStrides = stridesOf(outShape);
  const strides: number[] = [];
  for (let i = 0, j = 0; i < x.shape.length; i++) strides.push(axes.includes(i) ? 0 : outStrides[j++]);
  if (op === 'sum') {
    // Accumulate in float64 so that float32 sums of many terms stay accurate.
    const acc = new Float64Array(out.length);
    stridedLoop2(x.shape, stridesOf(x.shape), strides, (_, ix, io) => {
      acc[io] += src[ix];
    });
    out.set(acc);
    return out;
  }
  const better = op === 'max' ? (a: number, b: number) => a > b || a !== a : (a: number, b: number) => a < b || a !== a;
  const seen = new Uint8Array(out.length);
  stridedLoop2(x.shape, stridesOf(x.shape), strides, (_, ix, io) => {
    const v = src[ix];
    if (!seen[io] || (better(v, out[io]) && out[io] === out[io])) {
      out[io] = v;
      seen[io] = 1;
    }
  });
  return out;
}

/** Splits a shape around `axis` into (outer, n, inner): element (o, k, i) sits at (o*n + k)*inner + i. */
export function around(shape: readonly number[], axis: number): [number, number, number] {
  return [sizeOf(shape.slice(0, axis)), shape[axis], sizeOf(shape.slice(axis + 1))];
}

export function argReduce(op: 'argmax' | 'argmin', x: TensorInfo, axis: number): Buf {
  const src = x.buf as TypedArray;
  const [outer, n, inner] = around(x.shape, axis);
  const out = new Int32Array(outer * inner);
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      const base = o * n * inner + i;
      let best = 0;
      let bestV = src[base];
      for (let k = 1; k < n && bestV === bestV; k++) {
        const v = src[base + k * inner];
        if (v !== v || (op === 'argmax' ? v > bestV : v < bestV)) {
          best = k;
          bestV = v;
        }
      }
      out[o * inner + i] = best;
    }
  }
  return out;
}

export function softmax(x: TensorInfo, axis: number, log: boolean): Buf {
  const src = x.buf as TypedArray;
  const [outer, n, inner] = around(x.shape, axis);
  const out = allocArray(x.dtype, src.length);
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      const base = o * n * inner + i;
      let m = -Infinity;
      for (let k = 0; k < n; k++) m = Math.max(m, src[base + k * inner]);
      if (m === -Infinity) m = 0; // a row of -inf gives NaN in PyTorch too; avoid inf - inf here
      let s = 0;
      for (let k = 0; k < n; k++) s += Math.exp(src[base + k * inner] - m);
      const logS = Math.log(s);
      for (let k = 0; k < n; k++) {
        const z = src[base + k * inner] - m;
        out[base + k * inner] = log ? z - logS : Math.exp(z) / s;
      }
    }
  }
  return out;
}
