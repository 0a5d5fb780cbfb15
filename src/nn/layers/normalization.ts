// BatchNormalization (Ioffe & Szegedy 2015) over the channel axis 1 of NCHW input (the feature
// axis of [N, C]), and LayerNormalization (Ba et al. 2016) over the last axis, with their
// PyTorch spellings. Both normalise with the biased batch variance, as both frameworks do.
import { noGrad } from '../../autograd/engine.js';
import { fail, fmtShape } from '../../errors.js';
import { layerNorm, mean, reshape, rsqrt } from '../../ops/functions.js';
import type { Tensor } from '../../tensor/tensor.js';
import type { ConfigReader, Json } from '../config.js';
import { initialize } from '../init.js';
import { Layer, type LayerOptions } from '../layer.js';
import { readLayerOptions } from './layer-config.js';

export interface BatchNormalizationOptions extends LayerOptions {
  /** moving = moving * momentum + batch * (1 - momentum); Keras' default 0.99. */
  momentum?: number;
  epsilon?: number;
  /** Learn beta (an offset) and gamma (a scale). */
  center?: boolean;
  scale?: boolean;
  /**
   * The batch variance's divisor in the moving average is count - this: 0 (biased, Keras, the
   * default) or 1 (Bessel's correction, PyTorch's running_var). Normalising always uses biased.
   */
  movingVarianceCorrection?: 0 | 1;
  /** Channels, when known before the first batch: creates the weights at once. */
  numFeatures?: number;
}

function checkFeatures(where: string, n: unknown, what: string): number {
  if (!Number.isInteger(n) || (n as number) < 1) fail(where, `${what} must be a positive integer, got ${JSON.stringify(n)}`);
  return n as number;
}

function readCorrection(r: ConfigReader): 0 | 1 {
  const c = r.int('movingVarianceCorrection', 0);
  if (c > 1) fail(r.where, `"movingVarianceCorrection" must be 0 or 1, got ${c}`);
  return c as 0 | 1;
}

export class BatchNormalization extends Layer {
  readonly type = 'batchnormalization';
  readonly momentum: number;
  readonly epsilon: number;
  readonly center: boolean;
  readonly scale: boolean;
  readonly movingVarianceCorrection: 0 | 1;
  readonly numFeatures?: number;
  gamma: Tensor | null = null;
  beta: Tensor | null = null;
  movingMean!: Tensor;
  movingVariance!: Tensor;

  constructor(options: BatchNormalizationOptions = {}) {
    super(options);
    const { momentum = 0.99, epsilon = 1e-3, movingVarianceCorrection = 0 } = options;
    if (typeof momentum !== 'number' || !(momentum >= 0 && momentum <= 1)) fail(this.name, `momentum must be a number in [0, 1], got ${JSON.stringify(momentum)}`);
    if (typeof epsilon !== 'number' || !(epsilon > 0 && Number.isFinite(epsilon))) fail(this.name, `epsilon must be a positive number, got ${JSON.stringify(epsilon)}`);
    if (movingVarianceCorrection !== 0 && movingVarianceCorrection !== 1) fail(this.name, `movingVarianceCorrection must be 0 or 1, got ${JSON.stringify(movingVarianceCorrection)}`);
    this.momentum = momentum;
    this.epsilon = epsilon;
    this.center = options.center ?? true;
    this.scale = options.scale ?? true;
    this.movingVarianceCorrection = movingVarianceCorrection;
    if (options.numFeatures !== undefined) this.numFeatures = checkFeatures(this.name, options.numFeatures, 'numFeatures');
    if (this.inputShape) this.build(this.inputShape);
    else if (this.numFeatures !== undefined) this.createWeights(this.numFeatures);
  }

  static fromConfig(r: ConfigReader): BatchNormalization {
    const base = readLayerOptions(r, ['momentum', 'epsilon', 'center', 'scale', 'movingVarianceCorrection', 'numFeatures']);
    return new BatchNormalization({
      ...base,
      momentum: r.number('momentum', 0.99, [0, 1]),
      epsilon: r.number('epsilon', 1e-3, [Number.MIN_VALUE, Infinity]),
      center: r.bool('center', true),
      scale: r.bool('scale', true),
      movingVarianceCorrection: readCorrection(r),
      numFeatures: r.has('numFeatures') ? r.positiveInt('numFeatures') : undefined,
    });
  }

  computeOutputShape(inputShape: readonly number[]): number[] {
    if (inputShape.length < 1) this.shapeError(inputShape, '[channels, ...]');
    if (this.movingMean && inputShape[0] !== this.movingMean.size) this.shapeError(inputShape, `with ${this.movingMean.size} channels on axis 0`);
    if (this.numFeatures !== undefined && inputShape[0] !== this.numFeatures) this.shapeError(inputShape, `with ${this.numFeatures} channels on axis 0`);
    return [...inputShape];
  }

