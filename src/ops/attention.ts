// Scaled dot-product attention, softmax(q k^T * scale [+ causal mask]) v, as one primitive op
// (table.ts `attention`): the native backend runs it head by head without ever holding a
// [B,H,Tq,Tk] tensor, and its backward recomputes the probabilities from the saved row
// log-sum-exp. `attentionComposed` is the same function from ordinary ops: the reference.
import { apply } from '../autograd/engine.js';
import { fail, fmtShape } from '../errors.js';
import { arange } from '../tensor/create.js';
import { type TypedArray, isFloat } from '../tensor/dtype.js';
import { Tensor } from '../tensor/tensor.js';
import { maskedFill } from './elementwise.js';
import { matmulT } from './linalg.js';
import { softmax } from './nn.js';
import * as T from './table.js';

export interface AttentionOptions {
  /**
   * Mask key j from query i when j > i + (Tk - Tq): the diagonal is aligned bottom-right, so a
   * block of queries at the end of a KV cache sees every earlier key (flash-attention's
   * convention; for Tq = Tk it is PyTorch's is_causal). Needs Tq <= Tk.
   */
  causal?: boolean;
  /** Multiplies q k^T before the softmax; 1/sqrt(D) by default. */
  scale?: number;
}

interface AttentionPlan {
  causal: boolean;
  scale: number;
}

function describe(x: unknown): string {
  return x instanceof Tensor ? `${x.dtype} ${fmtShape(x.shape)}` : typeof x;
}

/** Checks q [B,H,Tq,D], k and v [B,H,Tk,D] and the options; returns the op's attributes. */
function attentionPlan(q: Tensor, k: Tensor, v: Tensor, options: AttentionOptions): AttentionPlan {
  const op = 'scaledDotProductAttention';
  const all = `q ${describe(q)}, k ${describe(k)}, v ${describe(v)}`;
  for (const x of [q, k, v]) {
    if (!(x instanceof Tensor) || x.rank !== 4) fail(op, `q, k and v must be 4-D tensors [batch, heads, time, headDim], got ${all}`);
  }
  if (!isFloat(q.dtype) || k.dtype !== q.dtype || v.dtype !== q.dtype) fail(op, `q, k and v must be float tensors of one dtype, got ${all}`);
  const [b, h, tq, d] = q.shape;
  const tk = k.shape[2];
  if (k.shape[0] !== b || k.shape[1] !== h || k.shape[3] !== d) fail(op, `k must be [${b},${h},Tk,${d}] to match q, got ${all}`);
  if (v.shape.some((n, i) => n !== k.shape[i])) fail(op, `v must have k's shape ${fmtShape(k.shape)}, got ${all}`);
  if (d < 1 || tk < 1) fail(op, `headDim and key length must be at least 1, got ${all}`);
  const { causal = false, scale = 1 / Math.sqrt(d) } = options ?? {};
  if (typeof causal !== 'boolean') fail(op, `causal must be a boolean, got ${JSON.stringify(causal)}`);
  if (typeof scale !== 'number' || !Number.isFinite(scale)) fail(op, `scale must be a finite number, got ${JSON.stringify(scale)}`);
  // With Tq > Tk the first queries would see no key at all: their softmax is 0/0.
  if (causal && tq > tk) fail(op, `causal attention needs no more queries than keys, got ${all}`);
  return { causal, scale };
}

/**
 * Scaled dot-product attention, PyTorch's F.scaled_dot_product_attention without dropout:
 * softmax(q k^T * scale, masked when causal) v, for q [B,H,Tq,D], k and v [B,H,Tk,D], giving
 * [B,H,Tq,D]. One fused op with a fused gradient.
 */
export function scaledDotProductAttention(q: Tensor, k: Tensor, v: Tensor, options: AttentionOptions = {}): Tensor {
  return apply(T.attention, [q, k, v], attentionPlan(q, k, v, options));
}

/**
 * Self-attention on the fused projection qkv [B, T, 3C] (GPT-2's c_attn output: q, k and v side
 * by side, each numHeads heads of D = C / numHeads columns), giving [B, T, C] with the heads
 * side by side: the same as splitting qkv into q, k, v [B, numHeads, T, D], calling
 * scaledDotProductAttention and merging the heads back, without the copies.
 */
export function packedSelfAttention(qkv: Tensor, numHeads: number, options: AttentionOptions = {}): Tensor {
  const op = 'packedSelfAttention';
  if (!(qkv instanceof Tensor) || qkv.rank !== 3 || qkv.shape[2] % 3 !== 0) fail(op, `qkv must be a 3-D tensor [batch, time, 3 * embedDim], got ${describe(qkv)}`);
  if (!isFloat(qkv.dtype)) fail(op, `qkv must be a float tensor, got ${describe(qkv)}`);
  const C = qkv.shape[2] / 3;
  if (!Number.isInteger(numHeads) || numHeads < 1 || C % numHeads !== 0) fail(op, `numHeads must be a positive integer dividing embedDim ${C}, got ${JSON.stringify(numHeads)}`);
  const d = C / numHeads;
  const { causal = false, scale = 1 / Math.sqrt(d) } = options ?? {};
  if (typeof causal !== 'boolean') fail(op, `causal must be a boolean, got ${JSON.stringify(causal)}`);
  if (typeof scale !== 'number' || !Number.isFinite(scale)) fail(op, `scale must be a finite number, got ${JSON.stringify(scale)}`);
  return apply(T.attentionPacked, [qkv], { heads: numHeads, scale, causal });
}

/** A layer's preallocated keys and values for cachedSelfAttention: [B, H, capacity, D] each, rows 0..length-1 filled. */
export interface KVBuffers {
  k: TypedArray;
  v: TypedArray;
  length: number;
  capacity: number;
}

/**
 * Causal self-attention of T new tokens after `cache.length` cached ones: writes their keys and
 * values (from qkv [B, T, 3C], packed as for packedSelfAttention) in place to rows length.. of the
 * cache, then attends over rows 0..length+T-1; gives [B, T, C]. The caller advances cache.length.
 * No gradient: a decoding step's. Shapes are the caller's to settle (MultiHeadAttention.attend).
 */
export function cachedSelfAttention(qkv: Tensor, numHeads: number, cache: KVBuffers): Tensor {
  const d = qkv.shape[2] / 3 / numHeads;
  return apply(T.attentionCached, [qkv], { heads: numHeads, scale: 1 / Math.sqrt(d), kCache: cache.k, vCache: cache.v, length: cache.length, capacity: cache.capacity });
}

/**
 * The same function composed from matmul, a mask and softmax: the reference the fused op is
 * tested and measured against, and the path for dropout on the attention probabilities
 * (`probabilities` gets them, [B,H,Tq,Tk], and returns what multiplies v).
 */
export function attentionComposed(q: Tensor, k: Tensor, v: Tensor, options: AttentionOptions & { probabilities?: (p: Tensor) => Tensor } = {}): Tensor {
  const { causal, scale } = attentionPlan(q, k, v, options);
  const tq = q.shape[2];
  const tk = k.shape[2];
  let scores = matmulT(q, k, false, true).mul(scale);
  if (causal) {
    const keys = arange(tk, undefined, 1, { backend: q.backend }).reshape([1, tk]);
    const lastVisible = arange(tk - tq, tk, 1, { backend: q.backend }).reshape([tq, 1]);
    scores = maskedFill(scores, keys.gt(lastVisible), -Infinity);
  }
  const p = softmax(scores, -1);
  return matmulT(options.probabilities ? options.probabilities(p) : p, v, false, false);
}
