// Reductions over axes (all by default), with keepdims, and the composites built from them.
import { apply } from '../autograd/engine.js';
import type { ReduceOp } from '../backends/backend.js';
import { fail, fmtShape } from '../errors.js';
import { isFloat } from '../tensor/dtype.js';
import { type Shape, keptShape, normAxes, normAxis, sameShape, sizeOf } from '../tensor/shape.js';
import { Tensor } from '../tensor/tensor.js';
import { cast, sub } from './elementwise.js';
import * as T from './table.js';

type Axes = number | readonly number[] | undefined;

function reduction(op: ReduceOp | 'logsumexp', x: Tensor, axis: Axes, keepdims = false): Tensor {
  if (!(x instanceof Tensor)) fail(op, `expected a Tensor, got ${typeof x}`);
  const axes = normAxes(op, axis, x.rank);
  if (op !== 'sum') {
    for (const a of axes) if (x.shape[a] === 0) fail(op, `cannot reduce over axis ${a} of size 0 in ${fmtShape(x.shape)}`);
  }
  let input = x;
  if (op === 'sum' && (x.dtype === 'bool' || x.dtype === 'uint8' || x.dtype === 'int8')) input = cast(x, 'int32'); // sums must not wrap at 8 bits
  if (op === 'logsumexp' && !isFloat(x.dtype)) input = cast(x, 'float32');
  return apply(op === 'logsumexp' ? T.logsumexp : T[op], [input], { axes, keepdims });
}

export const sum = (x: Tensor, axis?: Axes, keepdims?: boolean) => reduction('sum', x, axis, keepdims);
export const max = (x: Tensor, axis?: Axes, keepdims?: boolean) => reduction('max', x, axis, keepdims);
export const min = (x: Tensor, axis?: Axes, keepdims?: boolean) => reduction('min', x, axis, keepdims);
/** log(sum(exp(x))), computed stably by subtracting the max first. */
export const logsumexp = (x: Tensor, axis?: Axes, keepdims?: boolean) => reduction('logsumexp', x, axis, keepdims);

/** Number of elements a reduction over `axis` combines. */
function countOver(op: string, x: Tensor, axis: Axes): number {
  return normAxes(op, axis, x.rank).reduce((n, a) => n * x.shape[a], 1);
}

export function mean(x: Tensor, axis?: Axes, keepdims?: boolean): Tensor {
  const n = countOver('mean', x, axis);
  if (n === 0) fail('mean', `cannot average over an empty selection of ${fmtShape(x.shape)}`);
  const s = sum(isFloat(x.dtype) ? x : cast(x, 'float32'), axis, keepdims);
  return s.div(n);
}

export interface VarianceOptions {
  keepdims?: boolean;
  /** Subtracted from the count in the divisor: 1 (Bessel's correction, PyTorch's default) or 0 (numpy's). */
  correction?: number;
}

export function variance(x: Tensor, axis?: Axes, options: VarianceOptions = {}): Tensor {
  return varianceOf('var', x, axis, options);
}

/** var, with errors naming `op` (std reuses it). */
function varianceOf(op: 'var' | 'std', x: Tensor, axis: Axes, options: VarianceOptions): Tensor {
  const { keepdims = false, correction = 1 } = options;
  const n = countOver(op, x, axis);
  if (n - correction <= 0) fail(op, `needs more than ${correction} element(s) per reduction, got ${n} in ${fmtShape(x.shape)}`);
  const xf = isFloat(x.dtype) ? x : cast(x, 'float32');
  const centred = sub(xf, mean(xf, axis, true));
  return sum(centred.square(), axis, keepdims).div(n - correction);
}

export function std(x: Tensor, axis?: Axes, options: VarianceOptions = {}): Tensor {
  return varianceOf('std', x, axis, options).sqrt();
}

function argReduce(op: 'argmax' | 'argmin', x: Tensor, axis: number | undefined, keepdims = false): Tensor {
  if (!(x instanceof Tensor)) fail(op, `expected a Tensor, got ${typeof x}`);
  if (axis === undefined) {
    // Over all elements: the flat index, as in PyTorch and numpy.
    const flat = x.reshape([x.size]);
    const r = argReduce(op, flat, 0);
    return keepdims ? r.reshape(x.shape.map(() => 1)) : r;
  }
  const a = normAxis(op, axis, x.rank);
  if (x.shape[a] === 0) fail(op, `cannot reduce over axis ${a} of size 0 in ${fmtShape(x.shape)}`);
  const shape = keepdims ? keptShape(x.shape, [a]) : x.shape.filter((_, i) => i !== a);
  return new Tensor(shape, 'int32', x.backend.argReduce(op, x, a), x.backend);
}

export const argmax = (x: Tensor, axis?: number, keepdims?: boolean) => argReduce('argmax', x, axis, keepdims);
export const argmin = (x: Tensor, axis?: number, keepdims?: boolean) => argReduce('argmin', x, axis, keepdims);

/** Sums x down to `shape`, which x's shape broadcasts from: the inverse of broadcasting. */
export function sumTo(x: Tensor, shape: Shape): Tensor {
  if (sameShape(x.shape, shape)) return x;
  const lead = x.rank - shape.length;
  if (lead < 0) fail('sumTo', `shape ${fmtShape(x.shape)} does not broadcast from ${fmtShape(shape)}`);
  const axes: number[] = [];
  for (let i = 0; i < x.rank; i++) {
    const target = i < lead ? 1 : shape[i - lead];
    if (i < lead || (target === 1 && x.shape[i] !== 1)) axes.push(i);
    else if (target !== x.shape[i]) fail('sumTo', `shape ${fmtShape(x.shape)} does not broadcast from ${fmtShape(shape)}`);
  }
  const s = sum(x, axes, true);
  return sizeOf(s.shape) === sizeOf(shape) ? s.reshape(shape) : s;
}
