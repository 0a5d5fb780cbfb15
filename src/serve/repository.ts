// The model repository TF Serving and Triton share: DIR/<model>/<version>/ holding a Lathe saved
// model (model.json) or a model.onnx, with an optional DIR/<model>/config.json (model-config.ts).
// Loaded versions live in Maps, so a request's model name never reaches the file system: an odd
// name can only miss, never traverse. Start-up, polling and the management API's load all go
// through sync(), one at a time.
import { DynamicBatcher } from './batcher.js';
import { concat, narrow } from '../ops/functions.js';
import type { Tensor } from '../tensor/tensor.js';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fail } from '../errors.js';
import type { InferenceModel } from '../io/inference.js';
import { type BatchingConfig, defaultModelConfig, isValidName, type ModelConfig, parseModelConfig, parseVersion, selectVersions } from './model-config.js';
import { loadLatheRuntime } from './runtimes/lathe.js';
import { loadLatheWorkerRuntime } from './runtimes/lathe-worker.js';
import { loadWebGPURuntime } from './runtimes/webgpu.js';
import { importOnnxRuntime, loadOnnxRuntime, missingOnnxRuntime, type OnnxRuntimeImporter, type OnnxRuntimeModule } from './runtimes/onnxruntime.js';
import type { RuntimeName, ServingRuntime, Signature } from './runtimes/runtime.js';
import { isSavedGPT, type LanguageModel, type LanguageModelRuntime, loadLanguageModelRuntime } from './llm/language-model.js';

export { isValidName, parseModelConfig, parseVersion, type BatchingConfig, type ModelConfig, type RuntimeChoice, type VersionPolicy } from './model-config.js';
export type { Signature, TensorSpec } from './runtimes/runtime.js';

/** TF Serving's version states; END with an error is a version that failed to load. */
export type VersionState = 'START' | 'LOADING' | 'AVAILABLE' | 'UNLOADING' | 'END';

export interface RunOptions {
  /** This request's queue deadline; it may shorten the model's, never lengthen it. */
  timeoutMs?: number;
}

export interface ServableVersion {
  model: string;
  version: number;
  state: VersionState;
  error?: string;
  platform: 'lathe' | 'onnx';
  /** What runs it, once loaded. */
  runtime?: RuntimeName;
  /** Request parsing's view of the model (input shape, preprocessing, class names); freed when the version ends. */
  loaded?: InferenceModel;
  signature?: Signature;
  /** Runs one request's batch: through the model's dynamic batcher when batching is on. */
  run?: (x: Tensor, options?: RunOptions) => Promise<Tensor>;
  batcher?: DynamicBatcher<Tensor, Tensor>;
  /** Told each batched request's queue and compute time and batch size (the server's metrics). */
  onResult?: (r: { queueMicros: number; computeMicros: number; batchSize: number }) => void;
  /** Requests running outside a batcher, so ending the version can wait for them. */
  inFlight: Set<Promise<unknown>>;
  serving?: ServingRuntime;
  /** The config.json settings it was loaded with; a load with other settings reloads it. */
  loadedWith?: string;
  /** Set when the version is a GPT: it answers the OpenAI routes (src/serve/llm), not tensor predict. */
  llm?: LanguageModel;
}

export interface ServedModel {
  name: string;
  config: ModelConfig;
  /** The versions the policy selects, ascending. */
  versions: Map<number, ServableVersion>;
}

/** Triton's model states, as the repository index reports them. */
export type IndexState = 'READY' | 'LOADING' | 'UNLOADING' | 'UNAVAILABLE';
export interface IndexEntry {
  name: string;
  version?: string;
  state: IndexState;
  reason: string;
  runtime?: RuntimeName;
}
const INDEX_STATE: Record<VersionState, IndexState> = { START: 'LOADING', LOADING: 'LOADING', AVAILABLE: 'READY', UNLOADING: 'UNLOADING', END: 'UNAVAILABLE' };

export interface RepositoryOptions {
  /** Structured log lines; none by default. */
  log?: (line: Record<string, unknown>) => void;
  /** A batched request's queue deadline when config.json sets no defaultTimeoutMicroseconds. Default 30000. */
  requestTimeoutMs?: number;
  /** How onnxruntime-node is imported (tests fake its absence). */
  importOnnxRuntime?: OnnxRuntimeImporter;
}

