// The model server on node:http: routes TF Serving's /v1 and KServe's /v2 paths to their
// handlers, and OpenAI's /v1/completions, /v1/chat/completions and /v1/models to openai.ts;
// limits request bodies before parsing them, and answers every error as {"error": "..."} with the
// status those servers use (OpenAI's routes: OpenAI's error object). Safe by default: 127.0.0.1
// only, and with an API key every route needs it.
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createDashboard } from '../../dashboard/handler.js';
import { ModelRepository, defaultVersion } from '../repository.js';
import { ServingMetrics } from '../metrics.js';
import { servingSnapshot } from '../serving-snapshot.js';
import type { OnnxRuntimeImporter } from '../runtimes/onnxruntime.js';
import { healthReady, infer, modelMetadata, modelReady, serverMetadata } from './kserve.js';
import { HOW_TO_ENABLE, ManagementAuth, repositoryIndex, repositoryLoad, repositoryUnload } from './management.js';
import { errorStatus, findVersion, HttpError, type VersionSelector } from './routing.js';
import { tfExplain } from './explain.js';
import { tfClassify, tfMetadata, tfPredict, tfStatus } from './tfserving.js';
import { ApiKeyAuth } from './api-key.js';
import { handleOpenAI, openAIEndpoint, openAIErrorBody, refuseLanguageModel } from './openai.js';
import { registerGenerationMetrics } from '../llm/metrics.js';

export const DEFAULT_MAX_REQUEST_BYTES = 64 * 1024 * 1024;
/** JSON nested deeper than this is refused before parsing: real tensors are a few levels deep, and deep values would overflow recursive walkers. */
export const MAX_JSON_DEPTH = 64;

export interface ServerOptions {
  /** A repository folder, or one already loaded. */
  repository: string | ModelRepository;
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  maxRequestBytes?: number;
  /** Structured log lines (one object each); none by default. */
  log?: (line: Record<string, unknown>) => void;
  /** Rescan the repository for new or removed versions this often (seconds); 0, the default, never. */
  pollSeconds?: number;
  /** How long close() lets in-flight requests finish before cutting connections. */
  drainMs?: number;
  /** Enables the model repository API (index, load, unload) for requests bearing this token; off when unset. */
  managementToken?: string;
  /** When set, every route needs "Authorization: Bearer <apiKey>" (the management token passes too). */
  apiKey?: string;
  /** A batched request's deadline in its model's queue when config.json sets none. Default 30000. */
  requestTimeoutMs?: number;
  /** How onnxruntime-node is imported (tests fake its absence). */
  importOnnxRuntime?: OnnxRuntimeImporter;
  /**
   * Mounts the dashboard (/ui/ and /api/*) with its serving view; off by default, when those
   * paths answer 404 like any other unknown path. `runsDir` adds the runs pages.
   */
  ui?: { runsDir?: string; assetsDir?: string };
}

export interface RunningServer {
  url: string;
  port: number;
  repository: ModelRepository;
  /** What GET /metrics serves. */
  metrics: ServingMetrics;
  server: http.Server;
  /** Stops accepting, lets in-flight requests finish (up to drainMs), then resolves. */
  close(): Promise<void>;
}

type Handler = (body: unknown) => unknown;
interface Route {
  method: 'GET' | 'POST';
  handler: Handler;
  /** Needs the management token, checked before the body is read. */
  auth?: boolean;
}

/** The model repository API's routes, once its token has been checked; undefined (404) for other paths. */
function managementRoute(repo: ModelRepository, segs: string[], onChange: () => void): Route | undefined {
  const post = (handler: Handler): Route => ({ method: 'POST', handler, auth: true });
  if (segs.length === 3 && segs[2] === 'index') return post((b) => repositoryIndex(repo, b));
  if (segs.length === 5 && segs[2] === 'models' && segs[4] === 'load') return post((b) => repositoryLoad(repo, segs[3], b, onChange));
  if (segs.length === 5 && segs[2] === 'models' && segs[4] === 'unload') return post((b) => repositoryUnload(repo, segs[3], b, onChange));
  return undefined;
}

