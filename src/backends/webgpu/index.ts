// The webgpu backend: WGSL compute kernels through WebGPU (dawn.node in Node, navigator.gpu in a
// browser). Float32, int32, uint8 and bool; float64 has no WGSL type. Kernels are queued, not
// waited for: reading values back is async (`await t.data()`). A kernel this backend lacks is an
// error naming it, never a quiet run on the CPU.
import type { Backend, TensorInfo } from '../backend.js';
import { fail, fmtShape } from '../../errors.js';
import { type DType, type TypedArray, castArray, isFloat } from '../../tensor/dtype.js';
import { type AdapterDescription, GpuContext, fromGpuElements } from './device.js';
import type { GpuBuf, GpuMemoryStats } from './memory.js';
import { biasActivation, binary, cast, fill, geluGrad, scaleShift, unary, where } from './elementwise.js';
import { readView, writeView } from './layout.js';
import { argReduce, reduce, softmax, softmaxCrossEntropy } from './reduce.js';
import { matmul } from './matmul.js';
import { adamUpdate } from './optim.js';
import { avgPool2d, avgPool2dGrad, conv2d, conv2dGradInput, conv2dGradWeight, maxPool2d, maxPool2dGrad } from './conv.js';
import { attention, attentionCached, attentionGrad, attentionPacked, attentionPackedGrad } from './attention.js';
import { layerNorm, layerNormGrad } from './norm.js';
import { gather, indexAdd, indexSelect, scatterAdd } from './indexing.js';
import { wgslType } from './wgsl.js';
import { jsBackend } from '../js/index.js';

/** Backend methods without a webgpu kernel yet; each throws a LatheError naming itself. Empty: keep it so. */
export const WEBGPU_MISSING: readonly (keyof Backend)[] = [];

export interface WebGPUBackend extends Backend {
  readonly adapter: AdapterDescription;
  /** GPU memory held by this backend (allocated minus freed), in use by tensors and pooled. */
  memory(): GpuMemoryStats;
  /** The device's size limits in bytes: one tensor must fit both. */
  readonly limits: { maxStorageBufferBindingSize: number; maxBufferSize: number };
  /** Waits until every queued kernel has run. */
  sync(): Promise<void>;
  /** Gives pooled buffers back to the device. */
  trim(): void;
  /** Destroys the device: every later call fails, naming the op. */
  destroy(): void;
}

function gpuStorage(op: string, data: TypedArray, dtype: DType): Float32Array | Int32Array | Uint32Array {
  const t = wgslType(op, dtype);
  const typed = castArray(data, dtype);
  return t === 'u32' ? Uint32Array.from(typed) : (typed as Float32Array | Int32Array);
}

/** Largest integer result whose host copy is kept (a batch's labels, not a whole dataset). */
const HOST_MIRROR_LIMIT = 1 << 16;

/**
 * Gives `out` a host copy when the host already holds both operands' values: so a batch of
 * labels picked on the GPU (fit's indexSelect) stays checkable by the op layer's synchronous
 * range checks. The GPU result is the tensor's value; the copy only answers dataSync().
 */
function mirrorHost(out: GpuBuf, x: TensorInfo, index: TensorInfo, pick: (x: TensorInfo, index: TensorInfo) => unknown): GpuBuf {
  const [hx, hi] = [(x.buf as GpuBuf).host, (index.buf as GpuBuf).host];
  if (hx && hi && out.length <= HOST_MIRROR_LIMIT) {
    out.host = pick({ shape: x.shape, dtype: x.dtype, buf: hx }, { shape: index.shape, dtype: index.dtype, buf: hi }) as TypedArray;
  }
  return out;
}

/** mirrorHost for a one-operand kernel: a slice of uploaded labels (evaluate's batches) stays checkable too. */
function mirrorView(out: GpuBuf, x: TensorInfo, pick: (x: TensorInfo) => unknown): GpuBuf {
  const hx = (x.buf as GpuBuf).host;
  if (hx && out.length <= HOST_MIRROR_LIMIT) out.host = pick({ shape: x.shape, dtype: x.dtype, buf: hx }) as TypedArray;
  return out;
}

function missing(name: string): () => never {
  return () => fail(name, 'the webgpu backend has no kernel for it yet (issue 11); move the tensors with .to(\'js\') explicitly to run it on the CPU');
}