/**
 * A dynamic batcher over whole requests: each submitted item is one request's batch tensor, a
 * run concatenates them, runs once and hands each request its rows back. maxBatchSize and
 * maxQueueSize count requests (a TF Serving request usually holds one instance).
 */
function batcherFor(sv: ServableVersion, cfg: BatchingConfig, timeoutMs: number): DynamicBatcher<Tensor, Tensor> {
  const runtime = sv.serving!;
  return new DynamicBatcher<Tensor, Tensor>({
    name: `${sv.model}/${sv.version}`,
    maxBatchSize: cfg.maxBatchSize,
    maxQueueDelayMicroseconds: cfg.maxQueueDelayMicroseconds,
    maxQueueSize: cfg.maxQueueSize,
    timeoutMs,
    run: async (xs) => {
      if (xs.length === 1) return [await runtime.run(xs[0])];
      const out = await runtime.run(concat(xs, 0));
      let start = 0;
      return xs.map((x) => {
        const rows = narrow(out, 0, start, x.shape[0]);
        start += x.shape[0];
        return rows;
      });
    },
  });
}

function readConfig(dir: string): ModelConfig {
  const file = path.join(dir, 'config.json');
  if (!fs.existsSync(file)) return defaultModelConfig();
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    fail(file, `not valid JSON (${(e as Error).message})`);
  }
  return parseModelConfig(raw, file);
}

function versionFolders(dir: string): number[] {
  return fs.readdirSync(dir, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => parseVersion(d.name)).filter((v): v is number => v !== undefined);
}

/** Labels must point at versions the policy serves. */
function checkLabels(config: ModelConfig, selected: Iterable<number>, where: string): void {
  const served = new Set(selected);
  for (const [label, v] of config.labels) {
    if (!served.has(v)) fail(where, `labels.${label}: version ${v} is not among the served versions (${[...served].sort((a, b) => a - b).join(', ') || 'none'})`);
  }
}

/** Stops routing to a version, lets its admitted requests finish, then frees its runtime. */
async function endVersion(sv: ServableVersion): Promise<void> {
  sv.state = 'UNLOADING'; // routing only picks AVAILABLE versions, so nothing new reaches it
  if (sv.batcher) {
    sv.batcher.close();
    await sv.batcher.drain();
  }
  await Promise.allSettled([...sv.inFlight]);
  await sv.serving?.close().catch(() => {});
  Object.assign(sv, { state: 'END', serving: undefined, loaded: undefined, run: undefined, llm: undefined });
}

export class ModelRepository {
  readonly models = new Map<string, ServedModel>();
  /** Entries skipped while scanning (bad names, unreadable configs), for the log. */
  readonly warnings: string[] = [];
  /** Why a model folder is not loaded: "unloaded", or its failed load's errors. */
  private readonly notLoaded = new Map<string, string>();
  private lock: Promise<unknown> = Promise.resolve();
  private ort?: Promise<OnnxRuntimeModule>;
  private warnedNoOrt = false;
  private readonly log: (line: Record<string, unknown>) => void;
  readonly requestTimeoutMs: number;

  constructor(readonly root: string, private readonly options: RepositoryOptions = {}) {
    this.log = options.log ?? (() => {});
    this.requestTimeoutMs = options.requestTimeoutMs ?? 30_000;
  }

  /** Scans the root and loads every version the policies select; a version that fails is reported, not thrown. */
  static async load(root: string, options: RepositoryOptions = {}): Promise<ModelRepository> {
    if (!fs.existsSync(root) || !fs.statSync(root).isDirectory()) fail('serve', `--model-repository ${root} is not a directory`);
    const repo = new ModelRepository(root, options);
    for (const entry of fs.readdirSync(root, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      if (!entry.isDirectory()) continue;
      if (!isValidName(entry.name)) {
        repo.warnings.push(`${entry.name}: skipped; model names must match [A-Za-z0-9._-]+`);
        continue;
      }
      const dir = path.join(root, entry.name);
      const config = readConfig(dir);
      checkLabels(config, selectVersions(config.versionPolicy, versionFolders(dir)), path.join(dir, 'config.json'));
      const served: ServedModel = { name: entry.name, config, versions: new Map() };
      await repo.sync(served, false);
      repo.models.set(entry.name, served);
    }
    return repo;
  }

  /** Runs repository changes one at a time: a poll and a management load never load the same version twice. */
  private serialized<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.lock.then(fn, fn);
    this.lock = run.catch(() => {});
    return run;
  }

