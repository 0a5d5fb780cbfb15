// LayerNorm over the last axis, forward and backward. One 64-thread workgroup per row for the
// row statistics (two passes over the row: the mean, then the variance about it, as the js
// reference); dgamma and dbeta are sums over rows, one thread per column, in a second kernel.
import type { TensorInfo } from '../backend.js';
import { fmtShape } from '../../errors.js';
import { sizeOf } from '../../tensor/shape.js';
import type { GpuContext } from './device.js';
import type { GpuBuf } from './memory.js';
import { PRELUDE, WG_SCRATCH, bindings, f32Bits, groupsFor, kernel, wgCombine, wgslType } from './wgsl.js';

const WG = 64;
const sum = (a: string, b: string) => `${a} + ${b}`;

function rowGroups(rows: number): [number, number] {
  const x = Math.min(rows, 65535);
  return [x, Math.ceil(rows / x)];
}

export function layerNorm(ctx: GpuContext, x: TensorInfo, gamma: TensorInfo | null, beta: TensorInfo | null, eps: number): { out: GpuBuf; mean: GpuBuf; rstd: GpuBuf } {
  wgslType('layerNorm', x.dtype);
  const C = x.shape[x.shape.length - 1];
  const rows = C > 0 ? sizeOf(x.shape) / C : 0;
  const affine = (gamma ? 'g' : '') + (beta ? 'b' : '');
  const k = kernel(`layerNorm ${affine}`, () => `${PRELUDE}
${bindings([['X', 'f32', false], ...(gamma ? [['Gamma', 'f32', false] as [string, string, boolean]] : []), ...(beta ? [['Beta', 'f32', false] as [string, string, boolean]] : []),
    ['Y', 'f32', true], ['Mean', 'f32', true], ['Rstd', 'f32', true]])}
${WG_SCRATCH}
@compute @workgroup_size(${WG}) fn main(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let row = wid.y * nwg.x + wid.x;
  if (row >= pu(0u)) { return; }
  let C = pu(1u);
  let o = row * C;
  var s = 0.0;
  for (var j = lid; j < C; j += ${WG}u) { s += X[o + j]; }
  ${wgCombine('total', 's', sum)}
  let m = total / f32(C);
  var v = 0.0;
  for (var j = lid; j < C; j += ${WG}u) { let d = X[o + j] - m; v += d * d; }
  ${wgCombine('squares', 'v', sum)}
  let rs = 1.0 / sqrt(squares / f32(C) + pf(2u));
  if (lid == 0u) { Mean[row] = m; Rstd[row] = rs; }
  for (var j = lid; j < C; j += ${WG}u) {
    Y[o + j] = (X[o + j] - m) * rs${gamma ? ' * Gamma[j]' : ''}${beta ? ' + Beta[j]' : ''};
  }
}`);
  const out = ctx.alloc(sizeOf(x.shape), x.dtype);
  const mean = ctx.alloc(rows, x.dtype);
  const rstd = ctx.alloc(rows, x.dtype);
  const bufs = [x, gamma, beta].filter((t): t is TensorInfo => t !== null).map((t) => t.buf as GpuBuf);
  ctx.launch(`layerNorm ${fmtShape(x.shape)}`, k, [...bufs, out, mean, rstd], [rows, C, f32Bits(eps)], rowGroups(rows));
  return { out, mean, rstd };
}

export function layerNormGrad(ctx: GpuContext, dOut: TensorInfo, x: TensorInfo, mean: TensorInfo, rstd: TensorInfo, gamma: TensorInfo | null): { dx: GpuBuf; dgamma: GpuBuf; dbeta: GpuBuf } {
  wgslType('layerNormGrad', x.dtype);
  const C = x.shape[x.shape.length - 1];
  const rows = C > 0 ? sizeOf(x.shape) / C : 0;
  const g = gamma ? ' * Gamma[j]' : '';
  // dx = rstd (dn - mean(dn) - xhat mean(dn xhat)), xhat = (x - mean) rstd, dn = dy gamma
  const rowKernel = kernel(`layerNormGrad rows ${gamma !== null}`, () => `${PRELUDE}
${bindings([['DY', 'f32', false], ['X', 'f32', false], ['Mean', 'f32', false], ['Rstd', 'f32', false],
    ...(gamma ? [['Gamma', 'f32', false] as [string, string, boolean]] : []), ['DX', 'f32', true]])}
${WG_SCRATCH}
@compute @workgroup_size(${WG}) fn main(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let row = wid.y * nwg.x + wid.x;
  if (row >= pu(0u)) { return; }
  let C = pu(1u);
  let o = row * C;
  let m = Mean[row];
  let rs = Rstd[row];
  var sdn = 0.0;
  var sdnh = 0.0;
  for (var j = lid; j < C; j += ${WG}u) {
    let dn = DY[o + j]${g};
    sdn += dn;
    sdnh += dn * (X[o + j] - m) * rs;
  }
  ${wgCombine('sumDn', 'sdn', sum)}
  ${wgCombine('sumDnXhat', 'sdnh', sum)}
  let meanDn = sumDn / f32(C);
  let meanDnXhat = sumDnXhat / f32(C);
  for (var j = lid; j < C; j += ${WG}u) {
    DX[o + j] = rs * (DY[o + j]${g} - meanDn - (X[o + j] - m) * rs * meanDnXhat);
  }
}`);
  const columnKernel = kernel('layerNormGrad columns', () => `${PRELUDE}
${bindings([['DY', 'f32', false], ['X', 'f32', false], ['Mean', 'f32', false], ['Rstd', 'f32', false], ['DGamma', 'f32', true], ['DBeta', 'f32', true]])}
@compute @workgroup_size(256) fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let j = flat(gid, nwg);
  let C = pu(1u);
  if (j >= C) { return; }
  var dg = 0.0;
  var db = 0.0;
  for (var r = 0u; r < pu(0u); r++) {
    let dy = DY[r * C + j];
    dg += dy * (X[r * C + j] - Mean[r]) * Rstd[r];
    db += dy;
  }
  DGamma[j] = dg;
  DBeta[j] = db;
}`);
  const [dy, xb, mb, rb] = [dOut, x, mean, rstd].map((t) => t.buf as GpuBuf);
  const dx = ctx.alloc(sizeOf(x.shape), x.dtype);
  const dgamma = ctx.alloc(C, x.dtype);
  const dbeta = ctx.alloc(C, x.dtype);
  const label = `layerNormGrad ${fmtShape(x.shape)}`;
  ctx.launch(label, rowKernel, [dy, xb, mb, rb, ...(gamma ? [gamma.buf as GpuBuf] : []), dx], [rows, C], rowGroups(rows));
  ctx.launch(label, columnKernel, [dy, xb, mb, rb, dgamma, dbeta], [rows, C], groupsFor(C));
  return { dx, dgamma, dbeta };
}
