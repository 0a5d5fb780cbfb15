// An imported ONNX model: the graph is decoded and checked whole (opsets, every operator, every
// node's inputs) before anything runs, then interpreted node by node with Lathe ops. It is a
// Model, so its float initializers are parameters that Lathe's optimizers can fine-tune.
import * as fs from 'node:fs';
import { noGrad } from '../../../autograd/engine.js';
import { fail, fmtShape } from '../../../errors.js';
import { cast, concat, narrow } from '../../../ops/functions.js';
import { isFloat } from '../../../tensor/dtype.js';
import { Tensor } from '../../../tensor/tensor.js';
import { Model } from '../../../train/model.js';
import { ModelProto, ONNX_ATTR, ONNX_DTYPE } from '../schema.js';
import { Attrs, ELEMENTWISE, type OpFn, REDUCTIONS } from './ops.js';
import { LAYOUT } from './ops-layout.js';
import { NN } from './ops-nn.js';
import { QUANT, QUANTIZATION_SCALES } from './ops-quant.js';
import { type TensorProtoObject, type Value, latheDType, onnxDTypeName, tensorFromProto, tensorOf } from './tensors.js';

/** Every operator Lathe imports (default domain). */
export const ONNX_OPS: Readonly<Record<string, OpFn>> = { ...ELEMENTWISE, ...REDUCTIONS, ...LAYOUT, ...NN, ...QUANT };
/** ONNX Runtime's quantization tool writes com.microsoft operators (QLinearAdd, QLinearConcat, ...) in its QOperator format. */
const CONTRIB_HINT = '; com.microsoft operators are ONNX Runtime extensions outside the ONNX standard: quantize with QuantFormat.QDQ for a model of standard operators';
export const MIN_OPSET = 7;
export const MAX_OPSET = 21;
/** Inputs that are state but not weights to train (running statistics, quantization scales): they stay out of parameters(). */
const STATISTICS: Record<string, number[]> = { BatchNormalization: [3, 4], ...QUANTIZATION_SCALES };

export interface OnnxValueInfo {
  name: string;
  /** The Lathe dtype that carries it (int64 arrives as int32), or the ONNX type's name when Lathe has none. */
  dtype: string;
  /** The ONNX element type, e.g. "float", "int64". */
  onnxType: string;
  /** Dimensions; null where dynamic (a dim_param or unknown). */
  shape: (number | null)[] | null;
}

interface PreparedNode {
  op: OpFn;
  inputs: string[];
  outputs: string[];
  where: string;
  attrs: Attrs;
}

interface Obj { [k: string]: any } // eslint-disable-line @typescript-eslint/no-explicit-any

function valueInfo(v: Obj): OnnxValueInfo {
  const t = v.type?.tensorType;
  const dims: Obj[] | undefined = t?.shape?.dim;
  return {
    name: v.name,
    dtype: latheDType(t?.elemType) ?? onnxDTypeName(t?.elemType),
    onnxType: onnxDTypeName(t?.elemType),
    shape: t?.shape ? (dims ?? []).map((d) => (typeof d.dimValue === 'number' && d.dimValue > 0 ? d.dimValue : null)) : null,
  };
}

function attrValue(a: Obj, where: string): unknown {
  const type = a.type ?? (a.t ? ONNX_ATTR.TENSOR : a.ints ? ONNX_ATTR.INTS : a.floats ? ONNX_ATTR.FLOATS : a.s ? ONNX_ATTR.STRING : a.f !== undefined ? ONNX_ATTR.FLOAT : ONNX_ATTR.INT);
  switch (type) {
    case ONNX_ATTR.FLOAT: return a.f ?? 0;
    case ONNX_ATTR.INT: return a.i ?? 0;
    case ONNX_ATTR.STRING: return Buffer.from(a.s ?? []).toString('utf8');
    case ONNX_ATTR.TENSOR: return tensorFromProto(a.t as TensorProtoObject, `${where}: attribute "${a.name}"`);
    case ONNX_ATTR.FLOATS: return a.floats ?? [];
    case ONNX_ATTR.INTS: return a.ints ?? [];
    case ONNX_ATTR.STRINGS: return (a.strings ?? []).map((s: Uint8Array) => Buffer.from(s).toString('utf8'));
    default: return fail(where, `attribute "${a.name}" has a type Lathe does not read (${type})`);
  }
}

