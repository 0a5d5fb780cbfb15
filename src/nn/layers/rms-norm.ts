// RMSNormalization (Keras 3) / RMSNorm (PyTorch): y = x / sqrt(mean(x^2, last axis) + eps) * gamma.
// LayerNorm without the centring or the shift, as LLaMA-style transformers use it. Composed from
// ordinary ops, so its gradient comes from theirs.
import { fail } from '../../errors.js';
import { mean, rsqrt } from '../../ops/functions.js';
import type { Tensor } from '../../tensor/tensor.js';
import type { ConfigReader, Json } from '../config.js';
import type { LayerOptions } from '../layer.js';
import { readLayerOptions } from './layer-config.js';
import { LastAxisNormalization } from './normalization.js';

export interface RMSNormalizationOptions extends LayerOptions {
  /** Keras' default 1e-6. */
  epsilon?: number;
  /** Learn a per-feature gain (gamma); default true. */
  scale?: boolean;
  /** The last axis' size, to create the weights before the first call. */
  numFeatures?: number;
}

export class RMSNormalization extends LastAxisNormalization {
  readonly type = 'rmsnormalization';

  constructor(options: RMSNormalizationOptions = {}) {
    super({ ...options, center: false }, 1e-6);
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

  forward(x: Tensor): Tensor {
    this.checkInput(x);
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