  override build(inputShape: readonly number[]): void {
    this.computeOutputShape(inputShape);
    if (!this.movingMean) this.createWeights(inputShape[0]);
    super.build(inputShape);
  }

  private createWeights(channels: number): void {
    const make = (init: string) => initialize(init, [channels], { fanIn: channels, fanOut: channels }, { dtype: this.dtype });
    if (this.scale) this.addParameter('gamma', make('ones')).name = `${this.name}.gamma`;
    if (this.center) this.addParameter('beta', make('zeros')).name = `${this.name}.beta`;
    this.addBuffer('movingMean', make('zeros')).name = `${this.name}.movingMean`;
    this.addBuffer('movingVariance', make('ones')).name = `${this.name}.movingVariance`;
  }

  forward(x: Tensor): Tensor {
    if (x.rank < 2) fail(this.name, `expected input [batch, channels, ...], got ${fmtShape(x.shape)}`);
    this.computeOutputShape(x.shape.slice(1));
    const channels = x.shape[1];
    const axes = x.shape.map((_, i) => i).filter((i) => i !== 1);
    const perChannel = [1, channels, ...x.shape.slice(2).map(() => 1)];
    let normalized: Tensor;
    if (this.training) {
      const count = x.size / channels;
      if (count - this.movingVarianceCorrection < 1) fail(this.name, `needs more than one value per channel to train with movingVarianceCorrection 1, got input ${fmtShape(x.shape)}`);
      const batchMean = mean(x, axes, true);
      const centred = x.sub(batchMean);
      const batchVar = mean(centred.square(), axes, true);
      normalized = centred.mul(rsqrt(batchVar.add(this.epsilon)));
      noGrad(() => {
        const m = this.momentum;
        const unbiased = batchVar.mul(count / (count - this.movingVarianceCorrection));
        this.movingMean.assign(this.movingMean.mul(m).add(reshape(batchMean, [channels]).mul(1 - m)));
        this.movingVariance.assign(this.movingVariance.mul(m).add(reshape(unbiased, [channels]).mul(1 - m)));
      });
    } else {
      normalized = x.sub(reshape(this.movingMean, perChannel)).mul(rsqrt(reshape(this.movingVariance, perChannel).add(this.epsilon)));
    }
    const scaled = this.gamma ? normalized.mul(reshape(this.gamma, perChannel)) : normalized;
    return this.beta ? scaled.add(reshape(this.beta, perChannel)) : scaled;
  }

  override getConfig(): Record<string, Json> {
    return {
      ...super.getConfig(),
      momentum: this.momentum,
      epsilon: this.epsilon,
      center: this.center,
      scale: this.scale,
      movingVarianceCorrection: this.movingVarianceCorrection,
      ...(this.numFeatures !== undefined ? { numFeatures: this.numFeatures } : {}),
    };
  }
}

/** PyTorch's options: momentum is the new batch's weight (0.1), eps 1e-5, affine learns gamma and beta. */
export interface BatchNormOptions extends Omit<LayerOptions, 'inputShape'> {
  eps?: number;
  momentum?: number;
  affine?: boolean;
}

function torchBatchNorm(numFeatures: number, options: BatchNormOptions): BatchNormalizationOptions {
  const { eps = 1e-5, momentum = 0.1, affine = true, ...rest } = options;
  if (typeof momentum !== 'number' || !(momentum >= 0 && momentum <= 1)) fail('BatchNorm', `momentum must be a number in [0, 1], got ${JSON.stringify(momentum)}`);
  // running = (1 - momentum) running + momentum batch, with the unbiased batch variance.
  return { ...rest, numFeatures, epsilon: eps, momentum: 1 - momentum, center: affine, scale: affine, movingVarianceCorrection: 1 };
}

/** PyTorch's BatchNorm1d(numFeatures) on [N, C] or [N, C, L]; saved as a batchnormalization layer. */
export class BatchNorm1d extends BatchNormalization {
  constructor(numFeatures: number, options: BatchNormOptions = {}) {
    super(torchBatchNorm(numFeatures, options));
  }
}

/** PyTorch's BatchNorm2d(numFeatures) on [N, C, H, W]; saved as a batchnormalization layer. */
export class BatchNorm2d extends BatchNormalization {
  constructor(numFeatures: number, options: BatchNormOptions = {}) {
    super(torchBatchNorm(numFeatures, options));
  }
}

export interface LayerNormalizationOptions extends LayerOptions {
  epsilon?: number;
  center?: boolean;
  scale?: boolean;
  /** Size of the last axis, when known before the first batch: creates the weights at once. */
  numFeatures?: number;
}

