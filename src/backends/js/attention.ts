// Scaled dot-product attention, forward and backward, one query row at a time in float64: the
// plain reference the native kernel is tested against. Each (batch, head) is independent. Two
// layouts share the loops: [B,H,T,D] tensors, and the packed form, where q, k and v are column
// blocks of the fused projection [B, T, 3C] and the output is [B, T, C] (heads side by side).
import type { Buf, TensorInfo } from '../backend.js';
import { type TypedArray, allocArray } from '../../tensor/dtype.js';

/** Where head (b, h) of an array starts and how far apart its rows are. */
interface Strides {
  batch: number;
  head: number;
  row: number;
}

/** One call's heads: q, k, v (and dq, dk, dv) and out (and dOut) with their strides; lse is [B, H, Tq]. */
interface Layout {
  B: number;
  H: number;
  tq: number;
  tk: number;
  d: number;
  q: Strides;
  k: Strides;
  v: Strides;
  o: Strides;
}

function contiguous(q: TensorInfo, k: TensorInfo): Layout {
  const [b, h, tq, d] = q.shape;
  const tk = k.shape[2];
  const qs = { batch: tq * d, head: 0, row: d };
  const ks = { batch: tk * d, head: 0, row: d };
  return { B: b * h, H: 1, tq, tk, d, q: qs, k: ks, v: ks, o: qs };
}

function packed(B: number, H: number, t: number, d: number): Layout {
  const C = H * d;
  const qkv = { batch: t * 3 * C, head: d, row: 3 * C };
  return { B, H, tq: t, tk: t, d, q: qkv, k: qkv, v: qkv, o: { batch: t * C, head: d, row: C } };
}

/** How many keys query i sees: all Tk, or, when causal, those j <= i + (Tk - Tq). */
function visibleKeys(i: number, tq: number, tk: number, causal: boolean): number {
  return causal ? Math.min(tk, i + (tk - tq) + 1) : tk;
}

/** The forward over every head; q, k and v start at qAt, kAt and vAt of their arrays (the packed form's column offsets). */
function forwardAll(Q: TypedArray, qAt: number, K: TypedArray, kAt: number, V: TypedArray, vAt: number, out: TypedArray, lse: TypedArray, l: Layout, scale: number, causal: boolean): void {
  const { tq, tk, d } = l;
  const p = new Float64Array(tk);
  const acc = new Float64Array(d);
  for (let b = 0; b < l.B; b++) {
    for (let h = 0; h < l.H; h++) {
      const q0 = qAt + b * l.q.batch + h * l.q.head;
      const k0 = kAt + b * l.k.batch + h * l.k.head;
      const v0 = vAt + b * l.v.batch + h * l.v.head;
      const o0 = b * l.o.batch + h * l.o.head;
      const lse0 = (b * l.H + h) * tq;
      for (let i = 0; i < tq; i++) {
        const row = q0 + i * l.q.row;
        const n = visibleKeys(i, tq, tk, causal);
        let max = -Infinity;
        for (let j = 0; j < n; j++) {
          let s = 0;
          const kr = k0 + j * l.k.row;
          for (let c = 0; c < d; c++) s += Q[row + c] * K[kr + c];
          p[j] = s * scale;
          if (p[j] > max) max = p[j];
        }
        let sum = 0;
        for (let j = 0; j < n; j++) sum += p[j] = Math.exp(p[j] - max);
        acc.fill(0);
        for (let j = 0; j < n; j++) {
          const w = p[j] / sum;
          const vr = v0 + j * l.v.row;
          for (let c = 0; c < d; c++) acc[c] += w * V[vr + c];
        }
        const orow = o0 + i * l.o.row;
        for (let c = 0; c < d; c++) out[orow + c] = acc[c];
        lse[lse0 + i] = max + Math.log(sum);
      }
    }
  }
}

/**
 * With P = exp(S - lse) the probabilities and S the scaled scores: dV = P^T dO, dP = dO V^T,
 * dS = P (dP - rowsum(dO * O)) (the softmax's Jacobian, since rowsum(P dP) = rowsum(dO * O)),
 * dQ = scale dS K, dK = scale dS^T Q. dq, dk and dv are float64 accumulators laid out as q, k, v.
 */
function backwardAll(
  G: TypedArray, Q: TypedArray, qAt: number, K: TypedArray, kAt: number, V: TypedArray, vAt: number, O: TypedArray, L: TypedArray,
  dq: Float64Array, dk: Float64Array, dv: Float64Array, l: Layout, scale: number, causal: boolean,
): void {
  const { tq, tk, d } = l;
  for (let b = 0; b < l.B; b++) {
    for (let h = 0; h < l.H; h++) {
      const q0 = b * l.q.batch + h * l.q.head;
      const k0 = b * l.k.batch + h * l.k.head;
      const v0 = b * l.v.batch + h * l.v.head;
      const o0 = b * l.o.batch + h * l.o.head;
      const lse0 = (b * l.H + h) * tq;
      for (let i = 0; i < tq; i++) {
        const qr = q0 + i * l.q.row;
        const orow = o0 + i * l.o.row;
        const n = visibleKeys(i, tq, tk, causal);
        let delta = 0; // rowsum(dO * O)
        for (let c = 0; c < d; c++) delta += G[orow + c] * O[orow + c];
        for (let j = 0; j < n; j++) {
          const kr = k0 + j * l.k.row;
          const vr = v0 + j * l.v.row;
          let s = 0;
          let dp = 0;
          for (let c = 0; c < d; c++) {
            s += Q[qAt + qr + c] * K[kAt + kr + c];
            dp += G[orow + c] * V[vAt + vr + c];
          }
          const p = Math.exp(s * scale - L[lse0 + i]);
          const ds = p * (dp - delta) * scale;
          for (let c = 0; c < d; c++) {
            dv[vr + c] += p * G[orow + c];
            dq[qr + c] += ds * K[kAt + kr + c];
            dk[kr + c] += ds * Q[qAt + qr + c];
          }
        }
      }
    }
  }
}

