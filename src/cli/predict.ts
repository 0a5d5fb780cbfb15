// `lathe predict <model_dir> --input FILE`: TF Serving's predict body in ({"instances": [...]},
// one entry per example in the model's input shape), {"predictions": [...]} out.
import * as fs from 'node:fs';
import { fail, fmtShape } from '../errors.js';
import { loadModel } from '../io/saved-model.js';
import { tensor } from '../ops/functions.js';
import type { NestedArray } from '../tensor/tensor.js';
import { parseArgs } from './args.js';

/** Request bodies beyond this are refused (serving applies the same limit). */
export const MAX_BODY_BYTES = 64 * 1024 * 1024;

/** Flattens one instance, checking it has exactly `shape`; `where` names it in errors. */
function flattenInstance(v: unknown, shape: readonly number[], where: string, out: number[]): void {
  if (shape.length === 0) {
    if (typeof v !== 'number' || !Number.isFinite(v)) fail(where, `expected a finite number, got ${JSON.stringify(v)?.slice(0, 40)}`);
    out.push(v);
    return;
  }
  if (!Array.isArray(v) || v.length !== shape[0]) fail(where, `expected an array of ${shape[0]} (the model's input is ${fmtShape(shape)} per example), got ${Array.isArray(v) ? `${v.length} entries` : JSON.stringify(v)?.slice(0, 40)}`);
  v.forEach((x, i) => flattenInstance(x, shape.slice(1), `${where}[${i}]`, out));
}

/** Parses {"instances": [...]} against a per-example shape into one float32 batch. */
export function instancesToBatch(body: unknown, shape: readonly number[]): { data: Float32Array; n: number } {
  const instances = (body as { instances?: unknown })?.instances;
  if (!Array.isArray(instances) || instances.length === 0) fail('predict', 'the body must be {"instances": [...]} with at least one instance');
  const flat: number[] = [];
  instances.forEach((inst, i) => flattenInstance(inst, shape, `instances[${i}]`, flat));
  return { data: Float32Array.from(flat), n: instances.length };
}

export async function predictCommand(argv: string[]): Promise<number> {
  const { flags, positional } = parseArgs('predict', argv, { input: 'string', json: 'flag' });
  if (positional.length !== 1 || typeof flags.input !== 'string') fail('predict', 'Usage: lathe predict <model_dir> --input FILE [--json]');
  const file = flags.input;
  if (!fs.existsSync(file)) fail('predict', `${file} not found`);
  if (fs.statSync(file).size > MAX_BODY_BYTES) fail('predict', `${file} is larger than ${MAX_BODY_BYTES} bytes`);
  let body: unknown;
  try {
    body = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    fail(file, `not valid JSON (${(e as Error).message})`);
  }
  const { model } = loadModel(positional[0]);
  const shape = model.inputShape!;
  const { data, n } = instancesToBatch(body, shape);
  const out = model.predict(tensor(data, { shape: [n, ...shape] }));
  const predictions = out.toArray() as NestedArray[];
  console.log(JSON.stringify({ predictions }));
  return 0;
}