export async function createWebGPUBackend(): Promise<WebGPUBackend> {
  const ctx = await GpuContext.create();
  const b = (x: TensorInfo) => x.buf as GpuBuf;
  const backend: WebGPUBackend = {
    name: 'webgpu',
    adapter: ctx.adapter,
    upload(data, dtype) {
      const buf = ctx.upload(gpuStorage('upload', data, dtype), dtype);
      // Integer and bool values (labels, indices, masks) stay readable on the host for the op layer's range checks.
      if (!isFloat(dtype)) buf.host = castArray(data, dtype);
      return buf;
    },
    download(x) {
      const host = b(x).host;
      if (host) return host.slice();
      return fail('dataSync', `a webgpu tensor (${fmtShape(x.shape)} ${x.dtype}) is read back asynchronously: use \`await t.data()\` instead of dataSync(), toArray() or item()`);
    },
    async downloadAsync(x) {
      const host = b(x).host;
      if (host) return host.slice();
      return fromGpuElements(await ctx.read(`data ${fmtShape(x.shape)} ${x.dtype}`, b(x)), x.dtype);
    },
    fill: (dtype, size, value) => fill(ctx, dtype, size, value),
    cast: (x, dtype) => cast(ctx, x, dtype),
    readView: (x, shape, strides, offset) => mirrorView(readView(ctx, x, shape, strides, offset), x, (hx) => jsBackend.readView(hx, shape, strides, offset)),
    writeView: (dst, dtype, shape, strides, offset, x) => writeView(ctx, dst as GpuBuf, dtype, shape, strides, offset, x),
    unary: (op, x, outDtype, param) => unary(ctx, op, x, outDtype, param),
    binary: (op, x, y, outShape, outDtype) => binary(ctx, op, x, y, outShape, outDtype),
    where: (c, x, y, outShape) => where(ctx, c, x, y, outShape),
    reduce: (op, x, axes) => reduce(ctx, op, x, axes),
    argReduce: (op, x, axis) => argReduce(ctx, op, x, axis),
    softmax: (x, axis, log) => softmax(ctx, x, axis, log),
    matmul: (x, y, transA, transB, outShape) => matmul(ctx, x, y, transA, transB, outShape),
    biasActivation: (x, bias, activation) => biasActivation(ctx, x, bias, activation),
    scaleShift: (x, scale, offset, dtype) => scaleShift(ctx, x, scale, offset, dtype),
    softmaxCrossEntropy: (logits, labels) => softmaxCrossEntropy(ctx, logits, labels),
    geluGrad: (x, dOut, approximate) => geluGrad(ctx, x, dOut, approximate),
    layerNorm: (x, gamma, beta, eps) => layerNorm(ctx, x, gamma, beta, eps),
    layerNormGrad: (dOut, x, mean, rstd, gamma) => layerNormGrad(ctx, dOut, x, mean, rstd, gamma),
    attention: (q, k, v, scale, causal) => attention(ctx, q, k, v, scale, causal),
    attentionGrad: (dOut, q, k, v, out, lse, scale, causal) => attentionGrad(ctx, dOut, q, k, v, out, lse, scale, causal),
    attentionPacked: (qkv, heads, scale, causal) => attentionPacked(ctx, qkv, heads, scale, causal),
    attentionPackedGrad: (dOut, qkv, out, lse, heads, scale, causal) => attentionPackedGrad(ctx, dOut, qkv, out, lse, heads, scale, causal),
    attentionCached: (qkv, kCache, vCache, length, capacity, heads, scale) => attentionCached(ctx, qkv, kCache as GpuBuf, vCache as GpuBuf, length, capacity, heads, scale),
    conv2d: (x, w, bias, activation, g, outShape) => conv2d(ctx, x, w, bias, activation, g, outShape),
    conv2dGradInput: (dy, w, g, xShape) => conv2dGradInput(ctx, dy, w, g, xShape),
    conv2dGradWeight: (dy, x, g, wShape) => conv2dGradWeight(ctx, dy, x, g, wShape),
    maxPool2d: (x, g, outShape, withArgmax) => maxPool2d(ctx, x, g, outShape, withArgmax),
    maxPool2dGrad: (dy, argmax, xShape) => maxPool2dGrad(ctx, dy, argmax as GpuBuf, xShape),
    avgPool2d: (x, g, outShape) => avgPool2d(ctx, x, g, outShape),
    avgPool2dGrad: (dy, g, xShape) => avgPool2dGrad(ctx, dy, g, xShape),
    gather: (x, axis, index) => mirrorHost(gather(ctx, x, axis, index), x, index, (hx, hi) => jsBackend.gather(hx, axis, hi)),
    scatterAdd: (shape, dtype, axis, index, src) => scatterAdd(ctx, shape, dtype, axis, index, src),
    indexSelect: (x, axis, index) => mirrorHost(indexSelect(ctx, x, axis, index), x, index, (hx, hi) => jsBackend.indexSelect(hx, axis, hi)),
    indexAdd: (shape, dtype, axis, index, src) => indexAdd(ctx, shape, dtype, axis, index, src),
    adamUpdate: (p, g, m, v, h) => adamUpdate(ctx, p, g, m, v, h),
    recycle: (buf) => ctx.pool.recycle(buf as GpuBuf),
    hold: (buf) => void (buf as GpuBuf).holders++,
    letGo: (buf) => ctx.pool.letGo(buf as GpuBuf),
    memory: () => ctx.pool.memory(),
    limits: { maxStorageBufferBindingSize: ctx.device.limits.maxStorageBufferBindingSize, maxBufferSize: ctx.device.limits.maxBufferSize },
    sync: () => ctx.sync(),
    trim: () => ctx.pool.trim(),
    destroy: () => ctx.destroy(),
    // The kernels still to write throw, naming themselves.
    ...(Object.fromEntries(WEBGPU_MISSING.map((name) => [name, missing(name)])) as Partial<Backend>),
  };
  return backend;
}
