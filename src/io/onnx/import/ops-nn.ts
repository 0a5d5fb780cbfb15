// ONNX neural-network ops: Gemm/MatMul, Conv and pooling (1-D and 2-D, NCHW), the
// normalizations and the softmax family, written with Lathe's ops so they have gradients.
// ONNX pads may be asymmetric and pooling may use ceil_mode; Lathe's kernels take symmetric
// padding, so those cases pad explicitly first and run the kernel unpadded.
import { fail } from '../../../errors.js';
import * as F from '../../../ops/functions.js';
import { isFloat } from '../../../tensor/dtype.js';
import type { Tensor } from '../../../tensor/tensor.js';
import { type NodeContext, type OpFn, input } from './ops.js';

const norm = (a: number, rank: number) => (a < 0 ? a + rank : a);

/** 1-D ops run as 2-D with a height of 1; 3-D and beyond are not supported. */
function to2d(x: Tensor, ctx: NodeContext): { x: Tensor; oneD: boolean } {
  if (x.rank === 3) return { x: F.unsqueeze(x, 2), oneD: true };
  if (x.rank !== 4) fail(ctx.where, `only 1-D and 2-D spatial inputs are supported, got shape [${x.shape}]`);
  return { x, oneD: false };
}

/** Per spatial axis [begin, end] pads from `pads` or auto_pad, for a kernel of extent `ext`. */
function padsFor(ctx: NodeContext, inSizes: number[], ext: number[], strides: number[], oneD: boolean): [number, number][] {
  const auto = ctx.attrs.str('auto_pad', 'NOTSET');
  if (auto === 'VALID') return inSizes.map(() => [0, 0]);
  if (auto === 'SAME_UPPER' || auto === 'SAME_LOWER') {
    return inSizes.map((n, i) => {
      const out = Math.ceil(n / strides[i]);
      const total = Math.max(0, (out - 1) * strides[i] + ext[i] - n);
      const small = Math.floor(total / 2);
      return auto === 'SAME_UPPER' ? [small, total - small] : [total - small, small];
    });
  }
  if (auto !== 'NOTSET') fail(ctx.where, `auto_pad "${auto}" is not one of NOTSET, SAME_UPPER, SAME_LOWER, VALID`);
  const p = ctx.attrs.ints('pads') ?? [];
  const r = oneD ? 1 : 2;
  const pairs: [number, number][] = Array.from({ length: r }, (_, i) => [p[i] ?? 0, p[i + r] ?? 0]);
  return oneD ? [[0, 0], ...pairs] : pairs;
}

/** A spatial attribute (strides, dilations, kernel_shape) as a 2-D pair. */
function pairAttr(ctx: NodeContext, name: string, def: number[], oneD: boolean): number[] {
  const v = ctx.attrs.ints(name) ?? def;
  return oneD ? [1, v[0]] : v;
}

function padSpatial(x: Tensor, pads: [number, number][], value: number): Tensor {
  if (pads.every(([b, e]) => b === 0 && e === 0)) return x;
  return F.pad(x, [[0, 0], [0, 0], ...pads], value);
}

const symmetric = (pads: [number, number][]) => pads.every(([b, e]) => b === e);

/** ONNX Conv on x, w and an optional bias (1-D or 2-D, pads and auto_pad); ops-quant.ts runs its integer convolutions through it in float64. */
export function conv(inputs: (Tensor | undefined)[], ctx: NodeContext): Tensor {
  const { x, oneD } = to2d(inputs[0]!, ctx);
  const w0 = inputs[1]!;
  const w = oneD ? F.unsqueeze(w0, 2) : w0;
  const strides = pairAttr(ctx, 'strides', [1, 1], oneD);
  const dil = pairAttr(ctx, 'dilations', [1, 1], oneD);
  const ext = [0, 1].map((i) => (w.shape[2 + i] - 1) * dil[i] + 1);
  const pads = padsFor(ctx, [x.shape[2], x.shape[3]], ext, strides, oneD);
  const opts = { stride: [strides[0], strides[1]] as [number, number], dilation: [dil[0], dil[1]] as [number, number], groups: ctx.attrs.int('group', 1) };
  const y = symmetric(pads)
    ? F.conv2d(x, w, inputs[2] ?? null, Object.assign({ padding: [pads[0][0], pads[1][0]] as [number, number] }, opts))
    : F.conv2d(padSpatial(x, pads, 0), w, inputs[2] ?? null, opts);
  return oneD ? F.squeeze(y, 2) : y;
}

