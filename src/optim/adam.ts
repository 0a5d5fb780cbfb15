// Adam and AdamW, each step one fused in-place kernel per parameter (backend.adamUpdate), as in
// Kingma & Ba (2015) Algorithm 1 with epsilon added to sqrt(v-hat) (PyTorch's and Keras' form).
// Defaults are Keras': lr 1e-3, beta1 0.9, beta2 0.999, epsilon 1e-7. Adam's weightDecay is
// PyTorch's L2 term (weightDecay * p added to the gradient) unless `decoupled` (PyTorch's
// decoupled_weight_decay), which makes it AdamW.
import type { Tensor } from '../tensor/tensor.js';
import { type Field, type Hyper, Optimizer, type OptimizerOptions } from './optimizer.js';

export interface AdamOptions extends OptimizerOptions {
  beta1?: number;
  beta2?: number;
  epsilon?: number;
  weightDecay?: number;
  /** Decoupled weight decay, making this AdamW (PyTorch's decoupled_weight_decay). */
  decoupled?: boolean;
}

export class Adam extends Optimizer {
  static override readonly type: string = 'adam';
  static override readonly defaultLr: number = 1e-3;
  static override readonly fields: Readonly<Record<string, Field>> = {
    beta1: { default: 0.9, min: 0, max: 1 },
    beta2: { default: 0.999, min: 0, max: 1 },
    epsilon: { default: 1e-7, min: 0 },
    weightDecay: { default: 0, min: 0 },
    decoupled: { default: false },
  };

  constructor(options?: AdamOptions);
  constructor(params: Iterable<Tensor>, options?: AdamOptions);
  constructor(paramsOrOptions?: Iterable<Tensor> | AdamOptions, options?: AdamOptions) {
    super(paramsOrOptions, options);
  }

  get beta1(): number { return this.h.beta1 as number; }
  get beta2(): number { return this.h.beta2 as number; }
  get epsilon(): number { return this.h.epsilon as number; }
  get weightDecay(): number { return this.h.weightDecay as number; }
  /** AdamW: decay the weights directly instead of adding weightDecay * p to the gradient. */
  get decoupled(): boolean { return this.h.decoupled === true; }

  protected slotNamesFor(_h: Hyper): string[] {
    return ['m', 'v'];
  }

  protected update(p: Tensor, g: Tensor, [m, v]: Tensor[], lr: number, t: number): void {
    const { beta1, beta2 } = this;
    p.backend.adamUpdate(p, g, m, v, {
      lr,
      beta1,
      beta2,
      epsilon: this.epsilon,
      weightDecay: this.weightDecay,
      decoupled: this.decoupled,
      biasCorrection1: 1 - beta1 ** t,
      biasCorrection2: 1 - beta2 ** t,
    });
  }
}

/**
 * Adam with decoupled weight decay (Loshchilov & Hutter, 2019), p -= lr * weightDecay * p before
 * the Adam step, as PyTorch's AdamW; PyTorch's default decay 0.01 (Keras' is 0.004).
 */
export class AdamW extends Adam {
  static override readonly type: string = 'adamw';
  static override readonly fields: Readonly<Record<string, Field>> = (({ decoupled: _, ...rest }) => ({ ...rest, weightDecay: { default: 0.01, min: 0 } }))(Adam.fields);

  constructor(options?: AdamOptions);
  constructor(params: Iterable<Tensor>, options?: AdamOptions);
  constructor(paramsOrOptions?: Iterable<Tensor> | AdamOptions, options?: AdamOptions) {
    super(paramsOrOptions as Iterable<Tensor>, options);
  }

  override get decoupled(): boolean { return true; }
}
