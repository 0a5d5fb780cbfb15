// conv2d (NCHW) with its gradients, and max/average pooling with theirs: direct loops, one thread
// per output element of each kernel, every sum a thread's own (deterministic, no atomics).
// A plain first version: no im2col or implicit GEMM tiling yet.
import type { Conv2dGeometry, FusedActivation, Pool2dGeometry, TensorInfo } from '../backend.js';
import { fmtShape } from '../../errors.js';
import { type Shape, sizeOf } from '../../tensor/shape.js';
import type { GpuContext } from './device.js';
import type { GpuBuf } from './memory.js';
import { MATH, PRELUDE, bindings, groupsFor, kernel, wgslType } from './wgsl.js';

const buf = (x: TensorInfo) => x.buf as GpuBuf;

/** params: n, N C H W, O Cg KH KW, OH OW, stride, padding, dilation, O per group */
function convParams(n: number, xShape: Shape, wShape: Shape, yShape: Shape, g: Conv2dGeometry): number[] {
  return [n, ...xShape, ...wShape, yShape[2], yShape[3], ...g.stride, ...g.padding, ...g.dilation, wShape[0] / g.groups];
}

const CONV_PARAMS = /* wgsl */ `
fn N() -> i32 { return pi(1u); } fn C() -> i32 { return pi(2u); } fn H() -> i32 { return pi(3u); } fn W() -> i32 { return pi(4u); }
fn O() -> i32 { return pi(5u); } fn CG() -> i32 { return pi(6u); } fn KH() -> i32 { return pi(7u); } fn KW() -> i32 { return pi(8u); }
fn OH() -> i32 { return pi(9u); } fn OW() -> i32 { return pi(10u); } fn SH() -> i32 { return pi(11u); } fn SW() -> i32 { return pi(12u); }
fn PH() -> i32 { return pi(13u); } fn PW() -> i32 { return pi(14u); } fn DH() -> i32 { return pi(15u); } fn DW() -> i32 { return pi(16u); }
fn OG() -> i32 { return pi(17u); }
`;

export function conv2d(ctx: GpuContext, x: TensorInfo, w: TensorInfo, bias: TensorInfo | null, activation: FusedActivation, g: Conv2dGeometry, outShape: Shape): GpuBuf {
  wgslType('conv2d', x.dtype);
  const act = activation === 'linear' ? 'v' : activation === 'relu' ? 'reluf(v)' : activation === 'sigmoid' ? 'sigmoidf(v)' : 'tanhf(v)';
  const k = kernel(`conv2d ${bias !== null} ${activation}`, () => `${PRELUDE}${MATH}${CONV_PARAMS}
${bindings([['X', 'f32', false], ['Wt', 'f32', false], ...(bias ? [['Bias', 'f32', false] as [string, string, boolean]] : []), ['Y', 'f32', true]])}
@compute @workgroup_size(256) fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let e = flat(gid, nwg);
  if (e >= pu(0u)) { return; }
  let i = i32(e);
  let ow = i % OW(); let oh = (i / OW()) % OH(); let o = (i / OW() / OH()) % O(); let n = i / OW() / OH() / O();
  let c0 = (o / OG()) * CG();
  var acc = 0.0;
  for (var c = 0; c < CG(); c++) {
    for (var kh = 0; kh < KH(); kh++) {
      let ih = oh * SH() - PH() + kh * DH();
      if (ih < 0 || ih >= H()) { continue; }
      for (var kw = 0; kw < KW(); kw++) {
        let iw = ow * SW() - PW() + kw * DW();
        if (iw < 0 || iw >= W()) { continue; }
        acc += X[((n * C() + c0 + c) * H() + ih) * W() + iw] * Wt[((o * CG() + c) * KH() + kh) * KW() + kw];
      }
    }
  }
  let v = acc${bias ? ' + Bias[o]' : ''};
  Y[e] = ${act};
}`);
  const n = sizeOf(outShape);
  const out = ctx.alloc(n, x.dtype);
  const bufs = [buf(x), buf(w), ...(bias ? [buf(bias)] : []), out];
  ctx.launch(`conv2d ${fmtShape(x.shape)} * ${fmtShape(w.shape)}`, k, bufs, convParams(n, x.shape, w.shape, outShape, g), groupsFor(n));
  return out;
}