function pool(kind: 'max' | 'avg'): OpFn {
  return (inputs, ctx) => {
    if (ctx.outputCount > 1) fail(ctx.where, 'the Indices output is not supported');
    const x0 = input(inputs, 0, ctx);
    // Lathe pools floats; integer inputs (uint8 images) pool exactly in float64 and come back.
    if (!isFloat(x0.dtype)) return [F.cast(pool(kind)([F.cast(x0, 'float64')], ctx)[0] as Tensor, x0.dtype)];
    const { x, oneD } = to2d(x0, ctx);
    const k = pairAttr(ctx, 'kernel_shape', [], oneD);
    if (k.length !== 2) fail(ctx.where, 'kernel_shape is required');
    const s = pairAttr(ctx, 'strides', [1, 1], oneD);
    if (pairAttr(ctx, 'dilations', [1, 1], oneD).some((d) => d !== 1)) fail(ctx.where, 'dilated pooling is not supported');
    const inSizes = [x.shape[2], x.shape[3]];
    const pads = padsFor(ctx, inSizes, k, s, oneD);
    // ceil_mode: one more window where it still starts inside the input or its left padding.
    const extra = inSizes.map((n, i) => {
      if (ctx.attrs.int('ceil_mode', 0) !== 1) return 0;
      const span = n + pads[i][0] + pads[i][1];
      let out = Math.ceil((span - k[i]) / s[i]) + 1;
      if ((out - 1) * s[i] >= n + pads[i][0]) out--;
      return Math.max(0, (out - 1) * s[i] + k[i] - span);
    });
    const kernel = [k[0], k[1]] as [number, number];
    const stride = [s[0], s[1]] as [number, number];
    const fitsKernel = symmetric(pads) && pads.every(([b], i) => 2 * b <= k[i]) && extra.every((e) => e === 0);
    const includePad = ctx.attrs.int('count_include_pad', 0) === 1;
    let y: Tensor;
    if (kind === 'max') {
      y = fitsKernel
        ? F.maxPool2d(x, kernel, { stride, padding: [pads[0][0], pads[1][0]] })
        : F.maxPool2d(padSpatial(x, pads.map(([b, e], i) => [b, e + extra[i]]), -Infinity), kernel, { stride });
    } else if (fitsKernel && (includePad || pads.every(([b]) => b === 0))) {
      y = F.avgPool2d(x, kernel, { stride, padding: [pads[0][0], pads[1][0]] });
    } else {
      // Window sums over window counts: the counts come from pooling a mask of the cells that
      // count (the input, plus the explicit pads when count_include_pad).
      const full = pads.map(([b, e], i) => [b, e + extra[i]] as [number, number]);
      const sums = F.avgPool2d(padSpatial(x, full, 0), kernel, { stride });
      const ones = F.ones([1, 1, ...(includePad ? inSizes.map((n, i) => n + pads[i][0] + pads[i][1]) : inSizes)], { dtype: x.dtype });
      const maskPads = includePad ? extra.map((e) => [0, e] as [number, number]) : full;
      y = sums.div(F.avgPool2d(padSpatial(ones, maskPads, 0), kernel, { stride }));
    }
    return [oneD ? F.squeeze(y, 2) : y];
  };
}

/** Softmax-like ops: before opset 13 the input is coerced to 2-D at `axis` (default 1). */
function softmaxLike(f: (x: Tensor, axis: number) => Tensor): OpFn {
  return (inputs, ctx) => {
    const x = input(inputs, 0, ctx);
    if (ctx.opset >= 13) return [f(x, norm(ctx.attrs.int('axis', -1), x.rank))];
    const axis = norm(ctx.attrs.int('axis', 1), x.rank);
    const outer = x.shape.slice(0, axis).reduce((a, b) => a * b, 1);
    return [F.reshape(f(F.reshape(x, [outer, x.size / Math.max(outer, 1)]), 1), x.shape)];
  };
}

function hardmax(x: Tensor, axis: number): Tensor {
  const n = x.shape[axis];
  const pos = F.reshape(F.arange(0, n, 1, { dtype: 'int32' }), x.shape.map((d, i) => (i === axis ? n : 1)));
  return F.cast(F.eq(F.argmax(x, axis, true), pos), x.dtype);
}

