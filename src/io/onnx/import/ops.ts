// The ONNX op table: each ONNX operator (default domain, opsets 7..21) written with Lathe ops,
// so autograd gives imported models their gradients. This file holds the table's types, the
// elementwise ops and the reductions; ops-layout.ts and ops-nn.ts hold the rest.
import { fail } from '../../../errors.js';
import * as F from '../../../ops/functions.js';
import type { DType } from '../../../tensor/dtype.js';
import { isFloat } from '../../../tensor/dtype.js';
import { Tensor } from '../../../tensor/tensor.js';
import { type Value, intsOf, tensorOf } from './tensors.js';

/** A node's attributes, read with the spec's defaults. */
export class Attrs {
  constructor(private readonly map: Map<string, unknown>, private readonly where: string) {}
  has(name: string): boolean { return this.map.has(name); }
  raw(name: string): unknown { return this.map.get(name); }
  int(name: string, def?: number): number {
    const v = this.map.get(name) ?? def;
    if (typeof v !== 'number') fail(this.where, `attribute "${name}" is required`);
    return v;
  }
  float(name: string, def: number): number { return (this.map.get(name) as number | undefined) ?? def; }
  str(name: string, def: string): string { return (this.map.get(name) as string | undefined) || def; }
  ints(name: string): number[] | undefined { return this.map.get(name) as number[] | undefined; }
  floats(name: string): number[] | undefined { return this.map.get(name) as number[] | undefined; }
}

export interface NodeContext {
  /** "node 3 (Conv)" or the node's name, for errors. */
  where: string;
  opset: number;
  attrs: Attrs;
  /** How many outputs the node names (Split divides evenly among them). */
  outputCount: number;
}

/** inputs[i] is undefined where the node leaves an optional input empty. */
export type OpFn = (inputs: (Value | undefined)[], ctx: NodeContext) => (Value | undefined)[];

/** The i-th input as a tensor, required. */
export function input(inputs: (Value | undefined)[], i: number, ctx: NodeContext): Tensor {
  const v = inputs[i];
  if (v === undefined) fail(ctx.where, `input ${i} is required`);
  return tensorOf(v, `${ctx.where}: input ${i}`);
}

/** An optional input's integers (shapes, axes, positions). */
export function optInts(inputs: (Value | undefined)[], i: number, ctx: NodeContext): number[] | undefined {
  const v = inputs[i];
  return v === undefined ? undefined : intsOf(v, `${ctx.where}: input ${i}`);
}

/** A one-element input's value as a number (Clip's bounds, Range's arguments). */
export function scalarOf(v: Value | undefined, ctx: NodeContext): number | undefined {
  if (v === undefined) return undefined;
  const t = tensorOf(v, ctx.where);
  if (t.size !== 1) fail(ctx.where, `expected a scalar, got shape [${t.shape}]`);
  return t.dataSync()[0];
}

/** A scalar tensor of `dtype` beside x, so ops keep ONNX's single input type. */
export function scalarAs(value: number, x: Tensor, dtype: DType = x.dtype): Tensor {
  return F.scalarLike(value, x, dtype);
}

const unary = (f: (x: Tensor, ctx: NodeContext) => Tensor): OpFn => (inputs, ctx) => [f(input(inputs, 0, ctx), ctx)];

/** Binary ops keep the inputs' type, as ONNX's do (Lathe's true division would give floats). */
function binary(f: (a: Tensor, b: Tensor) => Tensor): OpFn {
  return (inputs, ctx) => {
    const a = input(inputs, 0, ctx);
    const b = input(inputs, 1, ctx);
    const out = f(a, b);
    return [out.dtype === a.dtype || out.dtype === 'bool' ? out : F.cast(out, a.dtype)];
  };
}

/** Integer division truncates toward zero, as C and ONNX Runtime do; float64 keeps int32 exact. */
function divide(a: Tensor, b: Tensor): Tensor {
  if (isFloat(a.dtype)) return F.div(a, b);
  return F.cast(F.div(F.cast(a, 'float64'), F.cast(b, 'float64')), a.dtype);
}

