// Elementwise ops: unary maps, broadcasting binary ops with dtype promotion, where, and casts.
import { apply, noGrad } from '../autograd/engine.js';
import { COMPARISON_OPS, type BinaryOp, type UnaryOp } from '../backends/backend.js';
import { fail } from '../errors.js';
import { type DType, allocArray, isFloat, promoteTypes, scalarDType } from '../tensor/dtype.js';
import { broadcastShapes, sameShape } from '../tensor/shape.js';
import { Tensor } from '../tensor/tensor.js';
import * as T from './table.js';

export type Operand = Tensor | number | boolean;

/** A JS scalar as a 0-d tensor beside `like`, in the dtype it takes there. */
export function scalarLike(value: number | boolean, like: Tensor, dtype = scalarDType(value, like.dtype)): Tensor {
  const data = allocArray(dtype, 1);
  data[0] = Number(value);
  return new Tensor([], dtype, like.backend.upload(data, dtype), like.backend);
}

export function cast(x: Tensor, dtype: DType): Tensor {
  if (x.dtype === dtype) return x;
  // Only float tensors carry gradients: a cast to an integer or bool dtype leaves the graph, as in PyTorch.
  return isFloat(dtype) ? apply(T.cast, [x], { dtype }) : noGrad(() => apply(T.cast, [x], { dtype }));
}

/**
 * x * scale + offset in one pass, as a float tensor: integer input (uint8 pixels) becomes
 * float32 unless `dtype` says float64. Keras' Rescaling layer is this.
 */
export function rescale(x: Tensor, scale: number, offset = 0, dtype?: 'float32' | 'float64'): Tensor {
  if (!Number.isFinite(scale) || !Number.isFinite(offset)) fail('rescale', `scale and offset must be finite numbers, got ${scale} and ${offset}`);
  const outDtype = dtype ?? (isFloat(x.dtype) ? x.dtype : 'float32');
  return apply(T.scaleShift, [x], { scale, offset, dtype: outDtype });
}

/** A copy with its own storage, still in the graph. */
export function clone(x: Tensor): Tensor {
  return apply(T.cast, [x], { dtype: x.dtype });
}

// ---- unary ----------------------------------------------------------------------------------------------
const FLOAT_ONLY: ReadonlySet<UnaryOp> = new Set([
  'exp', 'log', 'sqrt', 'rsqrt', 'reciprocal', 'tanh', 'sigmoid', 'gelu', 'geluTanh', 'erf',
  'sin', 'cos', 'log1p', 'expm1', 'softplus', 'elu', 'leakyRelu',
]);

function unary(op: UnaryOp, x: Tensor, param = 0): Tensor {
  if (!(x instanceof Tensor)) fail(op, `expected a Tensor, got ${typeof x}`);
  if (op === 'not') return apply(T.not, [x], { param, dtype: 'bool' });
  if (x.dtype === 'bool') fail(op, 'expected a numeric tensor, got bool (cast it first)');
  // Like PyTorch, float-only functions of integer tensors compute in float32.
  const input = FLOAT_ONLY.has(op) && !isFloat(x.dtype) ? cast(x, 'float32') : x;
  return apply(T[op], [input], { param, dtype: input.dtype });
}

export const neg = (x: Tensor) => unary('neg', x);
export const exp = (x: Tensor) => unary('exp', x);
export const log = (x: Tensor) => unary('log', x);
export const sqrt = (x: Tensor) => unary('sqrt', x);
export const rsqrt = (x: Tensor) => unary('rsqrt', x);
export const abs = (x: Tensor) => unary('abs', x);
export const sign = (x: Tensor) => unary('sign', x);
export const square = (x: Tensor) => unary('square', x);
export const reciprocal = (x: Tensor) => unary('reciprocal', x);
export const tanh = (x: Tensor) => unary('tanh', x);
export const sigmoid = (x: Tensor) => unary('sigmoid', x);
export const relu = (x: Tensor) => unary('relu', x);
export const erf = (x: Tensor) => unary('erf', x);
export const sin = (x: Tensor) => unary('sin', x);
export const cos = (x: Tensor) => unary('cos', x);
export const log1p = (x: Tensor) => unary('log1p', x);
export const expm1 = (x: Tensor) => unary('expm1', x);
export const softplus = (x: Tensor) => unary('softplus', x);
export const floor = (x: Tensor) => unary('floor', x);
export const ceil = (x: Tensor) => unary('ceil', x);
export const round = (x: Tensor) => unary('round', x);
export const logicalNot = (x: Tensor) => unary('not', x);

/** GELU; exact (erf) by default as in PyTorch and Keras, or the tanh approximation GPT-2 used. */
export function gelu(x: Tensor, options: { approximate?: 'none' | 'tanh' } = {}): Tensor {
  const approximate = options.approximate ?? 'none';
  if (approximate !== 'none' && approximate !== 'tanh') fail('gelu', `approximate must be "none" or "tanh", got ${JSON.stringify(approximate)}`);
  return unary(approximate === 'tanh' ? 'geluTanh' : 'gelu', x);
}