  /**
   * Brings a model's versions in line with its policy and the folders on disk. New versions load
   * and warm up beside the serving ones (requests without a version get the latest AVAILABLE);
   * versions the policy dropped stop taking requests, drain and end, unless that would leave the
   * model nothing to serve. `reload` (the management API's load) also retries versions that failed
   * or ended, and reloads those loaded with other config.json settings, swapping once the new one is AVAILABLE.
   */
  private async sync(m: ServedModel, reload: boolean): Promise<{ version: number; error: string }[]> {
    const failures: { version: number; error: string }[] = [];
    const want = selectVersions(m.config.versionPolicy, versionFolders(path.join(this.root, m.name)));
    const settings = JSON.stringify({ batching: m.config.batching ?? null, runtime: m.config.runtime, generation: m.config.generation ?? null });
    for (const v of want) {
      const old = m.versions.get(v);
      if (old && !(reload && (old.state === 'END' || (old.state === 'AVAILABLE' && old.loadedWith !== settings)))) continue;
      const sv: ServableVersion = { model: m.name, version: v, state: 'LOADING', platform: 'lathe', inFlight: new Set(), loadedWith: settings };
      if (old?.state !== 'AVAILABLE') m.versions.set(v, sv); // a new version shows LOADING; a reloaded one keeps serving until its successor is ready
      await this.loadVersion(m, sv);
      this.log({ event: 'load', model: m.name, version: v, state: sv.state, ...(sv.runtime ? { runtime: sv.runtime } : {}), ...(sv.error ? { error: sv.error } : {}) });
      if (sv.error) failures.push({ version: v, error: sv.error });
      if (old?.state === 'AVAILABLE') {
        if (sv.state !== 'AVAILABLE') continue; // the old one keeps serving; the log has the error
        m.versions.set(v, sv);
        await endVersion(old);
      }
    }
    const keep = new Set([...want, ...m.config.labels.values()]);
    for (const [v, sv] of m.versions) {
      if (keep.has(v) || sv.state !== 'AVAILABLE') continue;
      if (![...m.versions.values()].some((o) => o !== sv && o.state === 'AVAILABLE')) continue; // never leave a model with nothing to serve
      await endVersion(sv);
      this.log({ event: 'unload', model: m.name, version: v });
    }
    return failures;
  }

  /** The version's runtime, loaded, warmed up and behind its batcher; or the version END with the error. */
  private async loadVersion(m: ServedModel, sv: ServableVersion): Promise<void> {
    const dir = path.join(this.root, m.name, String(sv.version));
    const onnxFile = path.join(dir, 'model.onnx');
    sv.platform = fs.existsSync(onnxFile) ? 'onnx' : 'lathe';
    try {
      if (!fs.existsSync(dir)) fail(dir, 'version folder not found');
      if (sv.platform === 'lathe' && !fs.existsSync(path.join(dir, 'model.json'))) fail(dir, 'holds neither model.json nor model.onnx');
      const runtime = await this.openRuntime(sv.platform === 'onnx' ? onnxFile : dir, m.config);
      try {
        await runtime.warmUp();
      } catch (e) {
        await runtime.close().catch(() => {});
        throw e;
      }
      Object.assign(sv, { serving: runtime, runtime: runtime.name, loaded: runtime.inference, signature: runtime.signature, llm: (runtime as Partial<LanguageModelRuntime>).languageModel });
      this.attachRunner(sv, m.config);
      sv.state = 'AVAILABLE';
    } catch (e) {
      Object.assign(sv, { state: 'END', error: (e as Error).message });
    }
  }

