// The op table: every primitive op's forward (a kernel call) beside its gradient rule, like
// PyTorch's derivatives.yaml. This file is the full list of derivative formulas.
//
// A rule gets g = dL/d(out) and returns dL/d(input) for each input (null where none flows). It
// may return a gradient in the output's broadcast shape: the engine sums it down to the input's
// shape. Rules run under noGrad, written with the same tensor ops users call.
// Argument checks and output shapes live in the public functions (src/ops/*.ts), not here.
import { apply, type GradContext, type OpDef, type Saved } from '../autograd/engine.js';
import type { BinaryOp, Conv2dGeometry, FusedActivation, InputQuantization, PackedInt8, Pool2dGeometry, QuantizedConvBlockPlan, ReduceOp, UnaryOp } from '../backends/backend.js';
import type { DType } from '../tensor/dtype.js';
import { Tensor } from '../tensor/tensor.js';
import { keptShape, stridesOf } from '../tensor/shape.js';
import { zerosLike } from '../tensor/create.js';
import { where } from './elementwise.js';
import { matmulT } from './linalg.js';
import { readViewOf, writeIntoFilled } from './views.js';

type Grads = (Tensor | null)[];

function out(like: Tensor, shape: readonly number[], dtype: DType, buf: unknown): Tensor {
  return new Tensor(shape, dtype, buf, like.backend);
}

// ---- elementwise unary: y = f(x) -----------------------------------------------------------------
interface UnaryAttrs { param: number; dtype: DType }
type UnaryRule = (g: Tensor, x: Tensor, y: Tensor, param: number) => Tensor;

function unary(op: UnaryOp, rule?: UnaryRule): OpDef<UnaryAttrs> {
  return {
    name: op,
    forward: ([x], a) => out(x, x.shape, a.dtype, x.backend.unary(op, x, a.dtype, a.param)),
    backward: rule && ((g, { inputs: [x], out: y, attrs }) => [rule(g, x, y, attrs.param)]),
  };
}

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);
const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);
const zero: UnaryRule = (g) => zerosLike(g); // piecewise constant: zero almost everywhere

export const neg = unary('neg', (g) => g.neg());
export const exp = unary('exp', (g, _x, y) => g.mul(y));
export const log = unary('log', (g, x) => g.div(x));
export const sqrt = unary('sqrt', (g, _x, y) => g.div(y.mul(2)));
export const rsqrt = unary('rsqrt', (g, _x, y) => g.mul(y.pow(3)).mul(-0.5)); // d x^-1/2 = -1/2 x^-3/2
export const abs = unary('abs', (g, x) => g.mul(x.sign()));
export const sign = unary('sign', zero);
export const square = unary('square', (g, x) => g.mul(x).mul(2));
export const reciprocal = unary('reciprocal', (g, _x, y) => g.mul(y.square()).neg()); // d 1/x = -1/x^2
export const tanh = unary('tanh', (g, _x, y) => g.sub(g.mul(y.square()))); // 1 - tanh^2
export const sigmoid = unary('sigmoid', (g, _x, y) => g.mul(y.sub(y.square()))); // s (1 - s)
export const relu = unary('relu', (g, x) => where(x.gt(0), g, 0));
// gelu(x) = x Phi(x), so gelu' = Phi(x) + x phi(x); the tanh form's y' is in geluGrad below.
// One fused kernel each (geluGrad), itself an op with a gradient rule.
export const gelu = unary('gelu', (g, x) => apply(geluGrad, [g, x], { approximate: false }));
export const geluTanh = unary('geluTanh', (g, x) => apply(geluGrad, [g, x], { approximate: true }));
export const erf = unary('erf', (g, x) => g.mul(x.square().neg().exp()).mul(2 / Math.sqrt(Math.PI)));
export const sin = unary('sin', (g, x) => g.mul(x.cos()));
export const cos = unary('cos', (g, x) => g.mul(x.sin()).neg());
export const log1p = unary('log1p', (g, x) => g.div(x.add(1)));
export const expm1 = unary('expm1', (g, _x, y) => g.mul(y.add(1)));
export const softplus = unary('softplus', (g, x) => g.mul(x.sigmoid()));
export const floor = unary('floor', zero);
export const ceil = unary('ceil', zero);
export const round = unary('round', zero);
export const leakyRelu = unary('leakyRelu', (g, x, _y, slope) => where(x.gt(0), g, g.mul(slope)));
export const elu = unary('elu', (g, x, y, alpha) => where(x.gt(0), g, g.mul(y.add(alpha)))); // alpha e^x = y + alpha
export const not = unary('not');

