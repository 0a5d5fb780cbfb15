// The native backend: the js backend's storage (typed arrays) with the hot kernels in C++.
// Kernels the addon lacks, or dtypes it does not cover (integers, bool), use the js
// kernels, which is safe because both backends keep data in the same typed arrays.
import { FUSED_ACTIVATIONS, type Backend, type Conv2dGeometry, type Pool2dGeometry, type TensorInfo } from '../backend.js';
import { jsBackend } from '../js/index.js';
import { around } from '../js/reduce.js';
import { stridedLoop2 } from '../js/strided.js';
import { type DType, type TypedArray, allocArray, arrayType, isFloat } from '../../tensor/dtype.js';
import { lastChangedAt } from '../../tensor/inplace.js';
import { broadcastStrides, sizeOf, stridesOf } from '../../tensor/shape.js';
import type { NativeAddon } from './addon.js';
import { nativeQuantizedKernels } from './quantized.js';

type F = Float32Array | Float64Array;

/**
 * Storage for a kernel output that the kernel writes in full (kernels that accumulate,
 * indexAdd and scatterAdd, use allocArray instead), so none of it needs zeroing.
 * Creating an ArrayBuffer costs 0.7-1.4 us here, as much as a small kernel, so outputs under
 * 64 KB are views carved from a shared 256 KB slab (0.09 us); the garbage collector frees a
 * slab once no view of it is alive. The price: a small tensor kept alive keeps its slab too
 * (at most 256 KB each; clone() gives it storage of its own). Outputs of 256 bytes or less
 * come from a 4 KB slab of their own instead, so that a kept one pins no more: a typed array of
 * 64 bytes or less lives on V8's heap, and N-API copies it into a fresh backing store on every
 * native call that takes it (a batch-1 MLP predict's last two outputs: 8.7 -> 7.3 us float,
 * 6.9 -> 5.3 us int8). Scalars (8 bytes or less), such as losses that programs keep in lists,
 * get their own buffer and pin nothing.
 */
const SLAB_BYTES = 1 << 18;
const SLAB_MAX_ITEM = 1 << 16;
const SLAB_MIN_ITEM = 256;
const SMALL_SLAB_BYTES = 1 << 12;
const SCALAR_MAX_BYTES = 8;

/** Views carved one after another from a buffer, 64-byte aligned (for the SIMD kernels); a fresh buffer when the last is full. */
class Slab {
  buffer = new ArrayBuffer(0);
  private used = 0;
  constructor(private readonly bytes: number) {}

  /** Where `bytes` more start in this.buffer (a fresh one if they do not fit). */
  carve(bytes: number): number {
    let at = (this.used + 63) & ~63;
    if (at + bytes > this.buffer.byteLength) {
      this.buffer = Buffer.allocUnsafeSlow(this.bytes).buffer;
      at = 0;
    }
    this.used = at + bytes;
    return at;
  }
}
const slab = new Slab(SLAB_BYTES);
const smallSlab = new Slab(SMALL_SLAB_BYTES);

/**
 * Large buffers handed back by `recycle`, by byte length, for the next output of that size.
 * Bounded: a few per size and RECYCLE_MAX_BYTES in all, the rest left to the garbage collector.
 */
const recycled = new Map<number, ArrayBuffer[]>();
const RECYCLE_PER_SIZE = 4;
const RECYCLE_MAX_BYTES = 256 << 20;
let recycledBytes = 0;

/**
 * Slab slices handed back by `recycle`, by byte length: an intermediate output under 64 KB (one
 * image's conv output when serving) otherwise takes fresh slab memory on every call, and the
 * slabs' external memory drives the garbage collector: MNIST's CNN at batch 1 ran a mark-compact
 * every ~1.5 s, and on a VM the calls for tens of ms after each were several times slower (its
 * p99 over 1.5 s of predicts, four runs each way: 257-283 us fresh, 204-221 reused). A recycled
 * slice keeps its slab alive while it waits; a few per size.
 */
const recycledSlices = new Map<number, { buffer: ArrayBuffer; byteOffset: number }[]>();

