// KServe v2 / Open Inference Protocol (https://kserve.github.io/website/latest/modelserving/data_plane/v2_protocol/):
// health, server and model metadata, readiness, and infer with typed tensors. A request tensor's
// declared shape is checked against the model's signature and against its data's length
// before anything is allocated, so a 10^9-element claim costs nothing.
import type { DType, TypedArray } from '../../tensor/dtype.js';
import { fromArray } from '../../tensor/create.js';
import { MAX_INSTANCES } from '../../io/inference.js';
import { VERSION } from '../../version.js';
import { defaultVersion, type ModelRepository, type ServableVersion, type TensorSpec } from '../repository.js';
import { badRequest, findModel, findVersion, HttpError, servingVersion, type VersionSelector } from './routing.js';

/** KServe datatypes for Lathe dtypes. ONNX int64 arrives in Lathe as int32, so it is served as INT32. */
const KSERVE_OF: Record<string, string> = { float32: 'FP32', float64: 'FP64', int32: 'INT32', uint8: 'UINT8', bool: 'BOOL' };
const KSERVE_TYPES = new Set(['BOOL', 'UINT8', 'UINT16', 'UINT32', 'UINT64', 'INT8', 'INT16', 'INT32', 'INT64', 'FP16', 'FP32', 'FP64', 'BYTES']);
const ARRAYS: Record<string, { dtype: DType; alloc: (n: number) => TypedArray; ok: (v: unknown) => boolean }> = {
  FP32: { dtype: 'float32', alloc: (n) => new Float32Array(n), ok: (v) => typeof v === 'number' && Number.isFinite(v) },
  FP64: { dtype: 'float64', alloc: (n) => new Float64Array(n), ok: (v) => typeof v === 'number' && Number.isFinite(v) },
  INT32: { dtype: 'int32', alloc: (n) => new Int32Array(n), ok: (v) => Number.isInteger(v) && (v as number) >= -2147483648 && (v as number) <= 2147483647 },
  UINT8: { dtype: 'uint8', alloc: (n) => new Uint8Array(n), ok: (v) => Number.isInteger(v) && (v as number) >= 0 && (v as number) <= 255 },
};

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const datatypeOf = (dtype: string): string => KSERVE_OF[dtype] ?? dtype.toUpperCase();
const specJson = (t: TensorSpec) => ({ name: t.name, datatype: datatypeOf(t.dtype), shape: t.shape.map((d) => d ?? -1) });

export const serverMetadata = (extensions: string[] = []) => ({ name: 'lathe', version: VERSION, extensions });

export function healthReady(repo: ModelRepository): unknown {
  if (!repo.ready) throw new HttpError(503, 'not every model has an available version');
  return { ready: true };
}

/** GET /v2/models/{m}[/versions/{v}]: name, available versions, platform, the runtime serving it and the signature. */
export function modelMetadata(repo: ModelRepository, name: string, sel: VersionSelector): unknown {
  const sv = servingVersion(repo, name, sel);
  const m = findModel(repo, name);
  const versions = [...m.versions.values()].filter((v) => v.state === 'AVAILABLE').map((v) => String(v.version));
  return { name, versions, platform: sv.platform, runtime: sv.runtime, inputs: sv.signature!.inputs.map(specJson), outputs: sv.signature!.outputs.map(specJson) };
}

/** GET .../ready: 200 when the version (or the model's default) can serve; 400 otherwise, as the protocol's false. */
export function modelReady(repo: ModelRepository, name: string, sel: VersionSelector): unknown {
  const m = findModel(repo, name);
  const sv = findVersion(m, sel) ?? defaultVersion(m);
  if (sv?.state !== 'AVAILABLE') throw badRequest(`model "${name}"${sv ? ` version ${sv.version}` : ''} is not ready${sv?.error ? `: ${sv.error}` : ''}`);
  return { name, ready: true };
}

/** The declared shape, checked against the signature: the batch axis 1..MAX_INSTANCES, fixed dims equal. */
function checkShape(shape: unknown, spec: TensorSpec, where: string): number[] {
  if (!Array.isArray(shape) || shape.some((d) => !Number.isSafeInteger(d) || d < 0)) throw badRequest(`${where}.shape must be an array of non-negative integers, got ${JSON.stringify(shape)?.slice(0, 80)}`);
  const want = spec.shape.map((d) => d ?? -1);
  if (shape.length !== want.length) throw badRequest(`${where}.shape ${JSON.stringify(shape)} has rank ${shape.length}; input "${spec.name}" is ${JSON.stringify(want)}`);
  // Axis 0 is the batch: a model exported with a fixed batch of 1 runs bigger batches in chunks.
  if (shape[0] < 1 || shape[0] > MAX_INSTANCES) throw badRequest(`${where}.shape[0] (the batch) must be 1 to ${MAX_INSTANCES}, got ${shape[0]}`);
  for (let i = 1; i < shape.length; i++) {
    if (want[i] !== -1 ? shape[i] !== want[i] : shape[i] < 1) throw badRequest(`${where}.shape ${JSON.stringify(shape)} does not match input "${spec.name}" ${JSON.stringify(want)} at axis ${i}`);
  }
  return shape as number[];
}

