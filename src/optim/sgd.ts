// SGD with momentum and Nesterov momentum, in PyTorch's form (torch.optim.SGD, dampening 0):
//   d = g + weightDecay * p;  b = momentum * b + d;  d = nesterov ? d + momentum * b : b;  p -= lr * d
// Keras folds lr into the velocity instead (v = momentum * v - lr * g; p += v): the same steps
// at a constant rate, but a rate change then reaches the update only as the velocity decays;
// here it applies at once. Default lr is Keras' 0.01.
import { noGrad } from '../autograd/engine.js';
import type { Tensor } from '../tensor/tensor.js';
import { type Field, type Hyper, Optimizer, type OptimizerOptions } from './optimizer.js';

export interface SGDOptions extends OptimizerOptions {
  momentum?: number;
  nesterov?: boolean;
  /** L2 penalty: weightDecay * p is added to the gradient (PyTorch's weight_decay). */
  weightDecay?: number;
}

export class SGD extends Optimizer {
  static override readonly type: string = 'sgd';
  static override readonly defaultLr: number = 0.01;
  static override readonly fields: Readonly<Record<string, Field>> = {
    momentum: { default: 0, min: 0, max: 1 },
    nesterov: { default: false },
    weightDecay: { default: 0, min: 0 },
  };

  static override crossCheck(h: Hyper): string | null {
    return h.nesterov && h.momentum === 0 ? 'nesterov needs momentum > 0' : null;
  }

  constructor(options?: SGDOptions);
  constructor(params: Iterable<Tensor>, options?: SGDOptions);
  constructor(paramsOrOptions?: Iterable<Tensor> | SGDOptions, options?: SGDOptions) {
    super(paramsOrOptions, options);
  }

  get momentum(): number { return this.h.momentum as number; }
  get nesterov(): boolean { return this.h.nesterov as boolean; }
  get weightDecay(): number { return this.h.weightDecay as number; }

  protected slotNamesFor(h: Hyper): string[] {
    return (h.momentum as number) > 0 ? ['momentum'] : [];
  }

  protected update(p: Tensor, g: Tensor, [buf]: Tensor[], lr: number): void {
    const { momentum, weightDecay } = this;
    noGrad(() => {
      let d = weightDecay > 0 ? g.add(p.mul(weightDecay)) : g;
      if (momentum > 0) {
        buf.assign(buf.mul(momentum).add(d));
        d = this.nesterov ? d.add(buf.mul(momentum)) : buf;
      }
      p.assign(p.sub(d.mul(lr)));
    });
  }
}
