// How each Lathe layer becomes ONNX nodes (opset 13+). Every mapping computes what the layer's
// forward computes in eval mode, with the same padding rules, so ONNX Runtime's outputs match
// Lathe's to float32 rounding; test/io/onnx-export.test.ts checks each one against ORT. The
// graph builder they write into is here too; export.ts assembles the model.
import type { Layer } from '../../nn/layer.js';
import type { Activation } from '../../nn/layers/activation.js';
import type { Conv2D } from '../../nn/layers/conv.js';
import type { Dense } from '../../nn/layers/dense.js';
import type { Embedding } from '../../nn/layers/embedding.js';
import type { LeakyReLU } from '../../nn/layers/leaky-relu.js';
import type { BatchNormalization, LayerNormalization } from '../../nn/layers/normalization.js';
import { planAxis } from '../../nn/layers/padding.js';
import type { AvgPool2D, GlobalAveragePooling2D, MaxPool2D } from '../../nn/layers/pooling.js';
import type { Reshape } from '../../nn/layers/reshape.js';
import type { Rescaling } from '../../nn/layers/rescaling.js';
import type { Tensor } from '../../tensor/tensor.js';
import { ONNX_ATTR, ONNX_DTYPE } from './schema.js';
import { QUANTIZED_EXPORTS } from './export-quantized.js';
import { transformerExports } from './export-transformer.js';

export type ElemType = (typeof ONNX_DTYPE)[keyof typeof ONNX_DTYPE];
type Attr = Record<string, unknown>;

/** Attribute constructors: AttributeProto needs its type code beside the value. */
export const attr = {
  int: (name: string, i: number): Attr => ({ name, type: ONNX_ATTR.INT, i }),
  float: (name: string, f: number): Attr => ({ name, type: ONNX_ATTR.FLOAT, f }),
  ints: (name: string, ints: readonly number[]): Attr => ({ name, type: ONNX_ATTR.INTS, ints: [...ints] }),
};

/** Accumulates nodes and initializers; every value gets a fresh name, so layers never collide. */
export class GraphBuilder {
  readonly nodes: Attr[] = [];
  readonly initializers: Attr[] = [];
  private count = 0;

  constructor(readonly opset: number) {}

  fresh(hint: string): string {
    return `${hint}_${this.count++}`;
  }

  /** Adds a node with one output and returns that output's name. */
  node(opType: string, inputs: string[], attributes: Attr[] = [], hint = opType): string {
    const out = this.fresh(hint);
    this.nodes.push({ opType, input: inputs, output: [out], name: `${opType}_${this.nodes.length}`, attribute: attributes });
    return out;
  }

  /** A float32 initializer from raw values; raw_data is little-endian, as onnx.proto requires (Node is LE on every platform it runs on here). */
  floats(name: string, values: Float32Array | readonly number[], dims: readonly number[]): string {
    const data = values instanceof Float32Array ? values : Float32Array.from(values);
    this.initializers.push({ name, dataType: ONNX_DTYPE.FLOAT, dims: [...dims], rawData: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) });
    return name;
  }

  /** A float32 initializer holding a tensor's values (the tensor is read once, here). */
  tensor(name: string, t: Tensor): string {
    return this.floats(name, Float32Array.from(t.dataSync() as ArrayLike<number>), t.shape);
  }

  /** An int64 initializer: a vector, or a scalar with `dims` []. */
  int64s(name: string, values: readonly number[], dims: readonly number[] = [values.length]): string {
    const data = BigInt64Array.from(values.map((v) => BigInt(v)));
    this.initializers.push({ name, dataType: ONNX_DTYPE.INT64, dims: [...dims], rawData: new Uint8Array(data.buffer) });
    return name;
  }

  /** A scalar float constant, for Mul/Add by a number (broadcast by ONNX's numpy rules). */
  scalar(hint: string, v: number): string {
    return this.floats(this.fresh(hint), [v], []);
  }
}

