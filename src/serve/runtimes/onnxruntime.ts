// The "onnxruntime" runtime: a model.onnx run by onnxruntime-node, an optional peer dependency
// imported lazily (a server of Lathe models never loads it). Sessions run on ORT's own threads,
// so run() is asynchronous and the event loop keeps parsing requests while a batch computes.
import { fail } from '../../errors.js';
import { concat } from '../../ops/functions.js';
import { fromArray } from '../../tensor/create.js';
import type { DType, TypedArray } from '../../tensor/dtype.js';
import type { Tensor } from '../../tensor/tensor.js';
import { perExampleShape, type ServingRuntime, type Signature, type TensorSpec } from './runtime.js';

// The few parts of onnxruntime-node's API used here, typed structurally so Lathe's declarations
// do not depend on the optional package.
interface OrtTensor {
  readonly type: string;
  readonly data: unknown;
  readonly dims: readonly number[];
}
interface OrtValueMetadata {
  readonly name: string;
  readonly isTensor: boolean;
  readonly type?: string;
  readonly shape?: ReadonlyArray<number | string>;
}
interface OrtSession {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  readonly inputMetadata?: readonly OrtValueMetadata[];
  readonly outputMetadata?: readonly OrtValueMetadata[];
  run(feeds: Record<string, OrtTensor>, fetches?: readonly string[]): Promise<Record<string, OrtTensor>>;
  release(): Promise<void>;
}
export interface OnnxRuntimeModule {
  InferenceSession: { create(path: string, options?: Record<string, unknown>): Promise<OrtSession> };
  Tensor: new (type: string, data: unknown, dims: readonly number[]) => OrtTensor;
}
/** How onnxruntime-node is imported; tests inject one that fails, as if the package were absent. */
export type OnnxRuntimeImporter = () => Promise<OnnxRuntimeModule>;

export const importOnnxRuntime: OnnxRuntimeImporter = async () => {
  const m = (await import('onnxruntime-node')) as unknown as OnnxRuntimeModule & { default?: OnnxRuntimeModule };
  return m.InferenceSession ? m : m.default!;
};

/** The error a version gets when config.json asks for onnxruntime and the package cannot be imported. */
export function missingOnnxRuntime(cause: unknown): string {
  return `runtime onnxruntime needs the optional package onnxruntime-node: npm install onnxruntime-node (importing it failed: ${(cause as Error)?.message?.split('\n')[0] ?? String(cause)})`;
}

/** ORT element types as Lathe dtypes; int64 is served as int32, as Lathe's importer does. */
const DTYPE_OF_ORT: Record<string, DType> = { float32: 'float32', float64: 'float64', int32: 'int32', int64: 'int32', uint8: 'uint8', bool: 'bool' };

function specOf(meta: OrtValueMetadata | undefined, name: string, where: string): TensorSpec & { ortType: string } {
  if (!meta) fail(where, `"${name}" has no metadata (onnxruntime-node 1.22 or later is needed)`);
  if (!meta.isTensor || !meta.type || !(meta.type in DTYPE_OF_ORT)) fail(where, `"${name}" is ${meta.isTensor ? `a ${meta.type} tensor` : 'not a tensor'}; served models take and give ${Object.keys(DTYPE_OF_ORT).join(', ')} tensors`);
  const dims = meta.shape ?? [];
  // An unknown rank is reported as []: only the batch axis is assumed, as Lathe's importer does.
  const shape = dims.length === 0 ? [null] : dims.map((d) => (typeof d === 'number' && d > 0 ? d : null));
  return { name, dtype: DTYPE_OF_ORT[meta.type], shape, ortType: meta.type };
}

/** The data ORT takes for a Lathe tensor's storage of element type `ortType`. */
function toOrtData(data: TypedArray, ortType: string): unknown {
  if (ortType === 'int64') return BigInt64Array.from(data as Int32Array, (v) => BigInt(v));
  if (ortType === 'bool') return Uint8Array.from(data as Uint8Array, (v) => (v ? 1 : 0));
  return data;
}

