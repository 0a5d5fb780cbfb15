// The Optimizer base: parameters (given to the constructor, PyTorch-style, or attached later by
// compile, Keras-style), the learning rate or its schedule, gradient clipping, the step count
// and state dicts. Each subclass names its hyperparameters and per-parameter slots and writes
// one parameter's update.
import { noGrad } from '../autograd/engine.js';
import { fail, fmtShape } from '../errors.js';
import type { Json } from '../nn/config.js';
import { zerosLike } from '../tensor/create.js';
import { isReadAsync, markChangedInPlace } from '../tensor/inplace.js';
import { sameShape } from '../tensor/shape.js';
import { Tensor, readsBackAsync } from '../tensor/tensor.js';
import { clipOnDevice, clipValue, globalClipScale, globalNorm, l2Norm, normClipScale, scaleGrad } from './clip.js';
import { CLIPS, COMMON, isPlainObject, readOptimizerConfig } from './config.js';
import { LearningRateSchedule } from './schedules.js';

export interface OptimizerOptions {
  /** A constant rate or a schedule of the step count. Keras' name for it is learningRate. */
  lr?: number | LearningRateSchedule;
  learningRate?: number | LearningRateSchedule;
  /** Scale each gradient to at most this L2 norm (Keras clipnorm). */
  clipNorm?: number | null;
  /** Scale all gradients together to at most this global L2 norm (Keras global_clipnorm, torch clip_grad_norm_). */
  globalClipNorm?: number | null;
  /** Clip each gradient element to [-clipValue, clipValue] (Keras clipvalue). */
  clipValue?: number | null;
}

export type OptimizerConfig = { type: string } & { [k: string]: Json };

/** Everything needed to resume training bit for bit. Slot keys are `${paramIndex}.${slotName}`: "0.m". */
export interface OptimizerState {
  config: OptimizerConfig;
  iterations: number;
  slots: Record<string, Tensor>;
}

/** A hyperparameter: boolean when its default is; otherwise a number in [min, max). */
export interface Field { default: number | boolean; min?: number; max?: number }
export type Hyper = Record<string, number | boolean>;

/** What a subclass declares statically: its registry name, default rate and hyperparameters. */
export interface OptimizerClass {
  readonly type: string;
  readonly defaultLr: number;
  readonly fields: Readonly<Record<string, Field>>;
  /** Checks between fields (SGD: nesterov needs momentum); returns the problem or null. */
  crossCheck(h: Hyper): string | null;
  new (options?: OptimizerOptions): Optimizer;
}

interface Settings { rate: number | LearningRateSchedule; clip: { kind: (typeof CLIPS)[number]; limit: number } | null; h: Hyper }

const show = (v: unknown) => (v instanceof LearningRateSchedule ? v.constructor.name : typeof v === 'string' ? JSON.stringify(v) : String(v));

/**
 * Subclasses keep their hyperparameters in `h` and declare no instance fields of their own: the
 * base constructor attaches the parameters and makes the slots, which a subclass field
 * initializer, run after it, would not see.
 */
export abstract class Optimizer {
  static readonly type: string = '';
  static readonly defaultLr: number = 1e-3;
  static readonly fields: Readonly<Record<string, Field>> = {};
  static crossCheck(_h: Hyper): string | null {
    return null;
  }

  /** Steps taken so far (skipped ones excluded); schedules and Adam's bias corrections use it. */
  iterations = 0;
  /** Steps skipped because clipping found a non-finite gradient norm. */
  skippedSteps = 0;
  /** The global gradient L2 norm of the last step, when clipNorm or globalClipNorm is set (null on a GPU, where it stays on the device); a NaN guard reads it. */
  lastGradNorm: number | null = null;
  protected h: Hyper = {};
  private rate: number | LearningRateSchedule = 0;
  private clip: Settings['clip'] = null;
  private attached: Tensor[] | null = null;
  private slotNames: string[] = [];
  private slots: Tensor[][] = [];

