// Loads the C++ addon that node-gyp built during install, or explains why it could not.
import { existsSync } from 'node:fs';
import type { TypedArray } from '../../tensor/dtype.js';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

type F = Float32Array | Float64Array;

/** The functions native/binding.cc exports. */
export interface NativeAddon {
  info(): { unaryOps: string[]; binaryOps: string[]; gemmKernel: string; threads: number };
  setThreads(n: number): void;
  /** While true, this thread's kernels run on it alone (acquirePool gives a one-thread pool). */
  setSerial(serial: boolean): void;
  /** Wakes the pool's sleeping workers to spin for the next loop (ThreadPool::wake). */
  wakeThreads(): void;
  unary(code: number, x: F, out: F, param: number): void;
  binary(code: number, a: F, b: F, out: F | Uint8Array, geometry: Float64Array): void;
  where(cond: Uint8Array, a: F, b: F, out: F, geometry: Float64Array): void;
  reduce(code: number, x: F, out: F, outer: number, n: number, inner: number): void;
  argReduce(isMax: boolean, x: F, out: Int32Array, outer: number, n: number, inner: number): void;
  softmax(x: F, out: F, outer: number, n: number, inner: number, log: boolean): void;
  /** A key for linear's weightsKey that no thread of this process was given before. */
  newWeightsKey(): number;
  /** Lowers the calling thread to the pool workers' priority (a worker thread computing beside an event loop). */
  lowerThreadPriority(): void;
  /**
   * out [M,N] = act(x [M,K] w [K,N] + bias [N]), float32, one GEMM pass. weightsKey names w's
   * contents (0: none) for the GEMM's prepacked weights (see weightsKey in index.ts). With scale
   * and offset, x (float32 or uint8) is read as x * scale + offset.
   */
  linear(x: Float32Array | Uint8Array, w: Float32Array, bias: Float32Array, out: Float32Array, M: number, N: number, K: number, activation: number, weightsKey: number, scale?: number, offset?: number): void;
  /**
   * Forward (which 0) takes the bias (empty: none) and the activation's index in FUSED_ACTIVATIONS.
   * With `pooling` (one image's max-pooling geometry), `out` receives the pooled output.
   */
  conv2d(which: 0 | 1 | 2, a: F, b: F, out: F, geometry: Float64Array, bias?: F, activation?: number, pooling?: Float64Array): void;
  conv2dAsync(which: 0, a: F, b: F, out: F, geometry: Float64Array, bias: F, activation: number): Promise<void>;
  pool2d(which: 0 | 1 | 2 | 3, a: F, out: F, argmax: Int32Array, geometry: Float64Array): void;
  stridedCopy(src: TypedArray, dst: TypedArray, geometry: Float64Array): void;
  indexSelect(x: TypedArray, index: Int32Array, out: TypedArray, outer: number, n: number, inner: number): void;
  indexAdd(src: F, index: Int32Array, out: F, outer: number, n: number, inner: number): void;
  gather(x: TypedArray, index: Int32Array, out: TypedArray, geometry: Float64Array): void;
  scatterAdd(src: F, index: Int32Array, out: F, geometry: Float64Array): void;
  /** act: the index in FUSED_ACTIVATIONS (linear, relu, sigmoid, tanh). */
  biasActivation(x: F, bias: F, out: F, act: number): void;
  scaleShift(x: TypedArray, out: F, scale: number, offset: number): void;
  softmaxCrossEntropy(logits: F, labels: Int32Array, losses: F, grad: F, n: number, c: number): void;
  /** q, out [heads, Tq, D], k, v [heads, Tk, D], lse [heads, Tq]; one dtype throughout. */
  attention(q: F, k: F, v: F, out: F, lse: F, heads: number, Tq: number, Tk: number, D: number, scale: number, causal: boolean): void;
  attentionGrad(dOut: F, q: F, k: F, v: F, out: F, lse: F, dq: F, dk: F, dv: F, heads: number, Tq: number, Tk: number, D: number, scale: number, causal: boolean): void;
  attentionPacked?(qkv: F, out: F, lse: F, B: number, H: number, T: number, D: number, scale: number, causal: boolean): void;
  attentionPackedGrad?(dOut: F, qkv: F, out: F, lse: F, dqkv: F, B: number, H: number, T: number, D: number, scale: number, causal: boolean): void;
  attentionCached?(qkv: F, kCache: F, vCache: F, out: F, B: number, H: number, T: number, length: number, capacity: number, D: number, scale: number): void;
  /** x, out [rows, C]; gamma, beta [C] or empty (none); mean, rstd [rows]. */
  layerNorm(x: F, gamma: F, beta: F, out: F, mean: F, rstd: F, rows: number, C: number, eps: number): void;
  /** gamma empty: none. dgamma and dbeta [C], overwritten. */
  layerNormGrad(dOut: F, x: F, mean: F, rstd: F, gamma: F, dx: F, dgamma: F, dbeta: F, rows: number, C: number): void;
  gelu(x: F, out: F, approximate: boolean): void;
  geluGrad(x: F, dOut: F, dx: F, approximate: boolean): void;
  adamUpdate(p: F, g: F, m: F, v: F, hyper: Float64Array): void;
  matmul(a: F, b: F, out: F, offA: Float64Array, offB: Float64Array, M: number, N: number, K: number, transA: boolean, transB: boolean): void;
  // Quantized inference (native/quantized_binding.cc). Packed weights are opaque handles.
  qPackWeights(w: Int8Array, K: number, N: number, transB: boolean): unknown;
  qPackConvWeights(w: Int8Array, O: number, C: number, KH: number, KW: number): unknown;
  /** inScale <= 0: quantize x dynamically. act: the index in FUSED_ACTIVATIONS. */
  /** With scale and offset, x is uint8 read as x * scale + offset. */
  qLinear(x: Float32Array | Uint8Array, M: number, K: number, packed: unknown, wScale: Float32Array, bias: Float32Array, act: number, inScale: number, inZero: number, out: Float32Array, scale?: number, offset?: number): void;
  qConv2d(x: Float32Array, geometry: Float64Array, packed: unknown, wScale: Float32Array, bias: Float32Array, act: number, inScale: number, inZero: number, out: Float32Array, pooling?: Float64Array): void;
  /** x: Float32Array, or Uint8Array read as x * scale + offset; then per block: geometry, packed, wScale, bias, act, inScale, inZero, pooling. */
  qConvBlocks(x: Float32Array | Uint8Array, N: number, out: Float32Array, scale: number, offset: number, ...blocks: unknown[]): void;
  qGemmInt32(a: Uint8Array, M: number, aZero: number, packed: unknown, out: Int32Array): void;
  /** scale <= 0: dynamic. Returns the [scale, zeroPoint] used. */
  quantizeU8(x: Float32Array, out: Uint8Array, scale: number, zeroPoint: number): [number, number];
  /** The int8 kernel in use; a name forces one (tests), '' restores dispatch. */
  qgemmKernel(force?: string): string;
  /** matmul on the addon's executor thread; the event loop keeps running meanwhile. */
  matmulAsync(a: F, b: F, out: F, offA: Float64Array, offB: Float64Array, M: number, N: number, K: number, transA: boolean, transB: boolean): Promise<void>;
}

export const ADDON_PATH = fileURLToPath(new URL('../../../../build/Release/lathe_native.node', import.meta.url));

/** The addon, or the reason it could not be loaded. LATHE_NATIVE_ADDON names another build (a
 * developer's experimental one, beside the installed build). */
export function loadAddon(path = process.env.LATHE_NATIVE_ADDON || ADDON_PATH): { addon: NativeAddon } | { error: string } {
  if (!existsSync(path)) return { error: `${path} does not exist (the native build did not run or failed)` };
  try {
    return { addon: createRequire(import.meta.url)(path) as NativeAddon };
  } catch (e) {
    return { error: `${path} failed to load: ${(e as Error).message}` };
  }
}
