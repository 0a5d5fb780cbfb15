// Conv2D (Keras) / Conv2d (PyTorch): y = act(conv(x, W) + b) on NCHW input, kernel [filters,
// inChannels/groups, kH, kW] as the conv2d op takes it. Keras' 'same' padding is asymmetric for
// even windows, so it pads explicitly when the op's symmetric padding cannot express it.
import { fail, fmtShape } from '../../errors.js';
import { type Conv2dOptions, cast, conv2d, conv2dMaxPool } from '../../ops/functions.js';
import { isFloat } from '../../tensor/dtype.js';
import type { Tensor } from '../../tensor/tensor.js';
import { ACTIVATIONS, activationName, kernelActivation } from '../activations.js';
import type { ConfigReader, Json } from '../config.js';
import { initialize, initializerName } from '../init.js';
import { Layer, type LayerOptions } from '../layer.js';
import { readLayerOptions } from './layer-config.js';
import { MaxPool2D } from './pooling.js';
import { type AxisPlan, type Padding, type PaddingSpec, checkPadding, checkPair, padSpatial, paddingFromConfig, paddingJson, planAxes } from './padding.js';

export interface Conv2DOptions extends LayerOptions {
  strides?: number | [number, number];
  /** 'valid' (default), 'same', or explicit zero padding on each side. */
  padding?: Padding;
  dilationRate?: number | [number, number];
  groups?: number;
  activation?: string;
  useBias?: boolean;
  kernelInitializer?: string;
  biasInitializer?: string;
  /** Input channels, when known before the first batch: creates the weights at once, as PyTorch's Conv2d does. */
  inChannels?: number;
}

export class Conv2D extends Layer {
  readonly type = 'conv2d';
  readonly filters: number;
  readonly kernelSize: [number, number];
  readonly strides: [number, number];
  readonly padding: PaddingSpec;
  readonly dilationRate: [number, number];
  readonly groups: number;
  readonly activation: string;
  readonly useBias: boolean;
  readonly kernelInitializer: string;
  readonly biasInitializer: string;
  readonly inChannels?: number;
  kernel!: Tensor;
  bias: Tensor | null = null;

  constructor(filters: number, kernelSize: number | [number, number], options: Conv2DOptions = {}) {
    super(options);
    if (!Number.isInteger(filters) || filters < 1) fail(this.name, `filters must be a positive integer, got ${JSON.stringify(filters)}`);
    this.filters = filters;
    this.kernelSize = checkPair(this.name, 'kernelSize', kernelSize);
    this.strides = checkPair(this.name, 'strides', options.strides ?? 1);
    this.padding = checkPadding(this.name, options.padding ?? 'valid');
    this.dilationRate = checkPair(this.name, 'dilationRate', options.dilationRate ?? 1);
    this.groups = options.groups ?? 1;
    if (!Number.isInteger(this.groups) || this.groups < 1 || filters % this.groups !== 0) {
      fail(this.name, `groups must be a positive integer dividing filters ${filters}, got ${JSON.stringify(options.groups)}`);
    }
    this.activation = activationName(options.activation ?? 'linear', this.name);
    this.useBias = options.useBias ?? true;
    this.kernelInitializer = initializerName(options.kernelInitializer ?? 'glorotUniform');
    this.biasInitializer = initializerName(options.biasInitializer ?? 'zeros');
    if (options.inChannels !== undefined) {
      const c = options.inChannels;
      if (!Number.isInteger(c) || c < 1 || c % this.groups !== 0) fail(this.name, `inChannels must be a positive integer divisible by groups ${this.groups}, got ${JSON.stringify(c)}`);
      if (this.inputShape && this.inputShape[0] !== c) fail(this.name, `inChannels ${c} disagrees with inputShape ${fmtShape(this.inputShape)}`);
      this.inChannels = c;
    }
    if (this.inputShape) this.build(this.inputShape);
    else if (this.inChannels !== undefined) this.createWeights(this.inChannels);
  }

  static fromConfig(r: ConfigReader): Conv2D {
    const base = readLayerOptions(r, ['filters', 'kernelSize', 'strides', 'padding', 'dilationRate', 'groups', 'activation', 'useBias', 'kernelInitializer', 'biasInitializer', 'inChannels']);
    return new Conv2D(r.positiveInt('filters'), r.pair('kernelSize'), {
      ...base,
      strides: r.pair('strides', 1),
      padding: paddingFromConfig(r),
      dilationRate: r.pair('dilationRate', 1),
      groups: r.positiveInt('groups', 1),
      activation: r.has('activation') ? r.string('activation') : undefined,
      useBias: r.bool('useBias', true),
      kernelInitializer: r.string('kernelInitializer', 'glorotUniform'),
      biasInitializer: r.string('biasInitializer', 'zeros'),
      inChannels: r.has('inChannels') ? r.positiveInt('inChannels') : undefined,
    });
  }

  private plans(inputShape: readonly number[]): [AxisPlan, AxisPlan] {
    return planAxes(inputShape, this.kernelSize, this.strides, this.dilationRate, this.padding);
  }