  constructor(paramsOrOptions?: Iterable<Tensor> | OptimizerOptions, options?: OptimizerOptions) {
    let params: Iterable<Tensor> | null = null;
    let opts: unknown = paramsOrOptions ?? {};
    if (paramsOrOptions instanceof Tensor) fail(this.name, 'params must be an array of tensors, got one Tensor; pass [p]');
    if (paramsOrOptions != null && typeof (paramsOrOptions as Iterable<Tensor>)[Symbol.iterator] === 'function') {
      params = paramsOrOptions as Iterable<Tensor>;
      opts = options ?? {};
    } else if (options !== undefined) {
      fail(this.name, 'expected (params, options) or (options), got options twice');
    }
    this.apply(this.parse(opts, this.name));
    if (params) this.attach(params, this.name);
  }

  /** The class name, which errors start with. */
  get name(): string {
    return this.constructor.name;
  }

  private get spec(): OptimizerClass {
    return this.constructor as unknown as OptimizerClass;
  }

  /** The registry name: "adam", "sgd", ... */
  get type(): string {
    return this.spec.type;
  }

  /** The parameters this optimizer steps; empty until attached. */
  get params(): readonly Tensor[] {
    return this.attached ?? [];
  }

  /** The rate the next step uses: the schedule evaluated at `iterations`, or the constant. */
  get lr(): number {
    return typeof this.rate === 'number' ? this.rate : this.rate.at(this.iterations);
  }

  /** Sets a constant rate (ReduceLROnPlateau does); refused while a schedule drives the rate. */
  set lr(value: number) {
    if (this.rate instanceof LearningRateSchedule) fail(this.name, `lr follows a schedule (${this.rate.constructor.name}) and cannot be set; build the optimizer with a constant lr to change it by hand`);
    if (typeof value !== 'number' || !(value >= 0 && value < Infinity)) fail(this.name, `lr must be a number in [0, Infinity), got ${show(value)}`);
    this.rate = value;
  }

  get learningRate(): number {
    return this.lr;
  }

  set learningRate(value: number) {
    this.lr = value;
  }

  /** The schedule driving the rate, or null for a constant rate. */
  get schedule(): LearningRateSchedule | null {
    return this.rate instanceof LearningRateSchedule ? this.rate : null;
  }

  /** Binds the parameters (Keras' compile calls this). Attaching the same ones again does nothing. */
  attach(params: Iterable<Tensor>, where = `${this.name}.attach`): this {
    const list = [...params];
    list.forEach((p, i) => {
      if (!(p instanceof Tensor)) fail(where, `params[${i}] is not a Tensor`);
      if (!p.requiresGrad) fail(where, `params[${i}]${p.name ? ` (${p.name})` : ''} does not require grad`);
      if (list.indexOf(p) !== i) fail(where, `params[${i}] repeats params[${list.indexOf(p)}]; each parameter would be stepped twice`);
    });
    if (this.attached) {
      if (list.length === this.attached.length && list.every((p, i) => p === this.attached![i])) return this;
      fail(where, `already attached to ${this.attached.length} other parameters; an optimizer keeps state for one set, so make a new one for this model`);
    }
    this.attached = list;
    this.slotNames = this.slotNamesFor(this.h);
    this.slots = list.map((p) => this.slotNames.map(() => zerosLike(p)));
    return this;
  }

