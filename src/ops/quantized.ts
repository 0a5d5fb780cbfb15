// Quantized inference ops: int8 weights (symmetric, per output channel) times a float input
// quantized to uint8, dequantized to float with bias and activation in the same kernel.
// Quantizing a model (calibration, which layers) is src/quant; these only compute.
import { apply } from '../autograd/engine.js';
import { FUSED_ACTIVATIONS, type FusedActivation, type InputQuantization, type PackedInt8, type Pool2dGeometry } from '../backends/backend.js';
import { fail, fmtShape } from '../errors.js';
import { Tensor } from '../tensor/tensor.js';
import { rescale } from './elementwise.js';
import { type Pair, type Pool2dOptions, maxPool2d, outSize, pair, poolGeometry } from './nn.js';
import * as T from './table.js';

export type { InputQuantization, PackedInt8 };

export interface QuantizedOptions {
  activation?: FusedActivation;
  /** The input's static quantization; absent or null: computed per call from the input (dynamic). */
  input?: InputQuantization | null;
}

export interface QuantizedConv2dOptions extends QuantizedOptions {
  stride?: Pair;
  padding?: Pair;
  dilation?: Pair;
}

/** Packs int8 weights once for x's backend: 'dense' [in, out], 'conv' [out, in, kH, kW]. */
export function packInt8(w: Tensor, layout: 'dense' | 'conv'): PackedInt8 {
  if (!(w instanceof Tensor) || w.dtype !== 'int8') fail('packInt8', `expected an int8 tensor, got ${w instanceof Tensor ? w.dtype : typeof w}`);
  if (w.rank !== (layout === 'dense' ? 2 : 4) || w.shape.some((d) => d < 1)) {
    fail('packInt8', `${layout} weights must be ${layout === 'dense' ? '[in, out]' : '[out, in, kH, kW]'} with no empty axis, got ${fmtShape(w.shape)}`);
  }
  if (!w.backend.packInt8) fail('packInt8', `the ${w.backend.name} backend has no int8 kernels`);
  return w.backend.packInt8(w, layout);
}

function checkInput(op: string, input: InputQuantization | null | undefined): InputQuantization | null {
  if (input == null) return null;
  if (!(input.scale > 0) || !Number.isFinite(input.scale)) fail(op, `the input's scale must be a positive finite number, got ${input.scale}`);
  if (!Number.isInteger(input.zeroPoint) || input.zeroPoint < 0 || input.zeroPoint > 255) fail(op, `the input's zero point must be an integer in 0..255, got ${input.zeroPoint}`);
  // Both backends use the float32 value (a layer's calibrated one already is: no copy per call).
  return Math.fround(input.scale) === input.scale ? input : { scale: Math.fround(input.scale), zeroPoint: input.zeroPoint };
}

function checkCommon(op: string, x: Tensor, w: PackedInt8, wScale: Tensor, bias: Tensor | null, outputs: number, activation: FusedActivation, dtype = 'float32'): void {
  if (!(x instanceof Tensor) || x.dtype !== dtype) fail(op, `the input must be a ${dtype} tensor, got ${x instanceof Tensor ? x.dtype : typeof x}`);
  if (w.backend !== x.backend.name) fail(op, `the weights were packed for the ${w.backend} backend, the input is on ${x.backend.name}`);
  checkPerOutput(op, 'weight scales', wScale, outputs, x);
  if (bias !== null) checkPerOutput(op, 'bias', bias, outputs, x);
  if (!FUSED_ACTIVATIONS.includes(activation)) fail(op, `activation must be one of ${FUSED_ACTIVATIONS.join(', ')}, got ${JSON.stringify(activation)}`);
}

function checkPerOutput(op: string, name: string, t: Tensor, outputs: number, x: Tensor): void {
  if (!(t instanceof Tensor) || t.dtype !== 'float32' || t.rank !== 1 || t.size !== outputs) fail(op, `${name} must be float32 [${outputs}], got ${t instanceof Tensor ? `${t.dtype} ${fmtShape(t.shape)}` : typeof t}`);
  if (t.backend !== x.backend) fail(op, `${name} are on ${t.backend.name}, the input on ${x.backend.name}`);
}

