// The model repository TF Serving and Triton share: DIR/<model>/<version>/ holding a Lathe saved
// model (model.json) or a model.onnx, with an optional DIR/<model>/config.json (version policy,
// labels). Everything is read once at start-up into Maps, so a request's model name never
// reaches the file system: an odd name can only miss, never traverse.
import { DynamicBatcher } from './batcher.js';
import { concat, narrow } from '../ops/functions.js';
import type { Tensor } from '../tensor/tensor.js';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fail } from '../errors.js';
import { type InferenceModel, loadForInference } from '../io/inference.js';
import { OnnxModel } from '../io/onnx/import/model.js';
import { full } from '../ops/functions.js';

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
  timeoutMs: number;
}

export interface ModelConfig {
  versionPolicy: VersionPolicy;
  labels: Map<string, number>;
  /** Triton-style dynamic batching; off (each request runs alone) unless config.json asks. */
  batching?: BatchingConfig;
}

export interface TensorSpec {
  name: string;
  /** A Lathe dtype name (float32, int32, ...). */
  dtype: string;
  /** The full shape, batch axis first; null where dynamic. */
  shape: (number | null)[];
}
export interface Signature {
  inputs: TensorSpec[];
  outputs: TensorSpec[];
}

/** TF Serving's version states; END with an error is a version that failed to load. */
export type VersionState = 'START' | 'LOADING' | 'AVAILABLE' | 'UNLOADING' | 'END';

export interface ServableVersion {
  model: string;
  version: number;
  state: VersionState;
  error?: string;
  platform: 'lathe' | 'onnx';
  loaded?: InferenceModel;
  signature?: Signature;
  /** Runs one request's batch: through the model's dynamic batcher when batching is on. */
  run?: (x: Tensor) => Tensor | Promise<Tensor>;
  batcher?: DynamicBatcher<Tensor, Tensor>;
  /** Told each batched request's queue and compute time and batch size (the server's metrics). */
  onResult?: (r: { queueMicros: number; computeMicros: number; batchSize: number }) => void;
}

