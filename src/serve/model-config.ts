// What a model folder may say about itself: its name and version folders (validated so a URL can
// never name a path), and DIR/<model>/config.json (version policy, labels, dynamic batching, the
// runtime). Every check names the field, as the rest of Lathe's config errors do.
import { fail } from '../errors.js';

/** Names a URL may carry: no separators, no "." or "..", so never a path. */
const NAME = /^[A-Za-z0-9._-]{1,128}$/;
export function isValidName(s: string): boolean {
  return NAME.test(s) && s !== '.' && s !== '..';
}
/** Version folders and URL versions: positive integers without leading zeros, exactly representable. */
export function parseVersion(s: string): number | undefined {
  if (!/^[1-9][0-9]{0,15}$/.test(s)) return undefined;
  const v = Number(s);
  return Number.isSafeInteger(v) ? v : undefined;
}

export type VersionPolicy = { latest: number } | { all: true } | { specific: number[] };

export interface BatchingConfig {
  maxBatchSize: number;
  maxQueueDelayMicroseconds: number;
  maxQueueSize: number;
  /**
   * How long a request may wait in the queue (Triton's default_queue_policy
   * default_timeout_microseconds); unset, the server's --request-timeout-ms applies.
   */
  defaultTimeoutMicroseconds?: number;
}

/**
 * What runs a version: "lathe" (Lathe's own ops; Lathe's ONNX importer for model.onnx),
 * "lathe-worker" (the same, in a worker thread, so the event loop never waits on a batch),
 * "webgpu" (a Lathe saved model on the GPU through WebGPU), "onnxruntime" (onnxruntime-node,
 * for model.onnx only), or "auto": onnxruntime for model.onnx when onnxruntime-node can be
 * imported, else lathe.
 */
export type RuntimeChoice = 'auto' | 'lathe' | 'lathe-worker' | 'webgpu' | 'onnxruntime';
export const RUNTIME_CHOICES: readonly RuntimeChoice[] = ['auto', 'lathe', 'lathe-worker', 'webgpu', 'onnxruntime'];

/** A language model's decode engine (src/serve/llm/engine.ts): continuous batching limits. */
export interface GenerationConfig {
  /** Sequences decoding at once (the batch of one step). */
  maxSequences: number;
  /** Requests waiting for a sequence slot; one more is answered 429. */
  maxQueueSize: number;
}

export interface ModelConfig {
  versionPolicy: VersionPolicy;
  labels: Map<string, number>;
  /** Triton-style dynamic batching; off (each request runs alone) unless config.json asks. */
  batching?: BatchingConfig;
  runtime: RuntimeChoice;
  /** For language models (GPT); defaults apply when absent. */
  generation?: GenerationConfig;
}

/** A model folder without config.json: its latest version, no labels, no batching. */
export const defaultModelConfig = (): ModelConfig => ({ versionPolicy: { latest: 1 }, labels: new Map(), runtime: 'auto' });

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const CONFIG_FIELDS = ['versionPolicy', 'labels', 'batching', 'runtime', 'generation'];

