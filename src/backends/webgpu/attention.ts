// Scaled dot-product attention, forward and backward, for the [B,H,T,D] and the packed
// ([B,T,3C] in, [B,T,C] out) layouts, and the KV-cached decoding step. One thread per query row
// with an online softmax (FlashAttention's running max and sum), so no [Tq,Tk] scores are stored;
// the backward recomputes the probabilities from lse: one thread per query row for dq, one per
// key row for dk and dv, so every sum is a thread's own (deterministic, no atomics).
// A plain first version: rows are not tiled through workgroup memory yet.
import type { TensorInfo } from '../backend.js';
import { fail, fmtShape } from '../../errors.js';
import type { GpuContext } from './device.js';
import { GpuBuf } from './memory.js';
import { PRELUDE, bindings, f32Bits, kernel } from './wgsl.js';

const MAX_D = 256; // the per-thread accumulators' length
const WG = 64;

/** Where head (b, h) of an array starts, and its rows' distance. */
interface Strides { batch: number; head: number; row: number }
interface Layout { B: number; H: number; tq: number; tk: number; d: number; q: Strides; k: Strides; v: Strides; o: Strides; qAt: number; kAt: number; vAt: number }

function contiguous(q: TensorInfo, k: TensorInfo): Layout {
  const [b, h, tq, d] = q.shape;
  const tk = k.shape[2];
  const qs = { batch: tq * d, head: 0, row: d };
  const ks = { batch: tk * d, head: 0, row: d };
  return { B: b * h, H: 1, tq, tk, d, q: qs, k: ks, v: ks, o: qs, qAt: 0, kAt: 0, vAt: 0 };
}

function packed(qkv: TensorInfo, heads: number): Layout {
  const [B, t, c3] = qkv.shape;
  const C = c3 / 3;
  const s = { batch: t * c3, head: C / heads, row: c3 };
  return { B, H: heads, tq: t, tk: t, d: C / heads, q: s, k: s, v: s, o: { batch: t * C, head: C / heads, row: C }, qAt: 0, kAt: C, vAt: 2 * C };
}

function params(rows: number, l: Layout, scale: number, causal: boolean): number[] {
  const st = (s: Strides) => [s.batch, s.head, s.row];
  return [rows, l.H, l.tq, l.tk, l.d, causal ? 1 : 0, f32Bits(scale), l.qAt, l.kAt, l.vAt, ...st(l.q), ...st(l.k), ...st(l.v), ...st(l.o)];
}

/** WGSL: the layout's accessors; `row` is a query row (b, h, i) or, with keys, a key row (b, h, j). */
const LAYOUT = /* wgsl */ `
fn H() -> u32 { return pu(1u); }
fn TQ() -> u32 { return pu(2u); }
fn TK() -> u32 { return pu(3u); }
fn D() -> u32 { return pu(4u); }
fn causal() -> bool { return pu(5u) == 1u; }
fn scale() -> f32 { return pf(6u); }
fn qRow(b: u32, h: u32, i: u32) -> u32 { return pu(7u) + b * pu(10u) + h * pu(11u) + i * pu(12u); }
fn kRow(b: u32, h: u32, j: u32) -> u32 { return pu(8u) + b * pu(13u) + h * pu(14u) + j * pu(15u); }
fn vRow(b: u32, h: u32, j: u32) -> u32 { return pu(9u) + b * pu(16u) + h * pu(17u) + j * pu(18u); }
fn oRow(b: u32, h: u32, i: u32) -> u32 { return b * pu(19u) + h * pu(20u) + i * pu(21u); }
/** Keys query i sees: all, or when causal those j <= i + (Tk - Tq). */
fn visible(i: u32) -> u32 { return select(TK(), min(TK(), i + TK() - TQ() + 1u), causal()); }
fn rowId(gid: vec3<u32>, nwg: vec3<u32>) -> u32 { return gid.y * nwg.x * ${WG}u + gid.x; }
`;

