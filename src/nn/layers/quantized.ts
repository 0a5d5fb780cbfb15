// QuantizedDense and QuantizedConv2D: int8 weights (symmetric, one scale per output channel)
// and a uint8 input quantization, either computed per call (dynamic) or calibrated once
// (static). Inputs and outputs stay float, so they stand in for Dense and Conv2D in any model.
// Made by src/quant from trained float layers; inference only (no gradient). The weights are
// buffers (saved, not trained); the int8 GEMM's packed copy is made on first use, and again
// whenever the kernel's storage changes (a load assigns new storage).
import type { FusedActivation, InputQuantization, PackedInt8 } from '../../backends/backend.js';
import { fail, fmtShape } from '../../errors.js';
import { cast, ones, rescale, zeros } from '../../ops/functions.js';
import { type QuantizedConv2dOptions, type QuantizedConvBlock, type QuantizedOptions as QuantizedOpOptions, packInt8, quantizedConv2d, quantizedConv2dMaxPool, quantizedConvBlocks, quantizedLinear, rescaledQuantizedLinear } from '../../ops/quantized.js';
import type { Tensor } from '../../tensor/tensor.js';
import { ACTIVATIONS, activationName, kernelActivation } from '../activations.js';
import { ConfigReader, type Json } from '../config.js';
import { Layer, type LayerOptions } from '../layer.js';
import { readLayerOptions } from './layer-config.js';
import { MaxPool2D } from './pooling.js';
import { type AxisPlan, type Padding, type PaddingSpec, checkPadding, checkPair, padSpatial, paddingFromConfig, paddingJson, planAxes } from './padding.js';

/** How a quantized layer quantizes its input: per call from the batch's range, or with fixed calibrated values. */
export type InputQuantizationSpec = { mode: 'dynamic' } | ({ mode: 'static' } & InputQuantization);

export interface QuantizedOptions extends Omit<LayerOptions, 'dtype'> {
  activation?: string;
  useBias?: boolean;
  inputQuantization?: InputQuantizationSpec;
}

function readInputQuantization(r: ConfigReader): InputQuantizationSpec {
  if (!r.has('inputQuantization')) return { mode: 'dynamic' };
  const q = new ConfigReader(`${r.where}.inputQuantization`, r.obj.inputQuantization as Record<string, unknown>);
  const mode = q.oneOf('mode', ['dynamic', 'static'] as const);
  if (mode === 'dynamic') {
    q.rejectUnknown(['mode']);
    return { mode };
  }
  q.rejectUnknown(['mode', 'scale', 'zeroPoint']);
  const scale = q.number('scale');
  if (!(scale > 0)) fail(q.where, `"scale" must be positive, got ${scale}`);
  const zeroPoint = q.int('zeroPoint', -1, 0);
  if (zeroPoint > 255) fail(q.where, `"zeroPoint" must be in 0..255, got ${zeroPoint}`);
  return { mode, scale, zeroPoint };
}

abstract class QuantizedLayer extends Layer {
  readonly activation: string;
  readonly useBias: boolean;
  readonly inputQuantization: InputQuantizationSpec;
  kernel!: Tensor;
  kernelScale!: Tensor;
  bias: Tensor | null = null;
  private packed: { buf: unknown; w: PackedInt8 } | null = null;
  /** The static input quantization, or null (dynamic): made once, since every call passes it. */
  protected readonly input: InputQuantization | null;
  /** The activation the kernel applies, and the one left to apply after (softmax, sigmoid for its logits). */
  protected readonly activationSplit: readonly [FusedActivation, (y: Tensor) => Tensor];

  constructor(options: QuantizedOptions) {
    super(options);
    this.activation = activationName(options.activation ?? 'linear', this.name);
    this.useBias = options.useBias ?? true;
    const q = options.inputQuantization ?? { mode: 'dynamic' };
    if (q.mode !== 'dynamic' && q.mode !== 'static') fail(this.name, `inputQuantization.mode must be "dynamic" or "static", got ${JSON.stringify((q as { mode: unknown }).mode)}`);
    this.inputQuantization = q.mode === 'static' ? { mode: 'static', scale: q.scale, zeroPoint: q.zeroPoint } : { mode: 'dynamic' };
    this.input = q.mode === 'static' ? { scale: q.scale, zeroPoint: q.zeroPoint } : null;
    const fused = kernelActivation(this.activation);
    this.activationSplit = fused ? [fused, (y) => y] : ['linear', ACTIVATIONS[this.activation]];
  }