  /** Updates every parameter that has a gradient, in place. */
  step(): void {
    const where = `${this.name}.step`;
    const params = this.attached ?? fail(where, 'no parameters to step; pass them to the constructor (new ' + this.name + '(params, options)) or call attach(params) first (compile does)');
    const grads = params.map((p) => {
      const g = p.grad;
      if (!g) return null;
      if (!sameShape(g.shape, p.shape)) fail(where, `${p.name ?? 'a parameter'} of shape ${fmtShape(p.shape)} has a gradient of shape ${fmtShape(g.shape)}`);
      if (isReadAsync(p.buf)) fail(where, `${p.name ?? 'a parameter'} is being read by an async kernel (matmulAsync/conv2dAsync); await it first`);
      return g.dtype === p.dtype ? g : g.cast(p.dtype);
    });
    const clipped = this.clip ? this.clipGrads(grads, this.clip) : grads;
    if (!clipped) return;
    const lr = this.lr;
    const t = ++this.iterations;
    for (let i = 0; i < params.length; i++) {
      const g = clipped[i];
      if (!g) continue;
      this.update(params[i], g, this.slots[i], lr, t);
      markChangedInPlace(params[i].buf); // backward through graphs built on the old values is refused
    }
  }

  /** Clipped gradients, or null to skip the step because their norm is not finite. */
  private clipGrads(grads: (Tensor | null)[], clip: NonNullable<Settings['clip']>): (Tensor | null)[] | null {
    if (clip.kind === 'clipValue') return grads.map((g) => g && clipValue(g, clip.limit));
    if (grads.some((g) => g && readsBackAsync(g))) {
      this.lastGradNorm = null; // on the device; reading it would wait for the GPU
      return clipOnDevice(grads, clip.kind, clip.limit);
    }
    const norms = grads.map((g) => (g ? l2Norm(g) : 0));
    const total = globalNorm(norms);
    this.lastGradNorm = total;
    if (!Number.isFinite(total)) {
      this.skippedSteps++;
      return null;
    }
    if (clip.kind === 'globalClipNorm') {
      const scale = globalClipScale(total, clip.limit);
      return grads.map((g) => g && scaleGrad(g, scale));
    }
    return grads.map((g, i) => g && scaleGrad(g, normClipScale(norms[i], clip.limit)));
  }

  zeroGrad(): void {
    for (const p of this.params) p.grad = null;
  }

  /** The type name and every hyperparameter, as JSON; optimizerFromConfig rebuilds the optimizer from it. */
  getConfig(): OptimizerConfig {
    const lr = typeof this.rate === 'number' ? this.rate : this.rate.getConfig();
    return { type: this.type, lr, ...this.h, ...(this.clip ? { [this.clip.kind]: this.clip.limit } : {}) };
  }

  /** Copies of the slots, the step count and the config. */
  stateDict(): OptimizerState {
    const slots: Record<string, Tensor> = {};
    this.slots.forEach((ss, i) => ss.forEach((s, j) => (slots[`${i}.${this.slotNames[j]}`] = noGrad(() => s.clone()))));
    return { config: this.getConfig(), iterations: this.iterations, slots };
  }

  /** Restores a stateDict(): hyperparameters (lr included), step count and slots, checking everything before changing anything. */
  loadStateDict(state: OptimizerState): void {
    const where = `${this.name}.loadStateDict`;
    if (!isPlainObject(state)) fail(where, `expected {config, iterations, slots}, got ${show(state)}`);
    const config = state.config as unknown;
    if (!isPlainObject(config) || config.type !== this.type) fail(where, `config.type is ${JSON.stringify(isPlainObject(config) ? config.type : config)}, expected "${this.type}" (a state saved by another optimizer)`);
    const { iterations, slots } = state;
    if (!Number.isInteger(iterations) || iterations < 0) fail(where, `iterations must be an integer >= 0, got ${show(iterations)}`);
    if (!isPlainObject(slots)) fail(where, `slots must be an object of tensors, got ${show(slots)}`);
    const settings = this.parse(readOptimizerConfig(this.spec, config, `${where}: config`), `${where}: config`);
    const names = this.slotNamesFor(settings.h);
    const params = this.attached ?? [];
    const expected = params.flatMap((_, i) => names.map((n) => `${i}.${n}`));
    for (const key of Object.keys(slots)) {
      if (!expected.includes(key)) {
        const why = params.length === 0 ? 'no parameters are attached yet; call attach(params) first' : expected.length === 0 ? 'expected none: these options keep no slots' : `expected ${expected.join(', ')}`;
        fail(where, `unknown slot "${key}" (${why})`);
      }
    }
    for (const key of expected) {
      const s = slots[key] as unknown;
      const p = params[Number(key.slice(0, key.indexOf('.')))];
      if (s === undefined) fail(where, `slot "${key}" is missing`);
      if (!(s instanceof Tensor)) fail(where, `slot "${key}" must be a Tensor, got ${show(s)}`);
      if (!sameShape(s.shape, p.shape)) fail(where, `slot "${key}" has shape ${fmtShape(s.shape)}, but its parameter${p.name ? ` ${p.name}` : ''} has shape ${fmtShape(p.shape)}`);
    }
    this.apply(settings);
    this.iterations = iterations;
    this.slotNames = names;
    // copies in the parameter's dtype and backend: the fused kernels write slots in place
    this.slots = params.map((p, i) => names.map((n) => zerosLike(p).assign(slots[`${i}.${n}`].to(p.backend))));
  }

