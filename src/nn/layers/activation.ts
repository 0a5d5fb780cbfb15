// Activation as a layer: new Activation('relu'), or the named shortcuts ReLU, Softmax, ...
import type { Tensor } from '../../tensor/tensor.js';
import { ACTIVATIONS, activationName } from '../activations.js';
import type { ConfigReader, Json } from '../config.js';
import { Layer, type LayerOptions } from '../layer.js';
import { readLayerOptions } from './layer-config.js';

export class Activation extends Layer {
  readonly type = 'activation';
  readonly activation: string;

  constructor(activation: string, options: LayerOptions = {}) {
    super(options);
    this.activation = activationName(activation, this.name);
  }

  static fromConfig(r: ConfigReader): Activation {
    const base = readLayerOptions(r, ['activation']);
    return new Activation(r.string('activation'), base);
  }

  computeOutputShape(inputShape: readonly number[]): number[] {
    return [...inputShape];
  }

  forward(x: Tensor): Tensor {
    return ACTIVATIONS[this.activation](x);
  }

  override getConfig(): Record<string, Json> {
    return { ...super.getConfig(), activation: this.activation };
  }
}

export class ReLU extends Activation {
  constructor(options: LayerOptions = {}) {
    super('relu', options);
  }
}

export class Softmax extends Activation {
  constructor(options: LayerOptions = {}) {
    super('softmax', options);
  }
}