export function attention(q: TensorInfo, k: TensorInfo, v: TensorInfo, scale: number, causal: boolean): { out: Buf; lse: Buf } {
  const l = contiguous(q, k);
  const out = allocArray(q.dtype, l.B * l.tq * l.d);
  const lse = allocArray(q.dtype, l.B * l.tq);
  forwardAll(q.buf as TypedArray, 0, k.buf as TypedArray, 0, v.buf as TypedArray, 0, out, lse, l, scale, causal);
  return { out, lse };
}

export function attentionGrad(
  dOut: TensorInfo, q: TensorInfo, k: TensorInfo, v: TensorInfo, out: TensorInfo, lse: TensorInfo, scale: number, causal: boolean,
): { dq: Buf; dk: Buf; dv: Buf } {
  const l = contiguous(q, k);
  const [G, Q, K, V, O, L] = [dOut, q, k, v, out, lse].map((t) => t.buf as TypedArray);
  const acc = [Q, K, V].map((x) => new Float64Array(x.length));
  backwardAll(G, Q, 0, K, 0, V, 0, O, L, acc[0], acc[1], acc[2], l, scale, causal);
  const [dq, dk, dv] = acc.map((a) => {
    const r = allocArray(q.dtype, a.length);
    r.set(a);
    return r;
  });
  return { dq, dk, dv };
}

/** qkv [B, T, 3C] with C = heads * D: out [B, T, C] and lse [B, heads, T]. */
export function attentionPacked(qkv: TensorInfo, heads: number, scale: number, causal: boolean): { out: Buf; lse: Buf } {
  const [B, t, c3] = qkv.shape;
  const C = c3 / 3;
  const l = packed(B, heads, t, C / heads);
  const out = allocArray(qkv.dtype, B * t * C);
  const lse = allocArray(qkv.dtype, B * heads * t);
  const X = qkv.buf as TypedArray;
  forwardAll(X, 0, X, C, X, 2 * C, out, lse, l, scale, causal);
  return { out, lse };
}

/** attentionPacked's gradient: dqkv [B, T, 3C]. */
export function attentionPackedGrad(dOut: TensorInfo, qkv: TensorInfo, out: TensorInfo, lse: TensorInfo, heads: number, scale: number, causal: boolean): { dqkv: Buf } {
  const [B, t, c3] = qkv.shape;
  const C = c3 / 3;
  const l = packed(B, heads, t, C / heads);
  const X = qkv.buf as TypedArray;
  const acc = new Float64Array(X.length);
  // dq, dk and dv are the column blocks at 0, C and 2C of one accumulator.
  backwardAll(dOut.buf as TypedArray, X, 0, X, C, X, 2 * C, out.buf as TypedArray, lse.buf as TypedArray, acc, acc.subarray(C), acc.subarray(2 * C), l, scale, causal);
  const dqkv = allocArray(qkv.dtype, acc.length);
  dqkv.set(acc);
  return { dqkv };
}

/**
 * A decoding step: writes the keys and values of qkv [B, T, 3C] to rows length.. of kCache and
 * vCache ([B, heads, capacity, D], modified in place), then the T queries attend causally to
 * rows 0..length+T-1. Gives out [B, T, C].
 */
export function attentionCached(qkv: TensorInfo, kCache: Buf, vCache: Buf, length: number, capacity: number, heads: number, scale: number): { out: Buf } {
  const [B, t, c3] = qkv.shape;
  const C = c3 / 3;
  const d = C / heads;
  const X = qkv.buf as TypedArray;
  const Kc = kCache as TypedArray;
  const Vc = vCache as TypedArray;
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < heads; h++) {
      for (let i = 0; i < t; i++) {
        const src = (b * t + i) * c3 + C + h * d;
        const dst = ((b * heads + h) * capacity + length + i) * d;
        for (let c = 0; c < d; c++) {
          Kc[dst + c] = X[src + c];
          Vc[dst + c] = X[src + C + c];
        }
      }
    }
  }
  const cacheStrides = { batch: heads * capacity * d, head: capacity * d, row: d };
  const l: Layout = Object.assign(packed(B, heads, t, d), { tk: length + t, k: cacheStrides, v: cacheStrides });
  const out = allocArray(qkv.dtype, B * t * C);
  forwardAll(X, 0, Kc, 0, Vc, 0, out, new Float64Array(B * heads * t), l, scale, true);
  return { out };
}