  /** Zeroed int8 weights, unit scales and zero bias of the right shapes, for a load to fill. */
  protected createWeights(kernelShape: number[], outputs: number): void {
    this.addBuffer('kernel', zeros(kernelShape, { dtype: 'int8' })).name = `${this.name}.kernel`;
    this.addBuffer('kernelScale', ones([outputs])).name = `${this.name}.kernelScale`;
    if (this.useBias) this.addBuffer('bias', zeros([outputs])).name = `${this.name}.bias`;
  }

  /** Sets the quantized weights (from src/quant), checking them against the layer's shapes. */
  setWeights(kernel: Tensor, kernelScale: Tensor, bias: Tensor | null): void {
    const check = (what: string, got: Tensor, want: Tensor) => {
      if (got.dtype !== want.dtype || got.shape.join() !== want.shape.join()) fail(this.name, `${what} must be ${want.dtype} ${fmtShape(want.shape)}, got ${got.dtype} ${fmtShape(got.shape)}`);
    };
    check('kernel', kernel, this.kernel);
    check('kernelScale', kernelScale, this.kernelScale);
    if (this.bias && bias) check('bias', bias, this.bias);
    if (!!this.bias !== !!bias) fail(this.name, this.bias ? 'a bias is required' : 'the layer has no bias');
    this.kernel.assign(kernel);
    this.kernelScale.assign(kernelScale);
    if (this.bias && bias) this.bias.assign(bias);
  }

  protected packedKernel(layout: 'dense' | 'conv'): PackedInt8 {
    let p = this.packed;
    if (!p || p.buf !== this.kernel.buf || p.w.backend !== this.kernel.backend.name) this.packed = p = { buf: this.kernel.buf, w: packInt8(this.kernel, layout) };
    return p.w;
  }

  protected floatInput(x: Tensor): Tensor {
    return x.dtype === 'float32' ? x : cast(x, 'float32');
  }

  override getConfig(): Record<string, Json> {
    return { ...super.getConfig(), activation: this.activation, useBias: this.useBias, inputQuantization: { ...this.inputQuantization } };
  }
}

export interface QuantizedDenseOptions extends QuantizedOptions {
  /** Input features (the kernel's rows); required, so the weights exist before a load fills them. */
  inputFeatures: number;
}

/** Dense with int8 weights [in, units]: y = act(dequant(quant(x) W) + b). */
export class QuantizedDense extends QuantizedLayer {
  readonly type = 'quantizeddense';
  readonly units: number;
  readonly inputFeatures: number;
  /** The op's options, the same on every call. */
  private readonly opOptions: QuantizedOpOptions;

  constructor(units: number, options: QuantizedDenseOptions) {
    super(options);
    for (const [k, v] of [['units', units], ['inputFeatures', options.inputFeatures]] as const) {
      if (!Number.isInteger(v) || v < 1) fail(this.name, `${k} must be a positive integer, got ${JSON.stringify(v)}`);
    }
    this.units = units;
    this.inputFeatures = options.inputFeatures;
    this.opOptions = { activation: this.activationSplit[0], input: this.input };
    this.createWeights([this.inputFeatures, units], units);
    if (this.inputShape) this.build(this.inputShape);
  }

  static fromConfig(r: ConfigReader): QuantizedDense {
    const base = readLayerOptions(r, ['units', 'inputFeatures', 'activation', 'useBias', 'inputQuantization']);
    return new QuantizedDense(r.positiveInt('units'), {
      ...base,
      inputFeatures: r.positiveInt('inputFeatures'),
      activation: r.has('activation') ? r.string('activation') : undefined,
      useBias: r.bool('useBias', true),
      inputQuantization: readInputQuantization(r),
    });
  }

  computeOutputShape(inputShape: readonly number[]): number[] {
    if (inputShape.length < 1 || inputShape[inputShape.length - 1] !== this.inputFeatures) this.shapeError(inputShape, `with ${this.inputFeatures} features on the last axis`);
    return [...inputShape.slice(0, -1), this.units];
  }

  forward(x: Tensor): Tensor {
    const [, after] = this.activationSplit;
    return after(quantizedLinear(this.floatInput(x), this.packedKernel('dense'), this.kernelScale, this.bias, this.opOptions));
  }


  /**
   * this.call(rescale(x, scale, offset)), for Rescaling.fuseWith at inference: uint8 pixels
   * become the int8 GEMM's operand through one table lookup, with no float copy between.
   */
  rescaledForward(x: Tensor, scale: number, offset: number): Tensor {
    if (x.dtype !== 'uint8' || this.forward !== QuantizedDense.prototype.forward) return this.call(rescale(x, scale, offset));
    const [, after] = this.activationSplit;
    return after(rescaledQuantizedLinear(x, scale, offset, this.packedKernel('dense'), this.kernelScale, this.bias, this.opOptions));
  }

