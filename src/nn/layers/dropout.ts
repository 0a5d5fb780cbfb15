// Dropout (Srivastava et al. 2014), inverted as in Keras and PyTorch: while training, each element
// is zeroed with probability `rate` and the survivors scaled by 1/(1 - rate), so the expected
// output equals the input and evaluation needs no rescaling: there the layer is the identity.
import { fail } from '../../errors.js';
import { rand, where } from '../../ops/functions.js';
import { Generator } from '../../tensor/random.js';
import type { Tensor } from '../../tensor/tensor.js';
import type { ConfigReader, Json } from '../config.js';
import { Layer, type LayerOptions } from '../layer.js';
import { readLayerOptions } from './layer-config.js';

export interface DropoutOptions extends LayerOptions {
  /** Draws masks from a generator of the layer's own, seeded with this, instead of the shared one (Keras' seed). */
  seed?: number;
}

export class Dropout extends Layer {
  readonly type = 'dropout';
  readonly rate: number;
  readonly seed?: number;
  private readonly ownGenerator?: Generator;

  constructor(rate: number, options: DropoutOptions = {}) {
    super(options);
    // rate 1 would zero everything and divide by zero in the scale.
    if (typeof rate !== 'number' || !(rate >= 0 && rate < 1)) fail(this.name, `rate must be a number in [0, 1), got ${JSON.stringify(rate)}`);
    this.rate = rate;
    if (options.seed !== undefined) {
      if (!Number.isSafeInteger(options.seed) || options.seed < 0) fail(this.name, `seed must be a non-negative integer, got ${JSON.stringify(options.seed)}`);
      this.seed = options.seed;
      this.ownGenerator = new Generator(options.seed);
    }
    if (this.inputShape) this.build(this.inputShape);
  }

  static fromConfig(r: ConfigReader): Dropout {
    const base = readLayerOptions(r, ['rate', 'seed']);
    return new Dropout(r.number('rate', undefined, [0, 1]), { ...base, seed: r.has('seed') ? r.int('seed', 0) : undefined });
  }

  protected override get generator(): Generator {
    return this.ownGenerator ?? super.generator;
  }

  computeOutputShape(inputShape: readonly number[]): number[] {
    return [...inputShape];
  }

  forward(x: Tensor): Tensor {
    if (!this.training || this.rate === 0) return x;
    const keep = rand(x.shape, { generator: this.generator, backend: x.backend }).ge(this.rate);
    return where(keep, x.mul(1 / (1 - this.rate)), 0);
  }

  override getConfig(): Record<string, Json> {
    return { ...super.getConfig(), rate: this.rate, ...(this.seed !== undefined ? { seed: this.seed } : {}) };
  }
}
