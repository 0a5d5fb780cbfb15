// A small typed client for `lathe serve` (and any TF Serving REST or KServe v2 server):
// `import { LatheClient } from 'lathe/client'`. It only speaks HTTP (Node's fetch); nothing of
// the library is loaded, so a service that calls a model server stays light.

export interface VersionSelector {
  version?: number;
  label?: string;
}

export interface PredictResult {
  predictions: unknown[];
  /** The top class of each instance, for models with class names. */
  classes?: string[];
}

export interface InferTensor {
  name: string;
  shape: number[];
  datatype: 'FP32' | 'FP64' | 'INT32' | 'UINT8' | string;
  data: unknown[];
}

export interface InferResult {
  model_name: string;
  model_version: string;
  id?: string;
  outputs: InferTensor[];
}

/** What :explain answers: one explanation per instance (attributions in the input's shape). */
export interface ExplainResult {
  method: 'ig' | 'saliency';
  /** What f is: the target's logit (before softmax or sigmoid), or the model's output. */
  score: 'logit' | 'output';
  explanations: Array<{
    target: number;
    class?: string;
    score: number;
    /** Integrated gradients: f(baseline) and sum(attributions) - (f(x) - f(baseline)). */
    baseline_score?: number;
    delta?: number;
    attributions: unknown[];
    /** Tabular models: attribution per input column, largest first. */
    columns?: Array<{ column: string; value: unknown; attribution: number }>;
  }>;
}

export interface ExplainOptions {
  /** 'ig' (integrated gradients, the default) or 'saliency'. */
  method?: 'ig' | 'saliency';
  /** Integrated gradients' steps (server cap 256). */
  steps?: number;
  /** A class index or name, or one index per instance; default the predicted class. */
  target?: number | string | number[];
  /** 'logits' (default) or 'outputs'. */
  score?: 'logits' | 'outputs';
}

/** One line of the model repository index (Triton's states: READY, LOADING, UNLOADING, UNAVAILABLE). */
export interface RepositoryEntry {
  name: string;
  version?: string;
  state: 'READY' | 'LOADING' | 'UNLOADING' | 'UNAVAILABLE';
  reason: string;
  runtime?: string;
}

/** A non-2xx answer: its status, the server's {"error"} message, and Retry-After when overloaded. */
export class LatheClientError extends Error {
  override name = 'LatheClientError';
  constructor(readonly status: number, message: string, readonly retryAfterSeconds?: number) {
    super(message);
  }
}

export class LatheClient {
  readonly baseUrl: string;
  readonly timeoutMs: number;
  private readonly managementToken?: string;

  /** `managementToken`: the server's --management-token-file token, for index/loadModel/unloadModel. */
  constructor(baseUrl = 'http://127.0.0.1:8501', options: { timeoutMs?: number; managementToken?: string } = {}) {
    this.baseUrl = baseUrl.replace(/\/+$/, '');
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.managementToken = options.managementToken;
  }

  private tfPath(model: string, sel: VersionSelector = {}): string {
    const m = `/v1/models/${encodeURIComponent(model)}`;
    if (sel.version !== undefined) return `${m}/versions/${sel.version}`;
    if (sel.label !== undefined) return `${m}/labels/${encodeURIComponent(sel.label)}`;
    return m;
  }

  private v2Path(model: string, version?: number): string {
    return `/v2/models/${encodeURIComponent(model)}${version !== undefined ? `/versions/${version}` : ''}`;
  }

  private async call<T>(method: 'GET' | 'POST', path: string, body?: unknown, management = false): Promise<T> {
    const headers: Record<string, string> = {};
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (management && this.managementToken !== undefined) headers.authorization = `Bearer ${this.managementToken}`;
    const res = await fetch(`${this.baseUrl}${path}`, {
      method,
      headers,
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      signal: AbortSignal.timeout(this.timeoutMs),
    });
    const text = await res.text();
    let value: unknown;
    try {
      value = text ? JSON.parse(text) : undefined;
    } catch {
      value = undefined;
    }
    if (!res.ok) {
      const message = (value as { error?: string } | undefined)?.error ?? `HTTP ${res.status}: ${text.slice(0, 200)}`;
      const retry = res.headers.get('retry-after');
      throw new LatheClientError(res.status, message, retry === null ? undefined : Number(retry));
    }
    return value as T;
  }

  /** TF Serving: the versions' states. */
  status(model: string, sel?: VersionSelector): Promise<{ model_version_status: { version: string; state: string; status: { error_code: string; error_message: string } }[] }> {
    return this.call('GET', this.tfPath(model, sel));
  }

  /** TF Serving: the signature. */
  metadata(model: string, sel?: VersionSelector): Promise<Record<string, unknown>> {
    return this.call('GET', `${this.tfPath(model, sel)}/metadata`);
  }

  /** TF Serving's row form: one entry per example, answered with one prediction each. */
  predict(model: string, instances: unknown[], sel?: VersionSelector): Promise<PredictResult> {
    return this.call('POST', `${this.tfPath(model, sel)}:predict`, { instances });
  }

  /** TF Serving's classify: [label, score] pairs per example, for models with class names. */
  classify(model: string, examples: unknown[], sel?: VersionSelector): Promise<{ results: [string, number][][] }> {
    return this.call('POST', `${this.tfPath(model, sel)}:classify`, { examples });
  }

  /** KServe v1's explain verb on a Lathe model: attributions of each instance's prediction (at most 16 instances). */
  explain(model: string, instances: unknown[], options: ExplainOptions = {}, sel?: VersionSelector): Promise<ExplainResult> {
    return this.call('POST', `${this.tfPath(model, sel)}:explain`, { instances, ...options });
  }

  /**
   * KServe v2 / Open Inference Protocol infer with typed tensors. `timeoutMicroseconds` is Triton's
   * parameters.timeout: how long the request may wait in the model's batching queue (504 after).
   */
  infer(model: string, inputs: InferTensor[], options: { version?: number; id?: string; timeoutMicroseconds?: number } = {}): Promise<InferResult> {
    return this.call('POST', `${this.v2Path(model, options.version)}/infer`, {
      ...(options.id !== undefined ? { id: options.id } : {}),
      ...(options.timeoutMicroseconds !== undefined ? { parameters: { timeout: options.timeoutMicroseconds } } : {}),
      inputs,
    });
  }

  /** The model repository API (needs managementToken): every model folder and version with its state. */
  repositoryIndex(options: { ready?: boolean } = {}): Promise<RepositoryEntry[]> {
    return this.call('POST', '/v2/repository/index', options.ready !== undefined ? { ready: options.ready } : {}, true);
  }

  /** (Re)loads a model from its folder in the server's repository; the old version serves until the new one is ready. */
  loadModel(model: string): Promise<RepositoryEntry[]> {
    return this.call('POST', `/v2/repository/models/${encodeURIComponent(model)}/load`, {}, true);
  }

  /** Drains a model's requests, then unloads it (404 until loaded again). */
  unloadModel(model: string): Promise<RepositoryEntry[]> {
    return this.call('POST', `/v2/repository/models/${encodeURIComponent(model)}/unload`, {}, true);
  }

  /** KServe v2: whether the server (or one model) is ready to serve. */
  async ready(model?: string, version?: number): Promise<boolean> {
    try {
      await this.call('GET', model === undefined ? '/v2/health/ready' : `${this.v2Path(model, version)}/ready`);
      return true;
    } catch (e) {
      if (e instanceof LatheClientError && (e.status === 503 || e.status === 404)) return false;
      throw e;
    }
  }
}
