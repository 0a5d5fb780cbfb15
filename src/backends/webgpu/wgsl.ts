// WGSL shared by the kernels: storage types per dtype, the params uniform, flat launch indices,
// the math WGSL lacks (erf, expm1, log1p, a tanh that stays finite) and strided index helpers.
import { fail } from '../../errors.js';
import type { DType } from '../../tensor/dtype.js';

/** The WGSL element type a dtype is stored as. float64 has no WGSL type. */
export function wgslType(op: string, dtype: DType): 'f32' | 'i32' | 'u32' {
  switch (dtype) {
    case 'float32': return 'f32';
    case 'int32': return 'i32';
    case 'uint8':
    case 'bool': return 'u32';
    default: return fail(op, `the webgpu backend has no ${dtype} (WGSL has no such type); cast to float32 or int32 first`);
  }
}

export const WORKGROUP = 256;

/**
 * The params uniform (binding 0): up to 64 32-bit words per launch, read as u32, i32 or f32.
 * `flat` turns a launch's 2-D grid of WORKGROUP-wide groups into one element index.
 */
export const PRELUDE = /* wgsl */ `
struct Params { w: array<vec4<u32>, 16> }
@group(0) @binding(0) var<uniform> P: Params;
fn pu(i: u32) -> u32 { return P.w[i >> 2u][i & 3u]; }
fn pi(i: u32) -> i32 { return bitcast<i32>(pu(i)); }
fn pf(i: u32) -> f32 { return bitcast<f32>(pu(i)); }
fn flat(gid: vec3<u32>, nwg: vec3<u32>) -> u32 { return gid.y * nwg.x * ${WORKGROUP}u + gid.x; }
`;

/** Storage bindings after the params: [name, element type, writable]. */
export function bindings(list: [string, string, boolean][]): string {
  return list.map(([name, type, rw], i) => `@group(0) @binding(${i + 1}) var<storage, ${rw ? 'read_write' : 'read'}> ${name}: array<${type}>;`).join('\n');
}

export const MATH = /* wgsl */ `
// NaN and infinity as private variables: WGSL rejects them as constant expressions
var<private> NAN_BITS: u32 = 0x7fc00000u;
var<private> INF_BITS: u32 = 0x7f800000u;
// relu that lets NaN through, as the js backend and PyTorch do (max(NaN, 0) is 0 on some GPUs):
// a NaN in the data must reach the loss for the NaN guard to see it
fn reluf(x: f32) -> f32 { return select(0.0, x, !(x <= 0.0)); }
fn expm1f(x: f32) -> f32 {
  // Kahan's trick: exact for small x where exp(x) - 1 cancels
  let u = exp(x);
  if (u == 1.0) { return x; }
  let um1 = u - 1.0;
  if (um1 == -1.0) { return -1.0; }
  if (abs(x) > 80.0) { return um1; }
  return um1 * x / log(u);
}
fn log1pf(x: f32) -> f32 {
  let u = 1.0 + x;
  if (u == 1.0) { return x; }
  if (x > 1e30) { return log(x); }
  return log(u) * x / (u - 1.0);
}
fn tanhf(x: f32) -> f32 {
  // tanh = expm1(2x) / (expm1(2x) + 2): no cancellation near 0, clamped where it is +-1 in f32
  let y = expm1f(2.0 * clamp(x, -20.0, 20.0));
  return y / (y + 2.0);
}
fn sigmoidf(x: f32) -> f32 {
  if (x >= 0.0) { return 1.0 / (1.0 + exp(-x)); }
  let e = exp(x);
  return e / (1.0 + e);
}
fn erff(x: f32) -> f32 {
  let a = abs(x);
  if (a < 0.5) {
    // Maclaurin series, 6 terms: error below 2e-8 at 0.5
    let x2 = x * x;
    return 1.1283791671 * x * (1.0 + x2 * (-0.3333333333 + x2 * (0.1 + x2 * (-0.0238095238 + x2 * (0.0046296296 - x2 * 0.0007575758)))));
  }
  // Numerical Recipes' erfc Chebyshev fit, relative error below 1.2e-7
  let t = 1.0 / (1.0 + 0.5 * a);
  let erfc = t * exp(-a * a - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))));
  return sign(x) * (1.0 - erfc);
}
fn powf(a: f32, b: f32) -> f32 {
  // WGSL's pow is undefined for a < 0; C's pow is defined for integer b
  if (b == 0.0 || a == 1.0) { return 1.0; }
  if (a < 0.0) {
    if (fract(b) != 0.0) { return bitcast<f32>(NAN_BITS); }
    let r = pow(-a, b);
    return select(r, -r, fract(b * 0.5) != 0.0);
  }
  if (a == 0.0) { return select(0.0, bitcast<f32>(INF_BITS), b < 0.0); }
  return pow(a, b);
}
`;

