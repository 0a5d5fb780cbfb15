// How a Dataset's elements become batches. Two paths with equal results: stacking a group of
// elements (any source), and, for rows of in-memory tensors, gathering the rows of a batch with
// one indexSelect per component, so no per-example tensor is ever made (the training hot path).
import { fail, fmtShape } from '../errors.js';
import { indexSelect, narrow, reshape, stack } from '../ops/functions.js';
import { fromArray } from '../tensor/create.js';
import { type DType, type TypedArray, dtypeOfArray } from '../tensor/dtype.js';
import { sameShape } from '../tensor/shape.js';
import { Tensor } from '../tensor/tensor.js';

/** A tensor, or arrays and plain objects of them, nested to any depth: [x, y], {image, label}. */
export type TensorStructure = Tensor | readonly TensorStructure[] | { readonly [key: string]: TensorStructure };

/** What batch() makes of an element: every tensor, number, boolean or typed array becomes a tensor with a batch axis. */
export type Batched<T> = T extends Tensor | number | boolean | TypedArray
  ? Tensor
  : T extends readonly unknown[]
    ? { -readonly [K in keyof T]: Batched<T[K]> }
    : T extends object
      ? { -readonly [K in keyof T]: Batched<T[K]> }
      : never;

/** The tensors of a fromTensorSlices source in a fixed order, and how to put a structure back together around new ones. */
export interface RowTable {
  readonly leaves: readonly Tensor[];
  readonly rows: number;
  rebuild(leaves: readonly Tensor[]): unknown;
}

function isPlainObject(x: unknown): x is Record<string, unknown> {
  if (typeof x !== 'object' || x === null) return false;
  const proto = Object.getPrototypeOf(x);
  return proto === Object.prototype || proto === null;
}

function describe(x: unknown): string {
  if (x instanceof Tensor) return `a ${x.dtype} tensor ${fmtShape(x.shape)}`;
  if (Array.isArray(x)) return `an array of ${x.length}`;
  if (ArrayBuffer.isView(x)) return `a ${x.constructor.name}`;
  if (x === null) return 'null';
  return isPlainObject(x) ? 'an object' : `a ${typeof x}`;
}

/** Reads a structure of tensors for fromTensorSlices: every leaf a tensor with the same number of rows. */
export function rowTable(where: string, structure: unknown): RowTable {
  const leaves: Tensor[] = [];
  const walk = (s: unknown, path: string): ((next: () => Tensor) => unknown) => {
    if (s instanceof Tensor) {
      if (s.rank === 0) fail(where, `component ${path || '(the tensor)'} is a scalar; slicing needs at least one axis`);
      if (leaves.length > 0 && s.shape[0] !== leaves[0].shape[0]) {
        fail(where, `components must have the same number of rows: ${path} has shape ${fmtShape(s.shape)}, the first ${fmtShape(leaves[0].shape)}`);
      }
      leaves.push(s);
      return (next) => next();
    }
    if (Array.isArray(s) && s.length > 0) {
      const parts = s.map((c, i) => walk(c, `${path}[${i}]`));
      return (next) => parts.map((p) => p(next));
    }
    if (isPlainObject(s) && Object.keys(s).length > 0) {
      const parts = Object.entries(s).map(([k, c]) => [k, walk(c, `${path}.${k}`)] as const);
      return (next) => Object.fromEntries(parts.map(([k, p]) => [k, p(next)]));
    }
    fail(where, `component ${path || '(the argument)'} is ${describe(s)}; expected a tensor, or a non-empty array or object of tensors (use Dataset.fromArray for plain values)`);
  };
  const build = walk(structure, '');
  return {
    leaves,
    rows: leaves[0].shape[0],
    rebuild(parts) {
      let i = 0;
      return build(() => parts[i++]);
    },
  };
}

/** Row numbers per chunk from a source: small enough to stay lazy, large enough that per-chunk costs vanish. */
const CHUNK = 8192;

/** The row numbers 0..n-1, in chunks: the stream a fromTensorSlices source starts from. */
export function* rowChunks(n: number): Generator<Int32Array> {
  for (let start = 0; start < n; start += CHUNK) {
    const c = new Int32Array(Math.min(CHUNK, n - start));
    for (let i = 0; i < c.length; i++) c[i] = start + i;
    yield c;
  }
}

/** Row i of every component, each a tensor of its own (the generic path's elements). */
export function sliceRow(table: RowTable, i: number): unknown {
  return table.rebuild(table.leaves.map((t) => reshape(narrow(t, 0, i, 1), t.shape.slice(1))));
}

