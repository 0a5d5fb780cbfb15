// The backend interface: the kernels the ops need, and nothing else. The op layer validates
// arguments and works out output shapes and dtypes, so a kernel only computes. A backend
// owns its storage (`Buf`): a typed array for the CPU backends, a GPU buffer later.
import type { DType, TypedArray } from '../tensor/dtype.js';
import type { Shape } from '../tensor/shape.js';

export type Buf = unknown;

/** What a kernel sees of a tensor: contiguous row-major storage of `shape` elements of `dtype`. */
export interface TensorInfo {
  readonly shape: Shape;
  readonly dtype: DType;
  readonly buf: Buf;
}

export const UNARY_OPS = [
  'neg', 'exp', 'log', 'sqrt', 'rsqrt', 'abs', 'sign', 'square', 'reciprocal',
  'tanh', 'sigmoid', 'relu', 'gelu', 'geluTanh', 'erf', 'sin', 'cos',
  'log1p', 'expm1', 'softplus', 'floor', 'ceil', 'round', 'leakyRelu', 'elu', 'not',
] as const;
export type UnaryOp = (typeof UNARY_OPS)[number];

export const BINARY_OPS = ['add', 'sub', 'mul', 'div', 'pow', 'maximum', 'minimum', 'eq', 'ne', 'lt', 'le', 'gt', 'ge'] as const;
export type BinaryOp = (typeof BINARY_OPS)[number];
export const COMPARISON_OPS: ReadonlySet<BinaryOp> = new Set(['eq', 'ne', 'lt', 'le', 'gt', 'ge']);

export type ReduceOp = 'sum' | 'max' | 'min';

/** conv2d and pooling geometry, NCHW, with every field resolved to numbers. */
export interface Conv2dGeometry {
  stride: [number, number];
  padding: [number, number];
  dilation: [number, number];
  groups: number;
}

/** One block of quantizedConvBlocks: a quantized conv on inShape (convShape out), then the max pool to shape. */
export interface QuantizedConvBlockPlan extends Conv2dGeometry {
  w: PackedInt8;
  wScale: TensorInfo;
  bias: TensorInfo | null;
  activation: FusedActivation;
  input: InputQuantization | null;
  inShape: Shape;
  convShape: Shape;
  pool: Pool2dGeometry;
  shape: Shape;
}

export interface Pool2dGeometry {
  kernel: [number, number];
  stride: [number, number];
  padding: [number, number];
}

/** One Adam/AdamW step's constants; bias corrections are 1 - beta^t for the step t. */
export interface AdamHyper {
  lr: number;
  beta1: number;
  beta2: number;
  epsilon: number;
  weightDecay: number;
  /** AdamW: decay the weights directly instead of adding weightDecay * p to the gradient. */
  decoupled: boolean;
  biasCorrection1: number;
  biasCorrection2: number;
}

/** Activations that fuse with a bias add; each derivative is a function of the output alone. */
export const FUSED_ACTIVATIONS = ['linear', 'relu', 'sigmoid', 'tanh'] as const;
export type FusedActivation = (typeof FUSED_ACTIVATIONS)[number];

/** A uint8 quantization of a layer's float input (ONNX QuantizeLinear): x ~ (q - zeroPoint) * scale. */
export interface InputQuantization {
  scale: number;
  zeroPoint: number;
}

/** int8 weights in the form one backend's quantized kernels read, packed once per layer. */
export interface PackedInt8 {
  readonly backend: string;
  /** 'dense': [K, N] (Keras' kernel layout); 'conv': [O, C, KH, KW], groups 1. */
  readonly layout: 'dense' | 'conv';
  readonly shape: Shape;
  readonly handle: unknown;
}

export interface Backend {
  readonly name: string;

  // Memory. `upload` takes ownership of the array; `download` returns an array the caller may keep.
  upload(data: TypedArray, dtype: DType): Buf;
  download(x: TensorInfo): TypedArray;
  /**
   * Optional: the values once every queued kernel has run. GPU backends implement it, since
   * WebGPU can read buffers back only asynchronously; Tensor.data() uses it when present.
   */
  downloadAsync?(x: TensorInfo): Promise<TypedArray>;
  fill(dtype: DType, size: number, value: number): Buf;
  cast(x: TensorInfo, dtype: DType): Buf;

