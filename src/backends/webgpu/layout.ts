// Layout kernels: copying a strided view of storage into contiguous storage (readView) and
// back into a view of an existing buffer (writeView). Transpose, slice, expand, pad and concat
// are all these two, so no other kernel takes strides.
import type { TensorInfo } from '../backend.js';
import { fail, fmtShape } from '../../errors.js';
import type { DType } from '../../tensor/dtype.js';
import { type Shape, sizeOf } from '../../tensor/shape.js';
import type { GpuContext } from './device.js';
import type { GpuBuf } from './memory.js';
import { PRELUDE, bindings, groupsFor, kernel, stridedOffsets, stridedParams, wgslType } from './wgsl.js';

// Elements are moved as u32 bits, so one kernel serves every dtype.
const READ_VIEW = kernel('readView', () => `${PRELUDE}
${bindings([['X', 'u32', false], ['Y', 'u32', true]])}
@compute @workgroup_size(256) fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat(gid, nwg);
  if (i >= pu(0u)) { return; }
  ${stridedOffsets(2, 1)}
  Y[i] = X[u32(pi(1u) + o0)];
}`);

const WRITE_VIEW = kernel('writeView', () => `${PRELUDE}
${bindings([['X', 'u32', false], ['Y', 'u32', true]])}
@compute @workgroup_size(256) fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat(gid, nwg);
  if (i >= pu(0u)) { return; }
  ${stridedOffsets(2, 1)}
  Y[u32(pi(1u) + o0)] = X[i];
}`);

export function readView(ctx: GpuContext, x: TensorInfo, shape: Shape, strides: readonly number[], offset: number): GpuBuf {
  wgslType('readView', x.dtype);
  const n = sizeOf(shape);
  const out = ctx.alloc(n, x.dtype);
  const label = `readView ${fmtShape(x.shape)} as ${fmtShape(shape)} strides ${fmtShape(strides)} offset ${offset}`;
  ctx.launch(label, READ_VIEW, [x.buf as GpuBuf, out], stridedParams([n, offset], shape, strides), groupsFor(n));
  return out;
}

export function writeView(ctx: GpuContext, dst: GpuBuf, dstDtype: DType, shape: Shape, strides: readonly number[], offset: number, x: TensorInfo): void {
  wgslType('writeView', dstDtype);
  // elements move as raw bits, so a dtype change here would be a silent reinterpretation
  if (x.dtype !== dstDtype) fail('writeView', `source ${x.dtype} ${fmtShape(x.shape)} differs from the destination's ${dstDtype}`);
  const n = sizeOf(shape);
  const label = `writeView ${fmtShape(x.shape)} into strides ${fmtShape(strides)} offset ${offset}`;
  ctx.launch(label, WRITE_VIEW, [x.buf as GpuBuf, dst], stridedParams([n, offset], shape, strides), groupsFor(n));
  dst.host = null; // written in place: a host copy would be stale
}