  /** config.json's "runtime" for this file: auto takes onnxruntime-node for model.onnx when it can be imported. */
  private async openRuntime(source: string, config: ModelConfig): Promise<ServingRuntime> {
    const onnx = source.endsWith('model.onnx');
    if (!onnx && isSavedGPT(source)) {
      if (config.runtime !== 'auto' && config.runtime !== 'lathe') fail(source, `runtime "${config.runtime}" cannot serve a GPT; a language model runs on its decode engine (set "runtime" to "auto" or "lathe")`);
      return loadLanguageModelRuntime(source, config.generation);
    }
    if (config.runtime === 'lathe-worker') return loadLatheWorkerRuntime(source);
    if (config.runtime === 'webgpu') return loadWebGPURuntime(source);
    if (!onnx) {
      if (config.runtime === 'onnxruntime') fail(source, 'runtime "onnxruntime" serves model.onnx files; this version is a Lathe saved model (set "runtime" to "auto", "lathe", "lathe-worker" or "webgpu")');
      return loadLatheRuntime(source);
    }
    if (config.runtime === 'lathe') return loadLatheRuntime(source);
    let ort: OnnxRuntimeModule;
    try {
      ort = await (this.ort ??= (this.options.importOnnxRuntime ?? importOnnxRuntime)());
    } catch (e) {
      this.ort = undefined; // installed later, a management load finds it
      if (config.runtime === 'onnxruntime') fail(source, missingOnnxRuntime(e));
      if (!this.warnedNoOrt) this.log({ event: 'warning', message: `onnxruntime-node cannot be imported (${(e as Error)?.message?.split('\n')[0]}); model.onnx versions run on Lathe's ONNX importer. npm install onnxruntime-node to run them on ONNX Runtime` });
      this.warnedNoOrt = true;
      return loadLatheRuntime(source);
    }
    return loadOnnxRuntime(source, ort);
  }

  private attachRunner(sv: ServableVersion, config: ModelConfig): void {
    const runtime = sv.serving!;
    if (config.batching) {
      const modelTimeoutMs = config.batching.defaultTimeoutMicroseconds !== undefined ? config.batching.defaultTimeoutMicroseconds / 1000 : this.requestTimeoutMs;
      const b = batcherFor(sv, config.batching, modelTimeoutMs);
      sv.batcher = b;
      sv.run = async (x, options = {}) => {
        const r = await b.submit([x], { timeoutMs: Math.min(options.timeoutMs ?? Infinity, modelTimeoutMs) });
        sv.onResult?.(r);
        return r.outputs[0];
      };
      return;
    }
    // Unbatched: nothing queues, so there is no deadline to keep; async runs are tracked for draining.
    sv.run = (x) => {
      let out: Tensor | Promise<Tensor>;
      try {
        out = runtime.run(x);
      } catch (e) {
        return Promise.reject(e);
      }
      if (!(out instanceof Promise)) return Promise.resolve(out);
      sv.inFlight.add(out);
      const done = () => sv.inFlight.delete(out);
      out.then(done, done);
      return out;
    };
  }

  /**
   * Picks up version folders added or removed since the last scan (TF Serving's file-system
   * polling), for the models loaded now. A version that fails to load is reported and the others keep serving.
   */
  poll(): Promise<void> {
    return this.serialized(async () => {
      for (const m of [...this.models.values()]) {
        try {
          await this.sync(m, false);
        } catch {
          // the folder went away or cannot be read: keep serving what is loaded
        }
      }
    });
  }

  /** Whether `name` is a model folder of this repository: a valid name and a real directory (not a link). */
  hasModelFolder(name: string): boolean {
    if (!isValidName(name)) return false;
    try {
      return fs.lstatSync(path.join(this.root, name)).isDirectory();
    } catch {
      return false;
    }
  }

