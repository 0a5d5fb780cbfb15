// GELU's backward in one pass, dx = dy * gelu'(x): the reference for native/gelu.cc.
import type { Buf, TensorInfo } from '../backend.js';
import { type TypedArray, allocArray } from '../../tensor/dtype.js';
import { erf } from './math.js';

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);
const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);

/** gelu'(x) = Phi(x) + x phi(x); the tanh form: (1 + t)/2 + x/2 (1 - t^2) c (1 + 3 * 0.044715 x^2), t = tanh(c (x + 0.044715 x^3)). */
export function geluDerivative(x: number, approximate: boolean): number {
  if (approximate) {
    const t = Math.tanh(SQRT_2_OVER_PI * (x + 0.044715 * x * x * x));
    return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * SQRT_2_OVER_PI * (1 + 3 * 0.044715 * x * x);
  }
  return 0.5 * (1 + erf(x / Math.SQRT2)) + x * Math.exp(-0.5 * x * x) * INV_SQRT_2PI;
}

export function geluGrad(x: TensorInfo, dOut: TensorInfo, approximate: boolean): Buf {
  const X = x.buf as TypedArray;
  const DY = dOut.buf as TypedArray;
  const dx = allocArray(x.dtype, X.length);
  for (let i = 0; i < X.length; i++) dx[i] = DY[i] * geluDerivative(X[i], approximate);
  return dx;
}
