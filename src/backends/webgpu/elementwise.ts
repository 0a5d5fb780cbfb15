// Elementwise kernels: unary maps, broadcasting binary ops, where, casts, fills, and the fused
// bias+activation, scale+shift and gelu-gradient passes. One thread per output element.
import type { BinaryOp, FusedActivation, TensorInfo, UnaryOp } from '../backend.js';
import { COMPARISON_OPS } from '../backend.js';
import { fail, fmtShape } from '../../errors.js';
import type { DType } from '../../tensor/dtype.js';
import { type Shape, broadcastStrides, sameShape, sizeOf } from '../../tensor/shape.js';
import type { GpuContext } from './device.js';
import type { GpuBuf } from './memory.js';
import { MATH, PRELUDE, bindings, f32Bits, groupsFor, kernel, stridedOffsets, stridedParams, wgslType } from './wgsl.js';

const buf = (x: TensorInfo) => x.buf as GpuBuf;

/** Each unary op on f32 `x`, with `p` the op's parameter. Formulas follow the js backend's. */
const UNARY_F32: Partial<Record<UnaryOp, string>> = {
  neg: '-x', exp: 'exp(x)', log: 'log(x)', sqrt: 'sqrt(x)', rsqrt: '1.0 / sqrt(x)', abs: 'abs(x)', sign: 'sign(x)',
  square: 'x * x', reciprocal: '1.0 / x', tanh: 'tanhf(x)', sigmoid: 'sigmoidf(x)', relu: 'reluf(x)',
  gelu: '0.5 * x * (1.0 + erff(x * 0.70710678118654752))',
  geluTanh: '0.5 * x * (1.0 + tanhf(0.79788456080286536 * (x + 0.044715 * x * x * x)))',
  erf: 'erff(x)', sin: 'sin(x)', cos: 'cos(x)', log1p: 'log1pf(x)', expm1: 'expm1f(x)',
  softplus: 'max(x, 0.0) + log1pf(exp(-abs(x)))', floor: 'floor(x)', ceil: 'ceil(x)', round: 'round(x)', // WGSL rounds half to even, as numpy
  leakyRelu: 'select(p * x, x, x >= 0.0)', elu: 'select(p * expm1f(x), x, x > 0.0)',
};

/** The unary ops that keep an integer dtype, on i32 and on u32 (uint8, masked to 8 bits after). */
const UNARY_INT: Partial<Record<UnaryOp, [string, string]>> = {
  neg: ['-x', '0u - x'], abs: ['abs(x)', 'x'], sign: ['sign(x)', 'select(0u, 1u, x > 0u)'], square: ['x * x', 'x * x'],
  relu: ['max(x, 0i)', 'x'], floor: ['x', 'x'], ceil: ['x', 'x'], round: ['x', 'x'],
};

const BINARY_EXPR: Record<BinaryOp, (t: string) => string | null> = {
  add: () => 'a + b', sub: () => 'a - b', mul: () => 'a * b',
  div: (t) => (t === 'f32' ? 'a / b' : null), // the op layer divides integers as float32
  pow: (t) => (t === 'f32' ? 'powf(a, b)' : `ipow(a, b)`),
  maximum: () => 'max(a, b)', minimum: () => 'min(a, b)',
  eq: () => 'a == b', ne: () => 'a != b', lt: () => 'a < b', le: () => 'a <= b', gt: () => 'a > b', ge: () => 'a >= b',
};

/** Integer pow by squaring; the op layer rejects negative integer exponents. */
const IPOW = (t: string) => `fn ipow(a: ${t}, b: ${t}) -> ${t} {
  var r = ${t}(1); var base = a; var e = u32(b);
  loop { if (e == 0u) { break; } if ((e & 1u) == 1u) { r = r * base; } base = base * base; e = e >> 1u; }
  return r;
}`;

/** The store of a value v of `t` into an element of dtype out: uint8 wraps to 8 bits, as a Uint8Array does. */
const wrap = (dtype: DType, v: string) => (dtype === 'uint8' ? `(${v}) & 255u` : v);

export function unary(ctx: GpuContext, op: UnaryOp, x: TensorInfo, outDtype: DType, param: number): GpuBuf {
  const label = `${op} ${fmtShape(x.shape)} ${x.dtype}`;
  const tx = wgslType(op, x.dtype);
  const to = wgslType(op, outDtype);
  let expr: string;
  if (op === 'not') expr = `select(0u, 1u, x == ${tx}(0))`;
  else if (to === 'f32' && UNARY_F32[op]) expr = `${UNARY_F32[op]}`;
  else if (tx === to && UNARY_INT[op]) expr = wrap(outDtype, UNARY_INT[op]![tx === 'i32' ? 0 : 1]);
  else fail(op, `the webgpu backend has no ${op} from ${x.dtype} to ${outDtype}`);
  const load = op !== 'not' && to === 'f32' ? 'f32(X[i])' : 'X[i]';
  const k = kernel(`unary ${op} ${x.dtype} ${outDtype}`, () => `${PRELUDE}${MATH}
${bindings([['X', tx, false], ['Y', to, true]])}
@compute @workgroup_size(256) fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat(gid, nwg);
  if (i >= pu(0u)) { return; }
  let x = ${load};
  let p = pf(1u);
  Y[i] = ${expr};
}`);
  const out = ctx.alloc(sizeOf(x.shape), outDtype);
  ctx.launch(label, k, [buf(x), out], [sizeOf(x.shape), f32Bits(param)], groupsFor(sizeOf(x.shape)));
  return out;
}