/** State threaded through the layers: the current value, its element type and per-example shape. */
export interface ExportContext {
  g: GraphBuilder;
  value: string;
  elemType: ElemType;
  shape: number[];
  /** The layer's position, for initializer names that match the state dict (layers.0.kernel). */
  prefix: string;
  /** How int8 weights are written (ExportOnnxOptions.weightType). */
  weightType: 'uint8' | 'int8';
}


type Emit = (ctx: ExportContext, layer: Layer) => void;

/** Lathe's activations (src/nn/activations.ts) as ONNX nodes on value x; returns the result. */
const ACTIVATION_EXPORTS: Record<string, (g: GraphBuilder, x: string) => string> = {
  linear: (_g, x) => x,
  relu: (g, x) => g.node('Relu', [x]),
  sigmoid: (g, x) => g.node('Sigmoid', [x]),
  tanh: (g, x) => g.node('Tanh', [x]),
  softmax: (g, x) => g.node('Softmax', [x], [attr.int('axis', -1)]),
  logSoftmax: (g, x) => g.node('LogSoftmax', [x], [attr.int('axis', -1)]),
  // Lathe's gelu is the exact one, 0.5 x (1 + erf(x / sqrt 2)); ONNX's Gelu op only arrives in opset 20.
  gelu: (g, x) => {
    const e = g.node('Erf', [g.node('Mul', [x, g.scalar('inv_sqrt2', Math.SQRT1_2)])]);
    return g.node('Mul', [g.node('Mul', [x, g.node('Add', [e, g.scalar('one', 1)])]), g.scalar('half', 0.5)]);
  },
  elu: (g, x) => g.node('Elu', [x], [attr.float('alpha', 1)]),
  leakyRelu: (g, x) => g.node('LeakyRelu', [x], [attr.float('alpha', 0.2)]), // the activation string's slope (Keras' function default)
  softplus: (g, x) => g.node('Softplus', [x]),
  silu: (g, x) => g.node('Mul', [x, g.node('Sigmoid', [x])]),
  swish: (g, x) => g.node('Mul', [x, g.node('Sigmoid', [x])]),
};

export function activate(ctx: ExportContext, activation: string): void {
  ctx.value = ACTIVATION_EXPORTS[activation](ctx.g, ctx.value);
}

/** Float layers cast integer input (uint8 pixels) to float32 first, as Lathe's layers do. */
export function toFloat(ctx: ExportContext): void {
  if (ctx.elemType === ONNX_DTYPE.FLOAT) return;
  ctx.value = ctx.g.node('Cast', [ctx.value], [attr.int('to', ONNX_DTYPE.FLOAT)]);
  ctx.elemType = ONNX_DTYPE.FLOAT;
}

/** A per-channel vector, or `fill` when the layer learns none (center/scale off): ONNX wants all four BN inputs. */
function vectorOr(ctx: ExportContext, name: string, t: Tensor | null, fill: number, size: number): string {
  return t ? ctx.g.tensor(`${ctx.prefix}.${name}`, t) : ctx.g.floats(`${ctx.prefix}.${name}`, new Float32Array(size).fill(fill), [size]);
}

/** Spatial pads [top, left, bottom, right] as planAxis gives them (Keras' 'same' puts the odd pixel after). */
export function spatialPads(shape: readonly number[], k: readonly number[], s: readonly number[], d: readonly number[], padding: Conv2D['padding']): number[] {
  const h = planAxis(shape[1], k[0], s[0], d[0], padding, 0);
  const w = planAxis(shape[2], k[1], s[1], d[1], padding, 1);
  return [h.before, w.before, h.after, w.after];
}

