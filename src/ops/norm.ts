// Fused normalisation: LayerNorm over the last axis as one op (table.ts `layerNorm`) with a
// one-kernel backward, where the composed form (mean, centre, variance, rsqrt, scale, shift)
// took about 20 ops and their temporaries forward and backward.
import { apply } from '../autograd/engine.js';
import { fail, fmtShape } from '../errors.js';
import { isFloat } from '../tensor/dtype.js';
import { Tensor } from '../tensor/tensor.js';
import * as T from './table.js';

export interface LayerNormOptions {
  /** Added to the variance; PyTorch's 1e-5 by default. */
  epsilon?: number;
}

/**
 * (x - mean) / sqrt(var + epsilon) * gamma + beta over the last axis of x [..., C], with the
 * biased variance (PyTorch's F.layer_norm over one axis); gamma and beta [C] are optional.
 */
export function layerNorm(x: Tensor, gamma?: Tensor | null, beta?: Tensor | null, options: LayerNormOptions = {}): Tensor {
  const op = 'layerNorm';
  if (!(x instanceof Tensor)) fail(op, `expected a Tensor, got ${typeof x}`);
  if (x.rank === 0 || !isFloat(x.dtype)) fail(op, `x must be a float tensor with at least one axis, got ${x.dtype} ${fmtShape(x.shape)}`);
  const C = x.shape[x.rank - 1];
  for (const [name, p] of [['gamma', gamma], ['beta', beta]] as const) {
    if (p === undefined || p === null) continue;
    if (!(p instanceof Tensor) || p.rank !== 1 || p.size !== C || p.dtype !== x.dtype) {
      fail(op, `${name} must be a ${x.dtype} tensor of shape [${C}] for x ${fmtShape(x.shape)}, got ${p instanceof Tensor ? `${p.dtype} ${fmtShape(p.shape)}` : typeof p}`);
    }
  }
  const epsilon = options.epsilon ?? 1e-5;
  if (typeof epsilon !== 'number' || !(epsilon > 0 && Number.isFinite(epsilon))) fail(op, `epsilon must be a positive number, got ${JSON.stringify(epsilon)}`);
  const inputs = [x, ...(gamma ? [gamma] : []), ...(beta ? [beta] : [])];
  return apply(T.layerNorm, inputs, { eps: epsilon, gamma: !!gamma, beta: !!beta });
}
