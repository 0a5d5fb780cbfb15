// Neural-network primitives: softmax, convolution and pooling (NCHW, PyTorch's conventions).
import { apply, isGradEnabled, noGrad } from '../autograd/engine.js';
import { FUSED_ACTIVATIONS, type Conv2dGeometry, type FusedActivation, type Pool2dGeometry } from '../backends/backend.js';
import { fail, fmtShape } from '../errors.js';
import { isFloat } from '../tensor/dtype.js';
import { normAxis } from '../tensor/shape.js';
import { whileReadAsync } from '../tensor/inplace.js';
import { Tensor } from '../tensor/tensor.js';
import { cast, rescale } from './elementwise.js';
import { matmul } from './linalg.js';
import * as T from './table.js';

function softmaxLike(op: 'softmax' | 'logSoftmax', x: Tensor, axis: number): Tensor {
  if (!(x instanceof Tensor)) fail(op, `expected a Tensor, got ${typeof x}`);
  if (x.rank === 0) fail(op, 'expected at least a 1-D tensor, got a scalar');
  const input = isFloat(x.dtype) ? x : cast(x, 'float32');
  return apply(T[op], [input], { axis: normAxis(op, axis, x.rank) });
}

export const softmax = (x: Tensor, axis = -1) => softmaxLike('softmax', x, axis);
export const logSoftmax = (x: Tensor, axis = -1) => softmaxLike('logSoftmax', x, axis);

/**
 * act(x + bias) in one pass, for x [..., C] and bias [C]: a dense layer's bias and activation.
 * activation: 'linear' (none), 'relu', 'sigmoid' or 'tanh'.
 */
export function biasActivation(x: Tensor, bias: Tensor, activation: FusedActivation = 'linear'): Tensor {
  const op = 'biasActivation';
  if (!FUSED_ACTIVATIONS.includes(activation)) fail(op, `activation must be one of ${FUSED_ACTIVATIONS.join(', ')}, got ${JSON.stringify(activation)}`);
  if (!(x instanceof Tensor) || !(bias instanceof Tensor)) fail(op, 'expected Tensors for x and bias');
  if (!isFloat(x.dtype) || x.dtype !== bias.dtype) fail(op, `x and bias must be float tensors of one dtype, got ${x.dtype} and ${bias.dtype}`);
  if (x.rank === 0 || bias.rank !== 1 || bias.size !== x.shape[x.rank - 1]) {
    fail(op, `bias must have shape [${x.rank === 0 ? '?' : x.shape[x.rank - 1]}] for x ${fmtShape(x.shape)}, got ${fmtShape(bias.shape)}`);
  }
  return apply(T.biasActivation, [x, bias], { activation });
}

/**
 * biasActivation(matmul(x, w), bias, activation) for x [..., K], w [K, N], bias [N]: a Dense
 * layer's forward. One kernel where the backend has one and no gradient is to be recorded (the
 * bias and activation applied while the output is in cache), else the two ops; the same values.
 */
export function linear(x: Tensor, w: Tensor, bias: Tensor, activation: FusedActivation = 'linear'): Tensor {
  if (!x.backend.linear || x.dtype !== 'float32' || !fusedDenseFits(x, w, bias, activation)) return biasActivation(matmul(x, w), bias, activation);
  return apply(T.linear, [x, w, bias], { activation, shape: [...x.shape.slice(0, -1), w.shape[1]] });
}

/**
 * linear(rescale(x, scale, offset), w, bias, activation): a Rescaling layer and the Dense after
 * it. Where the backend has the fused kernel (native: each block of x is rescaled as the GEMM
 * reaches it, so no rescaled copy of the whole input is written), x uint8 or float32 and no gradient is
 * recorded, one op; else the two. The same values either way.
 */