  // Layout. `readView` copies the strided view (shape, strides, offset) of x into new contiguous
  // storage: transpose, slice and expand are all this one kernel. `writeView` is its inverse,
  // writing x into such a view of an existing buffer (pad, concat, the gradient of slice).
  readView(x: TensorInfo, shape: Shape, strides: readonly number[], offset: number): Buf;
  writeView(dst: Buf, dstDtype: DType, shape: Shape, strides: readonly number[], offset: number, x: TensorInfo): void;

  // Elementwise, with numpy broadcasting to outShape. `param` is the slope of leakyRelu and the alpha of elu.
  unary(op: UnaryOp, x: TensorInfo, outDtype: DType, param: number): Buf;
  binary(op: BinaryOp, a: TensorInfo, b: TensorInfo, outShape: Shape, outDtype: DType): Buf;
  where(cond: TensorInfo, a: TensorInfo, b: TensorInfo, outShape: Shape): Buf;

  // Reductions over sorted, unique axes; the output drops those axes.
  reduce(op: ReduceOp, x: TensorInfo, axes: readonly number[]): Buf;
  /** Index of the max or min along one axis, as int32; the first on ties. */
  argReduce(op: 'argmax' | 'argmin', x: TensorInfo, axis: number): Buf;
  /** softmax or logSoftmax along one axis, numerically stable (the max is subtracted first). */
  softmax(x: TensorInfo, axis: number, log: boolean): Buf;

  /** Batched matmul over broadcast leading dims: out[..., m, n] = sum_k op(a)[..., m, k] op(b)[..., k, n]. */
  matmul(a: TensorInfo, b: TensorInfo, transA: boolean, transB: boolean, outShape: Shape): Buf;
  /** The same off the calling thread, for servers; backends without it run matmul synchronously. */
  matmulAsync?(a: TensorInfo, b: TensorInfo, transA: boolean, transB: boolean, outShape: Shape): Promise<Buf>;

  // Indexing. gather/scatterAdd follow torch.gather; indexSelect/indexAdd pick whole slices along an axis.
  gather(x: TensorInfo, axis: number, index: TensorInfo): Buf;
  scatterAdd(shape: Shape, dtype: DType, axis: number, index: TensorInfo, src: TensorInfo): Buf;
  indexSelect(x: TensorInfo, axis: number, index: TensorInfo): Buf;
  indexAdd(shape: Shape, dtype: DType, axis: number, index: TensorInfo, src: TensorInfo): Buf;

  // Convolution and pooling, NCHW.
  /** act(conv(x, w) + bias), the bias [O] per output channel (or none) and the activation fused in. */
  conv2d(x: TensorInfo, w: TensorInfo, bias: TensorInfo | null, activation: FusedActivation, g: Conv2dGeometry, outShape: Shape): Buf;
  /** conv2d off the calling thread, for servers; backends without it run conv2d synchronously. */
  conv2dAsync?(x: TensorInfo, w: TensorInfo, bias: TensorInfo | null, activation: FusedActivation, g: Conv2dGeometry, outShape: Shape): Promise<Buf>;
  /**
   * maxPool2d(conv2d(...)) for inference, without argmax: the native kernel pools each image's
   * conv output while it is in cache. Optional, float32; convShape is conv2d's output shape,
   * outShape the pooled one.
   */
  conv2dMaxPool?(x: TensorInfo, w: TensorInfo, bias: TensorInfo | null, activation: FusedActivation, g: Conv2dGeometry, convShape: Shape, pool: Pool2dGeometry, outShape: Shape): Buf;
  conv2dGradInput(dy: TensorInfo, w: TensorInfo, g: Conv2dGeometry, xShape: Shape): Buf;
  conv2dGradWeight(dy: TensorInfo, x: TensorInfo, g: Conv2dGeometry, wShape: Shape): Buf;
  /** Returns the pooled values and, per output, the flat index (within its H*W plane) of the max. */
  /** out = x * scale + offset as `dtype` (x of any numeric dtype): a Rescaling layer's cast and scale in one pass. */
  scaleShift(x: TensorInfo, scale: number, offset: number, dtype: 'float32' | 'float64'): Buf;
  /** Max pooling; the argmax (for the gradient) only when `withArgmax`: inference skips writing it. */
  maxPool2d(x: TensorInfo, g: Pool2dGeometry, outShape: Shape, withArgmax?: boolean): { out: Buf; argmax: Buf | null };
  maxPool2dGrad(dy: TensorInfo, argmax: Buf, xShape: Shape): Buf;
  /** Average pooling; padding counts toward the divisor (PyTorch's count_include_pad=True). */
  avgPool2d(x: TensorInfo, g: Pool2dGeometry, outShape: Shape): Buf;
  avgPool2dGrad(dy: TensorInfo, g: Pool2dGeometry, xShape: Shape): Buf;