export const leakyRelu = (x: Tensor, slope = 0.01) => unary('leakyRelu', x, checkNumber('leakyRelu', 'slope', slope));
export const elu = (x: Tensor, alpha = 1) => unary('elu', x, checkNumber('elu', 'alpha', alpha));

function checkNumber(op: string, name: string, v: number): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) fail(op, `${name} must be a finite number, got ${v}`);
  return v;
}

// ---- binary ---------------------------------------------------------------------------------------------
/** Brings both operands to tensors of one dtype (numpy/PyTorch promotion) on one backend. */
function operands(op: string, a: Operand, b: Operand): [Tensor, Tensor] {
  if (!(a instanceof Tensor) && !(b instanceof Tensor)) fail(op, 'expected at least one Tensor operand');
  let x = a instanceof Tensor ? a : scalarLike(a, b as Tensor);
  let y = b instanceof Tensor ? b : scalarLike(b, x);
  if (x.dtype !== y.dtype) {
    const dtype = promoteTypes(x.dtype, y.dtype);
    x = cast(x, dtype);
    y = cast(y, dtype);
  }
  return [x, y];
}

function binary(op: BinaryOp, a: Operand, b: Operand): Tensor {
  let [x, y] = operands(op, a, b);
  if (x.dtype === 'bool' && !COMPARISON_OPS.has(op) && op !== 'maximum' && op !== 'minimum') {
    fail(op, 'expected numeric tensors, got bool (cast them first)');
  }
  // True division, as in Python 3 and PyTorch: integers divide to float32.
  if (op === 'div' && !isFloat(x.dtype)) [x, y] = [cast(x, 'float32'), cast(y, 'float32')];
  if (op === 'pow' && !isFloat(x.dtype) && y.dataSync().some((v) => v < 0)) {
    fail('pow', `integers to negative integer powers are not allowed (${x.dtype}); cast to float first`);
  }
  const shape = sameShape(x.shape, y.shape) ? x.shape : broadcastShapes(op, x.shape, y.shape);
  const dtype = COMPARISON_OPS.has(op) ? 'bool' : x.dtype;
  return apply(T[op], [x, y], { shape, dtype });
}

export const add = (a: Operand, b: Operand) => binary('add', a, b);
export const sub = (a: Operand, b: Operand) => binary('sub', a, b);
export const mul = (a: Operand, b: Operand) => binary('mul', a, b);
export const div = (a: Operand, b: Operand) => binary('div', a, b);
export const pow = (a: Operand, b: Operand) => binary('pow', a, b);
export const maximum = (a: Operand, b: Operand) => binary('maximum', a, b);
export const minimum = (a: Operand, b: Operand) => binary('minimum', a, b);
export const eq = (a: Operand, b: Operand) => binary('eq', a, b);
export const ne = (a: Operand, b: Operand) => binary('ne', a, b);
export const lt = (a: Operand, b: Operand) => binary('lt', a, b);
export const le = (a: Operand, b: Operand) => binary('le', a, b);
export const gt = (a: Operand, b: Operand) => binary('gt', a, b);
export const ge = (a: Operand, b: Operand) => binary('ge', a, b);

/** Elementwise choice: a where cond is true, else b, all three broadcast together. */
export function where(cond: Tensor, a: Operand, b: Operand): Tensor {
  if (!(cond instanceof Tensor)) fail('where', 'condition must be a Tensor');
  if (cond.dtype !== 'bool') fail('where', `condition must be a bool tensor, got ${cond.dtype}`);
  const like = a instanceof Tensor ? a : b instanceof Tensor ? b : cond;
  const [x, y] = a instanceof Tensor || b instanceof Tensor ? operands('where', a, b) : operands('where', scalarLike(a as number | boolean, like, typeof a === 'boolean' ? 'bool' : 'float32'), b);
  const shape = broadcastShapes('where', cond.shape, broadcastShapes('where', x.shape, y.shape));
  return apply(T.whereOp, [cond, x, y], { shape });
}

/** x with the positions where mask is true replaced by value (e.g. -Infinity for attention masks). */
export function maskedFill(x: Tensor, mask: Tensor, value: number): Tensor {
  return where(mask, scalarLike(value, x, isFloat(x.dtype) ? x.dtype : scalarDType(value, x.dtype)), x);
}

/** Limits values to [min, max]. The gradient passes where min <= x <= max, bounds included, as in PyTorch. */
export function clip(x: Tensor, min: number, max: number): Tensor {
  if (!(min <= max)) fail('clip', `expected min <= max, got ${min} and ${max}`);
  return where(x.lt(min), min, where(x.gt(max), max, x));
}
