// LayerNorm over the last axis, forward and backward: the reference for native/norm.cc. Row
// statistics and the dgamma/dbeta sums are kept in float64 whatever the dtype.
import type { Buf, TensorInfo } from '../backend.js';
import { type TypedArray, allocArray } from '../../tensor/dtype.js';

export function layerNorm(x: TensorInfo, gamma: TensorInfo | null, beta: TensorInfo | null, eps: number): { out: Buf; mean: Buf; rstd: Buf } {
  const X = x.buf as TypedArray;
  const C = x.shape[x.shape.length - 1];
  const rows = C > 0 ? X.length / C : 0;
  const G = gamma?.buf as TypedArray | undefined;
  const B = beta?.buf as TypedArray | undefined;
  const out = allocArray(x.dtype, X.length);
  const mean = allocArray(x.dtype, rows);
  const rstd = allocArray(x.dtype, rows);
  for (let r = 0; r < rows; r++) {
    const o = r * C;
    let s = 0;
    for (let j = 0; j < C; j++) s += X[o + j];
    const m = s / C;
    let v = 0;
    for (let j = 0; j < C; j++) v += (X[o + j] - m) ** 2;
    const rs = 1 / Math.sqrt(v / C + eps);
    mean[r] = m;
    rstd[r] = rs;
    for (let j = 0; j < C; j++) out[o + j] = (X[o + j] - m) * rs * (G ? G[j] : 1) + (B ? B[j] : 0);
  }
  return { out, mean, rstd };
}

/** With xhat = (x - mean) rstd and dn = dy gamma: dx = rstd (dn - mean(dn) - xhat mean(dn xhat)). */
export function layerNormGrad(dOut: TensorInfo, x: TensorInfo, mean: TensorInfo, rstd: TensorInfo, gamma: TensorInfo | null): { dx: Buf; dgamma: Buf; dbeta: Buf } {
  const DY = dOut.buf as TypedArray;
  const X = x.buf as TypedArray;
  const M = mean.buf as TypedArray;
  const RS = rstd.buf as TypedArray;
  const G = gamma?.buf as TypedArray | undefined;
  const C = x.shape[x.shape.length - 1];
  const rows = C > 0 ? X.length / C : 0;
  const dx = allocArray(x.dtype, X.length);
  const dg = new Float64Array(C);
  const db = new Float64Array(C);
  for (let r = 0; r < rows; r++) {
    const o = r * C;
    let sumDn = 0;
    let sumDnXhat = 0;
    for (let j = 0; j < C; j++) {
      const h = (X[o + j] - M[r]) * RS[r];
      const d = DY[o + j] * (G ? G[j] : 1);
      sumDn += d;
      sumDnXhat += d * h;
      dg[j] += DY[o + j] * h;
      db[j] += DY[o + j];
    }
    const meanDn = sumDn / C;
    const meanDnXhat = sumDnXhat / C;
    for (let j = 0; j < C; j++) {
      const h = (X[o + j] - M[r]) * RS[r];
      dx[o + j] = RS[r] * (DY[o + j] * (G ? G[j] : 1) - meanDn - h * meanDnXhat);
    }
  }
  const dgamma = allocArray(x.dtype, C);
  const dbeta = allocArray(x.dtype, C);
  dgamma.set(dg);
  dbeta.set(db);
  return { dx, dgamma, dbeta };
}