// ---- elementwise binary, broadcasting: z = f(a, b) ---------------------------------------------------
interface BinaryAttrs { shape: readonly number[]; dtype: DType }

function binary(op: BinaryOp, rule?: (g: Tensor, a: Tensor, b: Tensor, z: Tensor) => Grads): OpDef<BinaryAttrs> {
  return {
    name: op,
    forward: ([a, b], at) => out(a, at.shape, at.dtype, a.backend.binary(op, a, b, at.shape, at.dtype)),
    backward: rule && ((g, { inputs: [a, b], out: z }) => rule(g, a, b, z)),
  };
}

/** Where a and b tie, maximum and minimum split the gradient evenly, as PyTorch does. */
function pick(a: Tensor, b: Tensor, wins: (a: Tensor, b: Tensor) => Tensor): Tensor {
  return wins(a, b).cast(a.dtype).add(a.eq(b).cast(a.dtype).mul(0.5));
}

export const add = binary('add', (g) => [g, g]);
export const sub = binary('sub', (g) => [g, g.neg()]);
export const mul = binary('mul', (g, a, b) => [g.mul(b), g.mul(a)]);
export const div = binary('div', (g, _a, b, z) => [g.div(b), g.mul(z).div(b).neg()]); // d(a/b)/db = -a/b^2
export const pow = binary('pow', (g, a, b, z) => [
  where(b.eq(0), 0, g.mul(b).mul(a.pow(b.sub(1)))), // d a^b/da = b a^(b-1), and 0 for b = 0 (even at a = 0)
  where(a.gt(0), g.mul(z).mul(a.log()), 0), // d a^b/db = a^b ln a, taken as 0 where a <= 0
]);
export const maximum = binary('maximum', (g, a, b) => [g.mul(pick(a, b, (p, q) => p.gt(q))), g.mul(pick(b, a, (p, q) => p.gt(q)))]);
export const minimum = binary('minimum', (g, a, b) => [g.mul(pick(a, b, (p, q) => p.lt(q))), g.mul(pick(b, a, (p, q) => p.lt(q)))]);
export const eq = binary('eq');
export const ne = binary('ne');
export const lt = binary('lt');
export const le = binary('le');
export const gt = binary('gt');
export const ge = binary('ge');

export const whereOp: OpDef<{ shape: readonly number[] }> = {
  name: 'where',
  forward: ([c, a, b], at) => out(a, at.shape, a.dtype, a.backend.where(c, a, b, at.shape)),
  backward: (g, { inputs: [c] }) => [null, where(c, g, 0), where(c, 0, g)],
};

export const cast: OpDef<{ dtype: DType }> = {
  name: 'cast',
  forward: ([x], { dtype }) => out(x, x.shape, dtype, x.backend.cast(x, dtype)),
  backward: (g) => [g], // the engine casts it back to the input's dtype
};

/** x * scale + offset as a float dtype, from any numeric x (Rescaling); d/dx = scale. */
export const scaleShift: OpDef<{ scale: number; offset: number; dtype: 'float32' | 'float64' }> = {
  name: 'scaleShift',
  forward: ([x], at) => out(x, x.shape, at.dtype, x.backend.scaleShift(x, at.scale, at.offset, at.dtype)),
  backward: (g, { attrs }) => [g.mul(attrs.scale)],
};

// ---- reductions ---------------------------------------------------------------------------------------
interface ReduceAttrs { axes: number[]; keepdims: boolean }

/** g (with or without the reduced axes) broadcast back to the input's shape. */
function spread(g: Tensor, x: Tensor, { axes }: ReduceAttrs): Tensor {
  return g.reshape(keptShape(x.shape, axes)).expand(x.shape);
}

