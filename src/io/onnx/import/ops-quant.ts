// ONNX's quantization operators (default domain, opsets 10-21) as ONNX Runtime's quantization tool
// writes them: QuantizeLinear/DequantizeLinear (the QDQ format: per tensor, per axis, opset 21's
// blocks), DynamicQuantizeLinear, and the QOperator format's QLinearMatMul, QLinearConv,
// MatMulInteger and ConvInteger. Integer products are summed in float64, where every
// (q - zero point) product and every sum below 2^53 is exact, then requantized as ONNX Runtime's
// MlasRequantizeOutput does: the int32 sum times a float32 multiplier (scale_a * scale_b / scale_y,
// in float32), rounded half to even, plus the zero point, saturated.
import { fail, fmtShape } from '../../../errors.js';
import * as F from '../../../ops/functions.js';
import { isFloat } from '../../../tensor/dtype.js';
import type { Tensor } from '../../../tensor/tensor.js';
import { ONNX_DTYPE } from '../schema.js';
import { type NodeContext, type OpFn, input } from './ops.js';
import { conv } from './ops-nn.js';
import { type Value, onnxDTypeName } from './tensors.js';

export type QuantDType = 'uint8' | 'int8';
const RANGE: Record<QuantDType, [number, number]> = { uint8: [0, 255], int8: [-128, 127] };

/** Inputs that hold scales: model state, but not weights to train (rounding has no useful gradient). */
export const QUANTIZATION_SCALES: Record<string, number[]> = {
  QuantizeLinear: [1], DequantizeLinear: [1], QLinearMatMul: [1, 4, 6], QLinearConv: [1, 4, 6],
};

const optional = (inputs: (Value | undefined)[], i: number, ctx: NodeContext) => (inputs[i] === undefined ? undefined : input(inputs, i, ctx));