export function binary(ctx: GpuContext, op: BinaryOp, a: TensorInfo, b: TensorInfo, outShape: Shape, outDtype: DType): GpuBuf {
  const label = `${op} ${fmtShape(a.shape)} ${fmtShape(b.shape)} ${a.dtype}`;
  if (a.dtype !== b.dtype) fail(op, `operands differ in dtype (${a.dtype}, ${b.dtype}) after promotion`);
  const t = wgslType(op, a.dtype);
  const to = wgslType(op, outDtype);
  const expr = BINARY_EXPR[op](t);
  if (expr === null) fail(op, `the webgpu backend has no ${op} on ${a.dtype}`);
  const compare = COMPARISON_OPS.has(op);
  const result = compare ? `select(0u, 1u, ${expr})` : wrap(outDtype, expr);
  // Same shapes index both operands by i; otherwise each operand's broadcast strides map i to it.
  const same = sameShape(a.shape, b.shape) && sameShape(a.shape, outShape);
  const k = kernel(`binary ${op} ${a.dtype} ${same ? 'same' : 'broadcast'}`, () => `${PRELUDE}${MATH}${t === 'f32' ? '' : IPOW(t)}
${bindings([['A', t, false], ['B', t, false], ['Y', to, true]])}
@compute @workgroup_size(256) fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat(gid, nwg);
  if (i >= pu(0u)) { return; }
  ${same ? 'let o0 = i; let o1 = i;' : stridedOffsets(1, 2)}
  let a = A[o0];
  let b = B[o1];
  Y[i] = ${result};
}`);
  const n = sizeOf(outShape);
  const params = same ? [n] : stridedParams([n], outShape, broadcastStrides(a.shape, outShape), broadcastStrides(b.shape, outShape));
  const out = ctx.alloc(n, outDtype);
  ctx.launch(label, k, [buf(a), buf(b), out], params, groupsFor(n));
  return out;
}

export function where(ctx: GpuContext, cond: TensorInfo, a: TensorInfo, b: TensorInfo, outShape: Shape): GpuBuf {
  const label = `where ${fmtShape(cond.shape)} ${fmtShape(a.shape)} ${fmtShape(b.shape)}`;
  const tc = wgslType('where', cond.dtype);
  const t = wgslType('where', a.dtype);
  const k = kernel(`where ${cond.dtype} ${a.dtype}`, () => `${PRELUDE}
${bindings([['C', tc, false], ['A', t, false], ['B', t, false], ['Y', t, true]])}
@compute @workgroup_size(256) fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat(gid, nwg);
  if (i >= pu(0u)) { return; }
  ${stridedOffsets(1, 3)}
  Y[i] = select(B[o2], A[o1], C[o0] != ${tc}(0));
}`);
  const n = sizeOf(outShape);
  const params = stridedParams([n], outShape, ...[cond, a, b].map((v) => broadcastStrides(v.shape, outShape)));
  const out = ctx.alloc(n, a.dtype);
  ctx.launch(label, k, [buf(cond), buf(a), buf(b), out], params, groupsFor(n));
  return out;
}

/** Conversions as the js backend's: floats truncate toward zero, uint8 wraps, bool is "nonzero". */
function convert(from: DType, to: DType): string {
  if (to === 'bool') return `select(0u, 1u, x != ${wgslType('cast', from)}(0))`;
  if (to === 'float32') return 'f32(x)';
  if (to === 'int32') return from === 'float32' ? 'i32(trunc(x))' : 'i32(x)';
  if (to === 'uint8') return from === 'float32' ? 'bitcast<u32>(i32(trunc(x))) & 255u' : from === 'int32' ? 'bitcast<u32>(x) & 255u' : 'x';
  return fail('cast', `the webgpu backend has no cast from ${from} to ${to}`);
}