function reduction(op: ReduceOp, rule: (g: Tensor, ctx: GradContext<ReduceAttrs>) => Tensor): OpDef<ReduceAttrs> {
  return {
    name: op,
    forward: ([x], at) => {
      const shape = at.keepdims ? keptShape(x.shape, at.axes) : x.shape.filter((_, i) => !at.axes.includes(i));
      return out(x, shape, x.dtype, x.backend.reduce(op, x, at.axes));
    },
    backward: (g, ctx) => [rule(g, ctx)],
  };
}

/** max/min send the gradient to the elements equal to the result, split evenly among ties. */
function toExtremes(g: Tensor, { inputs: [x], out: y, attrs }: GradContext<ReduceAttrs>): Tensor {
  const kept = keptShape(x.shape, attrs.axes);
  const hit = x.eq(y.reshape(kept)).cast(x.dtype);
  return hit.mul(g.reshape(kept).div(hit.sum(attrs.axes, true)));
}

export const sum = reduction('sum', (g, { inputs: [x], attrs }) => spread(g, x, attrs));
export const max = reduction('max', toExtremes);
export const min = reduction('min', toExtremes);

export const logsumexp: OpDef<ReduceAttrs> = {
  name: 'logsumexp',
  forward: ([x], at) => {
    const m = x.max(at.axes, true).detach();
    const safeM = where(m.abs().lt(Infinity), m, 0); // a slice of all -inf gives -inf, not NaN
    const y = x.sub(safeM).exp().sum(at.axes, true).log().add(safeM);
    return at.keepdims ? y : y.squeeze(at.axes);
  },
  // d/dx log sum exp x = softmax(x) = exp(x - y)
  backward: (g, { inputs: [x], out: y, attrs }) => {
    const kept = keptShape(x.shape, attrs.axes);
    return [g.reshape(kept).mul(x.sub(y.reshape(kept)).exp())];
  },
};

export const softmax: OpDef<{ axis: number }> = {
  name: 'softmax',
  forward: ([x], { axis }) => out(x, x.shape, x.dtype, x.backend.softmax(x, axis, false)),
  // dx = y (g - sum(g y))
  backward: (g, { out: y, attrs: { axis } }) => [y.mul(g.sub(g.mul(y).sum(axis, true)))],
};

export const logSoftmax: OpDef<{ axis: number }> = {
  name: 'logSoftmax',
  forward: ([x], { axis }) => out(x, x.shape, x.dtype, x.backend.softmax(x, axis, true)),
  // dx = g - softmax(x) sum(g)
  backward: (g, { out: y, attrs: { axis } }) => [g.sub(y.exp().mul(g.sum(axis, true)))],
};

/** The gradient through a fused activation, written in terms of its output y. */
function throughActivation(g: Tensor, y: Tensor, activation: FusedActivation): Tensor {
  return activation === 'relu' ? where(y.gt(0), g, 0)
    : activation === 'sigmoid' ? g.mul(y.sub(y.square())) // s (1 - s)
    : activation === 'tanh' ? g.sub(g.mul(y.square())) // 1 - tanh^2
    : g;
}

/** act(x + bias), fused. */
export const biasActivation: OpDef<{ activation: FusedActivation }> = {
  name: 'biasActivation',
  forward: ([x, b], { activation }) => out(x, x.shape, x.dtype, x.backend.biasActivation(x, b, activation)),
  backward: (g, { out: y, attrs: { activation } }) => {
    const dz = throughActivation(g, y, activation);
    return [dz, dz]; // the bias's share is summed over the rows by the engine
  },
};

/**
 * Softmax cross-entropy with integer labels, fused: the forward computes each row's loss and
 * its gradient softmax(x) - onehot(label) in one pass; the backward only scales that gradient.
 */
export const softmaxCrossEntropy: OpDef<{ reduction: 'mean' | 'sum' | 'none' }> = {
  name: 'softmaxCrossEntropy',
  forward: ([logits, labels], { reduction }, saved) => {
    const r = logits.backend.softmaxCrossEntropy(logits, labels);
    saved.grad = out(logits, logits.shape, logits.dtype, r.grad);
    const losses = out(logits, [logits.shape[0]], logits.dtype, r.losses);
    return reduction === 'none' ? losses : reduction === 'sum' ? losses.sum() : losses.mean();
  },
  // d loss_i / d x_i = softmax(x_i) - onehot(y_i), scaled by the loss's gradient (over N for a mean)
  backward: (g, { inputs: [logits], attrs: { reduction }, saved }) => {
    const n = logits.shape[0];
    const scale = reduction === 'none' ? g.reshape([n, 1]) : reduction === 'mean' ? g.div(n) : g;
    return [(saved.grad as Tensor).mul(scale), null];
  },
};

