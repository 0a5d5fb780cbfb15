// Layout ops: reshape and friends (free views), permute, expand, slice, pad, concat, split,
// stack, and indexing by tensors of positions.
import { apply } from '../autograd/engine.js';
import { fail, fmtShape } from '../errors.js';
import { promoteTypes } from '../tensor/dtype.js';
import { broadcastStrides, normAxis, normAxes, sameShape, sizeOf, stridesOf } from '../tensor/shape.js';
import { Tensor } from '../tensor/tensor.js';
import { fromArray } from '../tensor/create.js';
import { cast } from './elementwise.js';
import * as T from './table.js';

function checkTensor(op: string, x: unknown): asserts x is Tensor {
  if (!(x instanceof Tensor)) fail(op, `expected a Tensor, got ${x === null ? 'null' : typeof x}`);
}

/** The same elements in a new shape; one dimension may be -1 (inferred). Shares storage. */
export function reshape(x: Tensor, shape: readonly number[]): Tensor {
  checkTensor('reshape', x);
  const inferred = shape.indexOf(-1);
  if (inferred !== shape.lastIndexOf(-1)) fail('reshape', `only one dimension can be -1, got ${fmtShape(shape)}`);
  for (const d of shape) if (!Number.isInteger(d) || d < -1) fail('reshape', `invalid dimension ${d} in ${fmtShape(shape)}`);
  let target = [...shape];
  if (inferred >= 0) {
    const known = sizeOf(shape.filter((d) => d !== -1));
    if (known === 0 || x.size % known !== 0) fail('reshape', `cannot reshape ${fmtShape(x.shape)} (${x.size} elements) into ${fmtShape(shape)}`);
    target[inferred] = x.size / known;
  }
  if (sizeOf(target) !== x.size) fail('reshape', `cannot reshape ${fmtShape(x.shape)} (${x.size} elements) into ${fmtShape(shape)} (${sizeOf(target)} elements)`);
  if (sameShape(target, x.shape)) return x;
  return apply(T.reshape, [x], { shape: target });
}

/** Merges axes startAxis..endAxis into one. */
export function flatten(x: Tensor, startAxis = 0, endAxis = -1): Tensor {
  checkTensor('flatten', x);
  if (x.rank === 0) return reshape(x, [1]);
  const s = normAxis('flatten', startAxis, x.rank);
  const e = normAxis('flatten', endAxis, x.rank);
  if (s > e) fail('flatten', `startAxis ${startAxis} comes after endAxis ${endAxis}`);
  return reshape(x, [...x.shape.slice(0, s), sizeOf(x.shape.slice(s, e + 1)), ...x.shape.slice(e + 1)]);
}

/** Removes the given size-1 axes, or all of them. */
export function squeeze(x: Tensor, axis?: number | readonly number[]): Tensor {
  checkTensor('squeeze', x);
  const axes = axis === undefined ? x.shape.flatMap((d, i) => (d === 1 ? [i] : [])) : normAxes('squeeze', axis, x.rank);
  for (const a of axes) if (x.shape[a] !== 1) fail('squeeze', `axis ${a} has size ${x.shape[a]}, not 1, in ${fmtShape(x.shape)}`);
  return reshape(x, x.shape.filter((_, i) => !axes.includes(i)));
}

/** Inserts a size-1 axis at `axis` (which may be -1 for last). */
export function unsqueeze(x: Tensor, axis: number): Tensor {
  checkTensor('unsqueeze', x);
  const a = normAxis('unsqueeze', axis, x.rank + 1);
  return reshape(x, [...x.shape.slice(0, a), 1, ...x.shape.slice(a)]);
}

export function permute(x: Tensor, axes: readonly number[]): Tensor {
  checkTensor('permute', x);
  if (axes.length !== x.rank) fail('permute', `expected ${x.rank} axes for shape ${fmtShape(x.shape)}, got [${axes.join(',')}]`);
  const norm = axes.map((a) => normAxis('permute', a, x.rank));
  if (new Set(norm).size !== norm.length) fail('permute', `axes [${axes.join(',')}] repeat an axis`);
  if (norm.every((a, i) => a === i)) return x;
  return apply(T.permute, [x], { axes: norm });
}

/** Swaps two axes (the last two by default). */
export function transpose(x: Tensor, axis0 = -2, axis1 = -1): Tensor {
  checkTensor('transpose', x);
  const a = normAxis('transpose', axis0, x.rank);
  const b = normAxis('transpose', axis1, x.rank);
  const axes = x.shape.map((_, i) => (i === a ? b : i === b ? a : i));
  return permute(x, axes);
}