const FORWARD = kernel('attention', () => `${PRELUDE}${LAYOUT}
${bindings([['Q', 'f32', false], ['K', 'f32', false], ['V', 'f32', false], ['O', 'f32', true], ['Lse', 'f32', true]])}
@compute @workgroup_size(${WG}) fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let row = rowId(gid, nwg);
  if (row >= pu(0u)) { return; }
  let i = row % TQ(); let b = row / TQ() / H(); let h = (row / TQ()) % H();
  let q0 = qRow(b, h, i);
  var acc: array<f32, ${MAX_D}>;
  for (var c = 0u; c < D(); c++) { acc[c] = 0.0; }
  var m = -0x1.fffffep+127f;
  var sum = 0.0;
  for (var j = 0u; j < visible(i); j++) {
    let k0 = kRow(b, h, j);
    var s = 0.0;
    for (var c = 0u; c < D(); c++) { s += Q[q0 + c] * K[k0 + c]; }
    s *= scale();
    let mNew = max(m, s);
    let correction = exp(m - mNew);
    let p = exp(s - mNew);
    sum = sum * correction + p;
    let v0 = vRow(b, h, j);
    for (var c = 0u; c < D(); c++) { acc[c] = acc[c] * correction + p * V[v0 + c]; }
    m = mNew;
  }
  let o0 = oRow(b, h, i);
  for (var c = 0u; c < D(); c++) { O[o0 + c] = acc[c] / sum; }
  Lse[row] = m + log(sum);
}`);

// dq_i = scale sum_j p_ij (dp_ij - delta_i) k_j, with delta_i = dO_i . O_i, saved for the key pass
const GRAD_Q = kernel('attentionGrad dq', () => `${PRELUDE}${LAYOUT}
${bindings([['G', 'f32', false], ['Q', 'f32', false], ['K', 'f32', false], ['V', 'f32', false], ['O', 'f32', false], ['Lse', 'f32', false], ['DQ', 'f32', true], ['Delta', 'f32', true]])}
@compute @workgroup_size(${WG}) fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let row = rowId(gid, nwg);
  if (row >= pu(0u)) { return; }
  let i = row % TQ(); let b = row / TQ() / H(); let h = (row / TQ()) % H();
  let q0 = qRow(b, h, i); let o0 = oRow(b, h, i);
  var delta = 0.0;
  for (var c = 0u; c < D(); c++) { delta += G[o0 + c] * O[o0 + c]; }
  Delta[row] = delta;
  var dq: array<f32, ${MAX_D}>;
  for (var c = 0u; c < D(); c++) { dq[c] = 0.0; }
  for (var j = 0u; j < visible(i); j++) {
    let k0 = kRow(b, h, j); let v0 = vRow(b, h, j);
    var s = 0.0; var dp = 0.0;
    for (var c = 0u; c < D(); c++) { s += Q[q0 + c] * K[k0 + c]; dp += G[o0 + c] * V[v0 + c]; }
    let ds = exp(s * scale() - Lse[row]) * (dp - delta) * scale();
    for (var c = 0u; c < D(); c++) { dq[c] += ds * K[k0 + c]; }
  }
  for (var c = 0u; c < D(); c++) { DQ[q0 + c] = dq[c]; }
}`);

