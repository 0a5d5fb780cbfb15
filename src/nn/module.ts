// Module: a tree of named parameters, buffers and sub-modules, as in PyTorch's nn.Module.
// Parameters and buffers are registered by name; sub-modules are found among the fields, so
// `this.fc1 = new Dense(...)` is all a subclass writes.
import { fail, fmtShape } from '../errors.js';
import { sameShape } from '../tensor/shape.js';
import { Tensor } from '../tensor/tensor.js';
import { noGrad } from '../autograd/engine.js';

/** Open inInference scopes: while one is, every module reports training false. */
let inferenceScopes = 0;

/**
 * Runs f with every module in inference mode, as Keras' predict passes training=False down its
 * calls: no walk over the tree to switch each module off and back on (predict() did two a call,
 * a fifth of a small model's overhead). Inside, train()/eval() change nothing, so code that
 * saves and restores a module's mode keeps it as it was. For synchronous f: an await inside
 * would leak the mode.
 */
export function inInference<T>(f: () => T): T {
  inferenceScopes++;
  try {
    return f();
  } finally {
    inferenceScopes--;
  }
}

/** Whether an inInference scope is open (outputs then need not remember what a loss would use). */
export function inInferenceScope(): boolean {
  return inferenceScopes > 0;
}

export class Module {
  private trainingFlag = true;
  private readonly paramNames: string[] = [];
  private readonly bufferNames: string[] = [];

  /** Dropout and BatchNorm behave differently while training; fit() and evaluate() switch this. False inside inInference. */
  get training(): boolean {
    return this.trainingFlag && inferenceScopes === 0;
  }

  set training(on: boolean) {
    if (inferenceScopes === 0) this.trainingFlag = on; // inside inInference, inference mode wins
  }

  /** Registers `t` as a trainable parameter under `name`, and returns it. */
  protected addParameter(name: string, t: Tensor): Tensor {
    if (!this.paramNames.includes(name)) this.paramNames.push(name);
    if (!t.requiresGrad) t.requireGrad();
    (this as unknown as Record<string, Tensor>)[name] = t;
    return t;
  }

  /** Registers state that is saved with the model but not trained (BatchNorm's running statistics). */
  protected addBuffer(name: string, t: Tensor): Tensor {
    if (!this.bufferNames.includes(name)) this.bufferNames.push(name);
    (this as unknown as Record<string, Tensor>)[name] = t;
    return t;
  }

  /** Direct sub-modules, named by field (arrays of modules as field.0, field.1, ...). */
  children(): [string, Module][] {
    const out: [string, Module][] = [];
    this.eachChild((name, m) => out.push([name, m]));
    return out;
  }

  /** Calls fn for each direct sub-module, in field order, named by field (array members as field.i). */
  private eachChild(fn: (name: string, m: Module) => void): void {
    this.someChild((m, key, i) => {
      fn(i < 0 ? key : `${key}.${i}`, m);
      return false;
    });
  }

  /**
   * Calls fn for each direct sub-module, in field order (i: its index in an array field, else
   * -1), until it returns true; whether one did. Walks are on hot paths (predict() asks
   * firstTensor where the model lives; with Object.entries and a list per module, three walks
   * were 18 us of a 100 us batch-32 MLP prediction), so no names are built here, and for-in
   * makes no array of keys. Fields are own properties; class methods are not enumerable.
   */
  private someChild(fn: (m: Module, key: string, i: number) => boolean): boolean {
    const fields = this as unknown as Record<string, unknown>;
    for (const key in fields) {
      const value = fields[key];
      if (value instanceof Module) {
        if (fn(value, key, -1)) return true;
      } else if (Array.isArray(value)) {
        for (let i = 0; i < value.length; i++) if (value[i] instanceof Module && fn(value[i], key, i)) return true;
      }
    }
    return false;
  }

  namedParameters(prefix = ''): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    this.collect(prefix, (m) => m.paramNames, out);
    return out;
  }

  parameters(): Tensor[] {
    return this.namedParameters().map(([, t]) => t);
  }

  /**
   * A parameter or buffer of this tree (its own first, then its children's in order), without
   * listing them all; undefined when it has none. predict() asks it where the model lives: a
   * quantized model has buffers only, and a walk for a parameter visited every layer (4% of the
   * int8 MLP's predict at batch 32).
   */
  firstTensor(): Tensor | undefined {
    const own = this.paramNames[0] ?? this.bufferNames[0];
    if (own !== undefined) return (this as unknown as Record<string, Tensor>)[own];
    let found: Tensor | undefined;
    this.someChild((m) => (found = m.firstTensor()) !== undefined);
    return found;
  }

  namedBuffers(prefix = ''): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    this.collect(prefix, (m) => m.bufferNames, out);
    return out;
  }

  private collect(prefix: string, names: (m: Module) => string[], out: [string, Tensor][]): void {
    for (const n of names(this)) out.push([prefix + n, (this as unknown as Record<string, Tensor>)[n]]);
    this.eachChild((n, m) => m.collect(`${prefix}${n}.`, names, out));
  }

  /** Sets training mode here and in every sub-module. */
  train(on = true): this {
    this.training = on;
    this.eachChild((_, m) => m.train(on));
    return this;
  }

  eval(): this {
    return this.train(false);
  }

  /** Parameters and buffers by dotted name: the weights a saved model or checkpoint holds. */
  stateDict(): Record<string, Tensor> {
    return Object.fromEntries([...this.namedParameters(), ...this.namedBuffers()]);
  }

  /** Copies values into this module's tensors in place; names, shapes and dtypes must match. */
  loadStateDict(state: Record<string, Tensor>, options: { strict?: boolean } = {}): void {
    const { strict = true } = options;
    const own = this.stateDict();
    if (strict) {
      const missing = Object.keys(own).filter((k) => !(k in state));
      const unexpected = Object.keys(state).filter((k) => !(k in own));
      if (missing.length || unexpected.length) {
        fail('loadStateDict', [missing.length ? `missing ${missing.join(', ')}` : '', unexpected.length ? `unexpected ${unexpected.join(', ')}` : ''].filter(Boolean).join('; '));
      }
    }
    // Every entry is checked before any is copied, so a failed load leaves the module as it was.
    const pairs = Object.entries(own).filter(([k]) => state[k] !== undefined);
    for (const [k, target] of pairs) {
      const v = state[k];
      if (!(v instanceof Tensor)) fail('loadStateDict', `${k}: expected a Tensor, got ${v === null ? 'null' : typeof v}`);
      if (!sameShape(v.shape, target.shape)) fail('loadStateDict', `${k}: expected shape ${fmtShape(target.shape)}, got ${fmtShape(v.shape)}`);
      if (v.dtype !== target.dtype) fail('loadStateDict', `${k}: expected ${target.dtype}, got ${v.dtype}`);
    }
    noGrad(() => {
      for (const [k, target] of pairs) target.assign(state[k].backend === target.backend ? state[k] : state[k].to(target.backend));
    });
  }

  /** Number of trainable scalars. */
  countParameters(): number {
    return this.parameters().reduce((n, p) => n + p.size, 0);
  }
}