/** act(quant(x) W dequantized + bias) over x's last axis: a quantized Dense. */
export function quantizedLinear(x: Tensor, w: PackedInt8, wScale: Tensor, bias: Tensor | null, options: QuantizedOptions = {}): Tensor {
  return apply(T.quantizedLinear, bias ? [x, wScale, bias] : [x, wScale], linearPlan(x, w, wScale, bias, options, 'float32'));
}

/**
 * quantizedLinear(rescale(x, scale, offset), ...): a Rescaling layer and the QuantizedDense after
 * it. For uint8 x where the backend has the kernel (native: the 256 values a pixel can take are
 * rescaled and quantized once, then looked up), one op; else the two. The same values either way.
 */
export function rescaledQuantizedLinear(x: Tensor, scale: number, offset: number, w: PackedInt8, wScale: Tensor, bias: Tensor | null, options: QuantizedOptions = {}): Tensor {
  if (x.dtype !== 'uint8' || !x.backend.rescaledQuantizedLinear || !Number.isFinite(scale) || !Number.isFinite(offset)) return quantizedLinear(rescale(x, scale, offset), w, wScale, bias, options);
  const { input, activation, shape } = linearPlan(x, w, wScale, bias, options, 'uint8');
  return apply(T.rescaledQuantizedLinear, bias ? [x, wScale, bias] : [x, wScale], { w, input, activation, shape, scale, offset });
}

function linearPlan(x: Tensor, w: PackedInt8, wScale: Tensor, bias: Tensor | null, options: QuantizedOptions, dtype: 'float32' | 'uint8') {
  const op = 'quantizedLinear';
  const activation = options.activation ?? 'linear';
  const [K, N] = w.shape;
  checkCommon(op, x, w, wScale, bias, N, activation, dtype);
  if (w.layout !== 'dense') fail(op, 'the weights were packed for a convolution');
  if (x.rank < 1 || x.shape[x.rank - 1] !== K) fail(op, `expected ${K} features on the input's last axis, got ${fmtShape(x.shape)}`);
  const shape = x.shape.slice();
  shape[shape.length - 1] = N;
  return { w, input: checkInput(op, options.input), activation, shape };
}

/** act(conv(quant(x), W) dequantized + bias), NCHW, groups 1: a quantized Conv2D. */
export function quantizedConv2d(x: Tensor, w: PackedInt8, wScale: Tensor, bias: Tensor | null, options: QuantizedConv2dOptions = {}): Tensor {
  return apply(T.quantizedConv2d, bias ? [x, wScale, bias] : [x, wScale], convPlan('quantizedConv2d', x, w, wScale, bias, options));
}

/**
 * maxPool2d(quantizedConv2d(...), kernelSize, poolOptions), the same values: one kernel where the
 * backend has one (native pools 2x2 windows before the output leaves channels-last), else the two ops.
 */
export function quantizedConv2dMaxPool(x: Tensor, w: PackedInt8, wScale: Tensor, bias: Tensor | null, options: QuantizedConv2dOptions, kernelSize: Pair, poolOptions: Pool2dOptions = {}): Tensor {
  if (!x.backend.quantizedConv2dMaxPool) return maxPool2d(quantizedConv2d(x, w, wScale, bias, options), kernelSize, poolOptions);
  const plan = convPlan('quantizedConv2d', x, w, wScale, bias, options);
  const pool = poolGeometry('maxPool2d', plan.shape, kernelSize, poolOptions);
  return apply(T.quantizedConv2dMaxPool, bias ? [x, wScale, bias] : [x, wScale], withPool(plan, pool));
}

