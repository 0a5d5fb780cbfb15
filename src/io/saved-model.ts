// Lathe's saved-model folder: model.json (architecture, signature, training setup, versions)
// and weights.safetensors. Loading reads JSON and raw tensors only; no code is executed.
// A save writes a fresh folder beside the target and swaps it in, so a crash never leaves a
// half-written model. (Issue 6 adds optimizer state, ONNX export and import.)
import * as fs from 'node:fs';
import * as path from 'node:path';
import { writeFolderAtomic } from '../atomic-write.js';
import { fail } from '../errors.js';
import { decodeSafetensors, encodeSafetensors } from '../tensor/safetensors.js';
import { TabularPreprocessor, type TabularPreprocessorJson } from '../data/tabular/index.js';
import { optimizerFromConfig } from '../optim/registry.js';
import { Sequential } from '../train/sequential.js';
import type { Model } from '../train/model.js';
import type { Module } from '../nn/module.js';
import { VERSION } from '../version.js';

export const MODEL_FORMAT = 'lathe-saved-model';
export const MODEL_FORMAT_VERSION = 1;
/** model.json is small; a larger one is not ours. */
const MAX_MODEL_JSON_BYTES = 16 * 1024 * 1024;

export interface SavedModelJson {
  format: typeof MODEL_FORMAT;
  formatVersion: number;
  latheVersion: string;
  architecture: ReturnType<Sequential['getConfig']>;
  signature: {
    inputs: { name: string; dtype: string; shape: (number | null)[] }[];
    outputs: { name: string; dtype: string; shape: (number | null)[] }[];
  };
  classNames?: string[];
  /** Fitted preprocessing applied to raw inputs before the model (a CSV's columns), as plain JSON. */
  preprocessing?: TabularPreprocessorJson;
  training?: { loss?: unknown; metrics?: string[]; dataset?: string; optimizer?: Record<string, unknown> };
}

export interface SaveOptions {
  classNames?: string[];
  /** The fitted preprocessing of tabular inputs; serving applies it to raw records. */
  preprocessing?: TabularPreprocessor;
  /** Also write the optimizer's state (optimizer.safetensors), so that loading resumes training where it stopped. */
  includeOptimizer?: boolean;
  /** The dataset it was trained on (a name such as "mnist", or "csv"), so `lathe evaluate` can find its test split. */
  dataset?: string;
  /** model.json's training section as given, instead of the model's own (a quantized copy keeps its source's loss, metrics and dataset). */
  training?: SavedModelJson['training'];
}

export function saveModel(model: Model, dir: string, options: SaveOptions = {}): void {
  if (!(model instanceof Sequential)) fail('save', 'only Sequential models can be saved for now (subclassed models have no config to rebuild from)');
  if (!model.built || !model.inputShape) fail('save', 'the model is not built yet: give the first layer an inputShape, or call it on data first');
  const json: SavedModelJson = {
    format: MODEL_FORMAT,
    formatVersion: MODEL_FORMAT_VERSION,
    latheVersion: VERSION,
    architecture: model.getConfig(),
    signature: {
      inputs: [{ name: 'input', dtype: 'float32', shape: [null, ...model.inputShape] }],
      outputs: [{ name: 'output', dtype: model.layers[model.layers.length - 1].dtype, shape: [null, ...model.outputShape!] }],
    },
    ...(options.classNames ? { classNames: options.classNames } : {}),
    ...(options.preprocessing ? { preprocessing: options.preprocessing.toJSON() } : {}),
    ...(options.training
      ? { training: options.training }
      : model.loss
      ? { training: { loss: model.loss.getConfig(), metrics: model.metrics.map((m) => m.name), ...(model.optimizer ? { optimizer: model.optimizer.getConfig() } : {}), ...(options.dataset ? { dataset: options.dataset } : {}) } }
      : {}),
  };
  if (options.includeOptimizer && !model.optimizer) fail('save', 'includeOptimizer: the model has no optimizer; compile it first');
  const files: Record<string, string | Uint8Array | readonly Uint8Array[]> = { 'weights.safetensors': encodeSafetensors(model.stateDict(), { format: 'lathe' }) };
  if (options.includeOptimizer) {
    const state = model.optimizer!.stateDict();
    files['optimizer.safetensors'] = encodeSafetensors(state.slots, { format: 'lathe-optimizer', iterations: String(state.iterations) });
  }
  files['model.json'] = `${JSON.stringify(json, null, 2)}\n`; // last: a folder without it is no model
  writeFolderAtomic(dir, files);
}

