// Gradient clipping: by the global L2 norm over all gradients (torch.nn.utils.clip_grad_norm_,
// Keras global_clipnorm), by each gradient's own norm (Keras clipnorm), and by value.
// Clipped gradients are new tensors: backward may hand one gradient tensor to several
// parameters, so writing into it would clip them twice.
import { noGrad } from '../autograd/engine.js';
import { fail } from '../errors.js';
import { abs, clip, div, maximum, minimum, sqrt } from '../ops/elementwise.js';
import { max, sum } from '../ops/reduce.js';
import type { Tensor } from '../tensor/tensor.js';

/** The L2 norm of one gradient, summed in float64 so float32 values above 1e19 do not overflow it. */
export function l2Norm(g: Tensor): number {
  return Math.sqrt(noGrad(() => sum((g.dtype === 'float64' ? g : g.cast('float64')).square()).item()));
}

/** sqrt of the sum of squared norms: the norm of all gradients seen as one vector. */
export function globalNorm(norms: readonly number[]): number {
  let s = 0;
  for (const n of norms) s += n * n;
  return Math.sqrt(s);
}

/** torch's clip coefficient: maxNorm / (total + 1e-6), when that is below 1; 1 means leave as is. */
export function globalClipScale(total: number, maxNorm: number): number {
  return Math.min(maxNorm / (total + 1e-6), 1);
}

/** TF/Keras clip_by_norm's factor for one gradient: maxNorm / max(norm, maxNorm). */
export function normClipScale(norm: number, maxNorm: number): number {
  return norm > maxNorm ? maxNorm / norm : 1;
}

export function scaleGrad(g: Tensor, scale: number): Tensor {
  return scale === 1 ? g : noGrad(() => g.mul(scale));
}

export function clipValue(g: Tensor, limit: number): Tensor {
  return noGrad(() => clip(g, -limit, limit));
}

/**
 * clipNorm or globalClipNorm on a GPU: the norms and scales stay on the device, so a step
 * queues without waiting for a read-back. WGSL has no float64, so each norm is taken of the
 * gradient divided by its largest magnitude (m * |g / m|: float32 squares of values above 1e19
 * would overflow to a zero scale). A non-finite gradient cannot skip the step as on the CPU
 * (knowing it would wait for the GPU): the weights turn NaN, and the loss the training loop
 * reads back next names the step after it.
 */
export function clipOnDevice(grads: (Tensor | null)[], kind: 'clipNorm' | 'globalClipNorm', maxNorm: number): (Tensor | null)[] {
  return noGrad(() => {
    const norms = grads.map((g) => {
      if (!g) return null;
      const m = maximum(max(abs(g)), 1e-30); // 1e-30: an all-zero gradient divides by it, not by 0
      return m.mul(sqrt(sum(div(g, m).square())));
    });
    if (kind === 'clipNorm') return grads.map((g, i) => g && g.mul(div(maxNorm, maximum(norms[i]!, maxNorm))));
    const present = norms.filter((n): n is Tensor => n !== null);
    if (present.length === 0) return grads;
    const big = maximum(present.reduce((a, b) => maximum(a, b)), 1e-30);
    const total = big.mul(sqrt(present.map((n) => div(n, big).square()).reduce((a, b) => a.add(b))));
    const scale = minimum(div(maxNorm, total.add(1e-6)), 1);
    return grads.map((g) => g && g.mul(scale));
  });
}

function checkLimit(where: string, key: string, v: number): void {
  if (typeof v !== 'number' || !(v > 0) || !Number.isFinite(v)) fail(where, `${key} must be a finite number > 0, got ${v}`);
}

function withGrads(params: Iterable<Tensor>): Tensor[] {
  return [...params].filter((p) => p.grad !== null);
}

/**
 * Scales every .grad by maxNorm / (total + 1e-6) when the total L2 norm over all of them
 * exceeds maxNorm, and returns the total norm (before clipping), as torch.nn.utils.clip_grad_norm_.
 * A non-finite total (an Inf or NaN gradient) is returned with the gradients left as they were,
 * where torch would turn them into NaN: the caller decides (skip the step, stop, report).
 */
export function clipGradNorm(params: Iterable<Tensor>, maxNorm: number): number {
  checkLimit('clipGradNorm', 'maxNorm', maxNorm);
  const ps = withGrads(params);
  const total = globalNorm(ps.map((p) => l2Norm(p.grad!)));
  if (!Number.isFinite(total)) return total;
  const scale = globalClipScale(total, maxNorm);
  for (const p of ps) p.grad = scaleGrad(p.grad!, scale);
  return total;
}

/** Limits every .grad elementwise to [-clipValue, clipValue] (torch clip_grad_value_, Keras clipvalue). NaN stays NaN. */
export function clipGradValue(params: Iterable<Tensor>, limit: number): void {
  checkLimit('clipGradValue', 'clipValue', limit);
  for (const p of withGrads(params)) p.grad = clipValue(p.grad!, limit);
}
