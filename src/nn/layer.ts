// Layer: a Module with Keras' lifecycle. Weights are created by build() once the per-example
// input shape is known (from `inputShape`, from the layer before, or from the first call), and
// computeOutputShape() lets a Sequential check that its layers chain before any data flows.
import { fail, fmtShape } from '../errors.js';
import { type Generator, defaultGenerator } from '../tensor/random.js';
import type { Tensor } from '../tensor/tensor.js';
import type { Json } from './config.js';
import { Module } from './module.js';

export interface LayerOptions {
  /** The per-example input shape, without the batch axis: Keras' input_shape. */
  inputShape?: readonly number[];
  name?: string;
  /** The dtype of the weights: float32, or float64 for gradient checks. */
  dtype?: 'float32' | 'float64';
}

const counters = new Map<string, number>();

export abstract class Layer extends Module {
  /** The layer's name in configs and saved models: 'dense', 'conv2d', ... */
  abstract readonly type: string;
  readonly name: string;
  inputShape?: number[];
  readonly dtype: 'float32' | 'float64';
  built = false;

  constructor(options: LayerOptions = {}) {
    super();
    const kind = new.target.name.toLowerCase();
    const n = (counters.get(kind) ?? 0) + 1;
    counters.set(kind, n);
    this.name = options.name ?? `${kind}_${n}`;
    if (options.dtype !== undefined && options.dtype !== 'float32' && options.dtype !== 'float64') fail(this.name, `dtype must be float32 or float64, got ${JSON.stringify(options.dtype)}`);
    this.dtype = options.dtype ?? 'float32';
    if (options.inputShape !== undefined) {
      const s = options.inputShape;
      if (!Array.isArray(s) || s.some((d) => !Number.isInteger(d) || d < 1)) fail(this.name, `inputShape must be an array of positive integers, got ${JSON.stringify(s)}`);
      this.inputShape = [...s];
    }
  }

  /** The per-example output shape for a per-example input shape; throws naming what does not fit. */
  abstract computeOutputShape(inputShape: readonly number[]): number[];

  abstract forward(x: Tensor): Tensor;

  /** Creates the weights for this input shape. Subclasses with weights override it and call super. */
  build(inputShape: readonly number[]): void {
    this.computeOutputShape(inputShape); // validates
    this.inputShape ??= [...inputShape];
    this.built = true;
  }

  /** Runs the layer, building it from the first batch's shape if needed. */
  call(x: Tensor): Tensor {
    if (!this.built) this.build(x.shape.slice(1));
    return this.forward(x);
  }

  /**
   * This layer and `next` as one function of this layer's input, for inference, when a fused
   * kernel covers the pair (Conv2D then MaxPool2D); null otherwise. Sequential asks only while
   * no gradient is recorded; the result must equal next.call(this.call(x)).
   */
  fuseWith(next: Layer): ((x: Tensor) => Tensor) | null {
    void next;
    return null;
  }

  /**
   * This layer and more than one after it (layers[start] is this one) as one function for
   * inference, and how many layers it covers, when a fused kernel covers such a run (a CNN's
   * quantized conv-pool blocks); null otherwise. Sequential asks before fuseWith; the result must
   * equal calling the layers one after another.
   */
  fuseRun(layers: readonly Layer[], start: number): { run: (x: Tensor) => Tensor; count: number } | null {
    void layers, start;
    return null;
  }

  /** The options that rebuild this layer: what model.json stores. */
  getConfig(): Record<string, Json> {
    return { type: this.type, name: this.name, ...(this.inputShape ? { inputShape: this.inputShape } : {}), ...(this.dtype !== 'float32' ? { dtype: this.dtype } : {}) };
  }

  /** Where weight draws come from; set by model builders that take a seed. */
  protected get generator(): Generator {
    return defaultGenerator;
  }

  protected shapeError(inputShape: readonly number[], expected: string): never {
    fail(this.name, `expected input ${expected}, got per-example shape ${fmtShape(inputShape)}`);
  }
}