/** dk_j = scale sum_i ds_ij q_i, dv_j = sum_i p_ij dO_i; `shared`: dk and dv are column blocks of one buffer (packed). */
function gradKV(shared: boolean) {
  return kernel(`attentionGrad dk dv ${shared ? 'packed' : ''}`, () => `${PRELUDE}${LAYOUT}
${bindings([['G', 'f32', false], ['Q', 'f32', false], ['K', 'f32', false], ['V', 'f32', false], ['Lse', 'f32', false], ['Delta', 'f32', false],
    ...(shared ? [['DKV', 'f32', true]] : [['DK', 'f32', true], ['DV', 'f32', true]]) as [string, string, boolean][]])}
@compute @workgroup_size(${WG}) fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let row = rowId(gid, nwg);
  if (row >= pu(0u)) { return; }
  let j = row % TK(); let b = row / TK() / H(); let h = (row / TK()) % H();
  let k0 = kRow(b, h, j); let v0 = vRow(b, h, j);
  var dk: array<f32, ${MAX_D}>;
  var dv: array<f32, ${MAX_D}>;
  for (var c = 0u; c < D(); c++) { dk[c] = 0.0; dv[c] = 0.0; }
  // the queries that see key j: all, or when causal those i >= j - (Tk - Tq)
  var first = 0u;
  if (causal() && j + TQ() > TK()) { first = j + TQ() - TK(); }
  for (var i = first; i < TQ(); i++) {
    let q0 = qRow(b, h, i); let o0 = oRow(b, h, i);
    let qrow = (b * H() + h) * TQ() + i;
    var s = 0.0; var dp = 0.0;
    for (var c = 0u; c < D(); c++) { s += Q[q0 + c] * K[k0 + c]; dp += G[o0 + c] * V[v0 + c]; }
    let p = exp(s * scale() - Lse[qrow]);
    let ds = p * (dp - Delta[qrow]) * scale();
    for (var c = 0u; c < D(); c++) { dk[c] += ds * Q[q0 + c]; dv[c] += p * G[o0 + c]; }
  }
  for (var c = 0u; c < D(); c++) {
    ${shared ? 'DKV[k0 + c] = dk[c]; DKV[v0 + c] = dv[c];' : 'DK[k0 + c] = dk[c]; DV[v0 + c] = dv[c];'}
  }
}`);
}

function rowGroups(rows: number): [number] {
  return [Math.ceil(rows / WG)];
}

function checkD(op: string, l: Layout, shapes: string): void {
  if (l.d > MAX_D) fail(op, `head size ${l.d} is over the webgpu kernel's ${MAX_D} (${shapes})`);
}

function forward(ctx: GpuContext, op: string, l: Layout, q: GpuBuf, k: GpuBuf, v: GpuBuf, scale: number, causal: boolean, outLength: number): { out: GpuBuf; lse: GpuBuf } {
  const rows = l.B * l.H * l.tq;
  const out = ctx.alloc(outLength, 'float32');
  const lse = ctx.alloc(rows, 'float32');
  ctx.launch(op, FORWARD, [q, k, v, out, lse], params(rows, l, scale, causal), rowGroups(rows));
  return { out, lse };
}

export function attention(ctx: GpuContext, q: TensorInfo, k: TensorInfo, v: TensorInfo, scale: number, causal: boolean): { out: GpuBuf; lse: GpuBuf } {
  const op = `attention q ${fmtShape(q.shape)} k ${fmtShape(k.shape)}`;
  const l = contiguous(q, k);
  checkD('attention', l, op);
  return forward(ctx, op, l, q.buf as GpuBuf, k.buf as GpuBuf, v.buf as GpuBuf, scale, causal, l.B * l.tq * l.d);
}

export function attentionPacked(ctx: GpuContext, qkv: TensorInfo, heads: number, scale: number, causal: boolean): { out: GpuBuf; lse: GpuBuf } {
  const op = `attentionPacked qkv ${fmtShape(qkv.shape)} heads ${heads}`;
  const l = packed(qkv, heads);
  checkD('attentionPacked', l, op);
  const x = qkv.buf as GpuBuf;
  return forward(ctx, op, l, x, x, x, scale, causal, l.B * l.tq * l.H * l.d);
}

export function attentionGrad(ctx: GpuContext, dOut: TensorInfo, q: TensorInfo, k: TensorInfo, v: TensorInfo, out: TensorInfo, lse: TensorInfo, scale: number, causal: boolean): { dq: GpuBuf; dk: GpuBuf; dv: GpuBuf } {
  const op = `attentionGrad q ${fmtShape(q.shape)} k ${fmtShape(k.shape)}`;
  const l = contiguous(q, k);
  checkD('attentionGrad', l, op);
  const [g, qb, kb, vb, ob, lb] = [dOut, q, k, v, out, lse].map((t) => t.buf as GpuBuf);
  const dq = ctx.alloc(qb.length, 'float32');
  const dk = ctx.alloc(kb.length, 'float32');
  const dv = ctx.alloc(vb.length, 'float32');
  const delta = ctx.alloc(l.B * l.tq, 'float32');
  ctx.launch(op, GRAD_Q, [g, qb, kb, vb, ob, lb, dq, delta], params(l.B * l.tq, l, scale, causal), rowGroups(l.B * l.tq));
  ctx.launch(op, gradKV(false), [g, qb, kb, vb, lb, delta, dk, dv], params(l.B * l.tk, l, scale, causal), rowGroups(l.B * l.tk));
  ctx.pool.recycle(delta); // queue order keeps it until both passes have run
  return { dq, dk, dv };
}