/**
 * Scaled dot-product attention, fused: softmax(q k^T * scale, causally masked) v per (batch,
 * head). The forward saves each row's log-sum-exp so the backward recomputes the probabilities
 * block by block (FlashAttention's recomputation) instead of keeping a [B,H,Tq,Tk] tensor.
 * The backward is a kernel too, so it has no second derivative.
 */
export const attention: OpDef<{ scale: number; causal: boolean }> = {
  name: 'attention',
  forward: ([q, k, v], { scale, causal }, saved) => {
    const r = q.backend.attention(q, k, v, scale, causal);
    saved.lse = out(q, q.shape.slice(0, 3), q.dtype, r.lse);
    return out(q, q.shape, q.dtype, r.out);
  },
  backward: (g, { inputs: [q, k, v], out: y, attrs: { scale, causal }, saved }) => {
    const r = g.backend.attentionGrad(g, q, k, v, y, saved.lse as Tensor, scale, causal);
    return [out(g, q.shape, q.dtype, r.dq), out(g, k.shape, k.dtype, r.dk), out(g, v.shape, v.dtype, r.dv)];
  },
};

/**
 * The same attention on the packed layout: q, k and v read in place from the fused projection
 * qkv [B, T, 3C], out [B, T, C] with heads side by side, and one gradient dqkv [B, T, 3C]: the
 * head split and merge (a permute, three slices, a transpose and their gradients) never happen.
 */
export const attentionPacked: OpDef<{ heads: number; scale: number; causal: boolean }> = {
  name: 'attentionPacked',
  forward: ([qkv], { heads, scale, causal }, saved) => {
    const [b, t, c3] = qkv.shape;
    const r = qkv.backend.attentionPacked(qkv, heads, scale, causal);
    saved.lse = out(qkv, [b, heads, t], qkv.dtype, r.lse);
    return out(qkv, [b, t, c3 / 3], qkv.dtype, r.out);
  },
  backward: (g, { inputs: [qkv], out: y, attrs: { heads, scale, causal }, saved }) => {
    const r = g.backend.attentionPackedGrad(g, qkv, y, saved.lse as Tensor, heads, scale, causal);
    return [out(g, qkv.shape, qkv.dtype, r.dqkv)];
  },
};

/**
 * A decoding step on the packed layout: appends the new keys and values of qkv [B, T, 3C] in place
 * to preallocated cache buffers [B, H, capacity, D] and attends causally over every cached row.
 * Inference only: no backward (generation runs under noGrad).
 */
export const attentionCached: OpDef<{ heads: number; scale: number; kCache: unknown; vCache: unknown; length: number; capacity: number }> = {
  name: 'attentionCached',
  forward: ([qkv], { heads, scale, kCache, vCache, length, capacity }) => {
    const [b, t, c3] = qkv.shape;
    return out(qkv, [b, t, c3 / 3], qkv.dtype, qkv.backend.attentionCached(qkv, kCache, vCache, length, capacity, heads, scale).out);
  },
};

// ---- matmul: C = op(A) op(B), op = transpose or not ------------------------------------------------------
interface MatmulAttrs { transA: boolean; transB: boolean; shape: readonly number[] }

export const matmul: OpDef<MatmulAttrs> = {
  name: 'matmul',
  forward: ([a, b], at) => out(a, at.shape, a.dtype, a.backend.matmul(a, b, at.transA, at.transB, at.shape)),
  // dA = G op(B)^T (transposed back when A was), dB = op(A)^T G (likewise); batch dims are summed by the engine.
  backward: (g, { inputs: [a, b], attrs: { transA, transB }, needs }) => [
    !needs[0] ? null : transA ? matmulT(b, g, transB, true) : matmulT(g, b, false, !transB),
    !needs[1] ? null : transB ? matmulT(g, a, true, transA) : matmulT(a, g, !transA, false),
  ],
};

