// Scaled dot-product attention, forward and backward, one query row at a time in float64: the
// plain reference the native kernel is tested against. Each (batch, head) is independent.
import type { Buf, TensorInfo } from '../backend.js';
import { type TypedArray, allocArray } from '../../tensor/dtype.js';

/** B*H, Tq, Tk and D of q [B,H,Tq,D] and k [B,H,Tk,D]. */
function dims(q: TensorInfo, k: TensorInfo): [number, number, number, number] {
  const [b, h, tq, d] = q.shape;
  return [b * h, tq, k.shape[2], d];
}

/** How many keys query i sees: all Tk, or, when causal, those j <= i + (Tk - Tq). */
function visibleKeys(i: number, tq: number, tk: number, causal: boolean): number {
  return causal ? Math.min(tk, i + (tk - tq) + 1) : tk;
}

export function attention(q: TensorInfo, k: TensorInfo, v: TensorInfo, scale: number, causal: boolean): { out: Buf; lse: Buf } {
  const [heads, tq, tk, d] = dims(q, k);
  const Q = q.buf as TypedArray;
  const K = k.buf as TypedArray;
  const V = v.buf as TypedArray;
  const out = allocArray(q.dtype, heads * tq * d);
  const lse = allocArray(q.dtype, heads * tq);
  const p = new Float64Array(tk);
  const acc = new Float64Array(d);
  for (let h = 0; h < heads; h++) {
    const kv = h * tk * d;
    for (let i = 0; i < tq; i++) {
      const row = (h * tq + i) * d;
      const n = visibleKeys(i, tq, tk, causal);
      let max = -Infinity;
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let c = 0; c < d; c++) s += Q[row + c] * K[kv + j * d + c];
        p[j] = s * scale;
        if (p[j] > max) max = p[j];
      }
      let sum = 0;
      for (let j = 0; j < n; j++) sum += p[j] = Math.exp(p[j] - max);
      acc.fill(0);
      for (let j = 0; j < n; j++) {
        const w = p[j] / sum;
        for (let c = 0; c < d; c++) acc[c] += w * V[kv + j * d + c];
      }
      for (let c = 0; c < d; c++) out[row + c] = acc[c];
      lse[h * tq + i] = max + Math.log(sum);
    }
  }
  return { out, lse };
}

/**
 * With P = exp(S - lse) the probabilities and S the scaled scores: dV = P^T dO, dP = dO V^T,
 * dS = P (dP - rowsum(dO * O)) (the softmax's Jacobian, since rowsum(P dP) = rowsum(dO * O)),
 * dQ = scale dS K, dK = scale dS^T Q.
 */
export function attentionGrad(
  dOut: TensorInfo, q: TensorInfo, k: TensorInfo, v: TensorInfo, out: TensorInfo, lse: TensorInfo, scale: number, causal: boolean,
): { dq: Buf; dk: Buf; dv: Buf } {
  const [heads, tq, tk, d] = dims(q, k);
  const [G, Q, K, V, O, L] = [dOut, q, k, v, out, lse].map((t) => t.buf as TypedArray);
  const dq = allocArray(q.dtype, heads * tq * d);
  const dkAcc = new Float64Array(heads * tk * d);
  const dvAcc = new Float64Array(heads * tk * d);
  const dqRow = new Float64Array(d);
  for (let h = 0; h < heads; h++) {
    const kv = h * tk * d;
    for (let i = 0; i < tq; i++) {
      const row = (h * tq + i) * d;
      const n = visibleKeys(i, tq, tk, causal);
      let delta = 0; // rowsum(dO * O)
      for (let c = 0; c < d; c++) delta += G[row + c] * O[row + c];
      dqRow.fill(0);
      for (let j = 0; j < n; j++) {
        let s = 0;
        let dp = 0;
        for (let c = 0; c < d; c++) {
          s += Q[row + c] * K[kv + j * d + c];
          dp += G[row + c] * V[kv + j * d + c];
        }
        const p = Math.exp(s * scale - L[h * tq + i]);
        const ds = p * (dp - delta) * scale;
        for (let c = 0; c < d; c++) {
          dvAcc[kv + j * d + c] += p * G[row + c];
          dqRow[c] += ds * K[kv + j * d + c];
          dkAcc[kv + j * d + c] += ds * Q[row + c];
        }
      }
      for (let c = 0; c < d; c++) dq[row + c] = dqRow[c];
    }
  }
  const dk = allocArray(k.dtype, dkAcc.length);
  const dv = allocArray(v.dtype, dvAcc.length);
  dk.set(dkAcc);
  dv.set(dvAcc);
  return { dq, dk, dv };
}