// dx[n, c, ih, iw] = sum over the group's o and the taps (kh, kw) that reach it of dy[n, o, oh, ow] w[o, c % Cg, kh, kw]
const GRAD_INPUT = kernel('conv2dGradInput', () => `${PRELUDE}${CONV_PARAMS}
${bindings([['DY', 'f32', false], ['Wt', 'f32', false], ['DX', 'f32', true]])}
@compute @workgroup_size(256) fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let e = flat(gid, nwg);
  if (e >= pu(0u)) { return; }
  let i = i32(e);
  let iw = i % W(); let ih = (i / W()) % H(); let c = (i / W() / H()) % C(); let n = i / W() / H() / C();
  let o0 = (c / CG()) * OG();
  let cc = c % CG();
  var acc = 0.0;
  for (var kh = 0; kh < KH(); kh++) {
    let th = ih + PH() - kh * DH();
    if (th < 0 || th % SH() != 0 || th / SH() >= OH()) { continue; }
    for (var kw = 0; kw < KW(); kw++) {
      let tw = iw + PW() - kw * DW();
      if (tw < 0 || tw % SW() != 0 || tw / SW() >= OW()) { continue; }
      for (var o = o0; o < o0 + OG(); o++) {
        acc += DY[((n * O() + o) * OH() + th / SH()) * OW() + tw / SW()] * Wt[((o * CG() + cc) * KH() + kh) * KW() + kw];
      }
    }
  }
  DX[e] = acc;
}`);

export function conv2dGradInput(ctx: GpuContext, dy: TensorInfo, w: TensorInfo, g: Conv2dGeometry, xShape: Shape): GpuBuf {
  wgslType('conv2dGradInput', dy.dtype);
  const n = sizeOf(xShape);
  const out = ctx.alloc(n, dy.dtype);
  ctx.launch(`conv2dGradInput ${fmtShape(dy.shape)} * ${fmtShape(w.shape)}`, GRAD_INPUT, [buf(dy), buf(w), out], convParams(n, xShape, w.shape, dy.shape, g), groupsFor(n));
  return out;
}

// dw[o, cc, kh, kw] = sum over n, oh, ow of dy[n, o, oh, ow] x[n, group's c0 + cc, ih, iw]
const GRAD_WEIGHT = kernel('conv2dGradWeight', () => `${PRELUDE}${CONV_PARAMS}
${bindings([['DY', 'f32', false], ['X', 'f32', false], ['GradW', 'f32', true]])}
@compute @workgroup_size(256) fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let e = flat(gid, nwg);
  if (e >= pu(0u)) { return; }
  let i = i32(e);
  let kw = i % KW(); let kh = (i / KW()) % KH(); let cc = (i / KW() / KH()) % CG(); let o = i / KW() / KH() / CG();
  let c = (o / OG()) * CG() + cc;
  var acc = 0.0;
  for (var n = 0; n < N(); n++) {
    for (var oh = 0; oh < OH(); oh++) {
      let ih = oh * SH() - PH() + kh * DH();
      if (ih < 0 || ih >= H()) { continue; }
      for (var ow = 0; ow < OW(); ow++) {
        let iw = ow * SW() - PW() + kw * DW();
        if (iw < 0 || iw >= W()) { continue; }
        acc += DY[((n * O() + o) * OH() + oh) * OW() + ow] * X[((n * C() + c) * H() + ih) * W() + iw];
      }
    }
  }
  GradW[e] = acc;
}`);