/** The conv's attributes for an input of shape inShape (x's, or a block's before it in quantizedConvBlocks). */
function convPlan(op: string, x: Tensor, w: PackedInt8, wScale: Tensor, bias: Tensor | null, options: QuantizedConv2dOptions, inShape: readonly number[] = x.shape, dtype = 'float32') {
  const activation = options.activation ?? 'linear';
  const [O, C, KH, KW] = w.shape;
  checkCommon(op, x, w, wScale, bias, O, activation, dtype);
  if (w.layout !== 'conv') fail(op, 'the weights were packed for a dense layer');
  if (inShape.length !== 4 || inShape[1] !== C) fail(op, `expected input [N, ${C}, H, W], got ${fmtShape(inShape)}`);
  const g = {
    stride: pair(op, 'stride', options.stride ?? 1, 1),
    padding: pair(op, 'padding', options.padding ?? 0, 0),
    dilation: pair(op, 'dilation', options.dilation ?? 1, 1),
    groups: 1,
  };
  const shape = [inShape[0], O, outSize(op, inShape[2], KH, g.stride[0], g.padding[0], g.dilation[0], inShape), outSize(op, inShape[3], KW, g.stride[1], g.padding[1], g.dilation[1], inShape)];
  const input = checkInput(op, options.input);
  return { stride: g.stride, padding: g.padding, dilation: g.dilation, groups: g.groups, w, input, activation, shape };
}

/** A conv plan's attributes with the pool after it: convShape the conv's output, shape the pooled one. */
function withPool(plan: ReturnType<typeof convPlan>, pool: Pool2dGeometry & { shape: number[] }) {
  const { stride, padding, dilation, groups, w, input, activation } = plan;
  return { stride, padding, dilation, groups, w, input, activation, convShape: plan.shape, shape: pool.shape, pool };
}

/** One block of quantizedConvBlocks: a quantized conv and the max pool after it. */
export interface QuantizedConvBlock {
  w: PackedInt8;
  wScale: Tensor;
  bias: Tensor | null;
  options: QuantizedConv2dOptions;
  kernelSize: Pair;
  poolOptions?: Pool2dOptions;
}

/**
 * quantizedConv2dMaxPool block after block, each on the previous block's output (a CNN's feature
 * layers), the same values. Where the backend has the kernel, one op: native keeps the
 * intermediate outputs channels-last (no transposes), and where every block after the first
 * quantizes its input statically, runs each image through all the blocks on one thread, its
 * outputs staying in cache (a dynamic block needs its whole input's range first). Else block by block.
 * With `rescale`, the first block reads rescale(x, scale, offset): a Rescaling layer before it.
 * For uint8 x native quantizes the pixels by table lookup (their 256 values rescaled and
 * quantized once), with no float copy of the input; the same values either way.
 */
export function quantizedConvBlocks(x: Tensor, blocks: readonly QuantizedConvBlock[], options: { rescale?: { scale: number; offset: number } } = {}): Tensor {
  const r = options.rescale;
  const rescaled = r !== undefined && x.dtype === 'uint8' && Number.isFinite(r.scale) && Number.isFinite(r.offset);
  if (!x.backend.quantizedConvBlocks || blocks.length < (rescaled ? 1 : 2)) {
    const input = r ? rescale(x, r.scale, r.offset) : x;
    return blocks.reduce((y, b) => quantizedConv2dMaxPool(y, b.w, b.wScale, b.bias, b.options, b.kernelSize, b.poolOptions), input);
  }
  if (r && !rescaled) return quantizedConvBlocks(rescale(x, r.scale, r.offset), blocks);
  const op = 'quantizedConvBlocks';
  let inShape: readonly number[] = x.shape;
  const plans = blocks.map((b) => {
    const plan = convPlan(op, x, b.w, b.wScale, b.bias, b.options, inShape, rescaled ? 'uint8' : 'float32');
    const pool = poolGeometry(op, plan.shape, b.kernelSize, b.poolOptions ?? {});
    const block = Object.assign(withPool(plan, pool), { inShape, bias: b.bias !== null });
    inShape = pool.shape;
    return block;
  });
  const attrs = { blocks: plans, shape: inShape, rescale: rescaled ? { scale: r!.scale, offset: r!.offset } : null };
  return apply(T.quantizedConvBlocks, [x, ...blocks.flatMap((b) => (b.bias ? [b.wScale, b.bias] : [b.wScale]))], attrs);
}