/** Counts the leaves of flat or nested data, stopping once past `limit`, so a bad claim is found without copying. */
function countLeaves(data: unknown, limit: number): number {
  let n = 0;
  const stack: unknown[] = [data];
  while (stack.length) {
    const v = stack.pop();
    if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) stack.push(v[i]);
    } else if (++n > limit) return n;
  }
  return n;
}

/** Copies the leaves into `out` in row-major order, refusing any value the datatype cannot hold. */
function fillLeaves(data: unknown, out: TypedArray, ok: (v: unknown) => boolean, where: string): void {
  let n = 0;
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) {
      for (const x of v) walk(x);
      return;
    }
    if (!ok(v)) throw badRequest(`${where}.data[${n}]: ${JSON.stringify(v)?.slice(0, 40)} is not a valid value of this datatype`);
    out[n++] = v as number;
  };
  walk(data);
}

function parseInputTensor(sv: ServableVersion, inputs: unknown) {
  const specs = sv.signature!.inputs;
  if (!Array.isArray(inputs) || inputs.length !== specs.length) throw badRequest(`"inputs" must be an array of ${specs.length} tensor${specs.length > 1 ? 's' : ''} (${specs.map((s) => `"${s.name}"`).join(', ')})`);
  if (specs.length !== 1) throw badRequest('this server runs single-input models only for now');
  const spec = specs[0];
  const inp = inputs[0];
  const where = 'inputs[0]';
  if (!isObject(inp)) throw badRequest(`${where} must be an object {"name", "shape", "datatype", "data"}`);
  if (inp.name !== spec.name) throw badRequest(`${where}.name: unknown input ${JSON.stringify(inp.name)?.slice(0, 80)}; the model takes "${spec.name}"`);
  const want = datatypeOf(spec.dtype);
  if (typeof inp.datatype !== 'string' || !KSERVE_TYPES.has(inp.datatype)) throw badRequest(`${where}.datatype must be one of ${[...KSERVE_TYPES].join(', ')}, got ${JSON.stringify(inp.datatype)?.slice(0, 40)}`);
  if (inp.datatype !== want) throw badRequest(`${where}.datatype: input "${spec.name}" is ${want}, got ${inp.datatype}`);
  const kind = ARRAYS[want] ?? (() => { throw badRequest(`${where}.datatype ${want} is not served yet`); })();
  const shape = checkShape(inp.shape, spec, where);
  const size = shape.reduce((a, b) => a * b, 1);
  if (!Array.isArray(inp.data)) throw badRequest(`${where}.data must be an array (flat or nested)`);
  const count = countLeaves(inp.data, size);
  if (count !== size) throw badRequest(`${where}: shape ${JSON.stringify(shape)} needs ${size} values, data has ${count > size ? 'more' : count}`);
  const out = kind.alloc(size);
  fillLeaves(inp.data, out, kind.ok, where);
  return { spec, tensor: fromArray(out, shape, { dtype: kind.dtype }, 'infer', true) };
}

/**
 * Triton's per-request "parameters": {"timeout": microseconds}: how long the request may wait in
 * the model's batching queue. It can shorten the model's deadline, never lengthen it.
 */
function requestTimeoutMs(parameters: unknown): number | undefined {
  if (parameters === undefined) return undefined;
  if (!isObject(parameters)) throw badRequest(`"parameters" must be an object, got ${JSON.stringify(parameters)?.slice(0, 40)}`);
  const t = parameters.timeout;
  if (t === undefined) return undefined;
  if (!Number.isSafeInteger(t) || (t as number) < 1) throw badRequest(`parameters.timeout must be a positive integer (microseconds), got ${JSON.stringify(t)?.slice(0, 40)}`);
  return (t as number) / 1000;
}

/** POST /v2/models/{m}[/versions/{v}]/infer. */
export async function infer(repo: ModelRepository, name: string, sel: VersionSelector, body: unknown): Promise<unknown> {
  if (!isObject(body)) throw badRequest('the body must be a JSON object with "inputs"');
  if (body.id !== undefined && typeof body.id !== 'string') throw badRequest(`"id" must be a string, got ${JSON.stringify(body.id)?.slice(0, 40)}`);
  const sv = servingVersion(repo, name, sel);
  const outSpecs = sv.signature!.outputs;
  if (body.outputs !== undefined) {
    if (!Array.isArray(body.outputs)) throw badRequest('"outputs" must be an array of {"name"}');
    body.outputs.forEach((o, i) => {
      if (!isObject(o) || !outSpecs.some((s) => s.name === o.name)) throw badRequest(`outputs[${i}]: unknown output ${JSON.stringify(isObject(o) ? o.name : o)?.slice(0, 80)}; the model gives ${outSpecs.map((s) => `"${s.name}"`).join(', ')}`);
    });
  }
  const timeoutMs = requestTimeoutMs(body.parameters);
  const { tensor } = parseInputTensor(sv, body.inputs);
  // Through the version's batcher when batching is on, else straight to its runtime.
  const out = await sv.run!(tensor, { timeoutMs });
  const data = out.dtype === 'bool' ? Array.from(out.dataSync(), (v) => v !== 0) : Array.from(out.dataSync());
  return {
    model_name: name,
    model_version: String(sv.version),
    ...(body.id !== undefined ? { id: body.id } : {}),
    outputs: [{ name: outSpecs[0].name, shape: out.shape, datatype: datatypeOf(out.dtype), data }],
  };
}