export interface ServedModel {
  name: string;
  config: ModelConfig;
  /** The versions the policy selects, ascending. */
  versions: Map<number, ServableVersion>;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Reads and checks DIR/<model>/config.json; errors name the field. */
export function parseModelConfig(raw: unknown, where: string): ModelConfig {
  if (!isObject(raw)) fail(where, 'must be a JSON object');
  for (const k of Object.keys(raw)) if (k !== 'versionPolicy' && k !== 'labels' && k !== 'batching') fail(where, `unknown field "${k}" (known: versionPolicy, labels, batching)`);
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
  return { versionPolicy, labels, ...(raw.batching !== undefined ? { batching: parseBatching(raw.batching, `${where}: batching`) } : {}) };
}

const BATCHING_DEFAULTS: BatchingConfig = { maxBatchSize: 32, maxQueueDelayMicroseconds: 500, maxQueueSize: 256, timeoutMs: 30000 };

function parseBatching(b: unknown, where: string): BatchingConfig {
  if (!isObject(b)) fail(where, `must be an object {maxBatchSize, maxQueueDelayMicroseconds, maxQueueSize, timeoutMs}, got ${JSON.stringify(b)}`);
  const out = { ...BATCHING_DEFAULTS };
  for (const [k, v] of Object.entries(b)) {
    if (!(k in BATCHING_DEFAULTS)) fail(where, `unknown field "${k}" (known: ${Object.keys(BATCHING_DEFAULTS).join(', ')})`);
    const min = k === 'maxQueueDelayMicroseconds' ? 0 : 1;
    if (!Number.isSafeInteger(v) || (v as number) < min) fail(`${where}.${k}`, `must be an integer >= ${min}, got ${JSON.stringify(v)}`);
    out[k as keyof BatchingConfig] = v as number;
  }
  return out;
}

/**
 * A dynamic batcher over whole requests: each submitted item is one request's batch tensor, a
 * run concatenates them, predicts once and hands each request its rows back. maxBatchSize and
 * maxQueueSize count requests (a TF Serving request usually holds one instance).
 */
function batcherFor(name: string, sv: ServableVersion, cfg: BatchingConfig): DynamicBatcher<Tensor, Tensor> {
  const model = sv.loaded!.model;
  return new DynamicBatcher<Tensor, Tensor>({
    name: `${name}/${sv.version}`,
    maxBatchSize: cfg.maxBatchSize,
    maxQueueDelayMicroseconds: cfg.maxQueueDelayMicroseconds,
    maxQueueSize: cfg.maxQueueSize,
    timeoutMs: cfg.timeoutMs,
    run: (xs) => {
      if (xs.length === 1) return [model.predict(xs[0])];
      const out = model.predict(concat(xs, 0));
      let start = 0;
      return xs.map((x) => {
        const rows = narrow(out, 0, start, x.shape[0]);
        start += x.shape[0];
        return rows;
      });
    },
  });
}

/** The versions a policy serves out of those on disk; `specific` versions absent from disk are kept, to report them. */
function selectVersions(policy: VersionPolicy, onDisk: number[]): number[] {
  const sorted = [...onDisk].sort((a, b) => a - b);
  if ('all' in policy) return sorted;
  if ('latest' in policy) return sorted.slice(-policy.latest);
  return policy.specific;
}

/** The signature of a loaded model: model.json's for Lathe, the graph's for ONNX. */
function signatureOf(loaded: InferenceModel): Signature {
  const m = loaded.model;
  if (m instanceof OnnxModel) {
    const spec = (v: OnnxModel['inputs'][number]): TensorSpec => ({ name: v.name, dtype: v.dtype, shape: v.shape ?? [null] });
    return { inputs: m.inputs.map(spec), outputs: m.outputs.map(spec) };
  }
  const sig = (loaded as { json: { signature?: Signature } }).json.signature;
  if (!sig?.inputs?.length || !sig.outputs?.length) fail('serve', 'model.json has no signature');
  return { inputs: sig.inputs, outputs: sig.outputs };
}

/** One predict on zeros of the signature, so the first request pays no first-call costs. */
function warmUp(loaded: InferenceModel): void {
  const shape = loaded.model.inputShape;
  if (!shape || loaded.preprocessor) return; // a dynamic shape or raw records: nothing fixed to warm up with
  const out = loaded.model.predict(full([1, ...shape], 0));
  out.dataSync();
}

export class ModelRepository {
  readonly models = new Map<string, ServedModel>();
  /** Entries skipped while scanning (bad names, unreadable configs), for the log. */
  readonly warnings: string[] = [];

  constructor(readonly root: string) {}