/** Broadcasts x to `shape` (numpy rules; -1 keeps a dimension). */
export function expand(x: Tensor, shape: readonly number[]): Tensor {
  checkTensor('expand', x);
  const off = shape.length - x.rank;
  if (off < 0) fail('expand', `cannot expand ${fmtShape(x.shape)} to fewer dimensions ${fmtShape(shape)}`);
  const target = shape.map((d, i) => (d === -1 && i >= off ? x.shape[i - off] : d));
  target.forEach((d, i) => {
    if (!Number.isInteger(d) || d < 0) fail('expand', `invalid size ${shape[i]} for dimension ${i} of ${fmtShape(shape)} (-1 keeps an existing dimension only)`);
  });
  x.shape.forEach((d, i) => {
    if (d !== 1 && d !== target[i + off]) fail('expand', `cannot expand ${fmtShape(x.shape)} to ${fmtShape(shape)}: dimension ${i} is ${d}`);
  });
  if (sameShape(target, x.shape)) return x;
  return apply(T.expand, [x], { shape: target, strides: broadcastStrides(x.shape, target) });
}

/** Python's slice.indices: clamps begin/end into range, negatives count from the end. */
function sliceRange(len: number, begin: number | null | undefined, end: number | null | undefined, step: number): [number, number] {
  const clamp = (v: number, lo: number, hi: number) => Math.min(Math.max(v, lo), hi);
  const resolve = (v: number, lo: number, hi: number) => clamp(v < 0 ? v + len : v, lo, hi);
  const start = begin == null ? (step > 0 ? 0 : len - 1) : step > 0 ? resolve(begin, 0, len) : resolve(begin, -1, len - 1);
  const stop = end == null ? (step > 0 ? len : -1) : step > 0 ? resolve(end, 0, len) : resolve(end, -1, len - 1);
  const count = step > 0 ? Math.ceil((stop - start) / step) : Math.ceil((start - stop) / -step);
  return [start, Math.max(0, count)];
}

/**
 * x[begin0:end0:step0, begin1:end1:step1, ...] with Python semantics: negative positions count
 * from the end, out-of-range positions clamp, null means "from the start"/"to the end". Axes
 * past the given lists are kept whole.
 */
export function slice(x: Tensor, begin: readonly (number | null)[], end: readonly (number | null)[] = [], step: readonly number[] = []): Tensor {
  checkTensor('slice', x);
  if (begin.length > x.rank || end.length > x.rank || step.length > x.rank) fail('slice', `more positions than the ${x.rank} axes of ${fmtShape(x.shape)}`);
  const st = stridesOf(x.shape);
  const shape: number[] = [];
  const strides: number[] = [];
  let offset = 0;
  for (let d = 0; d < x.rank; d++) {
    const s = step[d] ?? 1;
    if (!Number.isInteger(s) || s === 0) fail('slice', `step for axis ${d} must be a non-zero integer, got ${s}`);
    for (const v of [begin[d], end[d]]) if (v != null && !Number.isInteger(v)) fail('slice', `positions must be integers, got ${v} for axis ${d}`);
    const [start, count] = sliceRange(x.shape[d], begin[d], end[d], s);
    shape.push(count);
    strides.push(st[d] * s);
    if (count > 0) offset += start * st[d];
  }
  if (sameShape(shape, x.shape) && strides.every((s, i) => s === st[i])) return x;
  return apply(T.slice, [x], { shape, strides, offset });
}

/** `length` elements of `axis` from `start`, strictly in range (torch.narrow). */
export function narrow(x: Tensor, axis: number, start: number, length: number): Tensor {
  checkTensor('narrow', x);
  const a = normAxis('narrow', axis, x.rank);
  const n = x.shape[a];
  if (!Number.isInteger(start) || !Number.isInteger(length) || start < 0 || length < 0 || start + length > n) {
    fail('narrow', `range [${start}, ${start + length}) is outside axis ${a} of size ${n} in ${fmtShape(x.shape)}`);
  }
  const begin = x.shape.map((_, i) => (i === a ? start : 0));
  const end = x.shape.map((d, i) => (i === a ? start + length : d));
  return slice(x, begin, end);
}

/** Splits along `axis` into pieces of the given sizes, or of `size` each (the last may be smaller). */
export function split(x: Tensor, sizes: number | readonly number[], axis = 0): Tensor[] {
  checkTensor('split', x);
  const a = normAxis('split', axis, x.rank);
  const n = x.shape[a];
  let list: number[];
  if (typeof sizes === 'number') {
    if (!Number.isInteger(sizes) || sizes <= 0) fail('split', `section size must be a positive integer, got ${sizes}`);
    list = Array.from({ length: Math.max(1, Math.ceil(n / sizes)) }, (_, i) => Math.min(sizes, n - i * sizes)); // an empty axis gives one empty piece, as in PyTorch
  } else {
    list = [...sizes];
    if (list.some((s) => !Number.isInteger(s) || s < 0) || list.reduce((p, q) => p + q, 0) !== n) {
      fail('split', `sizes [${list.join(',')}] must be non-negative integers adding up to ${n}, the size of axis ${a}`);
    }
  }
  let start = 0;
  return list.map((len) => {
    const piece = narrow(x, a, start, len);
    start += len;
    return piece;
  });
}

