// conv2d and pooling, NCHW, as direct loops. The three conv kernels share one loop nest that
// visits every (input, weight, output) triple that a multiply-add connects; each kernel says
// what to do with a triple. Slow but plain: it is the reference the native kernels are tested against.
import type { Buf, Conv2dGeometry, FusedActivation, Pool2dGeometry, TensorInfo } from '../backend.js';
import { type DType, type TypedArray, allocArray } from '../../tensor/dtype.js';
import { type Shape, sizeOf } from '../../tensor/shape.js';
import { UNARY } from './elementwise.js';

function convLoop(xShape: Shape, wShape: Shape, yShape: Shape, g: Conv2dGeometry, visit: (xi: number, wi: number, yi: number) => void): void {
  const [N, C, H, W] = xShape;
  const [O, Cg, KH, KW] = wShape;
  const [, , OH, OW] = yShape;
  const Og = O / g.groups;
  const [sh, sw] = g.stride;
  const [ph, pw] = g.padding;
  const [dh, dw] = g.dilation;
  for (let n = 0; n < N; n++)
    for (let o = 0; o < O; o++) {
      const c0 = Math.floor(o / Og) * Cg;
      for (let oh = 0; oh < OH; oh++)
        for (let ow = 0; ow < OW; ow++) {
          const yi = ((n * O + o) * OH + oh) * OW + ow;
          for (let c = 0; c < Cg; c++)
            for (let kh = 0; kh < KH; kh++) {
              const ih = oh * sh - ph + kh * dh;
              if (ih < 0 || ih >= H) continue;
              for (let kw = 0; kw < KW; kw++) {
                const iw = ow * sw - pw + kw * dw;
                if (iw < 0 || iw >= W) continue;
                visit(((n * C + c0 + c) * H + ih) * W + iw, ((o * Cg + c) * KH + kh) * KW + kw, yi);
              }
            }
        }
    }
}

function toDtype(acc: Float64Array, dtype: DType): TypedArray {
  const out = allocArray(dtype, acc.length);
  out.set(acc);
  return out;
}

export function conv2d(x: TensorInfo, w: TensorInfo, bias: TensorInfo | null, activation: FusedActivation, g: Conv2dGeometry, outShape: Shape): Buf {
  const X = x.buf as TypedArray;
  const Wt = w.buf as TypedArray;
  const acc = new Float64Array(sizeOf(outShape));
  convLoop(x.shape, w.shape, outShape, g, (xi, wi, yi) => {
    acc[yi] += X[xi] * Wt[wi];
  });
  const y = toDtype(acc, x.dtype);
  // The epilogue: the channel's bias, then the activation, each rounded to the output's dtype.
  const plane = outShape[2] * outShape[3];
  const B = bias ? (bias.buf as TypedArray) : null;
  const act = activation === 'linear' ? null : UNARY[activation];
  if (B || act) {
    for (let i = 0; i < y.length; i++) {
      if (B) y[i] = y[i] + B[Math.floor(i / plane) % outShape[1]];
      if (act) y[i] = act(y[i], 0);
    }
  }
  return y;
}

export function conv2dGradInput(dy: TensorInfo, w: TensorInfo, g: Conv2dGeometry, xShape: Shape): Buf {
  const DY = dy.buf as TypedArray;
  const Wt = w.buf as TypedArray;
  const acc = new Float64Array(sizeOf(xShape));
  convLoop(xShape, w.shape, dy.shape, g, (xi, wi, yi) => {
    acc[xi] += DY[yi] * Wt[wi];
  });
  return toDtype(acc, dy.dtype);
}

export function conv2dGradWeight(dy: TensorInfo, x: TensorInfo, g: Conv2dGeometry, wShape: Shape): Buf {
  const DY = dy.buf as TypedArray;
  const X = x.buf as TypedArray;
  const acc = new Float64Array(sizeOf(wShape));
  convLoop(x.shape, wShape, dy.shape, g, (xi, wi, yi) => {
    acc[wi] += DY[yi] * X[xi];
  });
  return toDtype(acc, dy.dtype);
}

/** Visits each pooling window: visit(plane, outIndex, inputIndices of the window's in-bounds cells). */
function poolLoop(xShape: Shape, g: Pool2dGeometry, outShape: Shape, visit: (plane: number, yi: number, cells: number[]) => void): void {
  const [N, C, H, W] = xShape;
  const [, , OH, OW] = outShape;
  const cells: number[] = [];
  for (let p = 0; p < N * C; p++)
    for (let oh = 0; oh < OH; oh++)
      for (let ow = 0; ow < OW; ow++) {
        cells.length = 0;
        for (let kh = 0; kh < g.kernel[0]; kh++) {
          const ih = oh * g.stride[0] - g.padding[0] + kh;
          if (ih < 0 || ih >= H) continue;
          for (let kw = 0; kw < g.kernel[1]; kw++) {
            const iw = ow * g.stride[1] - g.padding[1] + kw;
            if (iw >= 0 && iw < W) cells.push(ih * W + iw);
          }
        }
        visit(p, (p * OH + oh) * OW + ow, cells);
      }
}

export function maxPool2d(x: TensorInfo, g: Pool2dGeometry, outShape: Shape, withArgmax = true): { out: Buf; argmax: Buf | null } {
  const X = x.buf as TypedArray;
  const plane = x.shape[2] * x.shape[3];
  const out = allocArray(x.dtype, sizeOf(outShape));
  const argmax = new Int32Array(out.length);
  poolLoop(x.shape, g, outShape, (p, yi, cells) => {
    let best = cells[0];
    for (const c of cells) {
      const v = X[p * plane + c];
      if (v > X[p * plane + best] || v !== v) best = c;
      if (v !== v) break;
    }
    out[yi] = X[p * plane + best];
    argmax[yi] = best;
  });
  return { out, argmax: withArgmax ? argmax : null };
}

export function maxPool2dGrad(dy: TensorInfo, argmax: Buf, xShape: Shape): Buf {
  const DY = dy.buf as TypedArray;
  const arg = argmax as Int32Array;
  const plane = xShape[2] * xShape[3];
  const perPlane = dy.shape[2] * dy.shape[3];
  const dx = allocArray(dy.dtype, sizeOf(xShape));
  for (let yi = 0; yi < DY.length; yi++) dx[Math.floor(yi / perPlane) * plane + arg[yi]] += DY[yi];
  return dx;
}

export function avgPool2d(x: TensorInfo, g: Pool2dGeometry, outShape: Shape): Buf {
  const X = x.buf as TypedArray;
  const plane = x.shape[2] * x.shape[3];
  const area = g.kernel[0] * g.kernel[1];
  const out = allocArray(x.dtype, sizeOf(outShape));
  poolLoop(x.shape, g, outShape, (p, yi, cells) => {
    let s = 0;
    for (const c of cells) s += X[p * plane + c];
    out[yi] = s / area;
  });
  return out;
}

export function avgPool2dGrad(dy: TensorInfo, g: Pool2dGeometry, xShape: Shape): Buf {
  const DY = dy.buf as TypedArray;
  const plane = xShape[2] * xShape[3];
  const area = g.kernel[0] * g.kernel[1];
  const dx = allocArray(dy.dtype, sizeOf(xShape));
  poolLoop(xShape, g, dy.shape, (p, yi, cells) => {
    for (const c of cells) dx[p * plane + c] += DY[yi] / area;
  });
  return dx;
}