/** Reads and checks DIR/<model>/config.json; errors name the field. */
export function parseModelConfig(raw: unknown, where: string): ModelConfig {
  if (!isObject(raw)) fail(where, 'must be a JSON object');
  for (const k of Object.keys(raw)) if (!CONFIG_FIELDS.includes(k)) fail(where, `unknown field "${k}" (known: ${CONFIG_FIELDS.join(', ')})`);
  let versionPolicy: VersionPolicy = { latest: 1 };
  const p = raw.versionPolicy;
  if (p !== undefined) {
    const w = `${where}: versionPolicy`;
    if (!isObject(p) || Object.keys(p).length !== 1) fail(w, `must be one of {"latest": N}, {"all": true}, {"specific": [versions]}, got ${JSON.stringify(p)}`);
    if ('latest' in p) {
      if (!Number.isSafeInteger(p.latest) || (p.latest as number) < 1) fail(`${w}.latest`, `must be a positive integer, got ${JSON.stringify(p.latest)}`);
      versionPolicy = { latest: p.latest as number };
    } else if ('all' in p) {
      if (p.all !== true) fail(`${w}.all`, `must be true, got ${JSON.stringify(p.all)}`);
      versionPolicy = { all: true };
    } else if ('specific' in p) {
      const s = p.specific;
      if (!Array.isArray(s) || s.length === 0) fail(`${w}.specific`, `must be a non-empty array of versions, got ${JSON.stringify(s)}`);
      s.forEach((v, i) => {
        if (!Number.isSafeInteger(v) || v < 1) fail(`${w}.specific[${i}]`, `must be a positive integer, got ${JSON.stringify(v)}`);
      });
      versionPolicy = { specific: [...new Set(s as number[])].sort((a, b) => a - b) };
    } else fail(w, `unknown policy "${Object.keys(p)[0]}" (known: latest, all, specific)`);
  }
  const labels = new Map<string, number>();
  if (raw.labels !== undefined) {
    if (!isObject(raw.labels)) fail(`${where}: labels`, `must be an object {"label": version}, got ${JSON.stringify(raw.labels)}`);
    for (const [name, v] of Object.entries(raw.labels)) {
      if (!isValidName(name)) fail(`${where}: labels`, `label ${JSON.stringify(name)} must match [A-Za-z0-9._-]+`);
      if (!Number.isSafeInteger(v) || (v as number) < 1) fail(`${where}: labels.${name}`, `must be a positive integer version, got ${JSON.stringify(v)}`);
      labels.set(name, v as number);
    }
  }
  let runtime: RuntimeChoice = 'auto';
  if (raw.runtime !== undefined) {
    if (!RUNTIME_CHOICES.includes(raw.runtime as RuntimeChoice)) fail(`${where}: runtime`, `must be one of ${RUNTIME_CHOICES.map((r) => `"${r}"`).join(', ')}, got ${JSON.stringify(raw.runtime)}`);
    runtime = raw.runtime as RuntimeChoice;
  }
  return {
    versionPolicy, labels, runtime,
    ...(raw.batching !== undefined ? { batching: parseBatching(raw.batching, `${where}: batching`) } : {}),
    ...(raw.generation !== undefined ? { generation: parseGeneration(raw.generation, `${where}: generation`) } : {}),
  };
}

export const GENERATION_DEFAULTS: GenerationConfig = { maxSequences: 32, maxQueueSize: 128 };

function parseGeneration(g: unknown, where: string): GenerationConfig {
  const fields = Object.keys(GENERATION_DEFAULTS);
  if (!isObject(g)) fail(where, `must be an object {${fields.join(', ')}}, got ${JSON.stringify(g)}`);
  const out = { ...GENERATION_DEFAULTS };
  for (const [k, v] of Object.entries(g)) {
    if (!fields.includes(k)) fail(where, `unknown field "${k}" (known: ${fields.join(', ')})`);
    const min = k === 'maxQueueSize' ? 0 : 1;
    if (!Number.isSafeInteger(v) || (v as number) < min || (v as number) > 65536) fail(`${where}.${k}`, `must be an integer from ${min} to 65536, got ${JSON.stringify(v)}`);
    out[k as keyof GenerationConfig] = v as number;
  }
  return out;
}

const BATCHING_DEFAULTS = { maxBatchSize: 32, maxQueueDelayMicroseconds: 500, maxQueueSize: 256 };
const BATCHING_FIELDS = [...Object.keys(BATCHING_DEFAULTS), 'defaultTimeoutMicroseconds'];

function parseBatching(b: unknown, where: string): BatchingConfig {
  if (!isObject(b)) fail(where, `must be an object {${BATCHING_FIELDS.join(', ')}}, got ${JSON.stringify(b)}`);
  const out: BatchingConfig = { ...BATCHING_DEFAULTS };
  for (const [k, v] of Object.entries(b)) {
    if (!BATCHING_FIELDS.includes(k)) fail(where, `unknown field "${k}" (known: ${BATCHING_FIELDS.join(', ')})`);
    const min = k === 'maxQueueDelayMicroseconds' ? 0 : 1;
    if (!Number.isSafeInteger(v) || (v as number) < min) fail(`${where}.${k}`, `must be an integer >= ${min}, got ${JSON.stringify(v)}`);
    out[k as keyof BatchingConfig] = v as number;
  }
  return out;
}

/** The versions a policy serves out of those on disk; `specific` versions absent from disk are kept, to report them. */
export function selectVersions(policy: VersionPolicy, onDisk: number[]): number[] {
  const sorted = [...onDisk].sort((a, b) => a - b);
  if ('all' in policy) return sorted;
  if ('latest' in policy) return sorted.slice(-policy.latest);
  return policy.specific;
}