/** Splits "{m}[/versions/{v}|/labels/{l}]" off the segments; `labels` only where TF Serving allows them. */
function selector(rest: string[], labels: boolean): { name: string; sel: VersionSelector; tail: string[] } | undefined {
  const [name, kind, value, ...tail] = rest;
  if (name === undefined) return undefined;
  if (kind === 'versions' && value !== undefined) return { name, sel: { version: value }, tail };
  if (labels && kind === 'labels' && value !== undefined) return { name, sel: { label: value }, tail };
  return { name, sel: {}, tail: rest.slice(1) };
}

/** The route for a decoded path, or undefined (404). `management` is set when the repository API is on. */
function route(repo: ModelRepository, segs: string[], management?: () => void): Route | undefined {
  const get = (handler: Handler): Route => ({ method: 'GET', handler });
  const post = (handler: Handler): Route => ({ method: 'POST', handler });
  if (segs[0] === 'v1' && segs[1] === 'models' && segs.length >= 3) {
    const rest = segs.slice(2);
    const last = rest[rest.length - 1];
    const colon = last.lastIndexOf(':');
    const verb = colon >= 0 ? last.slice(colon + 1) : undefined;
    if (colon >= 0) rest[rest.length - 1] = last.slice(0, colon);
    const s = selector(rest, true);
    if (!s) return undefined;
    const { name, sel, tail } = s;
    if (verb === undefined && tail.length === 0) return get(() => tfStatus(repo, name, sel));
    if (verb === undefined && tail.length === 1 && tail[0] === 'metadata') return get(() => tfMetadata(repo, name, sel));
    if (tail.length !== 0) return undefined;
    if (verb === 'predict' || verb === 'classify' || verb === 'explain') refuseLanguageModel(repo, name, sel);
    if (verb === 'predict') return post((b) => tfPredict(repo, name, sel, b));
    if (verb === 'classify') return post((b) => tfClassify(repo, name, sel, b));
    if (verb === 'explain') return post((b) => tfExplain(repo, name, sel, b));
    return undefined;
  }
  if (segs[0] !== 'v2') return undefined;
  if (segs.length === 1) return get(() => serverMetadata(management ? ['model_repository'] : []));
  if (segs.length === 3 && segs[1] === 'health' && segs[2] === 'live') return get(() => ({ live: true }));
  if (segs.length === 3 && segs[1] === 'health' && segs[2] === 'ready') return get(() => healthReady(repo));
  if (segs[1] === 'repository') {
    if (!management) throw new HttpError(404, `the model repository API (index, load, unload) is off; ${HOW_TO_ENABLE}`);
    return managementRoute(repo, segs, management);
  }
  if (segs[1] !== 'models') return undefined;
  const s = selector(segs.slice(2), false);
  if (!s) return undefined;
  const { name, sel, tail } = s;
  if (tail.length === 0) return get(() => modelMetadata(repo, name, sel));
  if (tail.length === 1 && tail[0] === 'ready') return get(() => modelReady(repo, name, sel));
  if (tail.length === 1 && tail[0] === 'infer') {
    refuseLanguageModel(repo, name, sel);
    return post((b) => infer(repo, name, sel, b));
  }
  return undefined;
}

/**
 * The API, model and version a request is counted under. Only names the repository serves
 * become labels (anything else is ""), so invented names cannot grow the label set.
 */
function metricLabels(repo: ModelRepository, url: string): { api: string; model: string; version: string } {
  let segs: string[];
  try {
    segs = segmentsOf(url);
  } catch {
    return { api: 'other', model: '', version: '' };
  }
  const api = openAIEndpoint(segs) ? 'openai' : segs[0] === 'v1' ? 'tfserving' : segs[0] === 'v2' ? 'kserve' : segs[0] === 'metrics' ? 'metrics' : 'other';
  if ((api !== 'tfserving' && api !== 'kserve') || segs[1] !== 'models' || segs.length < 3) return { api, model: '', version: '' };
  const rest = segs.slice(2);
  rest[rest.length - 1] = rest[rest.length - 1].replace(/:[^:/]*$/, '');
  const m = repo.model(rest[0]);
  if (!m) return { api, model: '', version: '' };
  try {
    const s = selector(rest, api === 'tfserving');
    const sv = (s && findVersion(m, s.sel)) ?? defaultVersion(m);
    return { api, model: m.name, version: sv ? String(sv.version) : '' };
  } catch {
    return { api, model: m.name, version: '' };
  }
}

