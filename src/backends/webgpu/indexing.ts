// Indexing kernels: gather/scatterAdd (torch.gather's map) and indexSelect/indexAdd (whole
// slices along an axis). The op layer has checked every index. The adds run one thread per
// output element, looping over the index entries that could land on it: deterministic, no
// float atomics (WGSL has none), at O(output x index length along the axis) work.
import type { TensorInfo } from '../backend.js';
import { fmtShape } from '../../errors.js';
import type { DType } from '../../tensor/dtype.js';
import { type Shape, sizeOf, stridesOf } from '../../tensor/shape.js';
import type { GpuContext } from './device.js';
import type { GpuBuf } from './memory.js';
import { MAX_RANK, PRELUDE, bindings, groupsFor, kernel, stridedOffsets, stridedParams, wgslType } from './wgsl.js';

const buf = (x: TensorInfo) => x.buf as GpuBuf;

/** outer, n, inner around `axis`: element (o, k, i) sits at (o*n + k)*inner + i. */
function around(shape: readonly number[], axis: number): [number, number, number] {
  return [sizeOf(shape.slice(0, axis)), shape[axis], sizeOf(shape.slice(axis + 1))];
}

const GATHER = kernel('gather', () => `${PRELUDE}
${bindings([['X', 'u32', false], ['Index', 'i32', false], ['Y', 'u32', true]])}
@compute @workgroup_size(256) fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat(gid, nwg);
  if (i >= pu(0u)) { return; }
  ${stridedOffsets(2, 1)}
  Y[i] = X[u32(o0 + Index[i] * pi(1u))];
}`);

export function gather(ctx: GpuContext, x: TensorInfo, axis: number, index: TensorInfo): GpuBuf {
  wgslType('gather', x.dtype);
  const strides = stridesOf(x.shape);
  const n = sizeOf(index.shape);
  const out = ctx.alloc(n, x.dtype);
  const params = stridedParams([n, strides[axis]], index.shape, strides.map((s, d) => (d === axis ? 0 : s)));
  ctx.launch(`gather ${fmtShape(x.shape)} axis ${axis} index ${fmtShape(index.shape)}`, GATHER, [buf(x), buf(index), out], params, groupsFor(n));
  return out;
}

/** The element types an add can sum. */
function sumType(op: string, dtype: DType): string {
  const t = wgslType(op, dtype);
  return t === 'u32' && dtype !== 'uint8' ? wgslType(op, 'float64') : t; // bool has no sum
}

export function scatterAdd(ctx: GpuContext, shape: Shape, dtype: DType, axis: number, index: TensorInfo, src: TensorInfo): GpuBuf {
  const t = sumType('scatterAdd', dtype);
  // params: n, axis, rank, out shape[8], index shape[8], index strides[8]
  const k = kernel(`scatterAdd ${dtype}`, () => `${PRELUDE}
${bindings([['Index', 'i32', false], ['Src', t, false], ['Y', t, true]])}
@compute @workgroup_size(256) fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let o = flat(gid, nwg);
  if (o >= pu(0u)) { return; }
  let axis = pu(1u);
  let rank = pu(2u);
  // o's coordinates; the index entries that can land here share them off the axis
  var rem = o; var base = 0u; var want = 0i; var inside = true;
  for (var d = i32(rank) - 1; d >= 0; d--) {
    let s = pu(3u + u32(d)); let c = rem % s; rem = rem / s;
    if (u32(d) == axis) { want = i32(c); }
    else { inside = inside && c < pu(${3 + MAX_RANK}u + u32(d)); base += c * pu(${3 + 2 * MAX_RANK}u + u32(d)); }
  }
  var acc = ${t}(0);
  if (inside) {
    let step = pu(${3 + 2 * MAX_RANK}u + axis);
    for (var j = 0u; j < pu(${3 + MAX_RANK}u + axis); j++) {
      let i = base + j * step;
      if (Index[i] == want) { acc += Src[i]; }
    }
  }
  Y[o] = ${dtype === 'uint8' ? 'acc & 255u' : 'acc'};
}`);
  const n = sizeOf(shape);
  const out = ctx.alloc(n, dtype);
  const pad = (a: readonly number[]) => [...a, ...new Array(MAX_RANK - a.length).fill(0)];
  const params = [n, axis, shape.length, ...pad(shape), ...pad(index.shape), ...pad(stridesOf(index.shape))];
  ctx.launch(`scatterAdd ${fmtShape(shape)} axis ${axis} index ${fmtShape(index.shape)}`, k, [buf(index), buf(src), out], params, groupsFor(n));
  return out;
}

const INDEX_SELECT = kernel('indexSelect', () => `${PRELUDE}
${bindings([['X', 'u32', false], ['Index', 'i32', false], ['Y', 'u32', true]])}
@compute @workgroup_size(256) fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let e = flat(gid, nwg);
  if (e >= pu(0u)) { return; }
  let m = pu(1u); let n = pu(2u); let inner = pu(3u);
  let t = e % inner; let j = (e / inner) % m; let o = e / (inner * m);
  Y[e] = X[(o * n + u32(Index[j])) * inner + t];
}`);

export function indexSelect(ctx: GpuContext, x: TensorInfo, axis: number, index: TensorInfo): GpuBuf {
  wgslType('indexSelect', x.dtype);
  const [outer, n, inner] = around(x.shape, axis);
  const m = sizeOf(index.shape);
  const size = outer * m * inner;
  const out = ctx.alloc(size, x.dtype);
  ctx.launch(`indexSelect ${fmtShape(x.shape)} axis ${axis} index ${fmtShape(index.shape)}`, INDEX_SELECT, [buf(x), buf(index), out], [size, m, n, inner], groupsFor(size));
  return out;
}

export function indexAdd(ctx: GpuContext, shape: Shape, dtype: DType, axis: number, index: TensorInfo, src: TensorInfo): GpuBuf {
  const t = sumType('indexAdd', dtype);
  const k = kernel(`indexAdd ${dtype}`, () => `${PRELUDE}
${bindings([['Index', 'i32', false], ['Src', t, false], ['Y', t, true]])}
@compute @workgroup_size(256) fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let e = flat(gid, nwg);
  if (e >= pu(0u)) { return; }
  let m = pu(1u); let n = pu(2u); let inner = pu(3u);
  let t = e % inner; let r = i32((e / inner) % n); let o = e / (inner * n);
  var acc = ${t}(0);
  for (var j = 0u; j < m; j++) {
    if (Index[j] == r) { acc += Src[(o * m + j) * inner + t]; }
  }
  Y[e] = ${dtype === 'uint8' ? 'acc & 255u' : 'acc'};
}`);
  const [outer, n, inner] = around(shape, axis);
  const m = sizeOf(index.shape);
  const size = outer * n * inner;
  const out = ctx.alloc(size, dtype);
  ctx.launch(`indexAdd ${fmtShape(shape)} axis ${axis} index ${fmtShape(index.shape)}`, k, [buf(index), buf(src), out], [size, m, n, inner], groupsFor(size));
  return out;
}