function recycleBuffer(buf: TypedArray): void {
  const ab = buf.buffer as ArrayBuffer;
  if (buf.byteLength > SLAB_MIN_ITEM && buf.byteLength < SLAB_MAX_ITEM && ab.byteLength === SLAB_BYTES) {
    const slices = recycledSlices.get(buf.byteLength) ?? [];
    if (slices.length >= RECYCLE_PER_SIZE || slices.some((v) => v.buffer === ab && v.byteOffset === buf.byteOffset)) return;
    slices.push({ buffer: ab, byteOffset: buf.byteOffset });
    recycledSlices.set(buf.byteLength, slices);
    return;
  }
  // Otherwise only whole buffers of their own (allocOutput's large outputs).
  if (buf.byteOffset !== 0 || ab.byteLength !== buf.byteLength || ab.byteLength < SLAB_MAX_ITEM) return;
  const list = recycled.get(ab.byteLength) ?? [];
  if (list.length >= RECYCLE_PER_SIZE || recycledBytes + ab.byteLength > RECYCLE_MAX_BYTES || list.includes(ab)) return;
  list.push(ab);
  recycled.set(ab.byteLength, list);
  recycledBytes += ab.byteLength;
}

/**
 * A number naming a weight storage's current contents, for the addon's prepacked weights: the
 * GEMM packs a B it was given the same key for twice, once, and reuses it while the key stays.
 * A new key for each storage (typed-array object) and each in-place write to it (optimizer
 * steps mark theirs: tensor/inplace.ts), from the addon's process-wide counter (worker threads
 * share the cache), so a key never names two contents.
 */
const weightKeys = new WeakMap<object, { changedAt: number; key: number }>();

function weightsKey(addon: NativeAddon, storage: Float32Array): number {
  const changedAt = lastChangedAt(storage);
  let entry = weightKeys.get(storage);
  if (!entry || entry.changedAt !== changedAt) weightKeys.set(storage, (entry = { changedAt, key: addon.newWeightsKey() }));
  return entry.key;
}

function allocOutput(dtype: DType, size: number): TypedArray {
  const Ctor = arrayType(dtype);
  const bytes = size * Ctor.BYTES_PER_ELEMENT;
  if (bytes >= SLAB_MAX_ITEM) {
    const reused = recycled.get(bytes)?.pop();
    if (reused) recycledBytes -= bytes;
    return new Ctor(reused ?? Buffer.allocUnsafeSlow(bytes).buffer, 0, size);
  }
  if (bytes <= SCALAR_MAX_BYTES) return new Ctor(size); // scalars (losses) are often kept: never let them pin a slab
  if (bytes <= SLAB_MIN_ITEM) {
    const at = smallSlab.carve(bytes);
    return new Ctor(smallSlab.buffer, at, size);
  }
  const slice = recycledSlices.get(bytes)?.pop();
  if (slice) return new Ctor(slice.buffer, slice.byteOffset, size);
  const at = slab.carve(bytes);
  return new Ctor(slab.buffer, at, size);
}

/**
 * [rank, ...shape, ...strides of each operand] for the addon's broadcasting kernels, with
 * adjacent axes merged wherever every operand steps through them as one (and size-1 axes
 * dropped): the kernels' inner loop then runs over whole rows, not a conv map's 26 columns.
 */
function geometry(shape: readonly number[], ...operands: readonly (readonly number[])[]): Float64Array {
  const dims: number[] = [];
  const strides: number[][] = operands.map(() => []);
  for (let d = 0; d < shape.length; d++) {
    if (shape[d] === 1) continue;
    const last = dims.length - 1;
    if (last >= 0 && operands.every((s, i) => strides[i][last] === s[d] * shape[d])) {
      dims[last] *= shape[d];
      operands.forEach((s, i) => (strides[i][last] = s[d]));
    } else {
      dims.push(shape[d]);
      operands.forEach((s, i) => strides[i].push(s[d]));
    }
  }
  const g = new Float64Array(1 + dims.length * (1 + operands.length));
  g[0] = dims.length;
  g.set(dims, 1);
  strides.forEach((s, i) => g.set(s, 1 + dims.length * (i + 1)));
  return g;
}

