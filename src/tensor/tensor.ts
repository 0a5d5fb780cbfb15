// Tensor: a shape, a dtype and a backend's contiguous row-major storage, plus the autograd links.
// Tensors are immutable values, except `assign`, which swaps in new storage (optimizer updates).
// Methods delegate to the op functions in src/ops, where each op is defined once.
import type { Backend, Buf, TensorInfo } from '../backends/backend.js';
import { getBackend } from '../backends/registry.js';
import type { GradNode } from '../autograd/engine.js';
import { noGrad, propagate } from '../autograd/engine.js';
import { fail, fmtShape } from '../errors.js';
import { type DType, type TypedArray, castArray, isFloat } from './dtype.js';
import { type Shape, sameShape, sizeOf } from './shape.js';
import * as F from '../ops/functions.js';

export type NestedArray = number | boolean | NestedArray[];
type Scalar = number | boolean;
type Operand = Tensor | Scalar;

export class Tensor implements TensorInfo {
  readonly shape: readonly number[];
  readonly dtype: DType;
  readonly size: number;
  backend: Backend;
  buf: Buf;
  /** The gradient accumulated by backward(); it adds up across calls until cleared with zeroGrad(). */
  grad: Tensor | null = null;
  /** How this tensor was computed, when it depends on a tensor that requires grad. */
  node: GradNode | null = null;
  /** Non-leaf tensors keep their gradient in `.grad` only after retainGrad(). */
  retainsGrad = false;
  /** A label for messages (layers name their parameters). */
  name?: string;
  private needsGrad = false;

  constructor(shape: Shape, dtype: DType, buf: Buf, backend: Backend) {
    this.shape = shape;
    this.dtype = dtype;
    this.size = sizeOf(shape);
    this.buf = buf;
    this.backend = backend;
    if (buf !== null) backend.hold?.(buf);
  }

  /** Takes `buf` as this tensor's storage, letting go of the one it held (a GPU buffer no tensor holds is freed then). */
  private setStorage(buf: Buf): void {
    if (buf !== null) this.backend.hold?.(buf);
    if (this.buf !== null) this.backend.letGo?.(this.buf);
    this.buf = buf;
  }

  get rank(): number {
    return this.shape.length;
  }

  /** Whether backward() computes a gradient for this tensor. Only float tensors can. */
  get requiresGrad(): boolean {
    return this.needsGrad;
  }

  set requiresGrad(on: boolean) {
    if (on && !isFloat(this.dtype)) fail('requiresGrad', `only float tensors can require gradients, got ${this.dtype}`);
    if (!on && this.node) fail('requiresGrad', 'cannot turn off requiresGrad on a computed tensor; use detach()');
    this.needsGrad = on;
  }

  /** @internal The engine marks op outputs without the leaf checks. */
  setRequiresGradUnchecked(): void {
    this.needsGrad = true;
  }

  /** Sets requiresGrad and returns this, for chaining: lt.randn([3, 4]).requireGrad(). */
  requireGrad(on = true): this {
    this.requiresGrad = on;
    return this;
  }

  // ---- data out -------------------------------------------------------------------------------

  /** A copy of the elements, row-major, as a typed array. */
  dataSync(): TypedArray {
    this.checkLive('dataSync');
    return this.backend.download(this);
  }

  /** A copy of the elements; the only way to read a GPU tensor, whose readback is asynchronous. */
  async data(): Promise<TypedArray> {
    this.checkLive('data');
    if (!this.backend.downloadAsync) return this.dataSync();
    // Held until read: disposing the tensor while the read waits for the GPU must not free it.
    const buf = this.buf!;
    this.backend.hold?.(buf);
    try {
      return await this.backend.downloadAsync(this);
    } finally {
      this.backend.letGo?.(buf);
    }
  }

  /** The elements as nested JS arrays (booleans for bool tensors), like torch's tolist(). */
  toArray(): NestedArray {
    const data = this.dataSync();
    const flat: (number | boolean)[] = this.dtype === 'bool' ? Array.from(data, (v) => v !== 0) : Array.from(data);
    const build = (dim: number, offset: number): NestedArray => {
      if (dim === this.rank) return flat[offset];
      const inner = sizeOf(this.shape.slice(dim + 1));
      return Array.from({ length: this.shape[dim] }, (_, i) => build(dim + 1, offset + i * inner));
    };
    return build(0, 0);
  }

  /** The value of a one-element tensor. */
  item(): number {
    if (this.size !== 1) fail('item', `expected a tensor with one element, got shape ${fmtShape(this.shape)}`);
    return this.dataSync()[0];
  }

