// Batched matmul with broadcast batch dims and transposes read through strides (never copied).
import type { Buf, TensorInfo } from '../backend.js';
import { type TypedArray, allocArray } from '../../tensor/dtype.js';
import { broadcastStrides, sizeOf } from '../../tensor/shape.js';
import { stridedLoop2 } from './strided.js';

export function matmul(a: TensorInfo, b: TensorInfo, transA: boolean, transB: boolean, outShape: readonly number[]): Buf {
  const A = a.buf as TypedArray;
  const B = b.buf as TypedArray;
  const r = outShape.length;
  const M = outShape[r - 2];
  const N = outShape[r - 1];
  const ra = a.shape.length;
  const K = transA ? a.shape[ra - 2] : a.shape[ra - 1];
  // Strides of A as (i, k) and of B as (k, j) within one matrix.
  const [sai, sak] = transA ? [1, M] : [K, 1];
  const [sbk, sbj] = transB ? [1, K] : [N, 1];
  const batch = outShape.slice(0, r - 2);
  const matA = M * K;
  const matB = K * N;
  const stA = broadcastStrides(a.shape.slice(0, -2), batch).map((s) => s * matA);
  const stB = broadcastStrides(b.shape.slice(0, -2), batch).map((s) => s * matB);
  const out = allocArray(a.dtype, sizeOf(outShape));
  const acc = new Float64Array(N);
  stridedLoop2(batch, stA, stB, (bi, offA, offB) => {
    const offC = bi * M * N;
    for (let i = 0; i < M; i++) {
      acc.fill(0);
      for (let k = 0; k < K; k++) {
        const aik = A[offA + i * sai + k * sak];
        const rowB = offB + k * sbk;
        for (let j = 0; j < N; j++) acc[j] += aik * B[rowB + j * sbj];
      }
      for (let j = 0; j < N; j++) out[offC + i * N + j] = acc[j];
    }
  });
  return out;
}