  computeOutputShape(inputShape: readonly number[]): number[] {
    if (inputShape.length !== 3) this.shapeError(inputShape, '[channels, height, width]');
    const channels = this.kernel ? this.kernel.shape[1] * this.groups : undefined;
    if (channels !== undefined && inputShape[0] !== channels) this.shapeError(inputShape, `with ${channels} channels`);
    if (inputShape[0] % this.groups !== 0) this.shapeError(inputShape, `with channels divisible by groups ${this.groups}`);
    const [h, w] = this.plans(inputShape);
    if (h.out < 1 || w.out < 1) {
      fail(this.name, `kernel ${fmtShape(this.kernelSize)} (dilation ${fmtShape(this.dilationRate)}) does not fit per-example input ${fmtShape(inputShape)} with padding ${JSON.stringify(paddingJson(this.padding))}`);
    }
    return [this.filters, h.out, w.out];
  }

  override build(inputShape: readonly number[]): void {
    this.computeOutputShape(inputShape);
    if (!this.kernel) this.createWeights(inputShape[0]);
    super.build(inputShape);
  }

  private createWeights(inChannels: number): void {
    const [kh, kw] = this.kernelSize;
    const perGroup = inChannels / this.groups;
    // Keras computes fans from the kernel's shape, so a grouped kernel's fanIn counts one group's channels.
    const fans = { fanIn: perGroup * kh * kw, fanOut: this.filters * kh * kw };
    const opts = { generator: this.generator, dtype: this.dtype };
    this.addParameter('kernel', initialize(this.kernelInitializer, [this.filters, perGroup, kh, kw], fans, opts)).name = `${this.name}.kernel`;
    if (this.useBias) this.addParameter('bias', initialize(this.biasInitializer, [this.filters], fans, opts)).name = `${this.name}.bias`;
  }

  forward(x: Tensor): Tensor {
    const { input, options, fused } = this.convArguments(x);
    const y = conv2d(input, this.kernel, this.bias, options);
    return fused ? y : ACTIVATIONS[this.activation](y);
  }

  /** Inference: this conv and a MaxPool2D after it in one kernel (conv2dMaxPool), where the activation runs in the conv. */
  override fuseWith(next: Layer): ((x: Tensor) => Tensor) | null {
    if (!(next instanceof MaxPool2D) || !next.fusable || !this.built || this.forward !== Conv2D.prototype.forward) return null; // not past a forward of its own
    return (x) => {
      const { input, options, fused } = this.convArguments(x);
      if (!fused) return next.call(this.call(x));
      return conv2dMaxPool(input, this.kernel, this.bias, options, ...next.fusedArguments(this.computeOutputShape(x.shape.slice(1))));
    };
  }

  /** The conv2d op's input and options for x, and whether the activation runs inside it. */
  private convArguments(x: Tensor): { input: Tensor; options: Conv2dOptions; fused: boolean } {
    if (x.rank !== 4) fail(this.name, `expected input [batch, channels, height, width], got ${fmtShape(x.shape)}`);
    this.computeOutputShape(x.shape.slice(1));
    const [h, w] = this.plans(x.shape.slice(1));
    // Keras casts inputs to the layer's dtype; the conv2d op wants one dtype for input and kernel.
    const typed = x.dtype === this.kernel.dtype || !isFloat(this.kernel.dtype) ? x : cast(x, this.kernel.dtype);
    const symmetric = h.before === h.after && w.before === w.after;
    // relu and tanh run inside the conv kernel; sigmoid stays a separate op (kernelActivation).
    const activation = kernelActivation(this.activation);
    const options: Conv2dOptions = {
      stride: this.strides, dilation: this.dilationRate, groups: this.groups,
      activation: activation ?? 'linear',
      padding: symmetric ? [h.before, w.before] : [0, 0],
    };
    return { input: symmetric ? typed : padSpatial(typed, h, w), options, fused: activation !== null };
  }

  override getConfig(): Record<string, Json> {
    return {
      ...super.getConfig(),
      filters: this.filters,
      kernelSize: [...this.kernelSize],
      strides: [...this.strides],
      padding: paddingJson(this.padding),
      dilationRate: [...this.dilationRate],
      groups: this.groups,
      activation: this.activation,
      useBias: this.useBias,
      kernelInitializer: this.kernelInitializer,
      biasInitializer: this.biasInitializer,
      ...(this.inChannels !== undefined ? { inChannels: this.inChannels } : {}),
    };
  }
}

/** PyTorch's option names for Conv2d. Initialisers stay Keras' (glorotUniform, zeros), as for Linear. */
export interface Conv2dLayerOptions extends Omit<LayerOptions, 'inputShape'> {
  stride?: number | [number, number];
  padding?: Padding;
  dilation?: number | [number, number];
  groups?: number;
  /** PyTorch's `bias`: whether to learn an additive bias. */
  bias?: boolean;
  kernelInitializer?: string;
  biasInitializer?: string;
}

/** PyTorch's spelling: new Conv2d(inChannels, outChannels, kernelSize, { stride, padding }). Weights exist at once. */
export class Conv2d extends Conv2D {
  constructor(inChannels: number, outChannels: number, kernelSize: number | [number, number], options: Conv2dLayerOptions = {}) {
    const { stride, dilation, bias, ...rest } = options;
    super(outChannels, kernelSize, { ...rest, strides: stride, dilationRate: dilation, useBias: bias, inChannels });
  }
}