  /** Scans the root and loads every version the policies select; a version that fails is reported, not thrown. */
  static load(root: string, log: (line: Record<string, unknown>) => void = () => {}): ModelRepository {
    if (!fs.existsSync(root) || !fs.statSync(root).isDirectory()) fail('serve', `--model-repository ${root} is not a directory`);
    const repo = new ModelRepository(root);
    for (const entry of fs.readdirSync(root, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      if (!entry.isDirectory()) continue;
      if (!isValidName(entry.name)) {
        repo.warnings.push(`${entry.name}: skipped; model names must match [A-Za-z0-9._-]+`);
        continue;
      }
      const dir = path.join(root, entry.name);
      let config: ModelConfig = { versionPolicy: { latest: 1 }, labels: new Map() };
      const configFile = path.join(dir, 'config.json');
      if (fs.existsSync(configFile)) {
        let raw: unknown;
        try {
          raw = JSON.parse(fs.readFileSync(configFile, 'utf8'));
        } catch (e) {
          fail(configFile, `not valid JSON (${(e as Error).message})`);
        }
        config = parseModelConfig(raw, configFile);
      }
      const onDisk = fs.readdirSync(dir, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => parseVersion(d.name)).filter((v): v is number => v !== undefined);
      const served: ServedModel = { name: entry.name, config, versions: new Map() };
      for (const v of selectVersions(config.versionPolicy, onDisk)) {
        const sv = prepareVersion(entry.name, config, loadVersion(entry.name, path.join(dir, String(v)), v));
        log({ event: 'load', model: entry.name, version: v, state: sv.state, ...(sv.error ? { error: sv.error } : {}) });
        served.versions.set(v, sv);
      }
      for (const [label, v] of config.labels) {
        if (!served.versions.has(v)) fail(configFile, `labels.${label}: version ${v} is not among the served versions (${[...served.versions.keys()].join(', ') || 'none'})`);
      }
      repo.models.set(entry.name, served);
    }
    return repo;
  }

  /**
   * Picks up version folders added or removed since the last scan (TF Serving's file-system
   * polling), for the models loaded at start. A new version loads and warms up beside the serving
   * one and takes the traffic once AVAILABLE (requests without a version get the latest
   * AVAILABLE); a version the policy no longer selects stops taking requests, drains its queue and
   * ends. A version that fails to load is reported and the others keep serving.
   */
  async poll(log: (line: Record<string, unknown>) => void = () => {}): Promise<void> {
    for (const m of this.models.values()) {
      const dir = path.join(this.root, m.name);
      let onDisk: number[];
      try {
        onDisk = fs.readdirSync(dir, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => parseVersion(d.name)).filter((v): v is number => v !== undefined);
      } catch {
        continue; // the folder went away: keep serving what is loaded
      }
      const want = new Set(selectVersions(m.config.versionPolicy, onDisk));
      for (const v of want) {
        if (m.versions.has(v)) continue;
        const sv = prepareVersion(m.name, m.config, loadVersion(m.name, path.join(dir, String(v)), v));
        m.versions.set(v, sv);
        log({ event: 'load', model: m.name, version: v, state: sv.state, ...(sv.error ? { error: sv.error } : {}) });
      }
      const labelled = new Set(m.config.labels.values());
      for (const [v, sv] of m.versions) {
        if (want.has(v) || labelled.has(v) || sv.state !== 'AVAILABLE') continue;
        if (![...m.versions.values()].some((o) => o !== sv && o.state === 'AVAILABLE')) continue; // never leave a model with nothing to serve
        sv.state = 'UNLOADING'; // routing only picks AVAILABLE versions, so nothing new reaches it
        if (sv.batcher) {
          sv.batcher.close();
          await sv.batcher.drain();
        }
        sv.state = 'END';
        log({ event: 'unload', model: m.name, version: v });
      }
    }
  }

  /** Stops admitting batched requests and waits for those admitted (SIGTERM). */
  async drain(): Promise<void> {
    const batchers = [...this.models.values()].flatMap((m) => [...m.versions.values()]).flatMap((v) => (v.batcher ? [v.batcher] : []));
    for (const b of batchers) b.close();
    await Promise.all(batchers.map((b) => b.drain()));
  }

  /** A model by name, or undefined; a Map lookup, so "__proto__" and friends simply miss. */
  model(name: string): ServedModel | undefined {
    return this.models.get(name);
  }

  /** Every served model has at least one AVAILABLE version. */
  get ready(): boolean {
    return [...this.models.values()].every((m) => [...m.versions.values()].some((v) => v.state === 'AVAILABLE'));
  }
}

/** Puts a loaded version behind its model's dynamic batcher, when the model's config asks for one. */
function prepareVersion(model: string, config: ModelConfig, sv: ServableVersion): ServableVersion {
  if (sv.state !== 'AVAILABLE' || !config.batching) return sv;
  const b = batcherFor(model, sv, config.batching);
  sv.batcher = b;
  sv.run = async (x) => {
    const r = await b.submit([x]);
    sv.onResult?.(r);
    return r.outputs[0];
  };
  return sv;
}

/** The latest AVAILABLE version: what a request without a version gets. */
export function defaultVersion(m: ServedModel): ServableVersion | undefined {
  return [...m.versions.values()].filter((v) => v.state === 'AVAILABLE').sort((a, b) => b.version - a.version)[0];
}

function loadVersion(model: string, dir: string, version: number): ServableVersion {
  const onnxFile = path.join(dir, 'model.onnx');
  const platform = fs.existsSync(onnxFile) ? 'onnx' : 'lathe';
  const sv: ServableVersion = { model, version, state: 'LOADING', platform };
  try {
    if (!fs.existsSync(dir)) fail(dir, 'version folder not found');
    if (platform === 'lathe' && !fs.existsSync(path.join(dir, 'model.json'))) fail(dir, 'holds neither model.json nor model.onnx');
    const loaded = loadForInference(platform === 'onnx' ? onnxFile : dir);
    const signature = signatureOf(loaded);
    warmUp(loaded);
    Object.assign(sv, { loaded, signature, state: 'AVAILABLE' });
  } catch (e) {
    Object.assign(sv, { state: 'END', error: (e as Error).message });
  }
  return sv;
}