export class OnnxModel extends Model {
  readonly inputs: OnnxValueInfo[];
  readonly outputs: OnnxValueInfo[];
  /** The default domain's opset the model was exported with. */
  readonly opset: number;
  readonly producer: string;
  private readonly nodes: PreparedNode[];
  private readonly constants = new Map<string, Value>();
  private readonly weights: [string, Tensor][] = [];
  private readonly statistics: [string, Tensor][] = [];

  constructor(bytes: Uint8Array, readonly source = 'model.onnx') {
    super();
    const where = `onnx: ${source}`;
    let m: Obj;
    try {
      m = ModelProto.toObject(ModelProto.decode(bytes), { longs: Number, defaults: false });
    } catch (e) {
      fail(where, `not a valid ONNX model (${(e as Error).message})`);
    }
    const graph: Obj = m.graph ?? fail(where, 'the model has no graph');
    const opsets = new Map<string, number>((m.opsetImport ?? []).map((o: Obj) => [o.domain === 'ai.onnx' ? '' : o.domain ?? '', o.version ?? 0]));
    this.opset = opsets.get('') ?? 0;
    this.producer = [m.producerName, m.producerVersion].filter(Boolean).join(' ');
    const nodes: Obj[] = graph.node ?? [];
    // Every unsupported operator at once, before anything runs.
    const unsupported = new Set<string>();
    for (const n of nodes) {
      const domain = n.domain === 'ai.onnx' ? '' : n.domain ?? '';
      if (domain !== '') unsupported.add(`${n.opType} (${domain} opset ${opsets.get(domain) ?? '?'})`);
      else if (!Object.hasOwn(ONNX_OPS, n.opType)) unsupported.add(`${n.opType} (opset ${this.opset})`);
    }
    if (unsupported.size > 0) fail(where, `unsupported operators: ${[...unsupported].join(', ')}${[...unsupported].some((u) => u.includes('(com.microsoft')) ? CONTRIB_HINT : ''}`);
    if (!opsets.has('')) fail(where, 'the model imports no opset of the default ONNX domain');
    if (this.opset < MIN_OPSET || this.opset > MAX_OPSET) fail(where, `opset ${this.opset} is outside the range Lathe imports (${MIN_OPSET} to ${MAX_OPSET})`);
    for (const v of [...(graph.input ?? []), ...(graph.output ?? [])]) {
      if (v.type && !v.type.tensorType) fail(where, `"${v.name}" is not a tensor (${Object.keys(v.type).join(', ')}); Lathe imports tensor inputs and outputs only`);
    }
    if ((graph.sparseInitializer ?? []).length > 0) fail(where, 'sparse initializers are not supported');

    for (const t of graph.initializer ?? []) this.constants.set(t.name, tensorFromProto(t, `${where}: initializer "${t.name}"`));
    this.inputs = (graph.input ?? []).filter((v: Obj) => !this.constants.has(v.name)).map(valueInfo);
    this.outputs = (graph.output ?? []).map(valueInfo);
    const known = new Set<string>([...this.constants.keys(), ...this.inputs.map((i) => i.name), '']);
    const statisticNames = new Set<string>();
    this.nodes = nodes.map((n, k) => {
      const nodeWhere = `${where}: node ${k} (${n.opType}${n.name ? ` "${n.name}"` : ''})`;
      const inputs: string[] = n.input ?? [];
      inputs.forEach((name, i) => {
        if (!known.has(name)) fail(nodeWhere, `input "${name}" is produced by no earlier node, graph input or initializer`);
        if (STATISTICS[n.opType]?.includes(i)) statisticNames.add(name);
      });
      for (const o of n.output ?? []) known.add(o);
      const attrs = new Map<string, unknown>((n.attribute ?? []).map((a: Obj) => [a.name, attrValue(a, nodeWhere)]));
      return { op: ONNX_OPS[n.opType], inputs, outputs: n.output ?? [], where: nodeWhere, attrs: new Attrs(attrs, nodeWhere) };
    });
    for (const o of this.outputs) if (!known.has(o.name)) fail(where, `output "${o.name}" is produced by no node`);
    // Float initializers are the weights; BatchNorm's running statistics and quantization scales are buffers.
    for (const [name, v] of this.constants) {
      if (!(v instanceof Tensor) || !isFloat(v.dtype)) continue;
      if (statisticNames.has(name)) this.statistics.push([name, v]);
      else this.weights.push([name, v.requireGrad()]);
    }
    this.eval();
  }

