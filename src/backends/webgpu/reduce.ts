// Reductions, arg-reductions, softmax and the fused softmax cross-entropy. Long rows get a
// workgroup of 64 threads each, combined in workgroup memory; short rows one thread each.
import type { ReduceOp, TensorInfo } from '../backend.js';
import { fmtShape } from '../../errors.js';
import { sizeOf, stridesOf } from '../../tensor/shape.js';
import type { GpuContext } from './device.js';
import type { GpuBuf } from './memory.js';
import { MAX_RANK, OFFSET, PRELUDE, WG_SCRATCH, wgCombine, bindings, groupsFor, kernel, stridedParams, wgslType } from './wgsl.js';

const WG = 64; // threads per row in the workgroup kernels, as WG_REDUCE

/** outer, n, inner around `axis`: element (o, k, i) sits at (o*n + k)*inner + i. */
function around(shape: readonly number[], axis: number): [number, number, number] {
  return [sizeOf(shape.slice(0, axis)), shape[axis], sizeOf(shape.slice(axis + 1))];
}

/** A 2-D grid of one workgroup per row. */
function rowGroups(rows: number): [number, number] {
  const x = Math.min(rows, 65535);
  return [x, Math.ceil(rows / x)];
}

export function reduce(ctx: GpuContext, op: ReduceOp, x: TensorInfo, axes: readonly number[]): GpuBuf {
  const label = `${op} ${fmtShape(x.shape)} axes ${fmtShape(axes)} ${x.dtype}`;
  const t = wgslType(op, x.dtype);
  const strides = stridesOf(x.shape);
  const kept = x.shape.map((_, i) => i).filter((i) => !axes.includes(i));
  const nOut = sizeOf(kept.map((i) => x.shape[i]));
  const nRed = sizeOf(axes.map((i) => x.shape[i]));
  // params: nOut, nRed, then the kept dims' layout (word 2) and the reduced dims' (word 3 + 2 MAX_RANK)
  const params = [
    ...stridedParams([nOut, nRed], kept.map((i) => x.shape[i]), kept.map((i) => strides[i])),
    ...stridedParams([], axes.map((i) => x.shape[i]), axes.map((i) => strides[i])),
  ];
  const redAt = 3 + 2 * MAX_RANK;
  const zero = `${t}(0)`;
  const combine = op === 'sum' ? 'acc + v' : `${op}(acc, v)`;
  const store = x.dtype === 'uint8' ? 'acc & 255u' : 'acc';
  const out = ctx.alloc(nOut, x.dtype);
  if (nRed <= WG || t !== 'f32') {
    const k = kernel(`reduce ${op} ${x.dtype} by thread`, () => `${PRELUDE}${OFFSET}
${bindings([['X', t, false], ['Y', t, true]])}
@compute @workgroup_size(256) fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat(gid, nwg);
  if (i >= pu(0u)) { return; }
  let base = stridedOffset(i, 2u);
  var acc = ${op === 'sum' ? zero : `X[base]`};
  for (var r = ${op === 'sum' ? 0 : 1}u; r < pu(1u); r++) {
    let v = X[u32(base + stridedOffset(r, ${redAt}u))];
    acc = ${combine};
  }
  Y[i] = ${store};
}`);
    ctx.launch(label, k, [x.buf as GpuBuf, out], params, groupsFor(nOut));
    return out;
  }
  const k = kernel(`reduce ${op} f32 by workgroup`, () => `${PRELUDE}${OFFSET}
${WG_SCRATCH}
${bindings([['X', 'f32', false], ['Y', 'f32', true]])}
@compute @workgroup_size(${WG}) fn main(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let row = wid.y * nwg.x + wid.x;
  if (row >= pu(0u)) { return; }
  let base = stridedOffset(row, 2u);
  var acc = X[u32(base + stridedOffset(lid, ${redAt}u))]; // nRed > ${WG}: every thread has an element
  for (var r = lid + ${WG}u; r < pu(1u); r += ${WG}u) {
    let v = X[u32(base + stridedOffset(r, ${redAt}u))];
    acc = ${combine};
  }
  ${wgCombine('total', 'acc', op === 'sum' ? (p, q) => `${p} + ${q}` : (p, q) => `${op}(${p}, ${q})`)}
  if (lid == 0u) { Y[row] = total; }
}`);
  ctx.launch(label, k, [x.buf as GpuBuf, out], params, rowGroups(nOut));
  return out;
}

