// Inference on a loaded model from request-shaped input, shared by `lathe predict` and the
// server: TF Serving's {"instances": [...]} rows become one batch (raw CSV-shaped records go
// through the model's fitted preprocessing first), and classifiers also answer class names.
import { fail, fmtShape } from '../errors.js';
import { argmax, tensor } from '../ops/functions.js';
import type { NestedArray } from '../tensor/tensor.js';
import type { Tensor } from '../tensor/tensor.js';
import * as fs from 'node:fs';
import { loadOnnx } from './onnx/import/model.js';
import { type LoadedModel, loadModel } from './saved-model.js';

/**
 * What inference needs from a loaded model: a per-example input shape and predict(). A Lathe
 * saved model (Sequential) and an imported ONNX model (OnnxModel) both give it.
 */
export interface InferenceModel {
  model: { readonly inputShape?: readonly number[]; predict(x: Tensor): Tensor };
  json: { classNames?: string[] };
  preprocessor?: LoadedModel['preprocessor'];
}

/** A Lathe model folder or an .onnx file, loaded for inference. */
export function loadForInference(source: string): InferenceModel {
  if (source.toLowerCase().endsWith('.onnx') && fs.existsSync(source) && fs.statSync(source).isFile()) return { model: loadOnnx(source), json: {} };
  return loadModel(source);
}

/** Bodies beyond this many instances are refused. */
export const MAX_INSTANCES = 65536;

/** Flattens one instance, checking it has exactly `shape`; `where` names it in errors. */
function flattenInstance(v: unknown, shape: readonly number[], where: string, out: number[]): void {
  if (shape.length === 0) {
    if (typeof v !== 'number' || !Number.isFinite(v)) fail(where, `expected a finite number, got ${JSON.stringify(v)?.slice(0, 40)}`);
    out.push(v);
    return;
  }
  if (!Array.isArray(v) || v.length !== shape[0]) {
    fail(where, `expected an array of ${shape[0]} (the model's input is ${fmtShape(shape)} per example), got ${Array.isArray(v) ? `${v.length} entries` : JSON.stringify(v)?.slice(0, 40)}`);
  }
  v.forEach((x, i) => flattenInstance(x, shape.slice(1), `${where}[${i}]`, out));
}

function instancesOf(body: unknown): unknown[] {
  const instances = (body as { instances?: unknown })?.instances;
  if (!Array.isArray(instances) || instances.length === 0) fail('predict', 'the body must be {"instances": [...]} with at least one instance');
  if (instances.length > MAX_INSTANCES) fail('predict', `${instances.length} instances exceed the limit of ${MAX_INSTANCES}`);
  return instances;
}

/** Parses {"instances": [...]} against a per-example shape into one float32 batch. */
export function instancesToBatch(body: unknown, shape: readonly number[]): { data: Float32Array; n: number } {
  const instances = instancesOf(body);
  const flat: number[] = [];
  instances.forEach((inst, i) => flattenInstance(inst, shape, `instances[${i}]`, flat));
  return { data: Float32Array.from(flat), n: instances.length };
}

/** The model's input batch for a request body: raw records through the fitted preprocessing, or numeric instances. */
export function requestBatch(loaded: InferenceModel, body: unknown): Tensor {
  const shape = loaded.model.inputShape ?? fail('predict', 'the model\'s input shape has dynamic dimensions beyond the batch axis; JSON instances need a fixed shape');
  if (loaded.preprocessor) {
    const { x, n, features } = loaded.preprocessor.transformRecords(instancesOf(body) as never);
    return tensor(x, { shape: [n, features.length] });
  }
  const { data, n } = instancesToBatch(body, shape);
  return tensor(data, { shape: [n, ...shape] });
}

export interface PredictResponse {
  predictions: NestedArray[];
  /** For classifiers with class names: the top class of each instance. */
  classes?: string[];
}

/** Runs the model on one request's batch: model.predict, or a dynamic batcher's submit. */
export type BatchRunner = (x: Tensor) => Tensor | Promise<Tensor>;

/** The predict response for a model output: the rows, plus the top class names when the model has them. */
export function predictResponse(loaded: InferenceModel, out: Tensor): PredictResponse {
  const response: PredictResponse = { predictions: out.toArray() as NestedArray[] };
  const names = loaded.json.classNames;
  if (names && out.rank === 2 && out.shape[1] === names.length) {
    response.classes = Array.from(argmax(out, 1).dataSync(), (k) => names[k]);
  }
  return response;
}

/** TF Serving's predict: the model's outputs per instance, plus class names when it has them. */
export function predict(loaded: InferenceModel, body: unknown): PredictResponse {
  return predictResponse(loaded, loaded.model.predict(requestBatch(loaded, body)));
}

/** predict through `run` (a server's batcher); the same answer. */
export async function predictWith(loaded: InferenceModel, body: unknown, run: BatchRunner): Promise<PredictResponse> {
  return predictResponse(loaded, await run(requestBatch(loaded, body)));
}