export function rescaledLinear(x: Tensor, scale: number, offset: number, w: Tensor, bias: Tensor, activation: FusedActivation = 'linear'): Tensor {
  const raw = x.dtype === 'uint8' || x.dtype === 'float32';
  if (!x.backend.rescaledLinear || !raw || !Number.isFinite(scale) || !Number.isFinite(offset) || !fusedDenseFits(x, w, bias, activation)) {
    return linear(rescale(x, scale, offset), w, bias, activation);
  }
  return apply(T.rescaledLinear, [x, w, bias], { scale, offset, activation, shape: [...x.shape.slice(0, -1), w.shape[1]] });
}

/** Whether a dense layer's fused kernels take x, w [K, N], bias [N]: no gradient recorded, float32 weights on x's backend, shapes that chain. */
function fusedDenseFits(x: Tensor, w: Tensor, bias: Tensor, activation: FusedActivation): boolean {
  const recording = isGradEnabled() && (x.requiresGrad || w.requiresGrad || bias.requiresGrad);
  const fits = x.rank >= 1 && w.rank === 2 && bias.rank === 1 && x.shape[x.rank - 1] === w.shape[0] && bias.size === w.shape[1];
  const one = x.backend === w.backend && x.backend === bias.backend && w.dtype === 'float32' && bias.dtype === 'float32';
  return !recording && fits && one && FUSED_ACTIVATIONS.includes(activation);
}

export interface CrossEntropyOptions {
  /** How the per-example losses combine: their mean (the default, as in Keras and PyTorch), sum, or none. */
  reduction?: 'mean' | 'sum' | 'none';
}

/**
 * Cross-entropy between softmax(logits) and integer class labels, computed stably from the
 * logits (PyTorch's F.cross_entropy, Keras' sparse categorical cross-entropy with
 * fromLogits). logits [N, C] float, labels [N] int32 in [0, C).
 */
export function softmaxCrossEntropy(logits: Tensor, labels: Tensor, options: CrossEntropyOptions = {}): Tensor {
  const op = 'softmaxCrossEntropy';
  const reduction = options.reduction ?? 'mean';
  if (!['mean', 'sum', 'none'].includes(reduction)) fail(op, `reduction must be "mean", "sum" or "none", got ${JSON.stringify(reduction)}`);
  if (!(logits instanceof Tensor) || logits.rank !== 2 || !isFloat(logits.dtype)) {
    fail(op, `logits must be a 2-D float tensor [batch, classes], got ${logits instanceof Tensor ? `${logits.dtype} ${fmtShape(logits.shape)}` : typeof logits}`);
  }
  if (!(labels instanceof Tensor) || labels.dtype !== 'int32' || labels.rank !== 1 || labels.size !== logits.shape[0]) {
    fail(op, `labels must be an int32 tensor of shape [${logits.shape[0]}], got ${labels instanceof Tensor ? `${labels.dtype} ${fmtShape(labels.shape)}` : typeof labels}`);
  }
  if (logits.shape[0] === 0 && reduction === 'mean') fail(op, 'cannot average over an empty batch');
  const classes = logits.shape[1];
  const data = labels.dataSync();
  for (let i = 0; i < data.length; i++) {
    if (data[i] < 0 || data[i] >= classes) fail(op, `labels[${i}] = ${data[i]} is out of range for ${classes} classes`);
  }
  return apply(T.softmaxCrossEntropy, [logits, labels], { reduction });
}

export type Pair = number | readonly [number, number];

export function pair(op: string, name: string, v: Pair, min: number): [number, number] {
  if (typeof v !== 'number' && (!Array.isArray(v) || v.length !== 2)) fail(op, `${name} must be a number or a pair, got ${JSON.stringify(v)}`);
  const p: [number, number] = typeof v === 'number' ? [v, v] : [v[0], v[1]];
  if (p.some((d) => !Number.isInteger(d) || d < min)) fail(op, `${name} must be integers >= ${min}, got ${JSON.stringify(v)}`);
  return p;
}