/** Parameters of shape [C] (or [C, ...] before opset 9's spatial=0) against x [N, C, ...]. */
const perChannel = (p: Tensor, x: Tensor) => F.reshape(p, p.rank === 1 ? x.shape.map((d, i) => (i === 1 ? p.size : 1)) : [1, ...p.shape]);

export const NN: Record<string, OpFn> = {
  Gemm: (inputs, ctx) => {
    const [a, b] = [input(inputs, 0, ctx), input(inputs, 1, ctx)];
    const alpha = ctx.attrs.float('alpha', 1);
    const beta = ctx.attrs.float('beta', 1);
    let y = F.matmulT(a, b, ctx.attrs.int('transA', 0) === 1, ctx.attrs.int('transB', 0) === 1);
    if (alpha !== 1) y = y.mul(alpha);
    if (inputs[2] !== undefined) y = y.add(beta === 1 ? input(inputs, 2, ctx) : input(inputs, 2, ctx).mul(beta));
    return [y];
  },
  MatMul: (inputs, ctx) => [F.matmul(input(inputs, 0, ctx), input(inputs, 1, ctx))],
  Conv: (inputs, ctx) => [conv([input(inputs, 0, ctx), input(inputs, 1, ctx), inputs[2] === undefined ? undefined : input(inputs, 2, ctx)], ctx)],
  MaxPool: pool('max'),
  AveragePool: pool('avg'),
  GlobalAveragePool: (inputs, ctx) => {
    const x = input(inputs, 0, ctx);
    return [F.mean(x, x.shape.slice(2).map((_, i) => i + 2), true)];
  },
  GlobalMaxPool: (inputs, ctx) => {
    const x = input(inputs, 0, ctx);
    return [F.max(x, x.shape.slice(2).map((_, i) => i + 2), true)];
  },
  BatchNormalization: (inputs, ctx) => {
    if (ctx.attrs.int('training_mode', 0) === 1 || ctx.outputCount > 1) fail(ctx.where, 'only inference (training_mode 0, one output) is supported');
    const [x, scale, bias, mean, variance] = [0, 1, 2, 3, 4].map((i) => input(inputs, i, ctx));
    const inv = perChannel(variance, x).add(ctx.attrs.float('epsilon', 1e-5)).rsqrt().mul(perChannel(scale, x));
    return [x.sub(perChannel(mean, x)).mul(inv).add(perChannel(bias, x))];
  },
  LayerNormalization: (inputs, ctx) => {
    const x = input(inputs, 0, ctx);
    const axis = norm(ctx.attrs.int('axis', -1), x.rank);
    const axes = x.shape.slice(axis).map((_, i) => axis + i);
    const mean = F.mean(x, axes, true);
    const centred = x.sub(mean);
    const invStd = F.mean(centred.square(), axes, true).add(ctx.attrs.float('epsilon', 1e-5)).rsqrt();
    let y = centred.mul(invStd).mul(input(inputs, 1, ctx));
    if (inputs[2] !== undefined) y = y.add(input(inputs, 2, ctx));
    return [y, mean, invStd];
  },
  InstanceNormalization: (inputs, ctx) => {
    const x = input(inputs, 0, ctx);
    const axes = x.shape.slice(2).map((_, i) => i + 2);
    const centred = x.sub(F.mean(x, axes, true));
    const invStd = F.mean(centred.square(), axes, true).add(ctx.attrs.float('epsilon', 1e-5)).rsqrt();
    return [centred.mul(invStd).mul(perChannel(input(inputs, 1, ctx), x)).add(perChannel(input(inputs, 2, ctx), x))];
  },
  LpNormalization: (inputs, ctx) => {
    const x = input(inputs, 0, ctx);
    const axis = norm(ctx.attrs.int('axis', -1), x.rank);
    const p = ctx.attrs.int('p', 2);
    const n = p === 1 ? F.sum(x.abs(), axis, true) : F.sum(x.square(), axis, true).sqrt();
    return [x.div(n)];
  },
  Softmax: softmaxLike(F.softmax),
  LogSoftmax: softmaxLike(F.logSoftmax),
  Hardmax: softmaxLike(hardmax),
};
