// A GPT as a Lathe saved model: model.json (format "lathe-saved-model", architecture
// {"type": "gpt", ...config}, the token signature, the training setup), weights.safetensors (the
// tied table stored once), and tokenizer.json (the char or BPE tokenizer the ids belong to).
// Written to a fresh folder beside the target and swapped in, as saveModel does.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { writeFolderAtomic } from '../../atomic-write.js';
import { fail } from '../../errors.js';
import { MODEL_FORMAT, MODEL_FORMAT_VERSION, loadWeights, readModelJson } from '../../io/saved-model.js';
import { BPETokenizer, CharTokenizer } from '../../data/text/index.js';
import { encodeSafetensors } from '../../tensor/safetensors.js';
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
  writeFolderAtomic(dir, {
    'weights.safetensors': encodeSafetensors(model.stateDict(), { format: 'lathe' }),
    ...(tokenizer ? { [TOKENIZER_FILE]: `${JSON.stringify(tokenizer.toJSON())}\n` } : {}),
    'model.json': `${JSON.stringify(json, null, 2)}\n`,
  });
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
  const { json, file } = readModelJson<SavedGPTJson>(dir, 'gpt');
  const model = GPT.fromConfig(json.architecture, `${file}: architecture`);
  loadWeights(model, dir);
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
