// Module: a tree of named parameters, buffers and sub-modules, as in PyTorch's nn.Module.
// Parameters and buffers are registered by name; sub-modules are found among the fields, so
// `this.fc1 = new Dense(...)` is all a subclass writes.
import { fail, fmtShape } from '../errors.js';
import { sameShape } from '../tensor/shape.js';
import { Tensor } from '../tensor/tensor.js';
import { noGrad } from '../autograd/engine.js';

export class Module {
  /** Dropout and BatchNorm behave differently while training; fit() and evaluate() switch this. */
  training = true;
  private readonly paramNames: string[] = [];
  private readonly bufferNames: string[] = [];

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
    for (const [key, value] of Object.entries(this)) {
      if (value instanceof Module) out.push([key, value]);
      else if (Array.isArray(value)) value.forEach((m, i) => m instanceof Module && out.push([`${key}.${i}`, m]));
    }
    return out;
  }

  namedParameters(prefix = ''): [string, Tensor][] {
    return this.collect(prefix, (m) => m.paramNames);
  }

  parameters(): Tensor[] {
    return this.namedParameters().map(([, t]) => t);
  }

  namedBuffers(prefix = ''): [string, Tensor][] {
    return this.collect(prefix, (m) => m.bufferNames);
  }

  private collect(prefix: string, names: (m: Module) => string[]): [string, Tensor][] {
    const own = names(this).map((n): [string, Tensor] => [prefix + n, (this as unknown as Record<string, Tensor>)[n]]);
    return own.concat(...this.children().map(([n, m]) => m.collect(`${prefix}${n}.`, names)));
  }

  /** Sets training mode here and in every sub-module. */
  train(on = true): this {
    this.training = on;
    for (const [, m] of this.children()) m.train(on);
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