/** The path's segments, percent-decoded; the query is ignored. */
function segmentsOf(url: string): string[] {
  const p = url.split('?', 1)[0];
  if (!p.startsWith('/')) throw new HttpError(400, 'the request target must be a path');
  try {
    return p.slice(1).split('/').map(decodeURIComponent);
  } catch {
    throw new HttpError(400, 'the path has a malformed percent-encoding');
  }
}

/** Parses a request body, refusing nesting deeper than MAX_JSON_DEPTH first. */
function parseJsonText(text: string): unknown {
  if (jsonDepth(text, MAX_JSON_DEPTH) > MAX_JSON_DEPTH) throw new HttpError(400, `the JSON body nests deeper than ${MAX_JSON_DEPTH} levels`);
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new HttpError(400, `the body is not valid JSON (${(e as Error).message.slice(0, 200)})`);
  }
}

/** Whether a request's path is one of OpenAI's routes, whose errors take OpenAI's shape. */
function isOpenAIUrl(url: string | undefined): boolean {
  try {
    return openAIEndpoint(segmentsOf(url ?? '/')) !== undefined;
  } catch {
    return false;
  }
}

/** The deepest nesting of arrays and objects in JSON text, outside strings; stops counting past `limit`. */
function jsonDepth(text: string, limit: number): number {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92) i++; // backslash: skip the escaped character
      else if (c === 34) inString = false;
    } else if (c === 34) inString = true;
    else if (c === 91 || c === 123) {
      if (++depth > limit) return depth;
    } else if (c === 93 || c === 125) depth--;
  }
  return depth;
}

/** Reads the body up to `max` bytes; a larger one is refused from its Content-Length, or as soon as it passes the limit. */
function readBody(req: http.IncomingMessage, max: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > max) return Promise.reject(new HttpError(413, `the body (${declared} bytes) exceeds --max-request-bytes ${max}`));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (c: Buffer) => {
      size += c.length;
      if (size > max) {
        req.off('data', onData);
        req.pause();
        reject(new HttpError(413, `the body exceeds --max-request-bytes ${max}`));
        return;
      }
      chunks.push(c);
    };
    req.on('data', onData);
    req.once('end', () => resolve(Buffer.concat(chunks, size)));
    req.once('error', reject);
  });
}