  /** Slot names for these hyperparameters, in a fixed order. */
  protected abstract slotNamesFor(h: Hyper): string[];

  /** Applies one step to p with its (already clipped) gradient g, in place or through p.assign. */
  protected abstract update(p: Tensor, g: Tensor, slots: Tensor[], lr: number, t: number): void;

  private parse(options: unknown, where: string): Settings {
    if (!isPlainObject(options)) fail(where, `expected an array of parameters or an options object, got ${show(options)}`);
    const spec = this.spec;
    const known = [...COMMON, ...Object.keys(spec.fields)];
    for (const k of Object.keys(options)) if (!known.includes(k)) fail(where, `unknown option "${k}" (expected one of: ${known.join(', ')})`);
    if (options.lr !== undefined && options.learningRate !== undefined) fail(where, 'pass lr or learningRate, not both');
    const rate = options.lr ?? options.learningRate ?? spec.defaultLr;
    const rateKey = options.lr === undefined && options.learningRate !== undefined ? 'learningRate' : 'lr';
    if (!(rate instanceof LearningRateSchedule) && (typeof rate !== 'number' || !(rate >= 0 && rate < Infinity))) {
      fail(where, `${rateKey} must be a number in [0, Infinity) or a LearningRateSchedule, got ${show(rate)}`);
    }
    const clips = CLIPS.filter((k) => options[k] != null);
    if (clips.length > 1) fail(where, `set at most one of clipNorm, globalClipNorm and clipValue, got ${clips.join(' and ')}`);
    for (const k of clips) {
      const v = options[k];
      if (typeof v !== 'number' || !(v > 0 && v < Infinity)) fail(where, `${k} must be a number in (0, Infinity), got ${show(v)}`);
    }
    const h: Hyper = {};
    for (const [k, f] of Object.entries(spec.fields)) {
      const v = options[k] ?? f.default;
      if (typeof f.default === 'boolean') {
        if (typeof v !== 'boolean') fail(where, `${k} must be true or false, got ${show(v)}`);
      } else {
        const [lo, hi] = [f.min ?? -Infinity, f.max ?? Infinity];
        if (typeof v !== 'number' || !(v >= lo && v < hi)) fail(where, `${k} must be a number in [${lo}, ${hi}), got ${show(v)}`);
      }
      h[k] = v as number | boolean;
    }
    const problem = spec.crossCheck(h);
    if (problem) fail(where, problem);
    return { rate: rate as number | LearningRateSchedule, clip: clips.length ? { kind: clips[0], limit: options[clips[0]] as number } : null, h };
  }

  private apply(s: Settings): void {
    this.rate = s.rate;
    this.clip = s.clip;
    this.h = s.h;
  }
}
