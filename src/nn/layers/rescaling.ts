// Rescaling (Keras): x * scale + offset, casting integer input (uint8 pixels) to float32 first.
// Putting the preprocessing in the model means a saved model takes raw pixels when served.
import { fail } from '../../errors.js';
import { rescale } from '../../ops/functions.js';
import type { Tensor } from '../../tensor/tensor.js';
import type { ConfigReader, Json } from '../config.js';
import { Layer, type LayerOptions } from '../layer.js';
import { readLayerOptions } from './layer-config.js';

/** A layer whose rescaledForward(x, scale, offset) equals call(rescale(x, scale, offset)), done inside its kernel. */
export interface TakesRescaledInput {
  rescaledForward(x: Tensor, scale: number, offset: number): Tensor;
}

function takesRescaledInput(layer: Layer): layer is Layer & TakesRescaledInput {
  return typeof (layer as Partial<TakesRescaledInput>).rescaledForward === 'function';
}

/** A layer that starts a fused run of layers (Layer.fuseRun) reading rescale(x) in its kernel (QuantizedConv2D's conv-pool blocks). */
export interface StartsRescaledRun {
  fuseRescaledRun(layers: readonly Layer[], start: number, scale: number, offset: number): { run: (x: Tensor) => Tensor; count: number } | null;
}

function startsRescaledRun(layer: Layer): layer is Layer & StartsRescaledRun {
  return typeof (layer as Partial<StartsRescaledRun>).fuseRescaledRun === 'function';
}

export class Rescaling extends Layer {
  readonly type = 'rescaling';
  readonly scale: number;
  readonly offset: number;

  constructor(scale: number, offset = 0, options: LayerOptions = {}) {
    super(options);
    if (!Number.isFinite(scale) || !Number.isFinite(offset)) fail(this.name, `scale and offset must be finite numbers, got ${scale} and ${offset}`);
    this.scale = scale;
    this.offset = offset;
  }

  static fromConfig(r: ConfigReader): Rescaling {
    const base = readLayerOptions(r, ['scale', 'offset']);
    return new Rescaling(r.number('scale'), r.number('offset', 0), base);
  }

  computeOutputShape(inputShape: readonly number[]): number[] {
    return [...inputShape];
  }

  forward(x: Tensor): Tensor {
    return rescale(x, this.scale, this.offset); // one pass: cast, scale and shift
  }

  /** Inference: this layer and a run of layers after it whose first rescales its input in its kernel. */
  override fuseRun(layers: readonly Layer[], start: number): { run: (x: Tensor) => Tensor; count: number } | null {
    const next = layers[start + 1];
    const run = next && startsRescaledRun(next) ? next.fuseRescaledRun(layers, start + 1, this.scale, this.offset) : null;
    return run && { run: run.run, count: run.count + 1 };
  }

  /** Inference: a layer after this one that can rescale its input in its own kernel (Dense, QuantizedDense) does. */
  override fuseWith(next: Layer): ((x: Tensor) => Tensor) | null {
    if (!takesRescaledInput(next) || !next.built) return null;
    return (x) => next.rescaledForward(x, this.scale, this.offset);
  }

  override getConfig(): Record<string, Json> {
    return { ...super.getConfig(), scale: this.scale, offset: this.offset };
  }
}