// ---- layout -------------------------------------------------------------------------------------------------
export const reshape: OpDef<{ shape: readonly number[] }> = {
  name: 'reshape',
  forward: ([x], { shape }) => out(x, shape, x.dtype, x.buf), // shares storage: a free view
  backward: (g, { inputs: [x] }) => [g.reshape(x.shape)],
};

export const permute: OpDef<{ axes: readonly number[] }> = {
  name: 'permute',
  forward: ([x], { axes }) => {
    const st = stridesOf(x.shape);
    return readViewOf(x, axes.map((a) => x.shape[a]), axes.map((a) => st[a]), 0);
  },
  backward: (g, { attrs: { axes } }) => {
    const inverse = axes.map((_, i) => axes.indexOf(i));
    return [g.permute(inverse)];
  },
};

export const expand: OpDef<{ shape: readonly number[]; strides: readonly number[] }> = {
  name: 'expand',
  forward: ([x], { shape, strides }) => readViewOf(x, shape, strides, 0),
  backward: (g) => [g], // summed back to the input's shape by the engine
};

/** A strided window: out[i] = x[offset + sum(i_d * strides_d)]. Slices with steps are this. */
interface WindowAttrs { shape: readonly number[]; strides: readonly number[]; offset: number }

export const slice: OpDef<WindowAttrs> = {
  name: 'slice',
  forward: ([x], at) => readViewOf(x, at.shape, at.strides, at.offset),
  backward: (g, { inputs: [x], attrs }) => [writeIntoFilled(x.shape, 0, [{ shape: attrs.shape, strides: attrs.strides, offset: attrs.offset, src: g }])],
};

export const pad: OpDef<WindowAttrs & { outShape: readonly number[]; value: number }> = {
  name: 'pad',
  forward: ([x], at) => writeIntoFilled(at.outShape, at.value, [{ shape: at.shape, strides: at.strides, offset: at.offset, src: x }]),
  backward: (g, { attrs }) => [readViewOf(g, attrs.shape, attrs.strides, attrs.offset)],
};

/** concat writes each input into its window of the output; the gradient reads the windows back. */
export const concat: OpDef<{ shape: readonly number[]; windows: WindowAttrs[] }> = {
  name: 'concat',
  forward: (xs, at) => writeIntoFilled(at.shape, 0, at.windows.map((w, i) => ({ shape: w.shape, strides: w.strides, offset: w.offset, src: xs[i] }))),
  backward: (g, { attrs }) => attrs.windows.map((w) => readViewOf(g, w.shape, w.strides, w.offset)),
};

// ---- indexing -------------------------------------------------------------------------------------------------
export const gather: OpDef<{ axis: number }> = {
  name: 'gather',
  forward: ([x, index], { axis }) => out(x, index.shape, x.dtype, x.backend.gather(x, axis, index)),
  backward: (g, { inputs: [x, index], attrs: { axis } }) => [
    out(g, x.shape, g.dtype, g.backend.scatterAdd(x.shape, g.dtype, axis, index, g)),
    null,
  ],
};

export const indexSelect: OpDef<{ axis: number }> = {
  name: 'indexSelect',
  forward: ([x, index], { axis }) => {
    const shape = x.shape.map((d, i) => (i === axis ? index.size : d));
    return out(x, shape, x.dtype, x.backend.indexSelect(x, axis, index));
  },
  backward: (g, { inputs: [x, index], attrs: { axis } }) => [
    out(g, x.shape, g.dtype, g.backend.indexAdd(x.shape, g.dtype, axis, index, g)),
    null,
  ],
};

// ---- convolution and pooling, NCHW ------------------------------------------------------------------------------
/** act(conv(x, w) + bias): inputs [x, w] or [x, w, bias [O]]; the epilogue runs inside the kernel. */
export const conv2d: OpDef<Conv2dGeometry & { shape: readonly number[]; activation: FusedActivation }> = {
  name: 'conv2d',
  forward: ([x, w, b], at) => out(x, at.shape, x.dtype, x.backend.conv2d(x, w, b ?? null, at.activation, at, at.shape)),
  backward: (g, { inputs: [x, w, b], out: y, attrs, needs }) => {
    const dz = throughActivation(g, y, attrs.activation);
    return [
      needs[0] ? out(g, x.shape, g.dtype, g.backend.conv2dGradInput(dz, w, attrs, x.shape)) : null, // a network's input needs none
      needs[1] ? out(g, w.shape, g.dtype, g.backend.conv2dGradWeight(dz, x, attrs, w.shape)) : null,
      ...(b ? [needs[2] ? dz.sum([0, 2, 3]) : null] : []),
    ];
  },
};

