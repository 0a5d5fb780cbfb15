// The language-model run config behind `lathe train`: a "text" dataset, a "gpt" model and an
// iteration-based fit section (nanoGPT's knobs). Everything is read here before any data is
// loaded, and every error names the field: config.fit: "evalInterval" must be a positive integer.
// The model section's own fields (nLayer, nHead, ...) are checked by the model's builder, which
// runs before training too; this reader takes what the loop needs (blockSize) and the type.
import { fail } from '../../errors.js';
import { ConfigReader } from '../../nn/config.js';

export interface TextDatasetSpec {
  type: 'text';
  /** A UTF-8 file: absolute, or relative to --data, then $LATHE_DATA, then the config's folder. */
  path: string;
  tokenizer: 'char' | 'bpe';
  /** BPE only: 256 bytes + merges, learned from the file. */
  vocabSize: number | null;
  /** The fraction of tokens at the end held out for validation (nanoGPT's 0.1). */
  validationSplit: number;
}

export interface LanguageModelFitSpec {
  /** Optimizer steps in all (a resume continues up to it). */
  iterations: number;
  /** Windows per micro-batch. */
  batchSize: number;
  /** Micro-batches whose gradients add up to one optimizer step. */
  gradientAccumulation: number;
  /** Steps between validation losses (and the last step always). */
  evalInterval: number;
  /** Random validation batches per evaluation. */
  evalIterations: number;
  /** Tokens sampled from "\n" at each evaluation; 0 for none. */
  sampleTokens: number;
  /** Steps between the training-loss lines in metrics.jsonl. */
  logEvery: number;
}

export interface LanguageModelRunConfig {
  kind: 'language-model';
  seed: number;
  dataset: TextDatasetSpec;
  /** The model section as written, type included; its builder checks the rest. */
  model: Record<string, unknown> & { type: 'gpt'; blockSize: number };
  optimizer: unknown;
  fit: LanguageModelFitSpec;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** True for a config that trains a language model: a "text" dataset or a "gpt" model. */
export function isLanguageModelConfig(raw: unknown): boolean {
  if (!isObject(raw)) return false;
  const { dataset, model } = raw;
  return (isObject(dataset) && dataset.type === 'text') || (isObject(model) && model.type === 'gpt');
}

/** Validates a parsed language-model config.json; overrides come from command-line flags. */
export function readLanguageModelConfig(raw: unknown, overrides: { iterations?: number; seed?: number } = {}): LanguageModelRunConfig {
  if (!isObject(raw)) fail('config', `expected a JSON object, got ${JSON.stringify(raw)}`);
  const top = new ConfigReader('config', raw);
  top.rejectUnknown(['description', 'seed', 'dataset', 'model', 'compile', 'fit']);
  const dataset = readTextDataset(raw.dataset);
  const model = readGptSection(raw.model);
  if (!isObject(raw.compile)) fail('config', '"compile" is required: {"optimizer": {"type": "adamw", ...}}');
  const compile = new ConfigReader('config.compile', raw.compile);
  // the loss is the next-token cross-entropy, always
  compile.rejectUnknown(['optimizer']);
  if (!compile.has('optimizer')) fail('config.compile', '"optimizer" is required, e.g. {"type": "adamw", "lr": 1e-3, "weightDecay": 0.1, "globalClipNorm": 1}');
  if (!isObject(raw.fit)) fail('config', '"fit" is required: {"iterations", "batchSize", ...}');
  const fit = new ConfigReader('config.fit', raw.fit);
  if (fit.has('epochs')) fail('config.fit', 'a language model counts "iterations", not "epochs"');
  fit.rejectUnknown(['iterations', 'batchSize', 'gradientAccumulation', 'evalInterval', 'evalIterations', 'sampleTokens', 'logEvery']);
  const iterations = overrides.iterations ?? fit.positiveInt('iterations');
  const evalInterval = fit.positiveInt('evalInterval', Math.min(250, iterations));
  return {
    kind: 'language-model',
    seed: overrides.seed ?? top.int('seed', 0),
    dataset,
    model,
    optimizer: compile.obj.optimizer,
    fit: {
      iterations,
      batchSize: fit.positiveInt('batchSize', 12),
      gradientAccumulation: fit.positiveInt('gradientAccumulation', 1),
      evalInterval,
      evalIterations: fit.positiveInt('evalIterations', 20),
      sampleTokens: fit.int('sampleTokens', 200, 0),
      logEvery: fit.positiveInt('logEvery', Math.max(1, Math.min(10, evalInterval))),
    },
  };
}

function readTextDataset(raw: unknown): TextDatasetSpec {
  if (!isObject(raw)) fail('config', '"dataset" is required: {"type": "text", "path": "tinyshakespeare/input.txt", "tokenizer": "char"}');
  const r = new ConfigReader('config.dataset', raw);
  if (raw.type !== 'text') fail('config.dataset', `a "gpt" model trains on {"type": "text", "path": ...}, got "type" ${JSON.stringify(raw.type)}`);
  r.rejectUnknown(['type', 'path', 'tokenizer', 'vocabSize', 'validationSplit']);
  const file = r.string('path');
  if (file === '') fail('config.dataset', '"path" must name a text file, got ""');
  const tokenizer = r.oneOf('tokenizer', ['char', 'bpe'], 'char');
  if (tokenizer === 'bpe' && !r.has('vocabSize')) fail('config.dataset', '"vocabSize" is required with "tokenizer": "bpe" (256 bytes + merges, e.g. 512)');
  if (tokenizer === 'char' && r.has('vocabSize')) fail('config.dataset', '"vocabSize" applies to "tokenizer": "bpe" only; a char tokenizer has one id per character of the text');
  const vocabSize = tokenizer === 'bpe' ? r.positiveInt('vocabSize') : null;
  if (vocabSize !== null && vocabSize < 256) fail('config.dataset', `"vocabSize" must be at least 256 (the bytes) for "tokenizer": "bpe", got ${vocabSize}`);
  return { type: 'text', path: file, tokenizer, vocabSize, validationSplit: r.number('validationSplit', 0.1, [0, 0.99]) };
}

function readGptSection(raw: unknown): LanguageModelRunConfig['model'] {
  if (!isObject(raw)) fail('config', '"model" is required: {"type": "gpt", "blockSize", "nLayer", "nHead", "nEmbd"}');
  const r = new ConfigReader('config.model', raw);
  if (raw.type !== 'gpt') fail('config.model', `a "text" dataset trains {"type": "gpt", "blockSize", "nLayer", "nHead", "nEmbd"}, got "type" ${JSON.stringify(raw.type)}`);
  if (r.has('vocabSize')) fail('config.model', '"vocabSize" comes from the tokenizer; set config.dataset.vocabSize for BPE');
  if (r.has('seed')) fail('config.model', '"seed" is the config\'s top-level "seed"');
  return { ...raw, type: 'gpt', blockSize: r.positiveInt('blockSize') };
}
