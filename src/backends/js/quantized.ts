// Quantized Dense and Conv2D as plain loops: the reference the native int8 kernels are tested
// against. Quantization follows ONNX QuantizeLinear (float32 division, round half to even,
// saturate to 0..255) and DynamicQuantizeLinear; the integer sums are exact.
import type { Buf, Conv2dGeometry, FusedActivation, InputQuantization, PackedInt8, TensorInfo } from '../backend.js';
import { type Shape, sizeOf } from '../../tensor/shape.js';
import { UNARY } from './elementwise.js';

const f32 = Math.fround;

/** Round half to even, as C's rint in the default rounding mode. */
export function roundHalfEven(v: number): number {
  const r = Math.round(v);
  return r - v === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * The asymmetric uint8 quantization of [lo, hi] widened to hold 0 (so zero is exact: padding,
 * ReLU's zeros), by ONNX DynamicQuantizeLinear's formula; a zero range gives scale 1, zero point 0.
 */
export function uint8Params(lo: number, hi: number): InputQuantization {
  const min = Math.min(0, lo);
  const max = Math.max(0, hi);
  const scale = f32(f32(max - min) / 255);
  if (!(scale > 0) || !Number.isFinite(scale)) return { scale: 1, zeroPoint: 0 };
  return { scale, zeroPoint: Math.min(255, Math.max(0, roundHalfEven(f32(-min / scale)))) };
}

/** ONNX DynamicQuantizeLinear's scale and zero point over x's finite values (see native/quantized.h). */
export function dynamicQuantParams(x: ArrayLike<number>): InputQuantization {
  let lo = 0;
  let hi = 0;
  for (let i = 0; i < x.length; i++) {
    const v = x[i];
    if (!Number.isFinite(v)) continue;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return uint8Params(lo, hi);
}

/** ONNX QuantizeLinear to uint8; non-finite values give the zero point (their rows are marked NaN). */
export function quantizeValue(v: number, q: InputQuantization): number {
  const r = roundHalfEven(f32(v / q.scale)) + q.zeroPoint;
  return r > 0 ? Math.min(255, r) : 0;
}

function activate(v: number, activation: FusedActivation): number {
  return activation === 'linear' ? v : f32(UNARY[activation](v, 0));
}

// The GEMM's output stage: float(acc) * (scale * wScale) + bias, rounded once (an FMA there).
function dequantize(acc: number, scale: number, bias: number): number {
  return f32(f32(acc) * scale + bias);
}

export function packInt8(w: TensorInfo, layout: 'dense' | 'conv'): PackedInt8 {
  return { backend: 'js', layout, shape: w.shape, handle: w.buf };
}

export function quantizedLinear(x: TensorInfo, w: PackedInt8, wScale: TensorInfo, bias: TensorInfo | null, activation: FusedActivation, input: InputQuantization | null): Buf {
  const X = x.buf as Float32Array;
  const W = w.handle as Int8Array;
  const S = wScale.buf as Float32Array;
  const B = bias?.buf as Float32Array | undefined;
  const [K, N] = w.shape;
  const M = X.length / K;
  const q = input ?? dynamicQuantParams(X);
  const y = new Float32Array(M * N);
  const row = new Float64Array(K);
  for (let m = 0; m < M; m++) {
    let finite = true;
    for (let k = 0; k < K; k++) {
      finite &&= Number.isFinite(X[m * K + k]);
      row[k] = quantizeValue(X[m * K + k], q) - q.zeroPoint;
    }
    for (let n = 0; n < N; n++) {
      let acc = 0;
      for (let k = 0; k < K; k++) acc += row[k] * W[k * N + n];
      y[m * N + n] = finite ? activate(dequantize(acc, f32(q.scale * S[n]), B ? B[n] : 0), activation) : NaN;
    }
  }
  return y;
}

export function quantizedConv2d(x: TensorInfo, w: PackedInt8, wScale: TensorInfo, bias: TensorInfo | null, activation: FusedActivation, input: InputQuantization | null, g: Conv2dGeometry, outShape: Shape): Buf {
  const X = x.buf as Float32Array;
  const W = w.handle as Int8Array;
  const S = wScale.buf as Float32Array;
  const B = bias?.buf as Float32Array | undefined;
  const [N, C, H, Wd] = x.shape;
  const [O, , KH, KW] = w.shape;
  const [, , OH, OW] = outShape;
  const q = input ?? dynamicQuantParams(X);
  const y = new Float32Array(sizeOf(outShape));
  const image = C * H * Wd;
  for (let n = 0; n < N; n++) {
    let finite = true;
    const xq = new Float64Array(image);
    for (let i = 0; i < image; i++) {
      finite &&= Number.isFinite(X[n * image + i]);
      xq[i] = quantizeValue(X[n * image + i], q) - q.zeroPoint; // padding reads the zero point: 0 here
    }
    for (let o = 0; o < O; o++)
      for (let oh = 0; oh < OH; oh++)
        for (let ow = 0; ow < OW; ow++) {
          let acc = 0;
          for (let c = 0; c < C; c++)
            for (let kh = 0; kh < KH; kh++) {
              const ih = oh * g.stride[0] - g.padding[0] + kh * g.dilation[0];
              if (ih < 0 || ih >= H) continue;
              for (let kw = 0; kw < KW; kw++) {
                const iw = ow * g.stride[1] - g.padding[1] + kw * g.dilation[1];
                if (iw >= 0 && iw < Wd) acc += xq[(c * H + ih) * Wd + iw] * W[((o * C + c) * KH + kh) * KW + kw];
              }
            }
          const yi = ((n * O + o) * OH + oh) * OW + ow;
          y[yi] = finite ? activate(dequantize(acc, f32(q.scale * S[o]), B ? B[o] : 0), activation) : NaN;
        }
  }
  return y;
}