export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const log = options.log ?? (() => {});
  const owned = typeof options.repository === 'string';
  const repo = typeof options.repository === 'string' ? await ModelRepository.load(options.repository, { log, requestTimeoutMs: options.requestTimeoutMs, importOnnxRuntime: options.importOnnxRuntime }) : options.repository;
  const auth = options.managementToken !== undefined ? new ManagementAuth(options.managementToken) : undefined;
  const apiKey = options.apiKey !== undefined ? new ApiKeyAuth(options.apiKey, [options.managementToken]) : undefined;
  const max = options.maxRequestBytes ?? DEFAULT_MAX_REQUEST_BYTES;
  const host = options.host ?? '127.0.0.1';
  let closing = false;
  const metrics = new ServingMetrics(repo);
  registerGenerationMetrics(metrics.registry, repo);
  let polling: Promise<void> = Promise.resolve();
  const poller = options.pollSeconds
    ? setInterval(() => {
        polling = polling.then(() => repo.poll()).then(() => metrics.watch(repo), (e) => log({ event: 'error', error: String(e) }));
      }, options.pollSeconds * 1000)
    : undefined;
  poller?.unref();
  // After a management load or unload: hook the metrics into the versions it loaded.
  const management = auth ? () => metrics.watch(repo) : undefined;

  const send = (res: http.ServerResponse, status: number, value: unknown, headers: Record<string, string> = {}) => {
    const body = JSON.stringify(value);
    // While draining, and after an unread body (a 413), the connection closes after this answer.
    const close = closing || status === 413;
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...(close ? { connection: 'close' } : {}), ...headers });
    res.end(body);
  };

  /** The body as JSON, within the size and nesting limits. */
  const readJson = async (req: http.IncomingMessage): Promise<unknown> => parseJsonText((await readBody(req, max)).toString('utf8'));

  const handle = async (req: http.IncomingMessage, res: http.ServerResponse, authorized: boolean): Promise<void> => {
    if (!authorized) throw ApiKeyAuth.rejection(req.headers.authorization);
    const segs = segmentsOf(req.url ?? '/');
    if (segs.length === 1 && segs[0] === 'metrics') {
      if (req.method !== 'GET') throw new HttpError(405, `${req.method} is not allowed here; use GET`, { allow: 'GET' });
      const text = await metrics.text();
      res.writeHead(200, { 'content-type': metrics.contentType, 'content-length': Buffer.byteLength(text) });
      res.end(text);
      return;
    }
    if (openAIEndpoint(segs)) return handleOpenAI({ repo, segs, req, res, readJson: () => readJson(req) });
    const r = route(repo, segs, management);
    if (!r) throw new HttpError(404, `no route for ${req.method} ${(req.url ?? '').slice(0, 200)}`);
    if (r.auth) auth!.check(req.headers.authorization);
    if (req.method !== r.method && !(r.method === 'GET' && req.method === 'HEAD')) throw new HttpError(405, `${req.method} is not allowed here; use ${r.method}`, { allow: r.method });
    let body: unknown;
    if (r.method === 'POST') {
      if (r.auth) {
        const text = (await readBody(req, max)).toString('utf8');
        if (text.trim() === '') return send(res, 200, await r.handler(undefined)); // Triton's clients post empty bodies here
        body = parseJsonText(text);
      } else body = await readJson(req);
    }
    send(res, 200, await r.handler(body));
  };

  // The dashboard answers its own paths, outside the model APIs' metrics: a page polling
  // /api/serving is not model traffic.
  const dashboard = options.ui ? createDashboard({ runsDir: options.ui.runsDir, assetsDir: options.ui.assetsDir, serving: () => servingSnapshot(repo, metrics.recent) }) : undefined;

  const server = http.createServer((req, res) => {
    const t0 = performance.now();
    const authorized = !apiKey || apiKey.allows(req.headers.authorization);
    if (authorized && dashboard?.handle(req, res)) {
      res.once('finish', () => log({ event: 'request', method: req.method, url: req.url?.slice(0, 200), status: res.statusCode, ms: +(performance.now() - t0).toFixed(3) }));
      return;
    }
    handle(req, res, authorized)
      .catch((e) => {
        const { status, message, headers } = errorStatus(e);
        if (status >= 500) log({ event: 'error', method: req.method, url: req.url?.slice(0, 200), error: (e as Error)?.stack ?? String(e) });
        if (!res.headersSent) send(res, status, isOpenAIUrl(req.url) ? openAIErrorBody(e, status, message) : { error: message }, headers);
      })
      .finally(() => {
        const ms = performance.now() - t0;
        log({ event: 'request', method: req.method, url: req.url?.slice(0, 200), status: res.statusCode, ms: +ms.toFixed(3) });
        const { api, model, version } = metricLabels(repo, req.url ?? '/');
        if (api !== 'metrics') metrics.request(api, model, version, res.statusCode, ms / 1000);
        // The serving view's figures: inference calls (every POST to a model), by served model name.
        if (model && req.method === 'POST') metrics.recent.request(model, ms, res.statusCode < 400);
      });
  });
  // A slow client cannot hold a connection open indefinitely.
  server.requestTimeout = 60_000;
  server.headersTimeout = 20_000;
  server.on('clientError', (_e, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
    else socket.destroy();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 8501, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  return {
    url,
    port,
    repository: repo,
    metrics,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        closing = true;
        if (poller) clearInterval(poller);
        dashboard?.close(); // open metric streams would hold the server open until the drain deadline
        const drainMs = options.drainMs ?? 10_000;
        const deadline = setTimeout(() => server.closeAllConnections(), drainMs);
        deadline.unref();
        server.close(() => {
          clearTimeout(deadline);
          // Batchers: admit nothing more, finish what was admitted (a batch that hangs is given
          // drainMs more), then free the runtimes this server loaded.
          const stop = setTimeout(resolve, drainMs);
          stop.unref();
          void (owned ? repo.close() : repo.drain()).then(resolve, resolve).finally(() => clearTimeout(stop));
        });
        server.closeIdleConnections();
      }),
  };
}
