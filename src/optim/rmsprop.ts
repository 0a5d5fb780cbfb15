// RMSprop in Keras' form (Hinton's lecture 6e; keras.optimizers.RMSprop), with Keras' defaults:
//   v = rho * v + (1 - rho) * g^2
//   centered: mg = rho * mg + (1 - rho) * g;  denom = v - mg^2 + epsilon;  else denom = v + epsilon
//   inc = lr * g / sqrt(denom);  momentum > 0: b = momentum * b + inc, p -= b;  else p -= inc
// PyTorch differs: epsilon outside the sqrt and lr applied after the momentum buffer.
// weightDecay is the L2 term added to g first (PyTorch's weight_decay), as for SGD and Adam.
import { noGrad } from '../autograd/engine.js';
import type { Tensor } from '../tensor/tensor.js';
import { type Field, type Hyper, Optimizer, type OptimizerOptions } from './optimizer.js';

export interface RMSpropOptions extends OptimizerOptions {
  rho?: number;
  momentum?: number;
  epsilon?: number;
  centered?: boolean;
  weightDecay?: number;
}

export class RMSprop extends Optimizer {
  static override readonly type: string = 'rmsprop';
  static override readonly defaultLr: number = 1e-3;
  static override readonly fields: Readonly<Record<string, Field>> = {
    rho: { default: 0.9, min: 0, max: 1 },
    momentum: { default: 0, min: 0, max: 1 },
    epsilon: { default: 1e-7, min: 0 },
    centered: { default: false },
    weightDecay: { default: 0, min: 0 },
  };

  constructor(options?: RMSpropOptions);
  constructor(params: Iterable<Tensor>, options?: RMSpropOptions);
  constructor(paramsOrOptions?: Iterable<Tensor> | RMSpropOptions, options?: RMSpropOptions) {
    super(paramsOrOptions, options);
  }

  get rho(): number { return this.h.rho as number; }
  get momentum(): number { return this.h.momentum as number; }
  get epsilon(): number { return this.h.epsilon as number; }
  get centered(): boolean { return this.h.centered as boolean; }
  get weightDecay(): number { return this.h.weightDecay as number; }

  /** Keras' slot names: velocity (mean square), averageGradient (centered), momentum. */
  protected slotNamesFor(h: Hyper): string[] {
    return ['velocity', ...(h.centered ? ['averageGradient'] : []), ...((h.momentum as number) > 0 ? ['momentum'] : [])];
  }

  protected update(p: Tensor, g: Tensor, slots: Tensor[], lr: number): void {
    const { rho, momentum, epsilon, centered, weightDecay } = this;
    const [velocity] = slots;
    const averageGradient = centered ? slots[1] : null;
    const buf = momentum > 0 ? slots[slots.length - 1] : null;
    noGrad(() => {
      const d = weightDecay > 0 ? g.add(p.mul(weightDecay)) : g;
      velocity.assign(velocity.mul(rho).add(d.square().mul(1 - rho)));
      let denom = velocity;
      if (averageGradient) {
        averageGradient.assign(averageGradient.mul(rho).add(d.mul(1 - rho)));
        denom = velocity.sub(averageGradient.square());
      }
      const inc = d.mul(lr).div(denom.add(epsilon).sqrt());
      if (buf) {
        buf.assign(buf.mul(momentum).add(inc));
        p.assign(p.sub(buf));
      } else {
        p.assign(p.sub(inc));
      }
    });
  }
}