  // Quantized inference (src/quant): float in, float out; int8 weights, int32 sums in between.
  /** Packs int8 weights for quantizedLinear ('dense') or quantizedConv2d ('conv'). */
  packInt8?(w: TensorInfo, layout: 'dense' | 'conv'): PackedInt8;
  /**
   * y [M, N] = act(sum_k (q(x)[m,k] - zp) w[k,n] * (scale * wScale[n]) + bias[n]) for float32 x
   * [M, K], q(x) its uint8 quantization with `input`, or with parameters computed from x as ONNX
   * DynamicQuantizeLinear does when `input` is null. A row holding NaN or Inf comes out NaN.
   */
  quantizedLinear?(x: TensorInfo, w: PackedInt8, wScale: TensorInfo, bias: TensorInfo | null, activation: FusedActivation, input: InputQuantization | null): Buf;
  /**
   * quantizedLinear on uint8 x read as x * scale + offset in float32 (scaleShift's arithmetic): a
   * Rescaling layer and the QuantizedDense after it. Optional; equals scaleShift then quantizedLinear exactly.
   */
  rescaledQuantizedLinear?(x: TensorInfo, scale: number, offset: number, w: PackedInt8, wScale: TensorInfo, bias: TensorInfo | null, activation: FusedActivation, input: InputQuantization | null): Buf;
  /** The same for conv2d, NCHW, groups 1; padding reads the zero point. */
  quantizedConv2d?(x: TensorInfo, w: PackedInt8, wScale: TensorInfo, bias: TensorInfo | null, activation: FusedActivation, input: InputQuantization | null, g: Conv2dGeometry, outShape: Shape): Buf;
  /** quantizedConv2d then max pooling (no argmax), as conv2dMaxPool: convShape is the conv's output shape, outShape the pooled one. */
  quantizedConv2dMaxPool?(x: TensorInfo, w: PackedInt8, wScale: TensorInfo, bias: TensorInfo | null, activation: FusedActivation, input: InputQuantization | null, g: Conv2dGeometry, convShape: Shape, pool: Pool2dGeometry, outShape: Shape): Buf;
  /**
   * quantizedConv2dMaxPool block after block, each on the previous block's pooled output (inShape).
   * outShape: the last block's. With `rescale`, x is uint8 read as x * scale + offset (scaleShift's
   * arithmetic) by the first block: a Rescaling layer before it.
   */
  quantizedConvBlocks?(x: TensorInfo, blocks: readonly QuantizedConvBlockPlan[], outShape: Shape, rescale: { scale: number; offset: number } | null): Buf;

  /** act(x + bias) with x [..., C] and bias [C]: a layer's bias and activation in one pass. */
  biasActivation(x: TensorInfo, bias: TensorInfo, activation: FusedActivation): Buf;
  /**
   * act(x w + bias) for x [..., K], w [K, N], bias [N]: a Dense layer's forward in one GEMM pass
   * (the native kernel applies bias and activation to each tile of the output while in cache).
   * Optional, float32, for inference; equals matmul then biasActivation exactly.
   */
  linear?(x: TensorInfo, w: TensorInfo, bias: TensorInfo, activation: FusedActivation, outShape: Shape): Buf;
  /**
   * linear on x read as x * scale + offset in float32 (scaleShift's arithmetic): a Rescaling
   * layer and the Dense after it, x uint8 or float32. Optional, for inference; equals scaleShift
   * then linear exactly (the native GEMM rescales each block of x as it packs it).
   */
  rescaledLinear?(x: TensorInfo, scale: number, offset: number, w: TensorInfo, bias: TensorInfo, activation: FusedActivation, outShape: Shape): Buf;