/** Mod: fmod=1 takes the dividend's sign (C fmod), fmod=0 the divisor's (Python %). */
function mod(a: Tensor, b: Tensor, fmod: boolean): Tensor {
  const [x, y] = isFloat(a.dtype) ? [a, b] : [F.cast(a, 'float64'), F.cast(b, 'float64')];
  const q = F.div(x, y);
  const whole = fmod ? F.where(q.lt(0), q.ceil(), q.floor()) : q.floor();
  return F.cast(F.sub(x, F.mul(y, whole)), a.dtype);
}

/** Variadic ops (Sum, Max, ...) fold pairwise with broadcasting. */
function variadic(f: (a: Tensor, b: Tensor) => Tensor): OpFn {
  return (inputs, ctx) => [inputs.map((_, i) => input(inputs, i, ctx)).reduce(f)];
}

const hardSigmoid = (x: Tensor, alpha: number, beta: number) => F.clip(x.mul(alpha).add(beta), 0, 1);

export const ELEMENTWISE: Record<string, OpFn> = {
  Add: binary(F.add), Sub: binary(F.sub), Mul: binary(F.mul), Div: binary(divide),
  Pow: binary((a, b) => F.pow(a, isFloat(a.dtype) ? F.cast(b, a.dtype) : b)),
  Mod: (inputs, ctx) => [mod(input(inputs, 0, ctx), input(inputs, 1, ctx), ctx.attrs.int('fmod', 0) === 1)],
  Equal: binary(F.eq), Less: binary(F.lt), Greater: binary(F.gt), LessOrEqual: binary(F.le), GreaterOrEqual: binary(F.ge),
  // On bool tensors: and is the minimum, or the maximum, xor inequality.
  And: binary(F.minimum), Or: binary(F.maximum), Xor: binary(F.ne),
  Not: unary(F.logicalNot),
  Sum: variadic(F.add), Max: variadic(F.maximum), Min: variadic(F.minimum),
  Mean: (inputs, ctx) => [(variadic(F.add)(inputs, ctx)[0] as Tensor).div(inputs.length)],
  Where: (inputs, ctx) => {
    const [c, a, b] = [0, 1, 2].map((i) => input(inputs, i, ctx));
    return [F.where(c, a, b)];
  },
  Abs: unary(F.abs), Neg: unary(F.neg), Sqrt: unary(F.sqrt), Exp: unary(F.exp), Log: unary(F.log),
  Erf: unary(F.erf), Reciprocal: unary(F.reciprocal), Floor: unary(F.floor), Ceil: unary(F.ceil),
  Round: unary(F.round), Sign: unary(F.sign), Sin: unary(F.sin), Cos: unary(F.cos),
  Tan: unary((x) => F.div(F.sin(x), F.cos(x))),
  Relu: unary(F.relu), Sigmoid: unary(F.sigmoid), Tanh: unary(F.tanh), Softplus: unary(F.softplus),
  Softsign: unary((x) => x.div(x.abs().add(1))),
  LeakyRelu: unary((x, c) => F.leakyRelu(x, c.attrs.float('alpha', 0.01))),
  Elu: unary((x, c) => F.elu(x, c.attrs.float('alpha', 1))),
  Selu: unary((x, c) => F.elu(x, c.attrs.float('alpha', 1.67326319217681884765625)).mul(c.attrs.float('gamma', 1.05070102214813232421875))),
  Celu: unary((x, c) => {
    const alpha = c.attrs.float('alpha', 1);
    return F.add(F.relu(x), F.minimum(scalarAs(0, x), F.expm1(x.div(alpha)).mul(alpha)));
  }),
  ThresholdedRelu: unary((x, c) => F.where(x.gt(c.attrs.float('alpha', 1)), x, scalarAs(0, x))),
  HardSigmoid: unary((x, c) => hardSigmoid(x, c.attrs.float('alpha', 0.2), c.attrs.float('beta', 0.5))),
  HardSwish: unary((x) => x.mul(hardSigmoid(x, 1 / 6, 0.5))),
  Shrink: unary((x, c) => {
    const [l, b] = [c.attrs.float('lambd', 0.5), c.attrs.float('bias', 0)];
    return F.where(x.lt(-l), x.add(scalarAs(b, x)), F.where(x.gt(l), x.sub(scalarAs(b, x)), scalarAs(0, x)));
  }),
  PRelu: (inputs, ctx) => {
    const x = input(inputs, 0, ctx);
    return [F.where(x.lt(0), x.mul(input(inputs, 1, ctx)), x)];
  },
  IsNaN: unary((x) => x.ne(x)),
  IsInf: unary((x, c) => {
    const pos = c.attrs.int('detect_positive', 1) === 1;
    const neg = c.attrs.int('detect_negative', 1) === 1;
    const p = x.eq(Infinity);
    const n = x.eq(-Infinity);
    return pos && neg ? F.maximum(p, n) : pos ? p : neg ? n : F.full(x.shape, false, { dtype: 'bool' });
  }),
  Clip: (inputs, ctx) => {
    let x = input(inputs, 0, ctx);
    // Before opset 11 the bounds are attributes; from 11 optional inputs.
    const min = ctx.opset < 11 ? ctx.attrs.float('min', -Infinity) : scalarOf(inputs[1], ctx);
    const max = ctx.opset < 11 ? ctx.attrs.float('max', Infinity) : scalarOf(inputs[2], ctx);
    if (min !== undefined && min > -Infinity) x = F.where(x.lt(min), scalarAs(min, x), x);
    if (max !== undefined && max < Infinity) x = F.where(x.gt(max), scalarAs(max, x), x);
    return [x];
  },
};