function check4d(op: string, x: Tensor, what: string): void {
  if (!(x instanceof Tensor)) fail(op, `${what} must be a Tensor`);
  if (x.rank !== 4) fail(op, `${what} must be 4-D (${what === 'input' ? 'N, C, H, W' : 'out, in/groups, kH, kW'}), got ${fmtShape(x.shape)}`);
  if (!isFloat(x.dtype)) fail(op, `${what} must be float, got ${x.dtype}`);
  if (what === 'weight' && x.shape.some((d) => d < 1)) fail(op, `weight dimensions must be at least 1, got ${fmtShape(x.shape)}`);
}

export function outSize(op: string, inSize: number, k: number, s: number, p: number, d: number, inShape: readonly number[]): number {
  const n = Math.floor((inSize + 2 * p - d * (k - 1) - 1) / s) + 1;
  if (n <= 0) fail(op, `kernel ${k} (dilation ${d}) does not fit input ${fmtShape(inShape)} with padding ${p}`);
  return n;
}

export interface Conv2dOptions {
  stride?: Pair;
  padding?: Pair;
  dilation?: Pair;
  groups?: number;
  /** Applied inside the kernel after the bias: 'linear' (the default), 'relu', 'sigmoid' or 'tanh'. */
  activation?: FusedActivation;
}

/** Checks conv2d's arguments and works out its geometry and output shape. */
function convPlan(x: Tensor, w: Tensor, bias: Tensor | null | undefined, options: Conv2dOptions): Conv2dGeometry & { shape: number[]; activation: FusedActivation } {
  check4d('conv2d', x, 'input');
  check4d('conv2d', w, 'weight');
  const groups = options.groups ?? 1;
  if (!Number.isInteger(groups) || groups < 1 || x.shape[1] % groups !== 0 || w.shape[0] % groups !== 0) {
    fail('conv2d', `groups ${groups} must divide input channels ${x.shape[1]} and output channels ${w.shape[0]}`);
  }
  if (w.shape[1] * groups !== x.shape[1]) {
    fail('conv2d', `input ${fmtShape(x.shape)} has ${x.shape[1]} channels, weight ${fmtShape(w.shape)} expects ${w.shape[1] * groups}`);
  }
  if (x.dtype !== w.dtype) fail('conv2d', `input is ${x.dtype}, weight is ${w.dtype}`);
  if (bias) {
    if (!(bias instanceof Tensor) || bias.rank !== 1 || bias.size !== w.shape[0]) {
      fail('conv2d', `bias must have shape [${w.shape[0]}], got ${bias instanceof Tensor ? fmtShape(bias.shape) : typeof bias}`);
    }
    if (bias.dtype !== x.dtype) fail('conv2d', `bias is ${bias.dtype}, input is ${x.dtype}`);
  }
  const activation = options.activation ?? 'linear';
  if (!FUSED_ACTIVATIONS.includes(activation)) fail('conv2d', `activation must be one of ${FUSED_ACTIVATIONS.join(', ')}, got ${JSON.stringify(activation)}`);
  const g: Conv2dGeometry = {
    stride: pair('conv2d', 'stride', options.stride ?? 1, 1),
    padding: pair('conv2d', 'padding', options.padding ?? 0, 0),
    dilation: pair('conv2d', 'dilation', options.dilation ?? 1, 1),
    groups,
  };
  const shape = [
    x.shape[0],
    w.shape[0],
    outSize('conv2d', x.shape[2], w.shape[2], g.stride[0], g.padding[0], g.dilation[0], x.shape),
    outSize('conv2d', x.shape[3], w.shape[3], g.stride[1], g.padding[1], g.dilation[1], x.shape),
  ];
  return { stride: g.stride, padding: g.padding, dilation: g.dilation, groups: g.groups, shape, activation };
}

/** 2-D convolution (cross-correlation, as in every framework): x [N,C,H,W], w [O,C/groups,kH,kW], bias [O]. */
export function conv2d(x: Tensor, w: Tensor, bias?: Tensor | null, options: Conv2dOptions = {}): Tensor {
  return apply(T.conv2d, bias ? [x, w, bias] : [x, w], convPlan(x, w, bias, options));
}

