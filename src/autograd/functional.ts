// The functional face of autodiff, like JAX's grad and value_and_grad: differentiate a function
// of tensors without touching anyone's .grad.
import { fail, fmtShape } from '../errors.js';
import { onesLike } from '../tensor/create.js';
import { Tensor } from '../tensor/tensor.js';
import { propagate } from './engine.js';

/** Returns f's value and its gradients with respect to every argument. f must return a one-element tensor. */
export function valueAndGrad<Args extends Tensor[]>(f: (...args: Args) => Tensor): (...args: Args) => [Tensor, Tensor[]] {
  return (...args: Args) => {
    args.forEach((a, i) => {
      if (!(a instanceof Tensor)) fail('valueAndGrad', `argument ${i} is not a Tensor`);
    });
    const leaves = args.map((a) => a.detach().requireGrad()) as Args;
    const value = f(...leaves);
    if (!(value instanceof Tensor) || value.size !== 1) {
      fail('valueAndGrad', `f must return a one-element tensor, got ${value instanceof Tensor ? fmtShape(value.shape) : typeof value}`);
    }
    const grads = new Map<Tensor, Tensor>();
    if (value.requiresGrad) {
      propagate(value, onesLike(value), false, (t, g) => {
        const prev = grads.get(t);
        grads.set(t, prev ? prev.add(g) : g);
      });
    }
    // An argument f ignored gets a zero gradient, as in JAX.
    return [value.detach(), leaves.map((l) => grads.get(l) ?? onesLike(l).mul(0))];
  };
}

/** The gradients of f with respect to every argument. */
export function grad<Args extends Tensor[]>(f: (...args: Args) => Tensor): (...args: Args) => Tensor[] {
  const vg = valueAndGrad(f);
  return (...args: Args) => vg(...args)[1];
}
