// Adam and AdamW, each step one fused in-place kernel per parameter (backend.adamUpdate).
// Defaults are Keras': lr 1e-3, beta1 0.9, beta2 0.999, epsilon 1e-7.
import { fail, fmtShape } from '../errors.js';
import { sameShape } from '../tensor/shape.js';
import { isReadAsync, markChangedInPlace } from '../tensor/inplace.js';
import { zerosLike } from '../tensor/create.js';
import type { Tensor } from '../tensor/tensor.js';

export interface AdamOptions {
  lr?: number;
  beta1?: number;
  beta2?: number;
  epsilon?: number;
  weightDecay?: number;
}

export class Adam {
  readonly params: Tensor[];
  lr: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly epsilon: number;
  readonly weightDecay: number;
  protected readonly decoupled: boolean = false;
  /** Steps taken so far; the bias corrections depend on it. */
  iterations = 0;
  private readonly moments = new Map<Tensor, { m: Tensor; v: Tensor }>();

  constructor(params: Tensor[], options: AdamOptions = {}) {
    const { lr = 1e-3, beta1 = 0.9, beta2 = 0.999, epsilon = 1e-7, weightDecay = 0 } = options;
    const name = new.target.name;
    for (const [k, v, lo, hi] of [['lr', lr, 0, Infinity], ['beta1', beta1, 0, 1], ['beta2', beta2, 0, 1], ['epsilon', epsilon, 0, Infinity], ['weightDecay', weightDecay, 0, Infinity]] as const) {
      if (typeof v !== 'number' || !(v >= lo && v < hi)) fail(name, `${k} must be a number in [${lo}, ${hi}), got ${v}`);
    }
    params.forEach((p, i) => {
      if (!p.requiresGrad) fail(name, `params[${i}]${p.name ? ` (${p.name})` : ''} does not require grad`);
      if (params.indexOf(p) !== i) fail(name, `params[${i}] repeats params[${params.indexOf(p)}]; each parameter would be stepped twice`);
    });
    this.params = params;
    this.lr = lr;
    this.beta1 = beta1;
    this.beta2 = beta2;
    this.epsilon = epsilon;
    this.weightDecay = weightDecay;
  }

  /** Updates every parameter that has a gradient, in place. */
  step(): void {
    this.iterations++;
    const t = this.iterations;
    const hyper = {
      lr: this.lr,
      beta1: this.beta1,
      beta2: this.beta2,
      epsilon: this.epsilon,
      weightDecay: this.weightDecay,
      decoupled: this.decoupled,
      biasCorrection1: 1 - this.beta1 ** t,
      biasCorrection2: 1 - this.beta2 ** t,
    };
    for (const p of this.params) {
      const g = p.grad;
      if (!g) continue;
      if (!sameShape(g.shape, p.shape)) fail('Adam.step', `${p.name ?? 'a parameter'} of shape ${fmtShape(p.shape)} has a gradient of shape ${fmtShape(g.shape)}`);
      if (isReadAsync(p.buf)) fail('Adam.step', `${p.name ?? 'a parameter'} is being read by an async kernel (matmulAsync/conv2dAsync); await it first`);
      let state = this.moments.get(p);
      if (!state) {
        state = { m: zerosLike(p), v: zerosLike(p) };
        this.moments.set(p, state);
      }
      p.backend.adamUpdate(p, g.dtype === p.dtype ? g : g.cast(p.dtype), state.m, state.v, hyper);
      markChangedInPlace(p.buf);
    }
  }

  zeroGrad(): void {
    for (const p of this.params) p.grad = null;
  }
}

/** Adam with decoupled weight decay (Loshchilov & Hutter); PyTorch's default decay 0.01. */
export class AdamW extends Adam {
  protected override readonly decoupled: boolean = true;

  constructor(params: Tensor[], options: AdamOptions = {}) {
    super(params, { weightDecay: 0.01, ...options });
  }
}