  toString(): string {
    return `Tensor(${JSON.stringify(this.size <= 64 ? this.toArray() : `${this.size} elements`)}, shape=${fmtShape(this.shape)}, dtype=${this.dtype})`;
  }

  // ---- autograd -------------------------------------------------------------------------------

  /** Accumulates d(this)/d(leaf) into every leaf's .grad. A non-scalar needs the gradient to start from. */
  backward(gradient?: Tensor, options: { retainGraph?: boolean } = {}): void {
    if (!gradient && this.size !== 1) fail('backward', `needs a gradient argument for a non-scalar tensor of shape ${fmtShape(this.shape)}`);
    const seed = gradient ?? F.onesLike(this);
    propagate(this, seed, options.retainGraph ?? false, (leaf, g) => {
      leaf.grad = leaf.grad ? noGrad(() => leaf.grad!.add(g)) : g;
    });
  }

  /** The same values, cut from the graph. Shares storage. */
  detach(): Tensor {
    return new Tensor(this.shape, this.dtype, this.buf, this.backend);
  }

  retainGrad(): this {
    this.retainsGrad = true;
    return this;
  }

  zeroGrad(): void {
    this.grad = null;
  }

  /** Replaces this tensor's values with `value`'s (same shape), keeping its identity: the optimizer's update. */
  assign(value: Tensor | TypedArray): this {
    // A computed tensor's value may be saved in a graph that backward still needs.
    if (this.node) fail('assign', 'cannot assign to a computed tensor (it is part of a graph); assign to a leaf or detach() first');
    if (ArrayBuffer.isView(value)) {
      if (value.length !== this.size) fail('assign', `expected ${this.size} values for shape ${fmtShape(this.shape)}, got ${value.length}`);
      const storage = castArray(value, this.dtype);
      this.setStorage(this.backend.upload(storage === value ? storage.slice() : storage, this.dtype)); // never the caller's array
      return this;
    }
    if (!sameShape(value.shape, this.shape)) fail('assign', `shape ${fmtShape(value.shape)} differs from the target's ${fmtShape(this.shape)}`);
    if (value.backend !== this.backend) fail('assign', `value is on backend ${value.backend.name}, the target on ${this.backend.name}`);
    // A copy, never shared storage: optimizers update parameters in place.
    this.setStorage(value.backend.cast(value, this.dtype));
    return this;
  }

  /**
   * Hands the storage back to the backend for reuse and disposes the tensor. Only for storage
   * nothing else can reach (no view shares it): Sequential's own intermediates at inference.
   */
  recycle(): void {
    if (this.buf !== null) this.backend.recycle?.(this.buf);
    this.dispose();
  }

  /**
   * Drops the storage now instead of waiting for the garbage collector: on a GPU its buffer goes
   * back to the pool at once unless a view or detached copy still holds it. Unusable after.
   */
  dispose(): void {
    this.setStorage(null);
    this.grad = null;
    this.node = null;
  }

  get isDisposed(): boolean {
    return this.buf === null;
  }

  private checkLive(op: string): void {
    if (this.buf === null) fail(op, `tensor of shape ${fmtShape(this.shape)} was disposed`);
  }

  /** This tensor on another backend: an explicit copy, the only way tensors cross backends. */
  to(backend: string | Backend): Tensor {
    const target = typeof backend === 'string' ? getBackend(backend) : backend;
    if (target === this.backend) return this;
    return new Tensor(this.shape, this.dtype, target.upload(this.dataSync(), this.dtype), target);
  }

  // ---- ops, as methods (each defined once in src/ops) ------------------------------------------
  cast(dtype: DType): Tensor { return F.cast(this, dtype); }
  clone(): Tensor { return F.clone(this); }

  add(o: Operand): Tensor { return F.add(this, o); }
  sub(o: Operand): Tensor { return F.sub(this, o); }
  mul(o: Operand): Tensor { return F.mul(this, o); }
  div(o: Operand): Tensor { return F.div(this, o); }
  pow(o: Operand): Tensor { return F.pow(this, o); }
  maximum(o: Operand): Tensor { return F.maximum(this, o); }
  minimum(o: Operand): Tensor { return F.minimum(this, o); }
  eq(o: Operand): Tensor { return F.eq(this, o); }
  ne(o: Operand): Tensor { return F.ne(this, o); }
  lt(o: Operand): Tensor { return F.lt(this, o); }
  le(o: Operand): Tensor { return F.le(this, o); }
  gt(o: Operand): Tensor { return F.gt(this, o); }
  ge(o: Operand): Tensor { return F.ge(this, o); }