export const LAYER_EXPORTS: Record<string, Emit> = {
  dense: (ctx, layer) => {
    const l = layer as Dense;
    toFloat(ctx);
    const kernel = ctx.g.tensor(`${ctx.prefix}.kernel`, l.kernel);
    const bias = l.bias ? [ctx.g.tensor(`${ctx.prefix}.bias`, l.bias)] : [];
    // Gemm wants a 2-D A; a Dense on [N, T, F] (applied on the last axis) is MatMul + Add.
    if (ctx.shape.length === 1) ctx.value = ctx.g.node('Gemm', [ctx.value, kernel, ...bias]);
    else {
      ctx.value = ctx.g.node('MatMul', [ctx.value, kernel]);
      if (bias.length) ctx.value = ctx.g.node('Add', [ctx.value, bias[0]]);
    }
    activate(ctx, l.activation);
  },
  conv2d: (ctx, layer) => {
    const l = layer as Conv2D;
    toFloat(ctx);
    const inputs = [ctx.value, ctx.g.tensor(`${ctx.prefix}.kernel`, l.kernel), ...(l.bias ? [ctx.g.tensor(`${ctx.prefix}.bias`, l.bias)] : [])];
    ctx.value = ctx.g.node('Conv', inputs, [
      attr.ints('kernel_shape', l.kernelSize),
      attr.ints('strides', l.strides),
      attr.ints('dilations', l.dilationRate),
      attr.int('group', l.groups),
      attr.ints('pads', spatialPads(ctx.shape, l.kernelSize, l.strides, l.dilationRate, l.padding)),
    ]);
    activate(ctx, l.activation);
  },
  // Max pooling ignores padding in ONNX as in Lathe (-inf), for 'same' and explicit padding alike.
  maxpool2d: (ctx, layer) => {
    const l = layer as MaxPool2D;
    toFloat(ctx);
    const pads = spatialPads(ctx.shape, l.poolSize, l.strides, [1, 1], l.padding);
    ctx.value = ctx.g.node('MaxPool', [ctx.value], [attr.ints('kernel_shape', l.poolSize), attr.ints('strides', l.strides), attr.ints('pads', pads)]);
  },
  // Lathe's average: 'same' divides by the real pixels (TensorFlow), explicit padding by the whole
  // window (PyTorch; Lathe keeps padding <= half the window, so no window passes the padded edge).
  avgpool2d: (ctx, layer) => {
    const l = layer as AvgPool2D;
    toFloat(ctx);
    const pads = spatialPads(ctx.shape, l.poolSize, l.strides, [1, 1], l.padding);
    const countPad = Array.isArray(l.padding) ? 1 : 0;
    ctx.value = ctx.g.node('AveragePool', [ctx.value], [attr.ints('kernel_shape', l.poolSize), attr.ints('strides', l.strides), attr.ints('pads', pads), attr.int('count_include_pad', countPad)]);
  },
  globalaveragepooling2d: (ctx, layer) => globalPool(ctx, layer as GlobalAveragePooling2D, 'GlobalAveragePool'),
  globalmaxpooling2d: (ctx, layer) => globalPool(ctx, layer as GlobalAveragePooling2D, 'GlobalMaxPool'),
  batchnormalization: (ctx, layer) => {
    const l = layer as BatchNormalization;
    toFloat(ctx);
    const c = l.movingMean.size;
    const inputs = [
      ctx.value,
      vectorOr(ctx, 'gamma', l.gamma, 1, c),
      vectorOr(ctx, 'beta', l.beta, 0, c),
      ctx.g.tensor(`${ctx.prefix}.movingMean`, l.movingMean),
      ctx.g.tensor(`${ctx.prefix}.movingVariance`, l.movingVariance),
    ];
    // Inference mode (training_mode 0, the default): normalises with the moving statistics, as Lathe's eval mode does.
    ctx.value = ctx.g.node('BatchNormalization', inputs, [attr.float('epsilon', l.epsilon)]);
  },
  layernormalization: (ctx, layer) => {
    const l = layer as LayerNormalization;
    toFloat(ctx);
    const f = ctx.shape[ctx.shape.length - 1];
    if (ctx.g.opset >= 17) {
      const inputs = [ctx.value, vectorOr(ctx, 'gamma', l.gamma, 1, f), ...(l.beta ? [ctx.g.tensor(`${ctx.prefix}.beta`, l.beta)] : [])];
      ctx.value = ctx.g.node('LayerNormalization', inputs, [attr.int('axis', -1), attr.float('epsilon', l.epsilon)]);
      return;
    }
    // Before opset 17: Lathe's own formula, (x - mean) / sqrt(mean((x - mean)^2) + eps) * gamma + beta.
    const g = ctx.g;
    const mean = (v: string) => g.node('ReduceMean', [v], [attr.ints('axes', [-1]), attr.int('keepdims', 1)]);
    const centred = g.node('Sub', [ctx.value, mean(ctx.value)]);
    const variance = mean(g.node('Mul', [centred, centred]));
    let y = g.node('Div', [centred, g.node('Sqrt', [g.node('Add', [variance, g.scalar('epsilon', l.epsilon)])])]);
    if (l.gamma) y = g.node('Mul', [y, g.tensor(`${ctx.prefix}.gamma`, l.gamma)]);
    if (l.beta) y = g.node('Add', [y, g.tensor(`${ctx.prefix}.beta`, l.beta)]);
    ctx.value = y;
  },
  dropout: () => {}, // the identity at inference, so no node at all
  flatten: (ctx) => {
    ctx.value = ctx.g.node('Flatten', [ctx.value], [attr.int('axis', 1)]);
  },
  reshape: (ctx, layer) => {
    // 0 copies the batch size from the input (ONNX Reshape, allowzero 0); a -1 in the target stays inferred.
    const shape = ctx.g.int64s(`${ctx.prefix}.shape`, [0, ...(layer as Reshape).targetShape]);
    ctx.value = ctx.g.node('Reshape', [ctx.value, shape]);
  },
  // Gather takes int32 indices, so the int32 ids Lathe's Embedding takes go straight in. An id
  // out of range is an error in both (ORT's Gather checks bounds).
  embedding: (ctx, layer) => {
    ctx.value = ctx.g.node('Gather', [ctx.g.tensor(`${ctx.prefix}.embeddings`, (layer as Embedding).embeddings), ctx.value], [attr.int('axis', 0)]);
    ctx.elemType = ONNX_DTYPE.FLOAT;
  },
  rescaling: (ctx, layer) => {
    const l = layer as Rescaling;
    toFloat(ctx);
    ctx.value = ctx.g.node('Mul', [ctx.value, ctx.g.scalar(`${ctx.prefix}.scale`, l.scale)]);
    if (l.offset !== 0) ctx.value = ctx.g.node('Add', [ctx.value, ctx.g.scalar(`${ctx.prefix}.offset`, l.offset)]);
  },
  activation: (ctx, layer) => {
    toFloat(ctx);
    activate(ctx, (layer as Activation).activation);
  },
  leakyrelu: (ctx, layer) => {
    toFloat(ctx);
    ctx.value = ctx.g.node('LeakyRelu', [ctx.value], [attr.float('alpha', (layer as LeakyReLU).negativeSlope)]);
  },
};

Object.assign(LAYER_EXPORTS, transformerExports((ctx, layer) => LAYER_EXPORTS[layer.type](ctx, layer)), QUANTIZED_EXPORTS);

function globalPool(ctx: ExportContext, l: GlobalAveragePooling2D, op: string): void {
  toFloat(ctx);
  ctx.value = ctx.g.node(op, [ctx.value]);
  // ONNX keeps [N, C, 1, 1]; Lathe's default drops the spatial axes.
  if (!l.keepdims) ctx.value = ctx.g.node('Flatten', [ctx.value], [attr.int('axis', 1)]);
}

/** Why a layer cannot be exported, or null when it can. */
export function unsupportedReason(layer: Layer): string | null {
  if (!Object.hasOwn(LAYER_EXPORTS, layer.type)) return 'no ONNX mapping for this layer type';
  if (layer.dtype !== 'float32') return `its weights are ${layer.dtype}; the exporter writes float32 models`;
  const activation = (layer as unknown as { activation?: unknown }).activation;
  if (typeof activation === 'string' && !Object.hasOwn(ACTIVATION_EXPORTS, activation)) return `no ONNX mapping for activation "${activation}"`;
  return null;
}