  override namedParameters(prefix = ''): [string, Tensor][] {
    return this.weights.map(([n, t]) => [prefix + n, t]);
  }

  override namedBuffers(prefix = ''): [string, Tensor][] {
    return this.statistics.map(([n, t]) => [prefix + n, t]);
  }

  /** Runs the graph on named inputs; gradients are recorded unless inside noGrad. */
  run(feeds: Record<string, Tensor>): Record<string, Tensor> {
    const where = `onnx: ${this.source}`;
    const env = new Map<string, Value>(this.constants);
    for (const info of this.inputs) {
      const x = feeds[info.name];
      if (!(x instanceof Tensor)) fail(where, `input "${info.name}" is missing (the model takes ${this.inputs.map((i) => `"${i.name}"`).join(', ')})`);
      if (info.shape && (x.rank !== info.shape.length || info.shape.some((d, i) => d !== null && d !== x.shape[i]))) {
        fail(where, `input "${info.name}" must have shape [${info.shape.map((d) => d ?? '?')}], got ${fmtShape(x.shape)}`);
      }
      // Inputs are cast to the declared type, so raw uint8 pixels feed a float model.
      const dtype = latheDType(ONNX_DTYPE[info.onnxType.toUpperCase() as keyof typeof ONNX_DTYPE]);
      env.set(info.name, dtype && dtype !== x.dtype ? cast(x, dtype) : x);
    }
    for (const node of this.nodes) {
      const args = node.inputs.map((n) => (n === '' ? undefined : env.get(n)));
      const results = node.op(args, { where: node.where, opset: this.opset, attrs: node.attrs, outputCount: node.outputs.length });
      node.outputs.forEach((name, i) => {
        const r = results[i];
        if (name !== '' && r !== undefined) env.set(name, r);
      });
    }
    return Object.fromEntries(this.outputs.map((o) => [o.name, tensorOf(env.get(o.name)!, `${where}: output "${o.name}"`)]));
  }

  private single(): [OnnxValueInfo, OnnxValueInfo] {
    if (this.inputs.length !== 1 || this.outputs.length !== 1) {
      fail(`onnx: ${this.source}`, `predict and forward need one input and one output; this model has ${this.inputs.length} and ${this.outputs.length}: use run({...})`);
    }
    return [this.inputs[0], this.outputs[0]];
  }

  forward(x: Tensor): Tensor {
    const [i, o] = this.single();
    return this.run({ [i.name]: x })[o.name];
  }

  /** The input's per-example shape (without the batch axis), when every dimension is fixed. */
  get inputShape(): number[] | undefined {
    const s = this.single()[0].shape;
    return s && s.length > 0 && s.slice(1).every((d) => d !== null) ? (s.slice(1) as number[]) : undefined;
  }

  /**
   * Outputs for a batch, without gradients. A model exported with a fixed batch size (CNTK's
   * MNIST takes [1,1,28,28]) runs the batch in chunks of that size.
   */
  override predict(x: Tensor, options: { batchSize?: number } = {}): Tensor {
    const fixed = this.single()[0].shape?.[0];
    const chunk = typeof fixed === 'number' ? fixed : options.batchSize;
    if (chunk === undefined || x.shape[0] === chunk) return noGrad(() => this.forward(x));
    if (x.shape[0] % chunk !== 0 && typeof fixed === 'number') fail(`onnx: ${this.source}`, `the model takes batches of exactly ${fixed}; got ${x.shape[0]} examples`);
    return noGrad(() => {
      const outs: Tensor[] = [];
      for (let s = 0; s < x.shape[0]; s += chunk) outs.push(this.forward(narrow(x, 0, s, Math.min(chunk, x.shape[0] - s))));
      return concat(outs, 0);
    });
  }
}

/** Reads an ONNX model from a file path or bytes; see OnnxModel. */
export function loadOnnx(pathOrBytes: string | Uint8Array): OnnxModel {
  if (typeof pathOrBytes !== 'string') return new OnnxModel(pathOrBytes);
  if (!fs.existsSync(pathOrBytes)) fail('onnx', `${pathOrBytes} not found`);
  return new OnnxModel(fs.readFileSync(pathOrBytes), pathOrBytes);
}