export const MAX_RANK = 8;

/** Shape and per-operand strides (up to MAX_RANK dims each) as params words after `head`. */
export function stridedParams(head: number[], shape: readonly number[], ...strides: (readonly number[])[]): number[] {
  if (shape.length > MAX_RANK) fail('webgpu', `rank ${shape.length} is over the backend's limit of ${MAX_RANK}`);
  const pad = (a: readonly number[]) => [...a, ...new Array(MAX_RANK - a.length).fill(0)];
  const words = [...head, shape.length, ...pad(shape)];
  for (const s of strides) words.push(...pad(s).map((v) => v >>> 0)); // negative strides as i32 bits
  return words;
}

/**
 * WGSL: offsets of flat index `i` into k operands whose strides follow a shape in the params
 * (rank at word `at`, shape at at+1.., the operands' strides after it, MAX_RANK words each).
 */
export function stridedOffsets(at: number, k: number): string {
  const decl = Array.from({ length: k }, (_, j) => `var o${j} = 0i;`).join(' ');
  const add = Array.from({ length: k }, (_, j) => `o${j} += i32(c) * pi(${at + 1 + MAX_RANK * (j + 1)}u + u32(d));`).join(' ');
  return `${decl}
  var rem = i;
  for (var d = i32(pu(${at}u)) - 1; d >= 0; d--) {
    let s = pu(${at + 1}u + u32(d));
    let c = rem % s;
    rem = rem / s;
    ${add}
  }`;
}

/** The params word of a float, as its bits. */
export function f32Bits(v: number): number {
  const f = new Float32Array([v]);
  return new Uint32Array(f.buffer)[0];
}

/** Workgroup counts for n elements, WORKGROUP per group. */
export function groupsFor(n: number): [number] {
  return [Math.ceil(n / WORKGROUP)];
}

const kernels = new Map<string, { name: string; code: string }>();

/** The kernel built once per key (op and types), so the device compiles each pipeline once. */
export function kernel(key: string, build: () => string): { name: string; code: string } {
  let k = kernels.get(key);
  if (!k) kernels.set(key, (k = { name: key, code: build() }));
  return k;
}

/**
 * WGSL: offset of flat index `idx` in an operand laid out in the params as rank at word `at`,
 * shape at at+1.., strides at at+1+MAX_RANK.. (stridedParams with one strides array).
 */
export const OFFSET = /* wgsl */ `
fn stridedOffset(idx: u32, at: u32) -> i32 {
  var o = 0i;
  var rem = idx;
  for (var d = i32(pu(at)) - 1; d >= 0; d--) {
    let s = pu(at + 1u + u32(d));
    let c = rem % s;
    rem = rem / s;
    o += i32(c) * pi(at + ${1 + MAX_RANK}u + u32(d));
  }
  return o;
}
`;

/** WGSL workgroup memory for wgCombine: one f32 per thread of a 64-thread workgroup. */
export const WG_SCRATCH = 'var<workgroup> scratch: array<f32, 64>;';

/**
 * WGSL statements that combine each thread's `v` across a 64-thread workgroup with `f` (a
 * function of a and b) and leave the result in every thread's `out`: a tree in workgroup
 * memory, 6 barrier steps. Call in uniform control flow (every thread of the workgroup).
 */
export function wgCombine(out: string, v: string, f: (a: string, b: string) => string): string {
  return `scratch[lid] = ${v};
  workgroupBarrier();
  for (var s = 32u; s > 0u; s = s >> 1u) {
    if (lid < s) { scratch[lid] = ${f('scratch[lid]', 'scratch[lid + s]')}; }
    workgroupBarrier();
  }
  let ${out} = scratch[0];
  workgroupBarrier();`;
}