  override getConfig(): Record<string, Json> {
    return { ...super.getConfig(), units: this.units, inputFeatures: this.inputFeatures };
  }
}

export interface QuantizedConv2DOptions extends QuantizedOptions {
  inChannels: number;
  strides?: number | [number, number];
  padding?: Padding;
  dilationRate?: number | [number, number];
}

/** Conv2D (NCHW, groups 1) with int8 weights [filters, inChannels, kH, kW]. */
export class QuantizedConv2D extends QuantizedLayer {
  readonly type = 'quantizedconv2d';
  readonly filters: number;
  readonly kernelSize: [number, number];
  readonly strides: [number, number];
  readonly padding: PaddingSpec;
  readonly dilationRate: [number, number];
  readonly inChannels: number;

  constructor(filters: number, kernelSize: number | [number, number], options: QuantizedConv2DOptions) {
    super(options);
    for (const [k, v] of [['filters', filters], ['inChannels', options.inChannels]] as const) {
      if (!Number.isInteger(v) || v < 1) fail(this.name, `${k} must be a positive integer, got ${JSON.stringify(v)}`);
    }
    this.filters = filters;
    this.inChannels = options.inChannels;
    this.kernelSize = checkPair(this.name, 'kernelSize', kernelSize);
    this.strides = checkPair(this.name, 'strides', options.strides ?? 1);
    this.padding = checkPadding(this.name, options.padding ?? 'valid');
    this.dilationRate = checkPair(this.name, 'dilationRate', options.dilationRate ?? 1);
    this.createWeights([filters, this.inChannels, ...this.kernelSize], filters);
    if (this.inputShape) this.build(this.inputShape);
  }

  static fromConfig(r: ConfigReader): QuantizedConv2D {
    const base = readLayerOptions(r, ['filters', 'kernelSize', 'strides', 'padding', 'dilationRate', 'inChannels', 'activation', 'useBias', 'inputQuantization']);
    return new QuantizedConv2D(r.positiveInt('filters'), r.pair('kernelSize'), {
      ...base,
      inChannels: r.positiveInt('inChannels'),
      strides: r.pair('strides', 1),
      padding: paddingFromConfig(r),
      dilationRate: r.pair('dilationRate', 1),
      activation: r.has('activation') ? r.string('activation') : undefined,
      useBias: r.bool('useBias', true),
      inputQuantization: readInputQuantization(r),
    });
  }

  private plans(inputShape: readonly number[]): [AxisPlan, AxisPlan] {
    return planAxes(inputShape, this.kernelSize, this.strides, this.dilationRate, this.padding);
  }

  computeOutputShape(inputShape: readonly number[]): number[] {
    if (inputShape.length !== 3 || inputShape[0] !== this.inChannels) this.shapeError(inputShape, `[${this.inChannels}, height, width]`);
    const [h, w] = this.plans(inputShape);
    if (h.out < 1 || w.out < 1) fail(this.name, `kernel ${fmtShape(this.kernelSize)} does not fit per-example input ${fmtShape(inputShape)} with padding ${JSON.stringify(paddingJson(this.padding))}`);
    return [this.filters, h.out, w.out];
  }

  forward(x: Tensor): Tensor {
    const { input, options, after } = this.convArguments(x);
    return after(quantizedConv2d(input, this.packedKernel('conv'), this.kernelScale, this.bias, options));
  }

  /** Inference: this conv and a MaxPool2D after it in one kernel, where the activation runs in the conv (as Conv2D's). */
  override fuseWith(next: Layer): ((x: Tensor) => Tensor) | null {
    if (!(next instanceof MaxPool2D) || !next.fusable || !this.built || this.forward !== QuantizedConv2D.prototype.forward) return null;
    return (x) => {
      const { input, options, fusedActivation } = this.convArguments(x);
      if (!fusedActivation) return next.call(this.call(x));
      return quantizedConv2dMaxPool(input, this.packedKernel('conv'), this.kernelScale, this.bias, options, ...next.fusedArguments(this.computeOutputShape(x.shape.slice(1))));
    };
  }