/** The rows `idx` of every component as one batch: one indexSelect each, dtypes kept (uint8 stays uint8). */
export function gatherRows(table: RowTable, idx: Int32Array): unknown {
  // One index tensor per backend, shared by the components stored there.
  const index = new Map<unknown, Tensor>();
  return table.rebuild(
    table.leaves.map((t) => {
      let ix = index.get(t.backend);
      if (!ix) index.set(t.backend, (ix = fromArray(idx.slice(), [idx.length], { dtype: 'int32', backend: t.backend }, 'batch', true)));
      return indexSelect(t, 0, ix);
    }),
  );
}

/** Batches of `size` rows, in the order the row-number chunks give them; the last, smaller one unless `drop`. */
export function* gatheredBatches(table: RowTable, chunks: Iterable<Int32Array>, size: number, drop: boolean): Generator<unknown> {
  const idx = new Int32Array(size); // gatherRows copies it, so it is reused batch after batch
  let k = 0;
  for (const c of chunks) {
    for (let p = 0; p < c.length; ) {
      const m = Math.min(size - k, c.length - p);
      idx.set(c.subarray(p, p + m), k);
      k += m;
      p += m;
      if (k === size) {
        k = 0;
        yield gatherRows(table, idx);
      }
    }
  }
  if (k > 0 && !drop) yield gatherRows(table, idx.subarray(0, k));
}

const SCALAR_DTYPES: Record<string, DType> = { number: 'float32', boolean: 'bool' };

/**
 * Stacks elements first..first+n-1 into one batch: tensors along a new axis 0, numbers into a
 * float32 vector (as lt.tensor does), booleans into a bool vector, typed arrays into [n, length]
 * of their dtype, and arrays and objects component by component. Messages count elements from
 * the start of the pass, so the bad one can be found.
 */
export function stackElements(items: readonly unknown[], first: number): unknown {
  return stackAt(items, '', first);
}

function stackAt(items: readonly unknown[], path: string, first: number): unknown {
  const head = items[0];
  const at = (i: number) => `element ${first + i}${path}`;
  const mismatch: (i: number, what: string) => never = (i, what) => fail('batch', `${at(i)} is ${describe(items[i])}, ${at(0)} was ${what}`);
  if (head instanceof Tensor) {
    for (let i = 1; i < items.length; i++) {
      const t = items[i];
      if (!(t instanceof Tensor)) mismatch(i, 'a tensor');
      if (!sameShape(t.shape, head.shape)) fail('batch', `${at(i)} has shape ${fmtShape(t.shape)}, ${at(0)} had ${fmtShape(head.shape)}`);
      if (t.dtype !== head.dtype) fail('batch', `${at(i)} is ${t.dtype}, ${at(0)} was ${head.dtype}`);
    }
    return stack(items as Tensor[]);
  }
  if (typeof head === 'number' || typeof head === 'boolean') {
    items.forEach((x, i) => typeof x !== typeof head && mismatch(i, `a ${typeof head}`));
    return fromArray(Float64Array.from(items as number[], Number), [items.length], { dtype: SCALAR_DTYPES[typeof head] }, 'batch', true);
  }
  if (head instanceof Float32Array || head instanceof Float64Array || head instanceof Int32Array || head instanceof Uint8Array) {
    const out = new (head.constructor as new (n: number) => TypedArray)(items.length * head.length);
    items.forEach((x, i) => {
      if (!(x instanceof head.constructor) || (x as TypedArray).length !== head.length) mismatch(i, `a ${head.constructor.name} of ${head.length}`);
      out.set(x as TypedArray, i * head.length);
    });
    return fromArray(out, [items.length, head.length], { dtype: dtypeOfArray(head) }, 'batch', true);
  }
  if (Array.isArray(head)) {
    items.forEach((x, i) => (!Array.isArray(x) || x.length !== head.length) && mismatch(i, `an array of ${head.length}`));
    return head.map((_, j) => stackAt(items.map((x) => (x as unknown[])[j]), `${path}[${j}]`, first));
  }
  if (isPlainObject(head)) {
    const keys = Object.keys(head);
    items.forEach((x, i) => {
      if (!isPlainObject(x)) mismatch(i, 'an object');
      const k = Object.keys(x);
      if (k.length !== keys.length || keys.some((key) => !(key in x))) fail('batch', `${at(i)} has keys [${k}], ${at(0)} had [${keys}]`);
    });
    return Object.fromEntries(keys.map((k) => [k, stackAt(items.map((x) => (x as Record<string, unknown>)[k]), `${path}.${k}`, first)]));
  }
  fail('batch', `${at(0)} is ${describe(head)}; batch stacks tensors, numbers, booleans and Float32/Float64/Int32/Uint8 arrays, and arrays or objects of them`);
}