/**
 * Compiles a loaded model as it was saved (Keras' load_model does the same): the loss, the
 * metrics and the optimizer from model.json, and the optimizer's slots and step count from
 * optimizer.safetensors when the save included them, so fit() continues where it stopped.
 */
function restoreTraining(model: Sequential, json: SavedModelJson, dir: string, file: string): void {
  const t = json.training;
  if (!t?.loss || !t.optimizer) return;
  try {
    model.compile({ optimizer: optimizerFromConfig(t.optimizer, 'training.optimizer'), loss: t.loss as never, metrics: t.metrics ?? [] });
  } catch (e) {
    fail(file, (e as Error).message);
  }
  const optFile = path.join(dir, 'optimizer.safetensors');
  if (!fs.existsSync(optFile)) return;
  const { tensors, metadata } = decodeSafetensors(fs.readFileSync(optFile), optFile);
  if (metadata.format !== 'lathe-optimizer') fail(optFile, `not a Lathe optimizer state (metadata format ${JSON.stringify(metadata.format)})`);
  try {
    model.optimizer!.loadStateDict({ config: t.optimizer as never, iterations: Number(metadata.iterations), slots: tensors });
  } catch (e) {
    fail(optFile, (e as Error).message);
  }
}

export interface LoadedModel {
  model: Sequential;
  json: SavedModelJson;
  /** The fitted preprocessing for raw records, when the model was trained on tabular data. */
  preprocessor?: TabularPreprocessor;
}

/**
 * model.json of a saved-model folder, its size, format and version checked, and its architecture
 * of the `type` expected (every kind of saved model, Sequential or GPT, starts here).
 */
export function readModelJson<J extends { architecture?: { type?: unknown } }>(dir: string, type: string): { json: J; file: string } {
  const file = path.join(dir, 'model.json');
  if (!fs.existsSync(file)) fail('load', `${file} not found: ${dir} is not a Lathe saved model (expected model.json and weights.safetensors)`);
  if (fs.statSync(file).size > MAX_MODEL_JSON_BYTES) fail(file, `larger than ${MAX_MODEL_JSON_BYTES} bytes`);
  let json: any;
  try {
    json = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    fail(file, `not valid JSON (${(e as Error).message})`);
  }
  if (json?.format !== MODEL_FORMAT) fail(file, `"format" must be "${MODEL_FORMAT}", got ${JSON.stringify(json?.format)}`);
  if (!Number.isInteger(json.formatVersion) || json.formatVersion < 1) fail(file, `"formatVersion" must be a positive integer, got ${JSON.stringify(json.formatVersion) ?? 'nothing'}`);
  if (json.formatVersion > MODEL_FORMAT_VERSION) fail(file, `format version ${json.formatVersion} is newer than this Lathe reads (${MODEL_FORMAT_VERSION}); upgrade Lathe`);
  if (json.architecture?.type !== type) fail(file, `"architecture.type" must be "${type}", got ${JSON.stringify(json.architecture?.type)}`);
  return { json: json as J, file };
}

/** Loads weights.safetensors of `dir` into `model` (every tensor checked by loadStateDict), then sets eval mode. */
export function loadWeights(model: Module, dir: string): void {
  const weightsFile = path.join(dir, 'weights.safetensors');
  if (!fs.existsSync(weightsFile)) fail('load', `${weightsFile} not found`);
  const { tensors } = decodeSafetensors(fs.readFileSync(weightsFile), weightsFile);
  try {
    model.loadStateDict(tensors);
  } catch (e) {
    fail(weightsFile, (e as Error).message);
  }
  model.eval();
}

export function loadModel(dir: string): LoadedModel {
  const { json, file } = readModelJson<SavedModelJson>(dir, 'sequential');
  const model = Sequential.fromConfig(json.architecture.layers, `${file}: architecture.layers`);
  const input = json.signature?.inputs?.[0]?.shape;
  if (!model.built) {
    if (!Array.isArray(input) || input.length < 2) fail(file, 'signature.inputs[0].shape must give the input shape, e.g. [null, 784]');
    model.build(input.slice(1) as number[]);
  }
  loadWeights(model, dir);
  if (json.classNames !== undefined && (!Array.isArray(json.classNames) || json.classNames.some((c) => typeof c !== 'string'))) {
    fail(file, '"classNames" must be an array of strings');
  }
  const preprocessor = json.preprocessing === undefined ? undefined : TabularPreprocessor.fromJSON(json.preprocessing, `${file}: preprocessing`);
  restoreTraining(model, json, dir, file);
  return { model, json, ...(preprocessor ? { preprocessor } : {}) };
}