/** [outer, n, inner] when `axes` are one contiguous block, else null. */
function block(shape: readonly number[], axes: readonly number[]): [number, number, number] | null {
  if (axes.length === 0) return [sizeOf(shape), 1, 1];
  for (let i = 1; i < axes.length; i++) if (axes[i] !== axes[i - 1] + 1) return null;
  const first = axes[0];
  const last = axes[axes.length - 1];
  return [sizeOf(shape.slice(0, first)), sizeOf(shape.slice(first, last + 1)), sizeOf(shape.slice(last + 1))];
}

/** Conv2dShape's fields, in native/kernels.h order. */
function convGeometry(x: readonly number[], w: readonly number[], y: readonly number[], g: Conv2dGeometry): Float64Array {
  const [N, C, H, W] = x;
  const [O, Cg, KH, KW] = w;
  return Float64Array.of(N, C, H, W, O, Cg, KH, KW, y[2], y[3], ...g.stride, ...g.padding, ...g.dilation, g.groups);
}

/** Pool2dShape's fields, in native/kernels.h order. */
function poolGeometry(x: readonly number[], y: readonly number[], g: Pool2dGeometry): Float64Array {
  return Float64Array.of(x[0] * x[1], x[2], x[3], y[2], y[3], ...g.kernel, ...g.stride, ...g.padding);
}

const NO_INDEX = new Int32Array(0);
/** conv2d's "no bias": an empty array of the input's dtype. */
const NO_BIAS_F32 = new Float32Array(0);
const NO_BIAS_F64 = new Float64Array(0);

/** An absent optional operand (LayerNorm without gamma or beta): an empty array of the dtype. */
const emptyLike = (dtype: DType): F => (dtype === 'float64' ? NO_BIAS_F64 : NO_BIAS_F32);

type MatmulArgs = [Float64Array, Float64Array, number, number, number, boolean, boolean];

/** The output array and the addon's matmul arguments: per-batch offsets of A and B, sizes, flags. */
function matmulArgs(a: TensorInfo, b: TensorInfo, transA: boolean, transB: boolean, outShape: readonly number[]): { out: F; args: MatmulArgs } {
  const r = outShape.length;
  const M = outShape[r - 2];
  const N = outShape[r - 1];
  const K = transA ? a.shape[a.shape.length - 2] : a.shape[a.shape.length - 1];
  const batch = outShape.slice(0, r - 2);
  const count = sizeOf(batch);
  const offA = new Float64Array(count);
  const offB = new Float64Array(count);
  if (count > 1) {
    const stA = broadcastStrides(a.shape.slice(0, -2), batch).map((s) => s * M * K);
    const stB = broadcastStrides(b.shape.slice(0, -2), batch).map((s) => s * K * N);
    stridedLoop2(batch, stA, stB, (i, oa, ob) => {
      offA[i] = oa;
      offB[i] = ob;
    });
  }
  return { out: allocOutput(a.dtype, sizeOf(outShape)) as F, args: [offA, offB, M, N, K, transA, transB] };
}

