// A GPT as a Lathe saved model: model.json (format "lathe-saved-model", architecture
// {"type": "gpt", ...config}, the token signature, the training setup), weights.safetensors (the
// tied table stored once), and tokenizer.json (the char or BPE tokenizer the ids belong to).
// Written to a fresh folder beside the target and swapped in, as saveModel does.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { writeFileAtomic } from '../../atomic-write.js';
import { fail } from '../../errors.js';
import { MODEL_FORMAT, MODEL_FORMAT_VERSION } from '../../io/saved-model.js';
import { BPETokenizer, CharTokenizer } from '../../data/text/index.js';
import { decodeSafetensors, encodeSafetensors } from '../../tensor/safetensors.js';
import { VERSION } from '../../version.js';
import { GPT } from './gpt.js';

export type GPTTokenizer = CharTokenizer | BPETokenizer;

const TOKENIZER_FILE = 'tokenizer.json';
const MAX_JSON_BYTES = 64 * 1024 * 1024;

export interface SavedGPTJson {
  format: typeof MODEL_FORMAT;
  formatVersion: number;
  latheVersion: string;
  architecture: ReturnType<GPT['getConfig']>;
  signature: {
    inputs: { name: string; dtype: 'int32'; shape: (number | null)[] }[];
    outputs: { name: string; dtype: string; shape: (number | null)[] }[];
  };
  /** The tokenizer's file in the folder, when one was saved. */
  tokenizer?: string;
  training?: { optimizer?: Record<string, unknown>; dataset?: string };
}

export interface LoadedGPT {
  model: GPT;
  tokenizer?: GPTTokenizer;
  json: SavedGPTJson;
}

export function saveGPT(model: GPT, dir: string, options: { tokenizer?: GPTTokenizer; dataset?: string } = {}): void {
  if (!(model instanceof GPT)) fail('saveGPT', 'expected a GPT model');
  const { tokenizer } = options;
  if (tokenizer && tokenizer.vocabSize !== model.config.vocabSize) fail('saveGPT', `the tokenizer has ${tokenizer.vocabSize} tokens, the model ${model.config.vocabSize}`);
  const json: SavedGPTJson = {
    format: MODEL_FORMAT,
    formatVersion: MODEL_FORMAT_VERSION,
    latheVersion: VERSION,
    architecture: model.getConfig(),
    signature: {
      inputs: [{ name: 'tokens', dtype: 'int32', shape: [null, null] }],
      outputs: [{ name: 'logits', dtype: 'float32', shape: [null, null, model.config.vocabSize] }],
    },
    ...(tokenizer ? { tokenizer: TOKENIZER_FILE } : {}),
    ...(model.optimizer || options.dataset ? { training: { ...(model.optimizer ? { optimizer: model.optimizer.getConfig() } : {}), ...(options.dataset ? { dataset: options.dataset } : {}) } } : {}),
  };
  const target = path.resolve(dir);
  const tmp = `${target}.tmp-${process.pid}-${Date.now().toString(36)}`;
  fs.rmSync(tmp, { recursive: true, force: true });
  writeFileAtomic(path.join(tmp, 'weights.safetensors'), encodeSafetensors(model.stateDict(), { format: 'lathe' }));
  if (tokenizer) writeFileAtomic(path.join(tmp, TOKENIZER_FILE), `${JSON.stringify(tokenizer.toJSON())}\n`);
  writeFileAtomic(path.join(tmp, 'model.json'), `${JSON.stringify(json, null, 2)}\n`);
  const old = `${target}.old-${process.pid}-${Date.now().toString(36)}`;
  if (fs.existsSync(target)) fs.renameSync(target, old);
  fs.renameSync(tmp, target);
  fs.rmSync(old, { recursive: true, force: true });
}

/** True when `dir` holds a saved model whose architecture is a GPT. */
export function isSavedGPT(dir: string): boolean {
  try {
    return readJson(path.join(dir, 'model.json'))?.architecture?.type === 'gpt';
  } catch {
    return false;
  }
}

export function loadGPT(dir: string): LoadedGPT {
  const file = path.join(dir, 'model.json');
  if (!fs.existsSync(file)) fail('load', `${file} not found: ${dir} is not a Lathe saved model (expected model.json and weights.safetensors)`);
  const json = readJson(file) as SavedGPTJson;
  if (json?.format !== MODEL_FORMAT) fail(file, `"format" must be "${MODEL_FORMAT}", got ${JSON.stringify(json?.format)}`);
  if (!Number.isInteger(json.formatVersion) || json.formatVersion < 1) fail(file, `"formatVersion" must be a positive integer, got ${JSON.stringify(json.formatVersion) ?? 'nothing'}`);
  if (json.formatVersion > MODEL_FORMAT_VERSION) fail(file, `format version ${json.formatVersion} is newer than this Lathe reads (${MODEL_FORMAT_VERSION}); upgrade Lathe`);
  if (json.architecture?.type !== 'gpt') fail(file, `"architecture.type" must be "gpt" for a language model, got ${JSON.stringify(json.architecture?.type)}`);
  const model = GPT.fromConfig(json.architecture, `${file}: architecture`);
  const weightsFile = path.join(dir, 'weights.safetensors');
  if (!fs.existsSync(weightsFile)) fail('load', `${weightsFile} not found`);
  const { tensors } = decodeSafetensors(fs.readFileSync(weightsFile), weightsFile);
  try {
    model.loadStateDict(tensors);
  } catch (e) {
    fail(weightsFile, (e as Error).message);
  }
  model.eval();
  let tokenizer: GPTTokenizer | undefined;
  if (json.tokenizer !== undefined) {
    if (typeof json.tokenizer !== 'string' || path.basename(json.tokenizer) !== json.tokenizer) fail(file, `"tokenizer" must name a file in the model folder, got ${JSON.stringify(json.tokenizer)}`);
    const tokFile = path.join(dir, json.tokenizer);
    const raw = readJson(tokFile) as { format?: unknown };
    tokenizer = raw?.format === 'lathe-char' ? CharTokenizer.fromJSON(raw, tokFile) : BPETokenizer.fromJSON(raw, tokFile);
    if (tokenizer.vocabSize !== model.config.vocabSize) fail(tokFile, `the tokenizer has ${tokenizer.vocabSize} tokens, the model ${model.config.vocabSize}`);
  }
  return { model, json, ...(tokenizer ? { tokenizer } : {}) };
}

function readJson(file: string): any {
  if (!fs.existsSync(file)) fail('load', `${file} not found`);
  if (fs.statSync(file).size > MAX_JSON_BYTES) fail(file, `larger than ${MAX_JSON_BYTES} bytes`);
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    return fail(file, `not valid JSON (${(e as Error).message})`);
  }
}