export const maxPool2d: OpDef<Pool2dGeometry & { shape: readonly number[] }> = {
  name: 'maxPool2d',
  forward: ([x], at, saved: Saved, recording) => {
    const r = x.backend.maxPool2d(x, at, at.shape, recording);
    saved.argmax = r.argmax;
    return out(x, at.shape, x.dtype, r.out);
  },
  backward: (g, { inputs: [x], saved }) => [out(g, x.shape, g.dtype, g.backend.maxPool2dGrad(g, saved.argmax, x.shape))],
};

/** Inference only (no backward): biasActivation(matmul(x, w), bias) in one kernel; src/ops/nn.ts runs the two ops where a gradient is wanted. */
export const linear: OpDef<{ activation: FusedActivation; shape: readonly number[] }> = {
  name: 'linear',
  forward: ([x, w, b], at) => out(x, at.shape, x.dtype, x.backend.linear!(x, w, b, at.activation, at.shape)),
};

/** Inference only (no backward): linear(scaleShift(x), ...) in one kernel, x uint8 or float32; src/ops/nn.ts runs the two ops otherwise. */
export const rescaledLinear: OpDef<{ scale: number; offset: number; activation: FusedActivation; shape: readonly number[] }> = {
  name: 'rescaledLinear',
  forward: ([x, w, b], at) => out(x, at.shape, 'float32', x.backend.rescaledLinear!(x, at.scale, at.offset, w, b, at.activation, at.shape)),
};

/** Inference only (no backward): maxPool2d(conv2d(...)) in one kernel; src/ops/nn.ts runs the two ops where a gradient is wanted. */
export const conv2dMaxPool: OpDef<Conv2dGeometry & { shape: readonly number[]; activation: FusedActivation; convShape: readonly number[]; pool: Pool2dGeometry }> = {
  name: 'conv2dMaxPool',
  forward: ([x, w, b], at) => out(x, at.shape, x.dtype, x.backend.conv2dMaxPool!(x, w, b ?? null, at.activation, at, at.convShape, at.pool, at.shape)),
};

export const avgPool2d: OpDef<Pool2dGeometry & { shape: readonly number[] }> = {
  name: 'avgPool2d',
  forward: ([x], at) => out(x, at.shape, x.dtype, x.backend.avgPool2d(x, at, at.shape)),
  backward: (g, { inputs: [x], attrs }) => [out(g, x.shape, g.dtype, g.backend.avgPool2dGrad(g, attrs, x.shape))],
};

// ---- fused transformer ops (GPT) --------------------------------------------------------------------
/**
 * dx = g * gelu'(x) in one kernel: the backward of gelu and geluTanh. Its own rule gives the
 * second derivative: d/dg = gelu'(x) (this op again) and d/dx = g gg gelu''(x), with
 * gelu'' = phi(x) (2 - x^2) for the exact form and, for y = x/2 (1 + tanh u), u = c (x + a x^3),
 * y'' = (1 - t^2) (u' - x t u'^2 + 3 a c x^2) where t = tanh u and u' = c (1 + 3 a x^2).
 * (The engine runs rules under noGrad, so only a direct apply of geluGrad reaches this rule today.)
 */
export const geluGrad: OpDef<{ approximate: boolean }> = {
  name: 'geluGrad',
  forward: ([g, x], { approximate }) => out(x, x.shape, x.dtype, x.backend.geluGrad(x, g, approximate)),
  backward: (gg, { inputs: [g, x], attrs: { approximate } }) => {
    let second: Tensor;
    if (approximate) {
      const a = 0.044715;
      const t = x.pow(3).mul(a).add(x).mul(SQRT_2_OVER_PI).tanh();
      const du = x.square().mul(3 * a).add(1).mul(SQRT_2_OVER_PI);
      second = t.square().neg().add(1).mul(du.sub(x.mul(t).mul(du.square())).add(x.square().mul(3 * a * SQRT_2_OVER_PI)));
    } else {
      second = x.square().mul(-0.5).exp().mul(INV_SQRT_2PI).mul(x.square().neg().add(2));
    }
    return [apply(geluGrad, [gg, x], { approximate }), gg.mul(g).mul(second)];
  },
};