  neg(): Tensor { return F.neg(this); }
  exp(): Tensor { return F.exp(this); }
  log(): Tensor { return F.log(this); }
  sqrt(): Tensor { return F.sqrt(this); }
  rsqrt(): Tensor { return F.rsqrt(this); }
  abs(): Tensor { return F.abs(this); }
  sign(): Tensor { return F.sign(this); }
  square(): Tensor { return F.square(this); }
  reciprocal(): Tensor { return F.reciprocal(this); }
  tanh(): Tensor { return F.tanh(this); }
  sigmoid(): Tensor { return F.sigmoid(this); }
  relu(): Tensor { return F.relu(this); }
  gelu(options?: { approximate?: 'none' | 'tanh' }): Tensor { return F.gelu(this, options); }
  erf(): Tensor { return F.erf(this); }
  sin(): Tensor { return F.sin(this); }
  cos(): Tensor { return F.cos(this); }
  log1p(): Tensor { return F.log1p(this); }
  expm1(): Tensor { return F.expm1(this); }
  softplus(): Tensor { return F.softplus(this); }
  floor(): Tensor { return F.floor(this); }
  ceil(): Tensor { return F.ceil(this); }
  round(): Tensor { return F.round(this); }
  leakyRelu(slope?: number): Tensor { return F.leakyRelu(this, slope); }
  elu(alpha?: number): Tensor { return F.elu(this, alpha); }
  logicalNot(): Tensor { return F.logicalNot(this); }
  clip(min: number, max: number): Tensor { return F.clip(this, min, max); }
  maskedFill(mask: Tensor, value: number): Tensor { return F.maskedFill(this, mask, value); }

  sum(axis?: number | number[], keepdims?: boolean): Tensor { return F.sum(this, axis, keepdims); }
  mean(axis?: number | number[], keepdims?: boolean): Tensor { return F.mean(this, axis, keepdims); }
  max(axis?: number | number[], keepdims?: boolean): Tensor { return F.max(this, axis, keepdims); }
  min(axis?: number | number[], keepdims?: boolean): Tensor { return F.min(this, axis, keepdims); }
  argmax(axis?: number, keepdims?: boolean): Tensor { return F.argmax(this, axis, keepdims); }
  argmin(axis?: number, keepdims?: boolean): Tensor { return F.argmin(this, axis, keepdims); }
  logsumexp(axis?: number | number[], keepdims?: boolean): Tensor { return F.logsumexp(this, axis, keepdims); }
  var(axis?: number | number[], options?: F.VarianceOptions): Tensor { return F.variance(this, axis, options); }
  std(axis?: number | number[], options?: F.VarianceOptions): Tensor { return F.std(this, axis, options); }
  sumTo(shape: Shape): Tensor { return F.sumTo(this, shape); }

  matmul(o: Tensor): Tensor { return F.matmul(this, o); }
  softmax(axis = -1): Tensor { return F.softmax(this, axis); }
  logSoftmax(axis = -1): Tensor { return F.logSoftmax(this, axis); }

  reshape(shape: readonly number[]): Tensor { return F.reshape(this, shape); }
  flatten(startAxis = 0, endAxis = -1): Tensor { return F.flatten(this, startAxis, endAxis); }
  squeeze(axis?: number | number[]): Tensor { return F.squeeze(this, axis); }
  unsqueeze(axis: number): Tensor { return F.unsqueeze(this, axis); }
  permute(axes: readonly number[]): Tensor { return F.permute(this, axes); }
  transpose(axis0 = -2, axis1 = -1): Tensor { return F.transpose(this, axis0, axis1); }
  expand(shape: readonly number[]): Tensor { return F.expand(this, shape); }
  broadcastTo(shape: readonly number[]): Tensor { return F.expand(this, shape); }
  slice(begin: readonly (number | null)[], end?: readonly (number | null)[], step?: readonly number[]): Tensor { return F.slice(this, begin, end, step); }
  narrow(axis: number, start: number, length: number): Tensor { return F.narrow(this, axis, start, length); }
  split(sizes: number | readonly number[], axis = 0): Tensor[] { return F.split(this, sizes, axis); }
  pad(padding: readonly (readonly [number, number])[], value = 0): Tensor { return F.pad(this, padding, value); }
  gather(axis: number, index: Tensor): Tensor { return F.gather(this, axis, index); }
  indexSelect(axis: number, index: Tensor | readonly number[]): Tensor { return F.indexSelect(this, axis, index); }
}

/** Whether reading t needs `await t.data()` (a GPU backend), so that per-step item() calls would throw or stall. */
export function readsBackAsync(t: Tensor): boolean {
  return typeof t.backend.downloadAsync === 'function';
}
