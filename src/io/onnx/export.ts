// ONNX export of a built Sequential: one graph with a dynamic batch axis ("batch"), weights as
// initializers, encoded by protobufjs with the official onnx.proto field numbers (schema.ts).
// The per-layer mapping lives in export-layers.ts; this file holds the graph builder and the checks.
import { fail } from '../../errors.js';
import type { Layer } from '../../nn/layer.js';
import type { Sequential } from '../../train/sequential.js';
import { VERSION } from '../../version.js';
import { type ExportContext, GraphBuilder, LAYER_EXPORTS, unsupportedReason } from './export-layers.js';
import { ModelProto, ONNX_DTYPE } from './schema.js';

/** Opsets the exporter writes: 13 (Softmax on any axis, Pad with input pads) to 21. */
export const MIN_EXPORT_OPSET = 13;
export const MAX_EXPORT_OPSET = 21;

export interface ExportOnnxOptions {
  /** The default ai.onnx opset, 17: the first with LayerNormalization; below it LayerNormalization is decomposed. */
  opset?: number;
  inputName?: string;
  outputName?: string;
  /**
   * The input's element type. Default int32 when the first layer is an Embedding (Lathe's ids are
   * int32 and ONNX Gather takes int32 indices), else float32. 'uint8' takes raw pixels: a Cast
   * to float comes first, as the Lathe model casts integer input.
   */
  inputType?: 'float32' | 'uint8' | 'int32';
  /**
   * How quantized layers' int8 weights are written. 'uint8' (default): shifted by 128 with zero
   * point 128, the same values, which ONNX Runtime multiplies exactly on every CPU. 'int8': as
   * they are, which ONNX Runtime runs with its VNNI kernels (faster on CPUs with AVX-512 VNNI)
   * but, on x86 CPUs without VNNI, with kernels whose int16 pair sums saturate.
   */
  weightType?: 'uint8' | 'int8';
  /** Extra metadata_props (class names, a note on preprocessing). */
  metadata?: Record<string, string>;
  docString?: string;
}

const valueInfo = (name: string, elemType: number, shape: readonly number[]) => ({
  name,
  type: { tensorType: { elemType, shape: { dim: [{ dimParam: 'batch' }, ...shape.map((d) => ({ dimValue: d }))] } } },
});

function irVersionFor(opset: number): number {
  // onnx/docs/Versioning.md: opset 13-14 shipped with IR 7, 15-18 with IR 8, 19-20 with IR 9, 21 with IR 10.
  return opset <= 14 ? 7 : opset <= 18 ? 8 : opset <= 20 ? 9 : 10;
}

/** Every layer the exporter cannot write, with the reason, so one error names them all. */
function checkLayers(layers: readonly Layer[]): void {
  const problems = layers.flatMap((layer, i) => {
    const reason = unsupportedReason(layer);
    return reason ? [`layers[${i}] (${layer.type} "${layer.name}"): ${reason}`] : [];
  });
  if (problems.length) fail('exportOnnx', `${problems.length} layer${problems.length > 1 ? 's' : ''} cannot be exported to ONNX: ${problems.join('; ')}`);
}

/** The model as an ONNX ModelProto, encoded. The model must be built (its input shape known). */
export function exportOnnx(model: Sequential, options: ExportOnnxOptions = {}): Uint8Array {
  const opset = options.opset ?? 17;
  if (!Number.isInteger(opset) || opset < MIN_EXPORT_OPSET || opset > MAX_EXPORT_OPSET) {
    fail('exportOnnx', `opset must be an integer from ${MIN_EXPORT_OPSET} to ${MAX_EXPORT_OPSET}, got ${JSON.stringify(options.opset)}`);
  }
  if (model.layers.length === 0) fail('exportOnnx', 'the model has no layers');
  if (!model.built || !model.inputShape) fail('exportOnnx', 'the model is not built yet: give the first layer an inputShape, or call it on data first');
  checkLayers(model.layers);
  const inputName = options.inputName ?? 'input';
  const outputName = options.outputName ?? 'output';
  if (!inputName || !outputName || inputName === outputName) fail('exportOnnx', `inputName and outputName must be distinct non-empty names, got ${JSON.stringify(inputName)} and ${JSON.stringify(outputName)}`);
  const firstIsEmbedding = model.layers[0].type === 'embedding';
  const inputType = options.inputType ?? (firstIsEmbedding ? 'int32' : 'float32');
  if (firstIsEmbedding !== (inputType === 'int32')) {
    fail('exportOnnx', `inputType ${inputType} does not fit the first layer (${model.layers[0].type}): an Embedding takes int32 ids, other layers float32 or uint8`);
  }
  const elemType = { float32: ONNX_DTYPE.FLOAT, uint8: ONNX_DTYPE.UINT8, int32: ONNX_DTYPE.INT32 }[inputType];

  const g = new GraphBuilder(opset);
  const weightType = options.weightType ?? 'uint8';
  if (weightType !== 'uint8' && weightType !== 'int8') fail('exportOnnx', `weightType must be "uint8" or "int8", got ${JSON.stringify(weightType)}`);
  const ctx: ExportContext = { g, value: inputName, elemType, shape: [...model.inputShape], prefix: '', weightType };
  model.layers.forEach((layer, i) => {
    ctx.prefix = `layers.${i}`;
    const out = layer.computeOutputShape(ctx.shape);
    LAYER_EXPORTS[layer.type](ctx, layer);
    ctx.shape = out;
  });
  // The last value takes the output's name: rename its producer, or add an Identity when no node
  // produced it (a model of only Dropout or linear activations).
  const last = [...g.nodes].reverse().find((n) => (n.output as string[])[0] === ctx.value);
  if (last) {
    (last.output as string[])[0] = outputName;
    for (const n of g.nodes) n.input = (n.input as string[]).map((v) => (v === ctx.value ? outputName : v));
  } else {
    g.node('Identity', [ctx.value]);
    (g.nodes[g.nodes.length - 1].output as string[])[0] = outputName;
  }

  const metadata = Object.entries(options.metadata ?? {}).map(([key, value]) => ({ key, value }));
  const proto = ModelProto.fromObject({
    irVersion: irVersionFor(opset),
    opsetImport: [{ domain: '', version: opset }],
    producerName: 'lathe',
    producerVersion: VERSION,
    docString: options.docString ?? '',
    graph: {
      name: 'lathe_sequential',
      node: g.nodes,
      initializer: g.initializers,
      input: [valueInfo(inputName, elemType, model.inputShape)],
      output: [valueInfo(outputName, ctx.elemType, ctx.shape)],
    },
    metadataProps: metadata,
  });
  return ModelProto.encode(proto).finish();
}