  /**
   * Inference: conv-pool blocks from this layer on (a QuantizedConv2D whose activation runs in
   * the kernel, then a MaxPool2D it fuses with; at least two blocks) as one quantizedConvBlocks op.
   */
  override fuseRun(layers: readonly Layer[], start: number): { run: (x: Tensor) => Tensor; count: number } | null {
    const blocks = this.blocksFrom(layers, start);
    return blocks.length < 2 ? null : { count: 2 * blocks.length, run: (x) => this.runBlocks(blocks, x) };
  }

  /** The same after a Rescaling, from one block on: the first conv quantizes rescale(x, scale, offset) itself (uint8 pixels by table lookup). */
  fuseRescaledRun(layers: readonly Layer[], start: number, scale: number, offset: number): { run: (x: Tensor) => Tensor; count: number } | null {
    const blocks = this.blocksFrom(layers, start);
    return blocks.length < 1 ? null : { count: 2 * blocks.length, run: (x) => this.runBlocks(blocks, x, { scale, offset }) };
  }

  /** The conv-pool blocks from start on that the kernel covers. */
  private blocksFrom(layers: readonly Layer[], start: number): [QuantizedConv2D, MaxPool2D][] {
    const blocks: [QuantizedConv2D, MaxPool2D][] = [];
    for (let i = start; i + 1 < layers.length; i += 2) {
      const [conv, pool] = [layers[i], layers[i + 1]];
      if (!(conv instanceof QuantizedConv2D) || !conv.built || conv.forward !== QuantizedConv2D.prototype.forward) break;
      if (conv.activationSplit[0] !== conv.activation) break;
      if (!(pool instanceof MaxPool2D) || !pool.fusable) break;
      blocks.push([conv, pool]);
    }
    return blocks;
  }

  private runBlocks(blocks: readonly [QuantizedConv2D, MaxPool2D][], x: Tensor, rescaling?: { scale: number; offset: number }): Tensor {
    if (x.rank !== 4) fail(this.name, `expected input [batch, channels, height, width], got ${fmtShape(x.shape)}`);
    let shape = x.shape.slice(1);
    const opBlocks: QuantizedConvBlock[] = [];
    for (const [conv, pool] of blocks) {
      const { options, symmetric } = conv.convOptions(shape);
      if (!symmetric) {
        // Padding of its own: block by block.
        const input = rescaling ? rescale(x, rescaling.scale, rescaling.offset) : x;
        return blocks.reduce((y, [c, p]) => c.fuseWith(p)!(y), input);
      }
      const convShape = conv.computeOutputShape(shape);
      const [kernelSize, poolOptions] = pool.fusedArguments(convShape);
      opBlocks.push({ w: conv.packedKernel('conv'), wScale: conv.kernelScale, bias: conv.bias, options, kernelSize, poolOptions });
      shape = pool.computeOutputShape(convShape);
    }
    if (rescaling) return quantizedConvBlocks(x, opBlocks, { rescale: rescaling });
    return quantizedConvBlocks(this.floatInput(x), opBlocks);
  }

  /** The op's options for a per-example input shape, and whether the padding is the same on both sides (the kernel pads only so). */
  private convOptions(inputShape: readonly number[]): { options: QuantizedConv2dOptions; symmetric: boolean; plans: [AxisPlan, AxisPlan] } {
    this.computeOutputShape(inputShape);
    const [h, w] = this.plans(inputShape);
    const symmetric = h.before === h.after && w.before === w.after;
    const padding: [number, number] = symmetric ? [h.before, w.before] : [0, 0];
    return { options: { stride: this.strides, dilation: this.dilationRate, activation: this.activationSplit[0], input: this.input, padding }, symmetric, plans: [h, w] };
  }

  /** The op's input and options for x, and the activation left to run after it (identity when fused). */
  private convArguments(x: Tensor): { input: Tensor; options: QuantizedConv2dOptions; after: (y: Tensor) => Tensor; fusedActivation: boolean } {
    if (x.rank !== 4) fail(this.name, `expected input [batch, channels, height, width], got ${fmtShape(x.shape)}`);
    const { options, symmetric, plans: [h, w] } = this.convOptions(x.shape.slice(1));
    // Zeros padded in float quantize to the zero point, which is what the kernel's own padding reads.
    const input = symmetric ? this.floatInput(x) : padSpatial(this.floatInput(x), h, w);
    return { input, options, after: this.activationSplit[1], fusedActivation: this.activationSplit[0] === this.activation };
  }

  override getConfig(): Record<string, Json> {
    return {
      ...super.getConfig(),
      filters: this.filters,
      kernelSize: [...this.kernelSize],
      strides: [...this.strides],
      padding: paddingJson(this.padding),
      dilationRate: [...this.dilationRate],
      inChannels: this.inChannels,
    };
  }
}