/** Joins tensors along an existing axis. All other dims must match. */
export function concat(tensors: readonly Tensor[], axis = 0): Tensor {
  if (!Array.isArray(tensors) || tensors.length === 0) fail('concat', 'expected a non-empty array of tensors');
  tensors.forEach((t, i) => checkTensor(`concat: tensors[${i}]`, t));
  const first = tensors[0];
  const a = normAxis('concat', axis, first.rank);
  tensors.forEach((t, i) => {
    if (t.rank !== first.rank || t.shape.some((d: number, j: number) => j !== a && d !== first.shape[j])) {
      fail('concat', `tensors[${i}] has shape ${fmtShape(t.shape)}, which differs from tensors[0] ${fmtShape(first.shape)} outside axis ${a}`);
    }
  });
  if (tensors.length === 1) return first;
  const dtype = tensors.map((t) => t.dtype).reduce(promoteTypes);
  const inputs = tensors.map((t) => cast(t, dtype));
  const shape = first.shape.map((d: number, j: number) => (j === a ? tensors.reduce((s, t) => s + t.shape[a], 0) : d));
  const strides = stridesOf(shape);
  let start = 0;
  const windows = inputs.map((t) => {
    const w = { shape: t.shape, strides, offset: start * strides[a] };
    start += t.shape[a];
    return w;
  });
  return apply(T.concat, inputs, { shape, windows });
}

/** Joins same-shape tensors along a new axis. */
export function stack(tensors: readonly Tensor[], axis = 0): Tensor {
  if (!Array.isArray(tensors) || tensors.length === 0) fail('stack', 'expected a non-empty array of tensors');
  tensors.forEach((t, i) => {
    checkTensor(`stack: tensors[${i}]`, t);
    if (!sameShape(t.shape, tensors[0].shape)) fail('stack', `tensors[${i}] has shape ${fmtShape(t.shape)}, tensors[0] ${fmtShape(tensors[0].shape)}`);
  });
  const a = normAxis('stack', axis, tensors[0].rank + 1);
  return concat(tensors.map((t) => unsqueeze(t, a)), a);
}

/** Pads with a constant: padding[d] = [before, after] for every axis d (numpy's np.pad layout). */
export function pad(x: Tensor, padding: readonly (readonly [number, number])[], value = 0): Tensor {
  checkTensor('pad', x);
  if (padding.length !== x.rank) fail('pad', `expected ${x.rank} [before, after] pairs for shape ${fmtShape(x.shape)}, got ${padding.length}`);
  for (const p of padding) {
    if (!Array.isArray(p) || p.length !== 2 || p.some((v) => !Number.isInteger(v) || v < 0)) {
      fail('pad', `each pair must be two non-negative integers, got ${JSON.stringify(p)}`);
    }
  }
  const outShape = x.shape.map((d, i) => d + padding[i][0] + padding[i][1]);
  const strides = stridesOf(outShape);
  const offset = padding.reduce((o, p, i) => o + p[0] * strides[i], 0);
  return apply(T.pad, [x], { shape: x.shape, strides, offset, outShape, value });
}

function checkIndex(op: string, index: Tensor, limit: number, axis: number, shape: readonly number[]): void {
  if (index.dtype !== 'int32') fail(op, `index must be an int32 tensor, got ${index.dtype}`);
  const data = index.dataSync();
  for (let i = 0; i < data.length; i++) {
    if (data[i] < 0 || data[i] >= limit) fail(op, `index ${data[i]} is out of range for axis ${axis} of size ${limit} in ${fmtShape(shape)}`);
  }
}

/** torch.gather: out[i][j] = x[index[i][j]][j] for axis 0, and so on. index has x's rank. */
export function gather(x: Tensor, axis: number, index: Tensor): Tensor {
  checkTensor('gather', x);
  checkTensor('gather', index);
  const a = normAxis('gather', axis, x.rank);
  if (index.rank !== x.rank || index.shape.some((d, i) => i !== a && d > x.shape[i])) {
    fail('gather', `index shape ${fmtShape(index.shape)} does not fit input ${fmtShape(x.shape)} (same rank, no larger outside axis ${a})`);
  }
  checkIndex('gather', index, x.shape[a], a, x.shape);
  return apply(T.gather, [x, index], { axis: a });
}

/** Whole slices of x along `axis`, picked by a 1-D list of positions (embedding lookup). */
export function indexSelect(x: Tensor, axis: number, index: Tensor | readonly number[]): Tensor {
  checkTensor('indexSelect', x);
  const idx = index instanceof Tensor ? index : fromArray(Int32Array.from(index), [index.length], { backend: x.backend }, 'indexSelect');
  const a = normAxis('indexSelect', axis, x.rank);
  if (idx.rank !== 1) fail('indexSelect', `index must be 1-D, got shape ${fmtShape(idx.shape)}`);
  checkIndex('indexSelect', idx, x.shape[a], a, x.shape);
  return apply(T.indexSelect, [x, idx], { axis: a });
}
