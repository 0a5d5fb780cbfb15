// TF Serving's REST API (https://www.tensorflow.org/tfx/serving/api_rest): model status,
// metadata (the signature), predict in the row ("instances") and columnar ("inputs") forms, and
// classify. Bodies become batches through src/io/inference.ts, as `lathe predict` does.
import { predictWith, type PredictResponse } from '../../io/inference.js';
import type { ModelRepository, ServableVersion, TensorSpec } from '../repository.js';
import { badRequest, findModel, findVersion, servingVersion, type VersionSelector } from './routing.js';

const TF_DTYPES: Record<string, string> = { float32: 'DT_FLOAT', float64: 'DT_DOUBLE', int32: 'DT_INT32', uint8: 'DT_UINT8', bool: 'DT_BOOL', int64: 'DT_INT64' };
const SIGNATURE = 'serving_default';

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function versionStatus(sv: ServableVersion) {
  const failed = sv.state === 'END' && sv.error !== undefined;
  return { version: String(sv.version), state: sv.state, status: { error_code: failed ? 'UNKNOWN' : 'OK', error_message: sv.error ?? '' } };
}

/** GET /v1/models/{m}[/versions/{v}|/labels/{l}]: every served version's state, or the selected one's. */
export function tfStatus(repo: ModelRepository, name: string, sel: VersionSelector): unknown {
  const m = findModel(repo, name);
  const sv = findVersion(m, sel);
  const versions = sv ? [sv] : [...m.versions.values()].sort((a, b) => b.version - a.version);
  return { model_version_status: versions.map(versionStatus) };
}

function tensorInfo(t: TensorSpec) {
  return {
    dtype: TF_DTYPES[t.dtype] ?? 'DT_INVALID',
    tensor_shape: { dim: t.shape.map((d) => ({ size: String(d ?? -1), name: '' })), unknown_rank: false },
    name: t.name,
  };
}

/** GET .../metadata: the signature as TF Serving's SignatureDefMap. */
export function tfMetadata(repo: ModelRepository, name: string, sel: VersionSelector): unknown {
  const sv = servingVersion(repo, name, sel);
  const sig = sv.signature!;
  return {
    model_spec: { name, signature_name: '', version: String(sv.version) },
    metadata: {
      signature_def: {
        signature_def: {
          [SIGNATURE]: {
            inputs: Object.fromEntries(sig.inputs.map((t) => [t.name, tensorInfo(t)])),
            outputs: Object.fromEntries(sig.outputs.map((t) => [t.name, tensorInfo(t)])),
            method_name: 'tensorflow/serving/predict',
          },
        },
      },
    },
  };
}

export function checkSignatureName(body: Record<string, unknown>): void {
  const s = body.signature_name;
  if (s !== undefined && s !== SIGNATURE) throw badRequest(`signature_name: this server has only "${SIGNATURE}", got ${JSON.stringify(s)?.slice(0, 80)}`);
}

/**
 * One instance as inference.ts takes it. TF Serving lets a row name its input
 * ({"input": [...]}); a model with fitted preprocessing takes raw records, objects too.
 */
function unwrapInstance(sv: ServableVersion, inst: unknown, where: string): unknown {
  if (sv.loaded!.preprocessor || !isObject(inst)) return inst;
  const input = sv.signature!.inputs[0].name;
  const keys = Object.keys(inst);
  if (keys.length !== 1 || keys[0] !== input) throw badRequest(`${where}: expected {"${input}": ...} (the model's input), got keys ${JSON.stringify(keys.slice(0, 5))}`);
  return inst[input];
}

export function unwrapAll(sv: ServableVersion, rows: unknown, where: string): unknown[] {
  if (!Array.isArray(rows)) throw badRequest(`"${where}" must be an array, got ${JSON.stringify(rows)?.slice(0, 40) ?? 'nothing'}`);
  return rows.map((r, i) => unwrapInstance(sv, r, `${where}[${i}]`));
}

/** predict through the version's runner: its batcher when batching is on, else its runtime. */
function run(sv: ServableVersion, body: unknown): Promise<PredictResponse> {
  const runner = sv.run!;
  return predictWith(sv.loaded!, body, (x) => runner(x));
}

/** POST ...:predict: {"instances": rows} gives {"predictions"}, {"inputs": columns} gives {"outputs"}. */
export async function tfPredict(repo: ModelRepository, name: string, sel: VersionSelector, body: unknown): Promise<unknown> {
  if (!isObject(body)) throw badRequest('the body must be a JSON object with "instances" or "inputs"');
  checkSignatureName(body);
  const sv = servingVersion(repo, name, sel);
  if ('instances' in body && 'inputs' in body) throw badRequest('give "instances" (row form) or "inputs" (columnar form), not both');
  if ('instances' in body) return run(sv, { instances: unwrapAll(sv, body.instances, 'instances') });
  if (!('inputs' in body)) throw badRequest('the body must have "instances" (row form) or "inputs" (columnar form)');
  let columns = body.inputs;
  // The columnar form may name its one input: {"inputs": {"input": [...]}}.
  if (isObject(columns) && !sv.loaded!.preprocessor) columns = unwrapInstance(sv, columns, 'inputs');
  const out = await run(sv, { instances: columns });
  return { outputs: out.predictions };
}

/**
 * POST ...:classify for models with class names: {"examples": [...]} (or "instances") gives
 * {"results": [[[label, score], ...], ...]}, every class in the model's order, as TF Serving's
 * classify answers.
 */
export async function tfClassify(repo: ModelRepository, name: string, sel: VersionSelector, body: unknown): Promise<unknown> {
  if (!isObject(body)) throw badRequest('the body must be a JSON object with "examples"');
  checkSignatureName(body);
  const sv = servingVersion(repo, name, sel);
  const names = sv.loaded!.json.classNames;
  if (!names?.length) throw badRequest(`model "${name}" version ${sv.version} has no class names; use :predict`);
  const key = 'examples' in body ? 'examples' : 'instances';
  const out = await run(sv, { instances: unwrapAll(sv, body[key], key) });
  const results = out.predictions.map((row, i) => {
    if (!Array.isArray(row) || row.length !== names.length) throw badRequest(`example ${i}: the model's output does not have one score per class (${names.length}); use :predict`);
    return names.map((label, k) => [label, row[k]]);
  });
  return { results };
}