/** An ORT output's data as a Lathe dtype's storage. */
function fromOrtData(t: OrtTensor, where: string): { data: TypedArray; dtype: DType } {
  const d = t.data;
  if (t.type === 'int64') {
    const big = d as BigInt64Array;
    const out = new Int32Array(big.length);
    for (let i = 0; i < big.length; i++) {
      if (big[i] < -2147483648n || big[i] > 2147483647n) fail(where, `int64 output value ${big[i]} at ${i} does not fit the int32 Lathe serves int64 as`);
      out[i] = Number(big[i]);
    }
    return { data: out, dtype: 'int32' };
  }
  const dtype = DTYPE_OF_ORT[t.type];
  if (!dtype) fail(where, `output of type ${t.type} cannot be served`);
  return { data: d as TypedArray, dtype };
}

/** Opens `file` in an ORT session and checks it has the one input and one output a served model has. */
export async function loadOnnxRuntime(file: string, ort: OnnxRuntimeModule): Promise<ServingRuntime> {
  const where = `onnxruntime: ${file}`;
  const session = await ort.InferenceSession.create(file, { graphOptimizationLevel: 'all' });
  try {
    if (session.inputNames.length !== 1 || session.outputNames.length < 1) {
      fail(where, `served models take one input and give one output or more; this one takes ${session.inputNames.length} inputs (${session.inputNames.join(', ')})`);
    }
    const input = specOf(session.inputMetadata?.[0], session.inputNames[0], where);
    const outputs = session.outputNames.map((n, i) => specOf(session.outputMetadata?.[i], n, where));
    const signature: Signature = { inputs: [input], outputs };
    const fixedBatch = typeof input.shape[0] === 'number' ? input.shape[0] : undefined;
    const perExample = perExampleShape(input);
    const fetches = [outputs[0].name];

    const runChunk = async (data: TypedArray, dims: number[]): Promise<Tensor> => {
      const result = await session.run({ [input.name]: new ort.Tensor(input.ortType, toOrtData(data, input.ortType), dims) }, fetches);
      const t = result[outputs[0].name];
      const { data: out, dtype } = fromOrtData(t, where);
      return fromArray(out, [...t.dims], { dtype }, 'onnxruntime', true);
    };
    const run = async (x: Tensor): Promise<Tensor> => {
      const n = x.shape[0];
      const data = x.dataSync();
      // A graph exported with a fixed batch (CNTK's MNIST takes [1,1,28,28]) runs a bigger batch in chunks of it.
      if (fixedBatch === undefined || n === fixedBatch) return runChunk(data, [...x.shape]);
      if (n % fixedBatch !== 0) fail(where, `the model takes batches of exactly ${fixedBatch}; got ${n} examples`);
      const per = data.length / n;
      const outs: Tensor[] = [];
      for (let s = 0; s < n; s += fixedBatch) outs.push(await runChunk(data.subarray(s * per, (s + fixedBatch) * per), [fixedBatch, ...x.shape.slice(1)]));
      return concat(outs, 0);
    };
    return {
      name: 'onnxruntime',
      signature,
      inference: {
        model: {
          inputShape: perExample,
          predict: () => fail(where, 'an onnxruntime model runs asynchronously: use the runtime\'s run()'),
        },
        json: {},
      },
      run,
      async warmUp() {
        if (!perExample) return; // dynamic dimensions: nothing fixed to warm up with
        const b = fixedBatch ?? 1;
        const size = b * perExample.reduce((a, c) => a * c, 1);
        await runChunk(new (input.dtype === 'float64' ? Float64Array : input.dtype === 'float32' ? Float32Array : input.dtype === 'int32' ? Int32Array : Uint8Array)(size), [b, ...perExample]);
      },
      close: () => session.release(),
    };
  } catch (e) {
    await session.release().catch(() => {});
    throw e;
  }
}
