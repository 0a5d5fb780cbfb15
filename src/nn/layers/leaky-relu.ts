// LeakyReLU as a layer with its own slope: x for x > 0, negativeSlope * x otherwise. The default
// is the Keras layer's 0.3 (the `leakyRelu` activation string uses Keras' function default, 0.2).
import { fail } from '../../errors.js';
import { leakyRelu } from '../../ops/functions.js';
import type { Tensor } from '../../tensor/tensor.js';
import type { ConfigReader, Json } from '../config.js';
import { Layer, type LayerOptions } from '../layer.js';
import { readLayerOptions } from './layer-config.js';

export class LeakyReLU extends Layer {
  readonly type = 'leakyrelu';
  readonly negativeSlope: number;

  constructor(negativeSlope = 0.3, options: LayerOptions = {}) {
    super(options);
    if (typeof negativeSlope !== 'number' || !Number.isFinite(negativeSlope)) fail(this.name, `negativeSlope must be a finite number, got ${JSON.stringify(negativeSlope)}`);
    this.negativeSlope = negativeSlope;
    if (this.inputShape) this.build(this.inputShape);
  }

  static fromConfig(r: ConfigReader): LeakyReLU {
    const base = readLayerOptions(r, ['negativeSlope']);
    return new LeakyReLU(r.number('negativeSlope', 0.3), base);
  }

  computeOutputShape(inputShape: readonly number[]): number[] {
    return [...inputShape];
  }

  forward(x: Tensor): Tensor {
    return leakyRelu(x, this.negativeSlope);
  }

  override getConfig(): Record<string, Json> {
    return { ...super.getConfig(), negativeSlope: this.negativeSlope };
  }
}