export function conv2dGradWeight(ctx: GpuContext, dy: TensorInfo, x: TensorInfo, g: Conv2dGeometry, wShape: Shape): GpuBuf {
  wgslType('conv2dGradWeight', dy.dtype);
  const n = sizeOf(wShape);
  const out = ctx.alloc(n, dy.dtype);
  ctx.launch(`conv2dGradWeight ${fmtShape(dy.shape)} x ${fmtShape(x.shape)}`, GRAD_WEIGHT, [buf(dy), buf(x), out], convParams(n, x.shape, wShape, dy.shape, g), groupsFor(n));
  return out;
}

/** params: n, H W, OH OW, KH KW, SH SW, PH PW */
function poolParams(n: number, xShape: Shape, yShape: Shape, g: Pool2dGeometry): number[] {
  return [n, xShape[2], xShape[3], yShape[2], yShape[3], ...g.kernel, ...g.stride, ...g.padding];
}

const POOL_PARAMS = /* wgsl */ `
fn H() -> i32 { return pi(1u); } fn W() -> i32 { return pi(2u); } fn OH() -> i32 { return pi(3u); } fn OW() -> i32 { return pi(4u); }
fn KH() -> i32 { return pi(5u); } fn KW() -> i32 { return pi(6u); } fn SH() -> i32 { return pi(7u); } fn SW() -> i32 { return pi(8u); }
fn PH() -> i32 { return pi(9u); } fn PW() -> i32 { return pi(10u); }
`;

/** WGSL: the output element's plane p and window origin (h0, w0). */
const POOL_WINDOW = `let i = i32(e);
  let ow = i % OW(); let oh = (i / OW()) % OH(); let p = i / OW() / OH();
  let h0 = oh * SH() - PH(); let w0 = ow * SW() - PW();
  let plane = p * H() * W();`;

const MAX_POOL = kernel('maxPool2d', () => `${PRELUDE}${POOL_PARAMS}
${bindings([['X', 'f32', false], ['Y', 'f32', true], ['Arg', 'i32', true]])}
@compute @workgroup_size(256) fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let e = flat(gid, nwg);
  if (e >= pu(0u)) { return; }
  ${POOL_WINDOW}
  var best = -1;
  var bestV = 0.0;
  for (var kh = 0; kh < KH(); kh++) {
    let ih = h0 + kh;
    if (ih < 0 || ih >= H()) { continue; }
    for (var kw = 0; kw < KW(); kw++) {
      let iw = w0 + kw;
      if (iw < 0 || iw >= W()) { continue; }
      let v = X[plane + ih * W() + iw];
      if (best < 0 || v > bestV) { best = ih * W() + iw; bestV = v; } // strict: the first wins ties
    }
  }
  Y[e] = bestV;
  Arg[e] = best;
}`);

export function maxPool2d(ctx: GpuContext, x: TensorInfo, g: Pool2dGeometry, outShape: Shape, withArgmax = true): { out: GpuBuf; argmax: GpuBuf | null } {
  wgslType('maxPool2d', x.dtype);
  const n = sizeOf(outShape);
  const out = ctx.alloc(n, x.dtype);
  const argmax = ctx.alloc(n, 'int32');
  ctx.launch(`maxPool2d ${fmtShape(x.shape)} kernel ${fmtShape(g.kernel)}`, MAX_POOL, [buf(x), out, argmax], poolParams(n, x.shape, outShape, g), groupsFor(n));
  if (withArgmax) return { out, argmax };
  ctx.pool.recycle(argmax);
  return { out, argmax: null };
}

// One thread per plane adds its outputs' gradients at their argmax: sequential within a plane,
// so overlapping windows need no atomics (maxPool2dGrad gets no geometry to invert the windows).
const MAX_POOL_GRAD = kernel('maxPool2dGrad', () => `${PRELUDE}
${bindings([['DY', 'f32', false], ['Arg', 'i32', false], ['DX', 'f32', true]])}
@compute @workgroup_size(64) fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let p = gid.x;
  if (p >= pu(0u)) { return; }
  let plane = pu(1u); let perPlane = pu(2u);
  for (var c = 0u; c < plane; c++) { DX[p * plane + c] = 0.0; }
  for (var y = p * perPlane; y < (p + 1u) * perPlane; y++) {
    let at = p * plane + u32(Arg[y]);
    DX[at] = DX[at] + DY[y];
  }
}`);