export function attentionPackedGrad(ctx: GpuContext, dOut: TensorInfo, qkv: TensorInfo, out: TensorInfo, lse: TensorInfo, heads: number, scale: number, causal: boolean): { dqkv: GpuBuf } {
  const op = `attentionPackedGrad qkv ${fmtShape(qkv.shape)} heads ${heads}`;
  const l = packed(qkv, heads);
  checkD('attentionPackedGrad', l, op);
  const [g, x, ob, lb] = [dOut, qkv, out, lse].map((t) => t.buf as GpuBuf);
  const dqkv = ctx.alloc(x.length, 'float32'); // dq, dk and dv fill its three column blocks
  const rows = l.B * l.H * l.tq;
  const delta = ctx.alloc(rows, 'float32');
  ctx.launch(op, GRAD_Q, [g, x, x, x, ob, lb, dqkv, delta], params(rows, l, scale, causal), rowGroups(rows));
  ctx.launch(op, gradKV(true), [g, x, x, x, lb, delta, dqkv], params(rows, l, scale, causal), rowGroups(rows));
  ctx.pool.recycle(delta);
  return { dqkv };
}

// Copies the new tokens' keys and values from qkv [B, T, 3C] into rows length.. of the caches.
const CACHE_WRITE = kernel('attentionCached write', () => `${PRELUDE}
${bindings([['X', 'f32', false], ['KC', 'f32', true], ['VC', 'f32', true]])}
@compute @workgroup_size(256) fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let e = flat(gid, nwg);
  if (e >= pu(0u)) { return; }
  let heads = pu(1u); let t = pu(2u); let d = pu(3u); let capacity = pu(4u); let length = pu(5u);
  let C = heads * d;
  let c = e % d; let i = (e / d) % t; let h = (e / d / t) % heads; let b = e / d / t / heads;
  let src = (b * t + i) * 3u * C + C + h * d + c;
  let dst = ((b * heads + h) * capacity + length + i) * d + c;
  KC[dst] = X[src];
  VC[dst] = X[src + C];
}`);

export function attentionCached(ctx: GpuContext, qkv: TensorInfo, kCache: GpuBuf, vCache: GpuBuf, length: number, capacity: number, heads: number, scale: number): { out: GpuBuf } {
  const op = `attentionCached qkv ${fmtShape(qkv.shape)} heads ${heads} length ${length}`;
  // KVCacheEntry (src/nn/layers/attention.ts) still allocates its buffers as host arrays
  if (!(kCache instanceof GpuBuf) || !(vCache instanceof GpuBuf)) fail('attentionCached', `the KV cache must be webgpu storage (allocate it with the backend's fill), got host arrays (${op})`);
  const l = packed(qkv, heads);
  checkD('attentionCached', l, op);
  const x = qkv.buf as GpuBuf;
  const n = l.B * heads * l.tq * l.d;
  ctx.launch(op, CACHE_WRITE, [x, kCache, vCache], [n, heads, l.tq, l.d, capacity, length], [Math.ceil(n / 256)]);
  kCache.host = vCache.host = null;
  const cache = { batch: heads * capacity * l.d, head: capacity * l.d, row: l.d };
  const cached: Layout = Object.assign({}, l, { tk: length + l.tq, k: cache, v: cache, kAt: 0, vAt: 0 });
  const { out, lse } = forward(ctx, op, cached, x, kCache, vCache, scale, true, l.B * l.tq * heads * l.d);
  ctx.pool.recycle(lse);
  return { out };
}