export function cast(ctx: GpuContext, x: TensorInfo, dtype: DType): GpuBuf {
  const label = `cast ${fmtShape(x.shape)} ${x.dtype} to ${dtype}`;
  const k = kernel(`cast ${x.dtype} ${dtype}`, () => `${PRELUDE}
${bindings([['X', wgslType('cast', x.dtype), false], ['Y', wgslType('cast', dtype), true]])}
@compute @workgroup_size(256) fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat(gid, nwg);
  if (i >= pu(0u)) { return; }
  let x = X[i];
  Y[i] = ${convert(x.dtype, dtype)};
}`);
  const n = sizeOf(x.shape);
  const out = ctx.alloc(n, dtype);
  ctx.launch(label, k, [buf(x), out], [n], groupsFor(n));
  return out;
}

export function fill(ctx: GpuContext, dtype: DType, size: number, value: number): GpuBuf {
  const t = wgslType('fill', dtype);
  const out = ctx.alloc(size, dtype);
  // The element's bits: a typed array of the dtype converts value exactly as the js backend's fill.
  const bits = t === 'f32' ? f32Bits(value) : t === 'i32' ? new Int32Array([value])[0] >>> 0 : new Uint8Array([value])[0];
  if (bits === 0) {
    ctx.clear(out);
    return out;
  }
  const k = kernel('fill', () => `${PRELUDE}
${bindings([['Y', 'u32', true]])}
@compute @workgroup_size(256) fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat(gid, nwg);
  if (i >= pu(0u)) { return; }
  Y[i] = pu(1u);
}`);
  ctx.launch(`fill [${size}] ${dtype}`, k, [out], [size, bits], groupsFor(size));
  return out;
}

export function scaleShift(ctx: GpuContext, x: TensorInfo, scale: number, offset: number, dtype: 'float32' | 'float64'): GpuBuf {
  wgslType('scaleShift', dtype);
  const k = kernel(`scaleShift ${x.dtype}`, () => `${PRELUDE}
${bindings([['X', wgslType('scaleShift', x.dtype), false], ['Y', 'f32', true]])}
@compute @workgroup_size(256) fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat(gid, nwg);
  if (i >= pu(0u)) { return; }
  Y[i] = f32(X[i]) * pf(1u) + pf(2u);
}`);
  const n = sizeOf(x.shape);
  const out = ctx.alloc(n, dtype);
  ctx.launch(`scaleShift ${fmtShape(x.shape)} ${x.dtype}`, k, [buf(x), out], [n, f32Bits(scale), f32Bits(offset)], groupsFor(n));
  return out;
}

export function biasActivation(ctx: GpuContext, x: TensorInfo, bias: TensorInfo, activation: FusedActivation): GpuBuf {
  const op = 'biasActivation';
  wgslType(op, x.dtype);
  const act = activation === 'linear' ? 'v' : activation === 'relu' ? 'reluf(v)' : activation === 'sigmoid' ? 'sigmoidf(v)' : 'tanhf(v)';
  const k = kernel(`biasActivation ${activation}`, () => `${PRELUDE}${MATH}
${bindings([['X', 'f32', false], ['Bias', 'f32', false], ['Y', 'f32', true]])}
@compute @workgroup_size(256) fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat(gid, nwg);
  if (i >= pu(0u)) { return; }
  let v = X[i] + Bias[i % pu(1u)];
  Y[i] = ${act};
}`);
  const n = sizeOf(x.shape);
  const out = ctx.alloc(n, x.dtype);
  ctx.launch(`${op} ${activation} ${fmtShape(x.shape)} ${fmtShape(bias.shape)}`, k, [buf(x), buf(bias), out], [n, Math.max(1, sizeOf(bias.shape))], groupsFor(n));
  return out;
}

export function geluGrad(ctx: GpuContext, x: TensorInfo, dOut: TensorInfo, approximate: boolean): GpuBuf {
  wgslType('geluGrad', x.dtype);
  // exact: Phi(x) + x phi(x); tanh form: d/dx of 0.5 x (1 + tanh(u)), u = c (x + 0.044715 x^3)
  const grad = approximate
    ? `let u = 0.79788456080286536 * (x + 0.044715 * x * x * x);
  let t = tanhf(u);
  let d = 0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * 0.79788456080286536 * (1.0 + 0.134145 * x * x);`
    : `let d = 0.5 * (1.0 + erff(x * 0.70710678118654752)) + x * 0.39894228040143268 * exp(-0.5 * x * x);`;
  const k = kernel(`geluGrad ${approximate}`, () => `${PRELUDE}${MATH}
${bindings([['X', 'f32', false], ['G', 'f32', false], ['Y', 'f32', true]])}
@compute @workgroup_size(256) fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat(gid, nwg);
  if (i >= pu(0u)) { return; }
  let x = X[i];
  ${grad}
  Y[i] = G[i] * d;
}`);
  const n = sizeOf(x.shape);
  const out = ctx.alloc(n, x.dtype);
  ctx.launch(`geluGrad ${fmtShape(x.shape)}`, k, [buf(x), buf(dOut), out], [n], groupsFor(n));
  return out;
}