  /**
   * Triton's repository load: re-reads the model's folder and config.json and applies its version
   * policy. Returns the model's index entries; throws (a LatheError) when config.json is bad or
   * no version can serve, leaving what was serving as it was.
   */
  loadModel(name: string): Promise<IndexEntry[]> {
    return this.serialized(async () => {
      if (!this.hasModelFolder(name)) fail('load', `model ${JSON.stringify(name.slice(0, 80))} is not a folder of the repository`);
      const dir = path.join(this.root, name);
      const config = readConfig(dir);
      checkLabels(config, selectVersions(config.versionPolicy, versionFolders(dir)), path.join(dir, 'config.json'));
      const existing = this.models.get(name);
      const m: ServedModel = existing ?? { name, config, versions: new Map() };
      m.config = config;
      const failures = await this.sync(m, true);
      const serving = [...m.versions.values()].filter((v) => v.state === 'AVAILABLE').map((v) => v.version);
      if (!existing && serving.length > 0) this.models.set(name, m);
      if (this.models.has(name)) this.notLoaded.delete(name);
      if (failures.length > 0 || serving.length === 0) {
        const reason = failures.map((f) => `version ${f.version}: ${f.error}`).join('; ') || 'no version folder the policy selects';
        if (!this.models.has(name)) this.notLoaded.set(name, reason);
        fail('load', `model "${name}" did not load: ${reason}${serving.length ? ` (serving version${serving.length > 1 ? 's' : ''} ${serving.join(', ')} as before)` : ''}`);
      }
      return this.entriesOf(m);
    });
  }

  /** Triton's repository unload: stops routing to the model, drains its requests, then drops it (404 after). */
  unloadModel(name: string): Promise<void> {
    return this.serialized(async () => {
      const m = this.models.get(name);
      if (!m) {
        if (!this.hasModelFolder(name)) fail('unload', `model ${JSON.stringify(name.slice(0, 80))} is not a folder of the repository`);
        return; // already unloaded, as Triton answers
      }
      const serving = [...m.versions.values()].filter((v) => v.state === 'AVAILABLE');
      for (const v of serving) v.state = 'UNLOADING'; // all at once, so no request moves to another version meanwhile
      await Promise.all(serving.map(endVersion));
      this.models.delete(name);
      this.notLoaded.set(name, 'unloaded');
      this.log({ event: 'unload', model: name });
    });
  }

  private entriesOf(m: ServedModel): IndexEntry[] {
    const versions = [...m.versions.values()].sort((a, b) => a.version - b.version);
    if (versions.length === 0) return [{ name: m.name, state: 'UNAVAILABLE', reason: 'no version folder the policy selects' }];
    return versions.map((v) => ({
      name: m.name,
      version: String(v.version),
      state: INDEX_STATE[v.state],
      reason: v.error ?? (v.state === 'END' ? 'unloaded' : ''),
      ...(v.runtime ? { runtime: v.runtime } : {}),
    }));
  }

  /** Triton's repository index: every model folder, with each loaded version's state. */
  index(): IndexEntry[] {
    const names = new Set(this.models.keys());
    for (const e of fs.readdirSync(this.root, { withFileTypes: true })) if (e.isDirectory() && isValidName(e.name)) names.add(e.name);
    return [...names].sort().flatMap((name) => {
      const m = this.models.get(name);
      return m ? this.entriesOf(m) : [{ name, state: 'UNAVAILABLE' as const, reason: this.notLoaded.get(name) ?? 'not loaded' }];
    });
  }

  /** Stops admitting batched requests and waits for those admitted (SIGTERM). */
  async drain(): Promise<void> {
    const versions = [...this.models.values()].flatMap((m) => [...m.versions.values()]);
    for (const v of versions) v.batcher?.close();
    await Promise.all(versions.map(async (v) => {
      await v.batcher?.drain();
      await Promise.allSettled([...v.inFlight]);
    }));
  }

  /** drain(), then frees every runtime (ORT sessions); the repository serves nothing after. */
  async close(): Promise<void> {
    await this.drain();
    await Promise.all([...this.models.values()].flatMap((m) => [...m.versions.values()]).map((v) => v.serving?.close().catch(() => {})));
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

/** The latest AVAILABLE version: what a request without a version gets. */
export function defaultVersion(m: ServedModel): ServableVersion | undefined {
  return [...m.versions.values()].filter((v) => v.state === 'AVAILABLE').sort((a, b) => b.version - a.version)[0];
}