export function maxPool2dGrad(ctx: GpuContext, dy: TensorInfo, argmax: GpuBuf, xShape: Shape): GpuBuf {
  wgslType('maxPool2dGrad', dy.dtype);
  const planes = xShape[0] * xShape[1];
  const out = ctx.alloc(sizeOf(xShape), dy.dtype);
  const params = [planes, xShape[2] * xShape[3], dy.shape[2] * dy.shape[3]];
  ctx.launch(`maxPool2dGrad ${fmtShape(dy.shape)} to ${fmtShape(xShape)}`, MAX_POOL_GRAD, [buf(dy), argmax, out], params, [Math.ceil(planes / 64)]);
  return out;
}

const AVG_POOL = kernel('avgPool2d', () => `${PRELUDE}${POOL_PARAMS}
${bindings([['X', 'f32', false], ['Y', 'f32', true]])}
@compute @workgroup_size(256) fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let e = flat(gid, nwg);
  if (e >= pu(0u)) { return; }
  ${POOL_WINDOW}
  var s = 0.0;
  for (var kh = 0; kh < KH(); kh++) {
    let ih = h0 + kh;
    if (ih < 0 || ih >= H()) { continue; }
    for (var kw = 0; kw < KW(); kw++) {
      let iw = w0 + kw;
      if (iw >= 0 && iw < W()) { s += X[plane + ih * W() + iw]; }
    }
  }
  Y[e] = s / f32(KH() * KW()); // padding counts toward the divisor
}`);

export function avgPool2d(ctx: GpuContext, x: TensorInfo, g: Pool2dGeometry, outShape: Shape): GpuBuf {
  wgslType('avgPool2d', x.dtype);
  const n = sizeOf(outShape);
  const out = ctx.alloc(n, x.dtype);
  ctx.launch(`avgPool2d ${fmtShape(x.shape)} kernel ${fmtShape(g.kernel)}`, AVG_POOL, [buf(x), out], poolParams(n, x.shape, outShape, g), groupsFor(n));
  return out;
}

// dx[p, ih, iw] = sum over the windows holding it of dy / (KH KW)
const AVG_POOL_GRAD = kernel('avgPool2dGrad', () => `${PRELUDE}${POOL_PARAMS}
${bindings([['DY', 'f32', false], ['DX', 'f32', true]])}
@compute @workgroup_size(256) fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let e = flat(gid, nwg);
  if (e >= pu(0u)) { return; }
  let i = i32(e);
  let iw = i % W(); let ih = (i / W()) % H(); let p = i / W() / H();
  var s = 0.0;
  for (var kh = 0; kh < KH(); kh++) {
    let th = ih + PH() - kh;
    if (th < 0 || th % SH() != 0 || th / SH() >= OH()) { continue; }
    for (var kw = 0; kw < KW(); kw++) {
      let tw = iw + PW() - kw;
      if (tw < 0 || tw % SW() != 0 || tw / SW() >= OW()) { continue; }
      s += DY[(p * OH() + th / SH()) * OW() + tw / SW()];
    }
  }
  DX[e] = s / f32(KH() * KW());
}`);

export function avgPool2dGrad(ctx: GpuContext, dy: TensorInfo, g: Pool2dGeometry, xShape: Shape): GpuBuf {
  wgslType('avgPool2dGrad', dy.dtype);
  const n = sizeOf(xShape);
  const out = ctx.alloc(n, dy.dtype);
  ctx.launch(`avgPool2dGrad ${fmtShape(dy.shape)} to ${fmtShape(xShape)}`, AVG_POOL_GRAD, [buf(dy), out], poolParams(n, xShape, dy.shape, g), groupsFor(n));
  return out;
}