/**
 * conv2d computed off the main thread where the backend can (native), for servers: the event
 * loop keeps answering meanwhile. For inference: it records no gradient.
 */
export async function conv2dAsync(x: Tensor, w: Tensor, bias?: Tensor | null, options: Conv2dOptions = {}): Promise<Tensor> {
  const plan = convPlan(x, w, bias, options);
  if (w.backend !== x.backend) fail('conv2d', `tensors are on different backends (${x.backend.name} and ${w.backend.name})`);
  if (!x.backend.conv2dAsync) return noGrad(() => conv2d(x, w, bias, options));
  const buf = await whileReadAsync(bias ? [x.buf, w.buf, bias.buf] : [x.buf, w.buf], () => x.backend.conv2dAsync!(x, w, bias ?? null, plan.activation, plan, plan.shape));
  return new Tensor(plan.shape, x.dtype, buf, x.backend);
}

export interface Pool2dOptions {
  /** Defaults to the kernel size, as in PyTorch. */
  stride?: Pair;
  padding?: Pair;
}

/** Pooling geometry over an input of shape `xShape` (4-d, checked by the caller). */
export function poolGeometry(op: string, xShape: readonly number[], kernel: Pair, options: Pool2dOptions): Pool2dGeometry & { shape: number[] } {
  const k = pair(op, 'kernelSize', kernel, 1);
  const s = pair(op, 'stride', options.stride ?? k, 1);
  const p = pair(op, 'padding', options.padding ?? 0, 0);
  if (p[0] * 2 > k[0] || p[1] * 2 > k[1]) fail(op, `padding ${JSON.stringify(p)} must be at most half the kernel ${JSON.stringify(k)}`);
  const shape = [xShape[0], xShape[1], outSize(op, xShape[2], k[0], s[0], p[0], 1, xShape), outSize(op, xShape[3], k[1], s[1], p[1], 1, xShape)];
  return { kernel: k, stride: s, padding: p, shape };
}

/** Max over each window; padding acts as -infinity. */
export function maxPool2d(x: Tensor, kernelSize: Pair, options: Pool2dOptions = {}): Tensor {
  check4d('maxPool2d', x, 'input');
  return apply(T.maxPool2d, [x], poolGeometry('maxPool2d', x.shape, kernelSize, options));
}

/**
 * maxPool2d(conv2d(x, w, bias, options), kernelSize, poolOptions), the same values, for
 * inference: one kernel where the backend has one, so the conv's output (4x the pooled one for
 * 2x2 windows) never goes to memory. Where a gradient is to be recorded, the two ops run.
 */
export function conv2dMaxPool(x: Tensor, w: Tensor, bias: Tensor | null | undefined, options: Conv2dOptions, kernelSize: Pair, poolOptions: Pool2dOptions = {}): Tensor {
  const plan = convPlan(x, w, bias, options);
  const recording = isGradEnabled() && (x.requiresGrad || w.requiresGrad || !!bias?.requiresGrad);
  if (recording || !x.backend.conv2dMaxPool || x.dtype !== 'float32' || w.backend !== x.backend) {
    return maxPool2d(conv2d(x, w, bias, options), kernelSize, poolOptions);
  }
  const pool = poolGeometry('maxPool2d', plan.shape, kernelSize, poolOptions);
  const { stride, padding, dilation, groups, activation } = plan;
  return apply(T.conv2dMaxPool, bias ? [x, w, bias] : [x, w], { stride, padding, dilation, groups, activation, convShape: plan.shape, shape: pool.shape, pool });
}

/** Mean over each window; zero padding counts toward the divisor (PyTorch's default). */
export function avgPool2d(x: Tensor, kernelSize: Pair, options: Pool2dOptions = {}): Tensor {
  check4d('avgPool2d', x, 'input');
  return apply(T.avgPool2d, [x], poolGeometry('avgPool2d', x.shape, kernelSize, options));
}