export function argReduce(ctx: GpuContext, op: 'argmax' | 'argmin', x: TensorInfo, axis: number): GpuBuf {
  const t = wgslType(op, x.dtype);
  const [outer, n, inner] = around(x.shape, axis);
  const better = op === 'argmax' ? '>' : '<';
  const k = kernel(`${op} ${x.dtype}`, () => `${PRELUDE}
${bindings([['X', t, false], ['Y', 'i32', true]])}
@compute @workgroup_size(256) fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat(gid, nwg);
  if (i >= pu(0u)) { return; }
  let n = pu(1u);
  let inner = pu(2u);
  let base = (i / inner) * n * inner + i % inner;
  var best = 0u;
  var bestV = X[base];
  for (var k = 1u; k < n; k++) {
    let v = X[base + k * inner];
    if (v ${better} bestV) { best = k; bestV = v; } // strict: the first wins ties
  }
  Y[i] = i32(best);
}`);
  const out = ctx.alloc(outer * inner, 'int32');
  ctx.launch(`${op} ${fmtShape(x.shape)} axis ${axis}`, k, [x.buf as GpuBuf, out], [outer * inner, n, inner], groupsFor(outer * inner));
  return out;
}

/** WGSL: the row's max m (0 for a row of -inf, as the js backend) and log-sum-exp of x - m, over elements (o*n + k)*inner + i. */
const ROW_STATS = /* wgsl */ `
  var mt = -0x1.fffffep+127f;
  for (var k = lid; k < n; k += ${WG}u) { mt = max(mt, X[base + k * inner]); }
  ${wgCombine('rowMax', 'mt', (p, q) => `max(${p}, ${q})`)}
  let m = select(rowMax, 0.0, rowMax == -0x1.fffffep+127f); // a row of -inf: NaN, as the js backend, not inf - inf here
  var s = 0.0;
  for (var k = lid; k < n; k += ${WG}u) { s += exp(X[base + k * inner] - m); }
  ${wgCombine('rowSum', 's', (p, q) => `${p} + ${q}`)}
  let logS = log(rowSum);
`;

export function softmax(ctx: GpuContext, x: TensorInfo, axis: number, log: boolean): GpuBuf {
  wgslType('softmax', x.dtype);
  const [outer, n, inner] = around(x.shape, axis);
  const k = kernel(`softmax ${log}`, () => `${PRELUDE}
${WG_SCRATCH}
${bindings([['X', 'f32', false], ['Y', 'f32', true]])}
@compute @workgroup_size(${WG}) fn main(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let row = wid.y * nwg.x + wid.x;
  if (row >= pu(0u)) { return; }
  let n = pu(1u);
  let inner = pu(2u);
  let base = (row / inner) * n * inner + row % inner;
  ${ROW_STATS}
  for (var k = lid; k < n; k += ${WG}u) {
    let z = X[base + k * inner] - m;
    Y[base + k * inner] = ${log ? 'z - logS' : 'exp(z - logS)'};
  }
}`);
  const out = ctx.alloc(sizeOf(x.shape), x.dtype);
  const rows = outer * inner;
  ctx.launch(`${log ? 'logSoftmax' : 'softmax'} ${fmtShape(x.shape)} axis ${axis}`, k, [x.buf as GpuBuf, out], [rows, n, inner], rowGroups(rows));
  return out;
}

export function softmaxCrossEntropy(ctx: GpuContext, logits: TensorInfo, labels: TensorInfo): { losses: GpuBuf; grad: GpuBuf } {
  wgslType('softmaxCrossEntropy', logits.dtype);
  const [N, C] = logits.shape;
  const k = kernel('softmaxCrossEntropy', () => `${PRELUDE}
${WG_SCRATCH}
${bindings([['X', 'f32', false], ['Labels', 'i32', false], ['Loss', 'f32', true], ['Grad', 'f32', true]])}
@compute @workgroup_size(${WG}) fn main(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let row = wid.y * nwg.x + wid.x;
  if (row >= pu(0u)) { return; }
  let n = pu(1u);
  let inner = 1u;
  let base = row * n;
  ${ROW_STATS}
  let label = u32(Labels[row]);
  if (lid == 0u) { Loss[row] = logS - (X[base + label] - m); }
  for (var k = lid; k < n; k += ${WG}u) {
    Grad[base + k] = exp(X[base + k] - m - logS) - select(0.0, 1.0, k == label);
  }
}`);
  const losses = ctx.alloc(N, logits.dtype);
  const grad = ctx.alloc(N * C, logits.dtype);
  ctx.launch(`softmaxCrossEntropy ${fmtShape(logits.shape)} ${fmtShape(labels.shape)}`, k, [logits.buf as GpuBuf, labels.buf as GpuBuf, losses, grad], [N, C], rowGroups(N));
  return { losses, grad };
}