/** Round half to even (IEEE's default, ONNX's rounding for quantization). */
function roundHalfEven(v: number): number {
  const r = Math.round(v);
  return r - v === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** cast(saturate(round_half_even(v) + zeroPoint)) for a float tensor v. */
function saturateRound(v: Tensor, zeroPoint: Tensor | number, dtype: QuantDType): Tensor {
  const zp = typeof zeroPoint === 'number' ? zeroPoint : F.cast(zeroPoint, v.dtype);
  const [lo, hi] = RANGE[dtype];
  return F.cast(F.clip(F.add(F.round(v), zp), lo, hi), dtype);
}

/** ONNX QuantizeLinear: saturate(round_half_even(x / scale) + zeroPoint), divided in the scale's float type. */
export function quantizeLinear(x: Tensor, scale: Tensor, zeroPoint: Tensor | number, dtype: QuantDType): Tensor {
  return saturateRound(F.div(F.cast(x, scale.dtype), scale), zeroPoint, dtype);
}

/** ONNX DequantizeLinear: (x - zeroPoint) * scale, the difference taken exactly in int32 first (as ONNX Runtime). */
export function dequantizeLinear(x: Tensor, scale: Tensor, zeroPoint?: Tensor): Tensor {
  const centred = zeroPoint ? F.sub(F.cast(x, 'int32'), F.cast(zeroPoint, 'int32')) : F.cast(x, 'int32');
  return F.mul(F.cast(centred, scale.dtype), scale);
}

/**
 * DynamicQuantizeLinear's scale and zero point for uint8, in float32 as the spec computes them:
 * the range [min(0, min x), max(0, max x)] over 255 steps. A zero range (x all zeros) takes scale 1
 * and zero point 0, as ONNX Runtime does, where the spec's formula would divide 0 by 0.
 */
export function dynamicQuantParameters(x: Tensor): { scale: number; zeroPoint: number } {
  const lo = x.size === 0 ? 0 : Math.min(0, Number(F.min(x).dataSync()[0]));
  const hi = x.size === 0 ? 0 : Math.max(0, Number(F.max(x).dataSync()[0]));
  const range = Math.fround(hi - lo);
  if (range === 0 || Number.isNaN(range)) return { scale: 1, zeroPoint: 0 };
  const scale = Math.fround(range / 255);
  const zeroPoint = roundHalfEven(Math.min(255, Math.max(0, Math.fround(0 - Math.fround(lo / scale)))));
  return { scale, zeroPoint };
}

/** The integer type a quantizer writes: its zero point's, else opset 21's output_dtype, else uint8. */
function quantizedType(zeroPoint: Tensor | undefined, ctx: NodeContext): QuantDType {
  const code = ctx.opset >= 21 && ctx.attrs.has('output_dtype') ? ctx.attrs.int('output_dtype') : 0;
  const fromAttr = code === 0 ? undefined : code === ONNX_DTYPE.UINT8 ? 'uint8' : code === ONNX_DTYPE.INT8 ? 'int8'
    : fail(ctx.where, `output_dtype ${onnxDTypeName(code)} is not supported: Lathe quantizes to uint8 and int8`);
  if (!zeroPoint) return fromAttr ?? 'uint8';
  if (zeroPoint.dtype !== 'uint8' && zeroPoint.dtype !== 'int8') {
    fail(ctx.where, `y_zero_point is ${zeroPoint.dtype === 'int32' ? 'an int16, uint16 or int32 tensor' : zeroPoint.dtype}: Lathe quantizes to uint8 and int8 only`);
  }
  if (fromAttr && fromAttr !== zeroPoint.dtype) fail(ctx.where, `output_dtype ${fromAttr} differs from y_zero_point's type ${zeroPoint.dtype}`);
  return zeroPoint.dtype;
}

/**
 * A scale or zero point shaped to broadcast against x: one element applies to the whole tensor, a
 * vector to `axis` (opset 13+), and with opset 21's block_size a tensor of x's rank whose `axis`
 * holds one value per block of block_size elements.
 */
function alongAxis(p: Tensor, x: Tensor, ctx: NodeContext, name: string): Tensor {
  if (p.size === 1 && p.rank <= 1) return F.reshape(p, []);
  const axisAttr = ctx.attrs.int('axis', 1);
  const axis = axisAttr < 0 ? axisAttr + x.rank : axisAttr;
  if (axis < 0 || axis >= x.rank) fail(ctx.where, `axis ${axisAttr} is outside input x's ${x.rank} dimensions ${fmtShape(x.shape)}`);
  const blockSize = ctx.opset >= 21 ? ctx.attrs.int('block_size', 0) : 0;
  if (blockSize < 0) fail(ctx.where, `block_size must be positive, got ${blockSize}`);
  if (blockSize > 0) {
    const expected = x.shape.map((d, i) => (i === axis ? Math.ceil(d / blockSize) : d));
    if (p.rank !== x.rank || p.shape.some((d, i) => d !== expected[i])) {
      fail(ctx.where, `${name} has shape ${fmtShape(p.shape)}; block_size ${blockSize} on axis ${axis} of x ${fmtShape(x.shape)} needs ${fmtShape(expected)}`);
    }
    return F.indexSelect(p, axis, Array.from({ length: x.shape[axis] }, (_, i) => Math.floor(i / blockSize)));
  }
  if (p.rank !== 1 || p.size !== x.shape[axis]) {
    fail(ctx.where, `${name} has shape ${fmtShape(p.shape)}; expected one value, or ${x.shape[axis]} along axis ${axis} of x ${fmtShape(x.shape)}`);
  }
  if (ctx.opset < 13) fail(ctx.where, `${name} is a vector (per-axis quantization), which needs opset 13; the model imports opset ${ctx.opset}`);
  return F.reshape(p, x.shape.map((d, i) => (i === axis ? d : 1)));
}

function checkQuantized(t: Tensor, ctx: NodeContext, name: string, allowed: readonly string[] = ['uint8', 'int8']): void {
  if (!allowed.includes(t.dtype)) fail(ctx.where, `${name} must be ${allowed.join(' or ')}, got ${t.dtype}`);
}

/** x - zeroPoint in float64, exact for every 8-bit (and int32) value. */
function centred(x: Tensor, zeroPoint: Tensor | undefined): Tensor {
  const x64 = F.cast(x, 'float64');
  return zeroPoint ? F.sub(x64, F.cast(zeroPoint, 'float64')) : x64;
}

/** A matmul operand's per-row (a: [.., M, K]) or per-column (b: [.., K, N]) vector, shaped to broadcast; scalars and N-D ones as they are. */
function perRowOrColumn(p: Tensor | undefined, x: Tensor, side: 'row' | 'column', ctx: NodeContext, name: string): Tensor | undefined {
  if (!p || p.rank !== 1 || p.size === 1) return p;
  const n = side === 'row' ? x.shape[x.rank - 2] : x.shape[x.rank - 1];
  if (p.size !== n) fail(ctx.where, `${name} has ${p.size} values; per-${side} quantization of ${fmtShape(x.shape)} needs ${n}`);
  return side === 'row' ? F.reshape(p, [n, 1]) : p;
}

/** A conv weight's per-output-channel vector [M] against w [M, C, k...] or the output [N, M, ...]. */
function perChannel(p: Tensor | undefined, rank: number, channelAxis: number, channels: number, ctx: NodeContext, name: string): Tensor | undefined {
  if (!p || p.size === 1) return p && F.reshape(p, []);
  if (p.rank !== 1 || p.size !== channels) fail(ctx.where, `${name} has shape ${fmtShape(p.shape)}; expected one value or one per output channel (${channels})`);
  return F.reshape(p, Array.from({ length: rank }, (_, i) => (i === channelAxis ? channels : 1)));
}

/** The float32 multiplier (scale_a * scale_b) / scale_y: one product and one division in float32, as ONNX Runtime. */
const multiplier = (scaleA: Tensor, scaleB: Tensor, scaleY: Tensor) => F.div(F.mul(F.cast(scaleA, 'float32'), F.cast(scaleB, 'float32')), F.cast(scaleY, 'float32'));

/** An exact integer sum (float64) as float32 (ONNX Runtime's float(int32)) times a float32 multiplier, rounded and saturated into the output type. */
function requantize(sum: Tensor, scale: Tensor, zeroPoint: Tensor | undefined, ctx: NodeContext): Tensor {
  return saturateRound(F.mul(F.cast(sum, 'float32'), scale), zeroPoint ?? 0, quantizedType(zeroPoint, ctx));
}

export const QUANT: Record<string, OpFn> = {
  QuantizeLinear: (inputs, ctx) => {
    const x = input(inputs, 0, ctx);
    const scale = input(inputs, 1, ctx);
    const zeroPoint = optional(inputs, 2, ctx);
    if (!isFloat(scale.dtype)) fail(ctx.where, `y_scale must be a float tensor, got ${scale.dtype}`);
    const dtype = quantizedType(zeroPoint, ctx);
    return [quantizeLinear(x, alongAxis(scale, x, ctx, 'y_scale'), zeroPoint ? alongAxis(zeroPoint, x, ctx, 'y_zero_point') : 0, dtype)];
  },
  DequantizeLinear: (inputs, ctx) => {
    const x = input(inputs, 0, ctx);
    const scale = input(inputs, 1, ctx);
    const zeroPoint = optional(inputs, 2, ctx);
    checkQuantized(x, ctx, 'x', ['uint8', 'int8', 'int32']);
    if (!isFloat(scale.dtype)) fail(ctx.where, `x_scale must be a float tensor, got ${scale.dtype}`);
    return [dequantizeLinear(x, alongAxis(scale, x, ctx, 'x_scale'), zeroPoint && alongAxis(zeroPoint, x, ctx, 'x_zero_point'))];
  },
  DynamicQuantizeLinear: (inputs, ctx) => {
    const x = input(inputs, 0, ctx);
    if (!isFloat(x.dtype)) fail(ctx.where, `x must be a float tensor, got ${x.dtype}`);
    const { scale, zeroPoint } = dynamicQuantParameters(x);
    const scaleTensor = F.scalarLike(scale, x, 'float32');
    return [quantizeLinear(x, scaleTensor, zeroPoint, 'uint8'), scaleTensor, F.scalarLike(zeroPoint, x, 'uint8')];
  },
  QLinearMatMul: (inputs, ctx) => {
    const [a, aScale, b, bScale, yScale] = [0, 1, 3, 4, 6].map((i) => input(inputs, i, ctx));
    checkQuantized(a, ctx, 'a');
    checkQuantized(b, ctx, 'b');
    const sum = F.matmul(
      centred(a, perRowOrColumn(optional(inputs, 2, ctx), a, 'row', ctx, 'a_zero_point')),
      centred(b, perRowOrColumn(optional(inputs, 5, ctx), b, 'column', ctx, 'b_zero_point')),
    );
    const m = multiplier(perRowOrColumn(aScale, a, 'row', ctx, 'a_scale')!, perRowOrColumn(bScale, b, 'column', ctx, 'b_scale')!, yScale);
    return [requantize(sum, m, optional(inputs, 7, ctx), ctx)];
  },
  MatMulInteger: (inputs, ctx) => {
    const [a, b] = [input(inputs, 0, ctx), input(inputs, 1, ctx)];
    checkQuantized(a, ctx, 'A');
    checkQuantized(b, ctx, 'B');
    const sum = F.matmul(
      centred(a, perRowOrColumn(optional(inputs, 2, ctx), a, 'row', ctx, 'a_zero_point')),
      centred(b, perRowOrColumn(optional(inputs, 3, ctx), b, 'column', ctx, 'b_zero_point')),
    );
    return [F.cast(sum, 'int32')]; // wraps as int32 accumulation would, past 2^31 (ONNX allows the overflow)
  },
  QLinearConv: (inputs, ctx) => {
    const [x, xScale, w, wScale, yScale] = [0, 1, 3, 4, 6].map((i) => input(inputs, i, ctx));
    checkQuantized(x, ctx, 'x');
    checkQuantized(w, ctx, 'w');
    const bias = optional(inputs, 8, ctx);
    if (bias) checkQuantized(bias, ctx, 'B', ['int32']);
    const m = w.shape[0];
    const wZero = perChannel(optional(inputs, 5, ctx), w.rank, 0, m, ctx, 'w_zero_point');
    // Padding adds zeros to x - x_zero_point: the zero point itself, as ONNX Runtime pads.
    const sum = conv([centred(x, optional(inputs, 2, ctx)), centred(w, wZero), bias && F.cast(bias, 'float64')], ctx);
    const scale = multiplier(xScale, perChannel(wScale, x.rank, 1, m, ctx, 'w_scale')!, yScale);
    return [requantize(sum, scale, optional(inputs, 7, ctx), ctx)];
  },
  ConvInteger: (inputs, ctx) => {
    const [x, w] = [input(inputs, 0, ctx), input(inputs, 1, ctx)];
    checkQuantized(x, ctx, 'x');
    checkQuantized(w, ctx, 'w');
    const wZero = perChannel(optional(inputs, 3, ctx), w.rank, 0, w.shape[0], ctx, 'w_zero_point');
    return [F.cast(conv([centred(x, optional(inputs, 2, ctx)), centred(w, wZero), undefined], ctx), 'int32')];
  },
};