/** Opset from which a reduction's axes come as an input instead of an attribute. */
const AXES_INPUT_SINCE: Record<string, number> = { ReduceSum: 13 };

function reduction(name: string, f: (x: Tensor, axes: number[], keep: boolean) => Tensor): OpFn {
  return (inputs, ctx) => {
    const x = input(inputs, 0, ctx);
    const keep = ctx.attrs.int('keepdims', 1) === 1;
    const fromInput = ctx.opset >= (AXES_INPUT_SINCE[name] ?? 18);
    let axes = (fromInput ? optInts(inputs, 1, ctx) : ctx.attrs.ints('axes')) ?? [];
    if (axes.length === 0) {
      if (fromInput && ctx.attrs.int('noop_with_empty_axes', 0) === 1) return [x];
      axes = x.shape.map((_, i) => i);
    }
    axes = axes.map((a) => (a < 0 ? a + x.rank : a));
    const out = f(x, axes, keep);
    return [out.dtype === x.dtype ? out : F.cast(out, x.dtype)];
  };
}

export const REDUCTIONS: Record<string, OpFn> = {
  ReduceSum: reduction('ReduceSum', (x, a, k) => F.sum(x, a, k)),
  ReduceMean: reduction('ReduceMean', (x, a, k) => F.mean(x, a, k)),
  ReduceMax: reduction('ReduceMax', (x, a, k) => F.max(x, a, k)),
  ReduceMin: reduction('ReduceMin', (x, a, k) => F.min(x, a, k)),
  ReduceL1: reduction('ReduceL1', (x, a, k) => F.sum(x.abs(), a, k)),
  ReduceL2: reduction('ReduceL2', (x, a, k) => F.sum(x.square(), a, k).sqrt()),
  ReduceSumSquare: reduction('ReduceSumSquare', (x, a, k) => F.sum(x.square(), a, k)),
  ReduceLogSum: reduction('ReduceLogSum', (x, a, k) => F.sum(x, a, k).log()),
  ReduceLogSumExp: reduction('ReduceLogSumExp', (x, a, k) => F.logsumexp(x, a, k)),
  ArgMax: argReduce('argmax'),
  ArgMin: argReduce('argmin'),
};

function argReduce(op: 'argmax' | 'argmin'): OpFn {
  return (inputs, ctx) => {
    const x = input(inputs, 0, ctx);
    const axis = ctx.attrs.int('axis', 0);
    const a = axis < 0 ? axis + x.rank : axis;
    const keep = ctx.attrs.int('keepdims', 1) === 1;
    if (ctx.attrs.int('select_last_index', 0) !== 1) return [F[op](x, a, keep)];
    // The last extreme: search the reversed axis, then map positions back.
    const begin = x.shape.map((_, i) => (i === a ? -1 : null));
    const end = x.shape.map(() => null);
    const step = x.shape.map((_, i) => (i === a ? -1 : 1));
    const idx = F[op](F.slice(x, begin, end, step), a, keep);
    return [F.sub(scalarAs(x.shape[a] - 1, idx), idx)];
  };
}
