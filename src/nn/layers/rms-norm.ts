// RMSNormalization (Keras 3) / RMSNorm (PyTorch): y = x / sqrt(mean(x^2, last axis) + eps) * gamma.
// LayerNorm without the centring or the shift, as LLaMA-style transformers use it. Composed from
// ordinary ops, so its gradient comes from theirs.
import { fail } from '../../errors.js';
import { mean, rsqrt } from '../../ops/functions.js';
import type { Tensor } from '../../tensor/tensor.js';
import type { ConfigReader, Json } from '../config.js';
import { initialize } from '../init.js';
import { Layer, type LayerOptions } from '../layer.js';
import { readLayerOptions } from './layer-config.js';
import { checkFeatures } from './normalization.js';

export interface RMSNormalizationOptions extends LayerOptions {
  /** Keras' default 1e-6. */
  epsilon?: number;
  /** Learn a per-feature gain (gamma); default true. */
  scale?: boolean;
  /** The last axis' size, to create the weights before the first call. */
  numFeatures?: number;
}

export class RMSNormalization extends Layer {
  readonly type = 'rmsnormalization';
  readonly epsilon: number;
  readonly scale: boolean;
  readonly numFeatures?: number;
  gamma: Tensor | null = null;
  private features?: number;

  constructor(options: RMSNormalizationOptions = {}) {
    super(options);
    const epsilon = options.epsilon ?? 1e-6;
    if (typeof epsilon !== 'number' || !(epsilon > 0 && Number.isFinite(epsilon))) fail(this.name, `epsilon must be a positive number, got ${JSON.stringify(epsilon)}`);
    this.epsilon = epsilon;
    this.scale = options.scale ?? true;
    if (options.numFeatures !== undefined) this.numFeatures = checkFeatures(this.name, options.numFeatures, 'numFeatures');
    if (this.inputShape) this.build(this.inputShape);
    else if (this.numFeatures !== undefined) this.createWeights(this.numFeatures);
  }

  static fromConfig(r: ConfigReader): RMSNormalization {
    const base = readLayerOptions(r, ['epsilon', 'scale', 'numFeatures']);
    return new RMSNormalization({
      ...base,
      epsilon: r.number('epsilon', 1e-6, [Number.MIN_VALUE, Infinity]),
      scale: r.bool('scale', true),
      numFeatures: r.has('numFeatures') ? r.positiveInt('numFeatures') : undefined,
    });
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
    if (this.scale) this.addParameter('gamma', initialize('ones', [features], { fanIn: features, fanOut: features }, { dtype: this.dtype })).name = `${this.name}.gamma`;
  }

  forward(x: Tensor): Tensor {
    if (x.rank < 1) fail(this.name, 'expected input [batch, ..., features], got a scalar');
    this.computeOutputShape(x.shape.slice(1));
    const y = x.mul(rsqrt(mean(x.square(), -1, true).add(this.epsilon)));
    return this.gamma ? y.mul(this.gamma) : y;
  }

  override getConfig(): Record<string, Json> {
    return { ...super.getConfig(), epsilon: this.epsilon, scale: this.scale, ...(this.numFeatures !== undefined ? { numFeatures: this.numFeatures } : {}) };
  }
}

/** PyTorch's RMSNorm(normalizedShape): eps defaults to 1e-6 here (PyTorch's None means the dtype's epsilon); elementwiseAffine learns gamma. */
export class RMSNorm extends RMSNormalization {
  constructor(normalizedShape: number | readonly [number], options: Omit<LayerOptions, 'inputShape'> & { eps?: number; elementwiseAffine?: boolean } = {}) {
    const { eps = 1e-6, elementwiseAffine = true, ...rest } = options;
    const shape = typeof normalizedShape === 'number' ? [normalizedShape] : normalizedShape;
    if (!Array.isArray(shape) || shape.length !== 1) fail('RMSNorm', `normalizedShape must be the size of the last axis (a number or [n]), got ${JSON.stringify(normalizedShape)}`);
    super({ ...rest, numFeatures: shape[0], epsilon: eps, scale: elementwiseAffine });
  }
}
