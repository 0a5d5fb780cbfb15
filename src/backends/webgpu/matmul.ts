// Batched GEMM: out[b, m, n] = sum_k op(A)[b, m, k] op(B)[b, k, n], transposes read through
// strides. Tiled and register-blocked: a 16x16 workgroup computes a 64x64 tile of C, each thread
// a 4x4 block, staging 64x16 tiles of A and B in workgroup memory; batches are the grid's z.
import type { TensorInfo } from '../backend.js';
import { fail, fmtShape } from '../../errors.js';
import { type Shape, broadcastStrides, sizeOf } from '../../tensor/shape.js';
import type { GpuContext } from './device.js';
import type { GpuBuf } from './memory.js';
import { PRELUDE, bindings, kernel, wgslType } from './wgsl.js';

const TILE = 64; // the tile of C per workgroup (TILE x TILE)
const TK = 16; // the depth of one staged tile of A and B
const MAX_BATCH_RANK = 4;

// params: M N K, A's (i, k) strides, B's (k, j) strides, batch rank, batch shape[4], A's and B's batch strides[4]
const GEMM = kernel('matmul', () => `${PRELUDE}
${bindings([['A', 'f32', false], ['B', 'f32', false], ['C', 'f32', true]])}
var<workgroup> As: array<vec4<f32>, ${TK * TILE / 4}>; // As[k * 16 + m / 4][m % 4]
var<workgroup> Bs: array<vec4<f32>, ${TK * TILE / 4}>; // Bs[k * 16 + n / 4][n % 4]

@compute @workgroup_size(16, 16) fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  let M = pu(0u); let N = pu(1u); let K = pu(2u);
  let sai = pu(3u); let sak = pu(4u); let sbk = pu(5u); let sbj = pu(6u);
  // this batch's matrices, through the broadcast batch strides
  var offA = 0u; var offB = 0u; var rem = wid.z;
  for (var d = i32(pu(7u)) - 1; d >= 0; d--) {
    let s = pu(8u + u32(d)); let c = rem % s; rem = rem / s;
    offA += c * pu(12u + u32(d)); offB += c * pu(16u + u32(d));
  }
  let offC = wid.z * M * N;
  let tid = lid.y * 16u + lid.x;
  let row0 = wid.y * ${TILE}u;
  let col0 = wid.x * ${TILE}u;
  // rows lid.y*4 .. +3 of the tile, one vec4 of 4 columns each: the 4x4 block in registers,
  // written out as straight-line vector code (an indexed array spilled to memory on lavapipe)
  var acc0 = vec4<f32>(); var acc1 = vec4<f32>(); var acc2 = vec4<f32>(); var acc3 = vec4<f32>();
  for (var k0 = 0u; k0 < K; k0 += ${TK}u) {
    // 1024 elements of each tile, 4 per thread; the fast index follows the operand's contiguous axis
    for (var l = 0u; l < 4u; l++) {
      let e = tid + l * 256u;
      var m: u32; var ka: u32;
      if (sak == 1u) { m = e / ${TK}u; ka = e % ${TK}u; } else { m = e % ${TILE}u; ka = e / ${TILE}u; }
      var va = 0.0;
      if (row0 + m < M && k0 + ka < K) { va = A[offA + (row0 + m) * sai + (k0 + ka) * sak]; }
      As[ka * 16u + m / 4u][m % 4u] = va;
      var n: u32; var kb: u32;
      if (sbj == 1u) { n = e % ${TILE}u; kb = e / ${TILE}u; } else { n = e / ${TK}u; kb = e % ${TK}u; }
      var vb = 0.0;
      if (col0 + n < N && k0 + kb < K) { vb = B[offB + (k0 + kb) * sbk + (col0 + n) * sbj]; }
      Bs[kb * 16u + n / 4u][n % 4u] = vb;
    }
    workgroupBarrier();
    for (var k = 0u; k < ${TK}u; k++) {
      let a = As[k * 16u + lid.y];
      let b = Bs[k * 16u + lid.x];
      acc0 = fma(vec4<f32>(a.x), b, acc0);
      acc1 = fma(vec4<f32>(a.y), b, acc1);
      acc2 = fma(vec4<f32>(a.z), b, acc2);
      acc3 = fma(vec4<f32>(a.w), b, acc3);
    }
    workgroupBarrier();
  }
  let r0 = row0 + lid.y * 4u;
  let c0 = col0 + lid.x * 4u;
  let rows = array<vec4<f32>, 4>(acc0, acc1, acc2, acc3);
  for (var i = 0u; i < 4u; i++) {
    for (var j = 0u; j < 4u; j++) {
      if (r0 + i < M && c0 + j < N) { C[offC + (r0 + i) * N + c0 + j] = rows[i][j]; }
    }
  }
}`);

export function matmul(ctx: GpuContext, a: TensorInfo, b: TensorInfo, transA: boolean, transB: boolean, outShape: Shape): GpuBuf {
  const label = `matmul ${fmtShape(a.shape)}${transA ? 'T' : ''} x ${fmtShape(b.shape)}${transB ? 'T' : ''}`;
  wgslType('matmul', a.dtype);
  const r = outShape.length;
  const M = outShape[r - 2];
  const N = outShape[r - 1];
  const K = transA ? a.shape[a.shape.length - 2] : a.shape[a.shape.length - 1];
  const batch = outShape.slice(0, r - 2);
  if (batch.length > MAX_BATCH_RANK) fail('matmul', `${label}: more than ${MAX_BATCH_RANK} batch dimensions`);
  const batches = sizeOf(batch);
  const out = ctx.alloc(sizeOf(outShape), a.dtype);
  if (batches === 0 || M === 0 || N === 0) return out;
  if (K === 0) {
    ctx.clear(out);
    return out;
  }
  const [sai, sak] = transA ? [1, M] : [K, 1];
  const [sbk, sbj] = transB ? [1, K] : [N, 1];
  const pad = (s: number[]) => [...s, ...new Array(MAX_BATCH_RANK - s.length).fill(0)];
  const stA = broadcastStrides(a.shape.slice(0, -2), batch).map((s) => s * M * K);
  const stB = broadcastStrides(b.shape.slice(0, -2), batch).map((s) => s * K * N);
  const params = [M, N, K, sai, sak, sbk, sbj, batch.length, ...pad(batch), ...pad(stA), ...pad(stB)];
  ctx.launch(label, GEMM, [a.buf as GpuBuf, b.buf as GpuBuf, out], params, [Math.ceil(N / TILE), Math.ceil(M / TILE), batches]);
  return out;
}