export function createNativeBackend(addon: NativeAddon): Backend {
  const info = addon.info();
  const unaryCode = new Map(info.unaryOps.map((name, i) => [name, i]));
  const binaryCode = new Map(info.binaryOps.map((name, i) => [name, i]));
  const REDUCE_CODE = { sum: 0, max: 1, min: 2 } as const;

  return {
    ...jsBackend,
    ...nativeQuantizedKernels(addon, allocOutput, convGeometry),
    name: 'native',

    unary(op, x, outDtype, param) {
      if ((op === 'gelu' || op === 'geluTanh') && addon.gelu && isFloat(x.dtype) && outDtype === x.dtype) {
        const out = allocOutput(outDtype, sizeOf(x.shape)) as F;
        addon.gelu(x.buf as F, out, op === 'geluTanh');
        return out;
      }
      const code = unaryCode.get(op);
      if (code === undefined || !isFloat(x.dtype) || outDtype !== x.dtype) return jsBackend.unary(op, x, outDtype, param);
      const out = allocOutput(outDtype, sizeOf(x.shape)) as F;
      addon.unary(code, x.buf as F, out, param);
      return out;
    },

    binary(op, a, b, outShape, outDtype) {
      const code = binaryCode.get(op);
      if (code === undefined || !isFloat(a.dtype) || a.dtype !== b.dtype) return jsBackend.binary(op, a, b, outShape, outDtype);
      const out = allocOutput(outDtype, sizeOf(outShape)) as F | Uint8Array;
      const g = geometry(outShape, broadcastStrides(a.shape, outShape), broadcastStrides(b.shape, outShape));
      addon.binary(code, a.buf as F, b.buf as F, out, g);
      return out;
    },

    where(cond, a, b, outShape) {
      if (!isFloat(a.dtype)) return jsBackend.where(cond, a, b, outShape);
      const out = allocOutput(a.dtype, sizeOf(outShape)) as F;
      const g = geometry(outShape, broadcastStrides(cond.shape, outShape), broadcastStrides(a.shape, outShape), broadcastStrides(b.shape, outShape));
      addon.where(cond.buf as Uint8Array, a.buf as F, b.buf as F, out, g);
      return out;
    },

    reduce(op, x, axes) {
      if (!isFloat(x.dtype)) return jsBackend.reduce(op, x, axes);
      // Axes that are not one block (a conv bias gradient sums over N, H and W) reduce one
      // contiguous run at a time, innermost first; sum, max and min compose that way.
      const runs: number[][] = [];
      for (const a of [...axes].sort((p, q) => p - q)) {
        const run = runs[runs.length - 1];
        if (run && run[run.length - 1] === a - 1) run.push(a);
        else runs.push([a]);
      }
      if (runs.length === 0) runs.push([]);
      let buf = x.buf as F;
      const shape = [...x.shape];
      for (let r = runs.length - 1; r >= 0; r--) {
        const [outer, n, inner] = block(shape, runs[r])!;
        const out = allocOutput(x.dtype, outer * inner) as F;
        addon.reduce(REDUCE_CODE[op], buf, out, outer, n, inner);
        for (const a of runs[r]) shape[a] = 1;
        buf = out;
      }
      return buf;
    },

    argReduce(op, x, axis) {
      if (!isFloat(x.dtype)) return jsBackend.argReduce(op, x, axis);
      const [outer, n, inner] = around(x.shape, axis);
      const out = new Int32Array(outer * inner);
      addon.argReduce(op === 'argmax', x.buf as F, out, outer, n, inner);
      return out;
    },

    softmax(x, axis, log) {
      const [outer, n, inner] = around(x.shape, axis);
      const out = allocOutput(x.dtype, sizeOf(x.shape)) as F;
      addon.softmax(x.buf as F, out, outer, n, inner, log);
      return out;
    },

    conv2d(x, w, bias, activation, g, outShape) {
      const out = allocOutput(x.dtype, sizeOf(outShape)) as F;
      if (out.length > 0) addon.conv2d(0, x.buf as F, w.buf as F, out, convGeometry(x.shape, w.shape, outShape, g), (bias ? bias.buf : x.dtype === 'float64' ? NO_BIAS_F64 : NO_BIAS_F32) as F, FUSED_ACTIVATIONS.indexOf(activation));
      return out;
    },

    async conv2dAsync(x, w, bias, activation, g, outShape) {
      const out = allocOutput(x.dtype, sizeOf(outShape)) as F;
      if (out.length > 0) await addon.conv2dAsync(0, x.buf as F, w.buf as F, out, convGeometry(x.shape, w.shape, outShape, g), (bias ? bias.buf : x.dtype === 'float64' ? NO_BIAS_F64 : NO_BIAS_F32) as F, FUSED_ACTIVATIONS.indexOf(activation));
      return out;
    },

    linear(x, w, bias, activation, outShape) {
      const [K, N] = w.shape;
      const out = allocOutput('float32', sizeOf(outShape)) as Float32Array;
      if (out.length > 0) addon.linear(x.buf as Float32Array, w.buf as Float32Array, bias.buf as Float32Array, out, out.length / N, N, K, FUSED_ACTIVATIONS.indexOf(activation), weightsKey(addon, w.buf as Float32Array));
      return out;
    },

    rescaledLinear(x, scale, offset, w, bias, activation, outShape) {
      const [K, N] = w.shape;
      const out = allocOutput('float32', sizeOf(outShape)) as Float32Array;
      if (out.length > 0) addon.linear(x.buf as Float32Array | Uint8Array, w.buf as Float32Array, bias.buf as Float32Array, out, out.length / N, N, K, FUSED_ACTIVATIONS.indexOf(activation), weightsKey(addon, w.buf as Float32Array), scale, offset);
      return out;
    },

    conv2dMaxPool(x, w, bias, activation, g, convShape, pool, outShape) {
      const out = allocOutput(x.dtype, sizeOf(outShape)) as F;
      // The pooling geometry counts one image's planes: the kernel pools image by image.
      const pooling = Float64Array.of(convShape[1], convShape[2], convShape[3], outShape[2], outShape[3], ...pool.kernel, ...pool.stride, ...pool.padding);
      if (out.length > 0) addon.conv2d(0, x.buf as F, w.buf as F, out, convGeometry(x.shape, w.shape, convShape, g), (bias?.buf ?? NO_BIAS_F32) as F, FUSED_ACTIVATIONS.indexOf(activation), pooling);
      return out;
    },

    conv2dGradInput(dy, w, g, xShape) {
      const out = allocOutput(dy.dtype, sizeOf(xShape)) as F;
      if (out.length > 0) addon.conv2d(1, dy.buf as F, w.buf as F, out, convGeometry(xShape, w.shape, dy.shape, g));
      return out;
    },

    conv2dGradWeight(dy, x, g, wShape) {
      const out = allocOutput(dy.dtype, sizeOf(wShape)) as F;
      if (out.length > 0) addon.conv2d(2, dy.buf as F, x.buf as F, out, convGeometry(x.shape, wShape, dy.shape, g));
      return out;
    },

    maxPool2d(x, g, outShape, withArgmax = true) {
      const out = allocOutput(x.dtype, sizeOf(outShape)) as F;
      // Without a gradient to come, the kernel skips the argmax: 4 bytes an output not allocated or written.
      const argmax = withArgmax ? new Int32Array(out.length) : NO_INDEX;
      if (out.length > 0) addon.pool2d(0, x.buf as F, out, argmax, poolGeometry(x.shape, outShape, g));
      return { out, argmax: withArgmax ? argmax : null };
    },

    maxPool2dGrad(dy, argmax, xShape) {
      const out = allocOutput(dy.dtype, sizeOf(xShape)) as F;
      const geometry = Float64Array.of(xShape[0] * xShape[1], xShape[2], xShape[3], dy.shape[2], dy.shape[3], 0, 0, 0, 0, 0, 0);
      if (out.length > 0) addon.pool2d(1, dy.buf as F, out, argmax as Int32Array, geometry);
      return out;
    },

    avgPool2d(x, g, outShape) {
      const out = allocOutput(x.dtype, sizeOf(outShape)) as F;
      if (out.length > 0) addon.pool2d(2, x.buf as F, out, NO_INDEX, poolGeometry(x.shape, outShape, g));
      return out;
    },

    avgPool2dGrad(dy, g, xShape) {
      const out = allocOutput(dy.dtype, sizeOf(xShape)) as F;
      if (out.length > 0) addon.pool2d(3, dy.buf as F, out, NO_INDEX, poolGeometry(xShape, dy.shape, g));
      return out;
    },

    readView(x, shape, strides, offset) {
      const out = allocOutput(x.dtype, sizeOf(shape));
      addon.stridedCopy(x.buf as TypedArray, out, Float64Array.of(shape.length, ...shape, ...strides, ...stridesOf(shape), offset, 0));
      return out;
    },

    writeView(dst, _dtype, shape, strides, offset, x) {
      addon.stridedCopy(x.buf as TypedArray, dst as TypedArray, Float64Array.of(shape.length, ...shape, ...stridesOf(shape), ...strides, 0, offset));
    },

    indexSelect(x, axis, index) {
      const [outer, n, inner] = around(x.shape, axis);
      const out = allocOutput(x.dtype, outer * sizeOf(index.shape) * inner);
      addon.indexSelect(x.buf as TypedArray, index.buf as Int32Array, out, outer, n, inner);
      return out;
    },

    indexAdd(shape, dtype, axis, index, src) {
      if (!isFloat(dtype)) return jsBackend.indexAdd(shape, dtype, axis, index, src);
      const [outer, n, inner] = around(shape, axis);
      const out = allocArray(dtype, sizeOf(shape)) as F;
      addon.indexAdd(src.buf as F, index.buf as Int32Array, out, outer, n, inner);
      return out;
    },

    gather(x, axis, index) {
      const out = allocOutput(x.dtype, sizeOf(index.shape));
      addon.gather(x.buf as TypedArray, index.buf as Int32Array, out, Float64Array.of(index.shape.length, ...index.shape, ...stridesOf(x.shape), axis, x.shape[axis]));
      return out;
    },

    scatterAdd(shape, dtype, axis, index, src) {
      if (!isFloat(dtype)) return jsBackend.scatterAdd(shape, dtype, axis, index, src);
      const out = allocArray(dtype, sizeOf(shape)) as F;
      addon.scatterAdd(src.buf as F, index.buf as Int32Array, out, Float64Array.of(index.shape.length, ...index.shape, ...stridesOf(shape), axis, shape[axis]));
      return out;
    },

    scaleShift(x, scale, offset, dtype) {
      const out = allocOutput(dtype, sizeOf(x.shape)) as F;
      if (x.dtype === 'bool') return jsBackend.scaleShift(x, scale, offset, dtype);
      addon.scaleShift(x.buf as TypedArray, out, scale, offset);
      return out;
    },

    recycle(buf) {
      recycleBuffer(buf as TypedArray);
    },

    biasActivation(x, bias, activation) {
      const out = allocOutput(x.dtype, sizeOf(x.shape)) as F;
      addon.biasActivation(x.buf as F, bias.buf as F, out, FUSED_ACTIVATIONS.indexOf(activation));
      return out;
    },

    softmaxCrossEntropy(logits, labels) {
      const [n, c] = logits.shape;
      const losses = allocOutput(logits.dtype, n) as F;
      const grad = allocOutput(logits.dtype, n * c) as F;
      addon.softmaxCrossEntropy(logits.buf as F, labels.buf as Int32Array, losses, grad, n, c);
      return { losses, grad };
    },

    attention(q, k, v, scale, causal) {
      const [b, h, tq, d] = q.shape;
      const out = allocOutput(q.dtype, b * h * tq * d) as F;
      const lse = allocOutput(q.dtype, b * h * tq) as F;
      addon.attention(q.buf as F, k.buf as F, v.buf as F, out, lse, b * h, tq, k.shape[2], d, scale, causal);
      return { out, lse };
    },

    attentionGrad(dOut, q, k, v, out, lse, scale, causal) {
      const [b, h, tq, d] = q.shape;
      const dq = allocOutput(q.dtype, sizeOf(q.shape)) as F;
      const dk = allocOutput(k.dtype, sizeOf(k.shape)) as F;
      const dv = allocOutput(v.dtype, sizeOf(v.shape)) as F;
      addon.attentionGrad(dOut.buf as F, q.buf as F, k.buf as F, v.buf as F, out.buf as F, lse.buf as F, dq, dk, dv, b * h, tq, k.shape[2], d, scale, causal);
      return { dq, dk, dv };
    },

    // The packed forms fall back to js with an addon built before them, and for T = 0.
    attentionPacked(qkv, heads, scale, causal) {
      const [b, t, c3] = qkv.shape;
      if (!addon.attentionPacked || t === 0) return jsBackend.attentionPacked(qkv, heads, scale, causal);
      const out = allocOutput(qkv.dtype, (b * t * c3) / 3) as F;
      const lse = allocOutput(qkv.dtype, b * heads * t) as F;
      addon.attentionPacked(qkv.buf as F, out, lse, b, heads, t, c3 / 3 / heads, scale, causal);
      return { out, lse };
    },

    attentionPackedGrad(dOut, qkv, out, lse, heads, scale, causal) {
      const [b, t, c3] = qkv.shape;
      if (!addon.attentionPackedGrad || t === 0) return jsBackend.attentionPackedGrad(dOut, qkv, out, lse, heads, scale, causal);
      const dqkv = allocOutput(qkv.dtype, b * t * c3) as F;
      addon.attentionPackedGrad(dOut.buf as F, qkv.buf as F, out.buf as F, lse.buf as F, dqkv, b, heads, t, c3 / 3 / heads, scale, causal);
      return { dqkv };
    },

    attentionCached(qkv, kCache, vCache, length, capacity, heads, scale) {
      const [b, t, c3] = qkv.shape;
      if (!addon.attentionCached || t === 0) return jsBackend.attentionCached(qkv, kCache, vCache, length, capacity, heads, scale);
      const out = allocOutput(qkv.dtype, (b * t * c3) / 3) as F;
      addon.attentionCached(qkv.buf as F, kCache as F, vCache as F, out, b, heads, t, length, capacity, c3 / 3 / heads, scale);
      return { out };
    },

    layerNorm(x, gamma, beta, eps) {
      if (!addon.layerNorm || !isFloat(x.dtype)) return jsBackend.layerNorm(x, gamma, beta, eps);
      const C = x.shape[x.shape.length - 1];
      const rows = C > 0 ? sizeOf(x.shape) / C : 0;
      const none = emptyLike(x.dtype);
      const out = allocOutput(x.dtype, rows * C) as F;
      const mean = allocOutput(x.dtype, rows) as F;
      const rstd = allocOutput(x.dtype, rows) as F;
      addon.layerNorm(x.buf as F, (gamma?.buf ?? none) as F, (beta?.buf ?? none) as F, out, mean, rstd, rows, C, eps);
      return { out, mean, rstd };
    },

    layerNormGrad(dOut, x, mean, rstd, gamma) {
      if (!addon.layerNormGrad || !isFloat(x.dtype)) return jsBackend.layerNormGrad(dOut, x, mean, rstd, gamma);
      const C = x.shape[x.shape.length - 1];
      const rows = C > 0 ? sizeOf(x.shape) / C : 0;
      const dx = allocOutput(x.dtype, rows * C) as F;
      const dgamma = allocOutput(x.dtype, C) as F;
      const dbeta = allocOutput(x.dtype, C) as F;
      addon.layerNormGrad(dOut.buf as F, x.buf as F, mean.buf as F, rstd.buf as F, (gamma?.buf ?? emptyLike(x.dtype)) as F, dx, dgamma, dbeta, rows, C);
      return { dx, dgamma, dbeta };
    },

    geluGrad(x, dOut, approximate) {
      if (!addon.geluGrad || !isFloat(x.dtype)) return jsBackend.geluGrad(x, dOut, approximate);
      const dx = allocOutput(x.dtype, sizeOf(x.shape)) as F;
      addon.geluGrad(x.buf as F, dOut.buf as F, dx, approximate);
      return dx;
    },

    adamUpdate(p, g, m, v, h) {
      if (!isFloat(p.dtype) || p.dtype !== g.dtype) return jsBackend.adamUpdate(p, g, m, v, h);
      const hyper = Float64Array.of(h.lr, h.beta1, h.beta2, h.epsilon, h.weightDecay, h.biasCorrection1, h.biasCorrection2, h.decoupled ? 1 : 0);
      addon.adamUpdate(p.buf as F, g.buf as F, m.buf as F, v.buf as F, hyper);
    },

    matmul(a, b, transA, transB, outShape) {
      const { out, args } = matmulArgs(a, b, transA, transB, outShape);
      if (out.length > 0) addon.matmul(a.buf as F, b.buf as F, out, ...args);
      return out;
    },

    async matmulAsync(a, b, transA, transB, outShape) {
      const { out, args } = matmulArgs(a, b, transA, transB, outShape);
      if (out.length > 0) await addon.matmulAsync(a.buf as F, b.buf as F, out, ...args);
      return out;
    },
  };
}