/**
 * LayerNorm over the last axis, fused: inputs x [..., C] then gamma [C] and beta [C] where
 * present. The forward saves each row's mean and rstd; the backward is one kernel giving dx,
 * dgamma and dbeta (llm.c's layernorm_backward), so it has no second derivative.
 */
export const layerNorm: OpDef<{ eps: number; gamma: boolean; beta: boolean }> = {
  name: 'layerNorm',
  forward: (inputs, { eps, gamma, beta }, saved) => {
    const x = inputs[0];
    const r = x.backend.layerNorm(x, gamma ? inputs[1] : null, beta ? inputs[gamma ? 2 : 1] : null, eps);
    const rows = x.shape.slice(0, -1);
    saved.mean = out(x, rows, x.dtype, r.mean);
    saved.rstd = out(x, rows, x.dtype, r.rstd);
    return out(x, x.shape, x.dtype, r.out);
  },
  backward: (g, { inputs, attrs, saved }) => {
    const x = inputs[0];
    const r = g.backend.layerNormGrad(g, x, saved.mean as Tensor, saved.rstd as Tensor, attrs.gamma ? inputs[1] : null);
    const C = [x.shape[x.rank - 1]];
    return [
      out(g, x.shape, x.dtype, r.dx),
      ...(attrs.gamma ? [out(g, C, x.dtype, r.dgamma)] : []),
      ...(attrs.beta ? [out(g, C, x.dtype, r.dbeta)] : []),
    ];
  },
};

// ---- quantized inference (src/quant) -------------------------------------------------------------
// Inputs [x, wScale] or [x, wScale, bias]; the int8 weights travel packed in the attributes.
// No gradient rule: quantized layers are for inference (fine-tune the float model instead).
interface QuantizedAttrs { w: PackedInt8; input: InputQuantization | null; activation: FusedActivation; shape: readonly number[] }

export const quantizedLinear: OpDef<QuantizedAttrs> = {
  name: 'quantizedLinear',
  forward: ([x, s, b], at) => out(x, at.shape, 'float32', x.backend.quantizedLinear!(x, at.w, s, b ?? null, at.activation, at.input)),
};

export const rescaledQuantizedLinear: OpDef<QuantizedAttrs & { scale: number; offset: number }> = {
  name: 'rescaledQuantizedLinear',
  forward: ([x, s, b], at) => out(x, at.shape, 'float32', x.backend.rescaledQuantizedLinear!(x, at.scale, at.offset, at.w, s, b ?? null, at.activation, at.input)),
};

export const quantizedConv2dMaxPool: OpDef<QuantizedAttrs & Conv2dGeometry & { convShape: readonly number[]; pool: Pool2dGeometry }> = {
  name: 'quantizedConv2dMaxPool',
  forward: ([x, s, b], at) => out(x, at.shape, 'float32', x.backend.quantizedConv2dMaxPool!(x, at.w, s, b ?? null, at.activation, at.input, at, at.convShape, at.pool, at.shape)),
};

type ConvBlockAttrs = Omit<QuantizedConvBlockPlan, 'wScale' | 'bias'> & { bias: boolean };
// Inputs [x, then each block's wScale and bias (if it has one)].
export const quantizedConvBlocks: OpDef<{ blocks: readonly ConvBlockAttrs[]; shape: readonly number[]; rescale: { scale: number; offset: number } | null }> = {
  name: 'quantizedConvBlocks',
  forward: ([x, ...perBlock], at) => {
    let i = 0;
    const blocks = at.blocks.map((b) => Object.assign({}, b, { wScale: perBlock[i++], bias: b.bias ? perBlock[i++] : null }));
    return out(x, at.shape, 'float32', x.backend.quantizedConvBlocks!(x, blocks, at.shape, at.rescale));
  },
};

export const quantizedConv2d: OpDef<QuantizedAttrs & Conv2dGeometry> = {
  name: 'quantizedConv2d',
  forward: ([x, s, b], at) => out(x, at.shape, 'float32', x.backend.quantizedConv2d!(x, at.w, s, b ?? null, at.activation, at.input, at, at.shape)),
};
