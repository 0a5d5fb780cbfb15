// Elementwise kernels: unary maps, broadcasting binary ops, where, and dtype casts.
import type { BinaryOp, Buf, FusedActivation, TensorInfo, UnaryOp } from '../backend.js';
import { type DType, type TypedArray, allocArray } from '../../tensor/dtype.js';
import { type Shape, broadcastStrides, sameShape, sizeOf } from '../../tensor/shape.js';
import { stridedLoop2, stridedLoop3 } from './strided.js';
import { erf, roundHalfEven } from './math.js';

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);

/** The scalar formula of each unary op; p is the op's parameter (leakyRelu's slope, elu's alpha). */
export const UNARY: Record<UnaryOp, (x: number, p: number) => number> = {
  neg: (x) => -x,
  exp: Math.exp,
  log: Math.log,
  sqrt: Math.sqrt,
  rsqrt: (x) => 1 / Math.sqrt(x),
  abs: Math.abs,
  sign: (x) => (x > 0 ? 1 : x < 0 ? -1 : x), // keeps NaN and signed zero
  square: (x) => x * x,
  reciprocal: (x) => 1 / x,
  tanh: Math.tanh,
  sigmoid: (x) => (x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x))),
  relu: (x) => (x > 0 ? x : x === x ? 0 : x), // NaN passes through, as in PyTorch
  gelu: (x) => 0.5 * x * (1 + erf(x / Math.SQRT2)),
  geluTanh: (x) => 0.5 * x * (1 + Math.tanh(SQRT_2_OVER_PI * (x + 0.044715 * x * x * x))),
  erf,
  sin: Math.sin,
  cos: Math.cos,
  log1p: Math.log1p,
  expm1: Math.expm1,
  softplus: (x) => (x > 0 ? x + Math.log1p(Math.exp(-x)) : Math.log1p(Math.exp(x))),
  floor: Math.floor,
  ceil: Math.ceil,
  round: roundHalfEven,
  leakyRelu: (x, p) => (x >= 0 ? x : p * x),
  elu: (x, p) => (x > 0 ? x : p * Math.expm1(x)),
  not: (x) => (x === 0 ? 1 : 0), // NaN is nonzero, so true, as in numpy and PyTorch
};

export const BINARY: Record<BinaryOp, (a: number, b: number) => number> = {
  add: (a, b) => a + b,
  sub: (a, b) => a - b,
  mul: (a, b) => a * b,
  div: (a, b) => a / b,
  pow: (a, b) => (a === 1 || (a === -1 && Math.abs(b) === Infinity) ? 1 : Math.pow(a, b)), // C's pow, as PyTorch: 1^NaN = 1
  maximum: (a, b) => (a !== a || b !== b ? NaN : a > b ? a : b),
  minimum: (a, b) => (a !== a || b !== b ? NaN : a < b ? a : b),
  eq: (a, b) => +(a === b),
  ne: (a, b) => +(a !== b),
  lt: (a, b) => +(a < b),
  le: (a, b) => +(a <= b),
  gt: (a, b) => +(a > b),
  ge: (a, b) => +(a >= b),
};

export function unary(op: UnaryOp, x: TensorInfo, outDtype: DType, param: number): Buf {
  const f = UNARY[op];
  const src = x.buf as TypedArray;
  const out = allocArray(outDtype, src.length);
  for (let i = 0; i < src.length; i++) out[i] = f(src[i], param);
  return out;
}

export function binary(op: BinaryOp, a: TensorInfo, b: TensorInfo, outShape: Shape, outDtype: DType): Buf {
  const f = BINARY[op];
  const A = a.buf as TypedArray;
  const B = b.buf as TypedArray;
  const out = allocArray(outDtype, sizeOf(outShape));
  if (sameShape(a.shape, b.shape)) {
    for (let i = 0; i < out.length; i++) out[i] = f(A[i], B[i]);
  } else if (B.length === 1) {
    const s = B[0];
    for (let i = 0; i < out.length; i++) out[i] = f(A[i], s);
  } else {
    stridedLoop2(outShape, broadcastStrides(a.shape, outShape), broadcastStrides(b.shape, outShape), (i, ia, ib) => {
      out[i] = f(A[ia], B[ib]);
    });
  }
  return out;
}

export function where(cond: TensorInfo, a: TensorInfo, b: TensorInfo, outShape: Shape): Buf {
  const C = cond.buf as TypedArray;
  const A = a.buf as TypedArray;
  const B = b.buf as TypedArray;
  const out = allocArray(a.dtype, sizeOf(outShape));
  const sc = broadcastStrides(cond.shape, outShape);
  stridedLoop3(outShape, sc, broadcastStrides(a.shape, outShape), broadcastStrides(b.shape, outShape), (i, ic, ia, ib) => {
    out[i] = C[ic] ? A[ia] : B[ib];
  });
  return out;
}

export function cast(x: TensorInfo, dtype: DType): Buf {
  const src = x.buf as TypedArray;
  const out = allocArray(dtype, src.length);
  if (dtype === 'bool') for (let i = 0; i < src.length; i++) out[i] = src[i] !== 0 ? 1 : 0; // NaN -> true
  else if (dtype === 'int32' || dtype === 'int8' || dtype === 'uint8') for (let i = 0; i < src.length; i++) out[i] = Math.trunc(src[i]);
  else out.set(src);
  return out;
}

export function scaleShift(x: TensorInfo, scale: number, offset: number, dtype: 'float32' | 'float64'): Buf {
  const src = x.buf as TypedArray;
  const out = allocArray(dtype, src.length);
  for (let i = 0; i < src.length; i++) out[i] = src[i] * scale + offset;
  return out;
}

export function biasActivation(x: TensorInfo, bias: TensorInfo, activation: FusedActivation): Buf {
  const X = x.buf as TypedArray;
  const B = bias.buf as TypedArray;
  const C = B.length;
  const out = allocArray(x.dtype, X.length);
  const act = activation === 'linear' ? (v: number) => v : UNARY[activation];
  for (let i = 0; i < X.length; i++) out[i] = act(X[i] + B[i % C], 0);
  return out;
}