  /**
   * Optional: `buf` is garbage that nothing can read again, so its memory may serve the next
   * output of its size. A reused buffer is still in cache; a fresh one costs its size in cold
   * writes (a 2.7 MB conv output: 220 us fresh against 50 us reused).
   */
  recycle?(buf: Buf): void;
  /**
   * Optional, for storage the garbage collector would otherwise free late (GPU buffers): every
   * Tensor holding `buf` calls hold() when it takes it and letGo() when it drops it (dispose,
   * assign); the last letGo() frees it at once. Holders collected without dispose() leave it to
   * the collector, as without these.
   */
  hold?(buf: Buf): void;
  letGo?(buf: Buf): void;

  /**
   * Softmax cross-entropy against integer labels, per row of logits [N, C]: the losses
   * -log softmax(x)[label] [N], and their gradient w.r.t. the logits, softmax(x) - onehot(label)
   * [N, C], computed in the same pass (as TensorFlow's SparseSoftmaxCrossEntropyWithLogits does).
   */
  softmaxCrossEntropy(logits: TensorInfo, labels: TensorInfo): { losses: Buf; grad: Buf };

  /**
   * Scaled dot-product attention over B*H independent heads: q [B,H,Tq,D], k and v [B,H,Tk,D].
   * out = softmax(q k^T * scale) v [B,H,Tq,D], where causal masks key j from query i when
   * j > i + (Tk - Tq); also lse [B,H,Tq], each row's log-sum-exp of its scaled, masked scores,
   * from which the backward recomputes the probabilities instead of keeping [Tq,Tk] per head.
   */
  attention(q: TensorInfo, k: TensorInfo, v: TensorInfo, scale: number, causal: boolean): { out: Buf; lse: Buf };
  /** attention's gradients w.r.t. q, k and v, from dOut and the forward's out and lse. */
  attentionGrad(dOut: TensorInfo, q: TensorInfo, k: TensorInfo, v: TensorInfo, out: TensorInfo, lse: TensorInfo, scale: number, causal: boolean): { dq: Buf; dk: Buf; dv: Buf };
  /**
   * attention in the packed layout: q, k and v read in place from the fused projection qkv
   * [B, T, 3C] (head h of q at column h*D, of k at C + h*D, of v at 2C + h*D; C = heads * D),
   * out [B, T, C] with head h at column h*D, lse [B, heads, T]. No head split or merge copies.
   */
  attentionPacked(qkv: TensorInfo, heads: number, scale: number, causal: boolean): { out: Buf; lse: Buf };
  /** attentionPacked's gradient w.r.t. qkv, [B, T, 3C], written in full. */
  attentionPackedGrad(dOut: TensorInfo, qkv: TensorInfo, out: TensorInfo, lse: TensorInfo, heads: number, scale: number, causal: boolean): { dqkv: Buf };
  /**
   * A decoding step with a KV cache: writes the keys and values of qkv [B, T, 3C] in place to
   * rows length..length+T-1 of kCache and vCache ([B, heads, capacity, D] buffers of qkv's dtype),
   * then causal attention of the T queries over rows 0..length+T-1: out [B, T, C]. No gradient.
   */
  attentionCached(qkv: TensorInfo, kCache: Buf, vCache: Buf, length: number, capacity: number, heads: number, scale: number): { out: Buf };

  /**
   * LayerNorm over the last axis of x [..., C]: out = (x - mean) * rstd * gamma + beta (gamma and
   * beta [C], each optional), with each row's mean and rstd = 1/sqrt(biased var + eps) [rows]
   * for the backward.
   */
  layerNorm(x: TensorInfo, gamma: TensorInfo | null, beta: TensorInfo | null, eps: number): { out: Buf; mean: Buf; rstd: Buf };
  /** layerNorm's gradients from dOut and the forward's mean and rstd: dx [..., C], dgamma and dbeta [C] (sums over the rows). */
  layerNormGrad(dOut: TensorInfo, x: TensorInfo, mean: TensorInfo, rstd: TensorInfo, gamma: TensorInfo | null): { dx: Buf; dgamma: Buf; dbeta: Buf };
  /** dx = dOut * gelu'(x), one pass; approximate: GPT-2's tanh form instead of x Phi(x). */
  geluGrad(x: TensorInfo, dOut: TensorInfo, approximate: boolean): Buf;

  // Optimizer updates, fused and in place on p, m and v (as PyTorch's are), one pass over memory.
  adamUpdate(p: TensorInfo, g: TensorInfo, m: TensorInfo, v: TensorInfo, h: AdamHyper): void;
}