/**
 * What LayerNormalization and RMSNormalization share: a per-feature gain (gamma) and shift (beta)
 * over the last axis, created once its size is known (numFeatures, inputShape, or the first batch).
 */
export abstract class LastAxisNormalization extends Layer {
  readonly epsilon: number;
  readonly center: boolean;
  readonly scale: boolean;
  readonly numFeatures?: number;
  gamma: Tensor | null = null;
  beta: Tensor | null = null;
  /** The last axis' size, once the weights exist. */
  private features?: number;

  constructor(options: LayerNormalizationOptions, defaultEpsilon: number) {
    super(options);
    const epsilon = options.epsilon ?? defaultEpsilon;
    if (typeof epsilon !== 'number' || !(epsilon > 0 && Number.isFinite(epsilon))) fail(this.name, `epsilon must be a positive number, got ${JSON.stringify(epsilon)}`);
    this.epsilon = epsilon;
    this.center = options.center ?? true;
    this.scale = options.scale ?? true;
    if (options.numFeatures !== undefined) this.numFeatures = checkFeatures(this.name, options.numFeatures, 'numFeatures');
    if (this.inputShape) this.build(this.inputShape);
    else if (this.numFeatures !== undefined) this.createWeights(this.numFeatures);
  }

  computeOutputShape(inputShape: readonly number[]): number[] {
    if (inputShape.length < 1) this.shapeError(inputShape, 'with at least one axis (features)');
    const f = this.features ?? this.numFeatures;
    if (f !== undefined && inputShape[inputShape.length - 1] !== f) this.shapeError(inputShape, `with ${f} features on the last axis`);
    return [...inputShape];
  }

  override build(inputShape: readonly number[]): void {
    this.computeOutputShape(inputShape);
    if (this.features === undefined) this.createWeights(inputShape[inputShape.length - 1]);
    super.build(inputShape);
  }

  private createWeights(features: number): void {
    this.features = features;
    const make = (init: string) => initialize(init, [features], { fanIn: features, fanOut: features }, { dtype: this.dtype });
    if (this.scale) this.addParameter('gamma', make('ones')).name = `${this.name}.gamma`;
    if (this.center) this.addParameter('beta', make('zeros')).name = `${this.name}.beta`;
  }

  /** Checks x against the features the weights were made for. */
  protected checkInput(x: Tensor): void {
    if (x.rank < 1) fail(this.name, `expected input [batch, ..., features], got a scalar`);
    this.computeOutputShape(x.shape.slice(1));
  }
}

/** Normalises each example over its last axis: (x - mean) / sqrt(var + epsilon) * gamma + beta. */
export class LayerNormalization extends LastAxisNormalization {
  readonly type = 'layernormalization';

  constructor(options: LayerNormalizationOptions = {}) {
    super(options, 1e-3);
  }

  static fromConfig(r: ConfigReader): LayerNormalization {
    const base = readLayerOptions(r, ['epsilon', 'center', 'scale', 'numFeatures']);
    return new LayerNormalization({
      ...base,
      epsilon: r.number('epsilon', 1e-3, [Number.MIN_VALUE, Infinity]),
      center: r.bool('center', true),
      scale: r.bool('scale', true),
      numFeatures: r.has('numFeatures') ? r.positiveInt('numFeatures') : undefined,
    });
  }

  forward(x: Tensor): Tensor {
    this.checkInput(x);
    return layerNorm(x, this.gamma, this.beta, { epsilon: this.epsilon }); // one fused op, forward and backward
  }

  override getConfig(): Record<string, Json> {
    return { ...super.getConfig(), epsilon: this.epsilon, center: this.center, scale: this.scale, ...(this.numFeatures !== undefined ? { numFeatures: this.numFeatures } : {}) };
  }
}

/** PyTorch's LayerNorm(normalizedShape) over the last axis, eps 1e-5; elementwiseAffine learns gamma and beta. */
export class LayerNorm extends LayerNormalization {
  constructor(normalizedShape: number | readonly [number], options: Omit<LayerOptions, 'inputShape'> & { eps?: number; elementwiseAffine?: boolean } = {}) {
    const { eps = 1e-5, elementwiseAffine = true, ...rest } = options;
    const shape = typeof normalizedShape === 'number' ? [normalizedShape] : normalizedShape;
    if (!Array.isArray(shape) || shape.length !== 1) fail('LayerNorm', `normalizedShape must be the size of the last axis (a number or [n]); normalising over several axes is not supported, got ${JSON.stringify(normalizedShape)}`);
    super({ ...rest, numFeatures: shape[0], epsilon: eps, center: elementwiseAffine, scale: elementwiseAffine });
  }
}
