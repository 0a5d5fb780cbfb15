// The dashboard's HTTP routes as one request handler, so `lathe ui` serves it alone and the
// model server can mount it beside its own APIs. It answers /ui/ (the built page) and /api/*,
// and nothing else: every other path returns false for the host server to answer.
//
// Paths are checked on the raw URL, segment by segment, before any decoding can form "..":
// run ids and file names must match strict patterns, and files are opened only after their
// real path (symlinks followed) is found inside the runs folder.
import * as fs from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { VERSION } from '../version.js';
import { streamMetrics } from './metrics-stream.js';
import { listRunSummaries, parseMetricLines, readRunDetail, RUN_FILE_PATTERN, runFile, runFolder } from './run-files.js';

/** What the served-models panel shows; the model server supplies it through `serving`. */
export interface ServingSnapshot {
  models: Array<{
    name: string;
    versions: Array<{ version: string; state: string; ready?: boolean; labels?: string[] }>;
    /** Requests per second over the last interval. */
    requestRate?: number | null;
    latencyMs?: { p50: number | null; p99: number | null } | null;
    meanBatchSize?: number | null;
  }>;
}

export interface DashboardOptions {
  /** The runs folder; absent: the page shows no runs (a model server without one). */
  runsDir?: string;
  /** The served models, asked for on each GET /api/serving; absent: 404. */
  serving?: () => ServingSnapshot | Promise<ServingSnapshot>;
  /** The built page (vite build output); by default the package's ui/dist. */
  assetsDir?: string;
  /** How often metric streams poll metrics.jsonl besides fs.watch, in ms. */
  pollMs?: number;
}

export interface Dashboard {
  /** Answers /ui, /ui/* and /api/* and returns true; returns false for any other path. */
  handle(req: IncomingMessage, res: ServerResponse): boolean;
  /** Ends the open metric streams (they would keep a closing server waiting). */
  close(): void;
}

/** <package>/ui/dist: three folders up from dist(-NAME)/src/dashboard/handler.js. */
export const DEFAULT_ASSETS_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'ui', 'dist');

const ASSET_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$/;
const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json; charset=utf-8',
  '.woff2': 'font/woff2',
};
/** The page loads only its own files: no CDN, no inline script, images from this origin. */
const CSP = "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self'; connect-src 'self'";

class HttpError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', 'x-content-type-options': 'nosniff', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function sendFile(req: IncomingMessage, res: ServerResponse, file: string, cache: string): void {
  const type = CONTENT_TYPES[path.extname(file).toLowerCase()];
  if (!type) throw new HttpError(404, 'no such file');
  const body = fs.readFileSync(file);
  res.writeHead(200, { 'content-type': type, 'content-length': body.length, 'cache-control': cache, 'x-content-type-options': 'nosniff', 'content-security-policy': CSP });
  res.end(req.method === 'HEAD' ? undefined : body);
}

/**
 * Splits the raw path into decoded segments. Rejects what no route of ours contains and what
 * could name another folder: NUL, backslashes, empty segments, "." and "..", encoded or not.
 */
export function pathSegments(rawUrl: string): string[] {
  const rawPath = rawUrl.split(/[?#]/, 1)[0];
  if (!rawPath.startsWith('/') || rawPath.length > 2048) throw new HttpError(400, 'malformed path');
  const segments = rawPath.slice(1).split('/');
  return segments.map((raw, i) => {
    let s: string;
    try {
      s = decodeURIComponent(raw);
    } catch {
      throw new HttpError(400, 'malformed percent-encoding in the path');
    }
    if (s === '' && i === segments.length - 1) return s; // a trailing slash
    if (s === '' || s === '.' || s === '..' || /[\0\\/]/.test(s) || s.includes('..')) throw new HttpError(400, `path segment ${JSON.stringify(s)} is not allowed`);
    return s;
  });
}

function queryParam(rawUrl: string, name: string): string | null {
  const q = rawUrl.indexOf('?');
  return q < 0 ? null : new URLSearchParams(rawUrl.slice(q + 1)).get(name);
}

/** The byte offset to stream from: Last-Event-ID (a reconnect) wins over ?offset=. */
function streamOffset(req: IncomingMessage): number {
  const header = req.headers['last-event-id'];
  const raw = (typeof header === 'string' && header !== '' ? header : null) ?? queryParam(req.url ?? '', 'offset') ?? '0';
  if (!/^\d{1,15}$/.test(raw)) throw new HttpError(400, `offset must be a non-negative integer (a byte offset), got ${JSON.stringify(raw.slice(0, 40))}`);
  return Number(raw);
}

export function createDashboard(options: DashboardOptions): Dashboard {
  const assetsDir = options.assetsDir ?? DEFAULT_ASSETS_DIR;
  const streams = new Set<() => void>();

  const requireRun = (id: string): string => {
    if (!options.runsDir) throw new HttpError(404, 'this server has no runs folder');
    const dir = runFolder(options.runsDir, id);
    if (!dir) throw new HttpError(404, `no run ${JSON.stringify(id)} in the runs folder`);
    return dir;
  };

  const serveAsset = (req: IncomingMessage, res: ServerResponse, rest: string[]) => {
    const rel = rest.length === 0 || (rest.length === 1 && rest[0] === '') ? ['index.html'] : rest;
    if (rel.length > 2 || (rel.length === 2 && rel[0] !== 'assets') || !rel.every((s) => ASSET_NAME.test(s))) throw new HttpError(404, 'no such file');
    const index = path.join(assetsDir, 'index.html');
    if (!fs.existsSync(index)) throw new HttpError(503, `the dashboard's page is not built (${assetsDir} has no index.html): run npm run build:ui`);
    const file = runFile(assetsDir, rel.join('/'));
    if (!file) throw new HttpError(404, 'no such file');
    // Vite names assets by content hash, so they may be cached for good; index.html never.
    sendFile(req, res, file, rel[0] === 'assets' ? 'public, max-age=31536000, immutable' : 'no-cache');
  };

  const serveApi = async (req: IncomingMessage, res: ServerResponse, rest: string[]) => {
    const [what, id, sub, ...more] = rest;
    if (what === 'info' && rest.length === 1) {
      return sendJson(res, 200, { lathe: VERSION, runs: Boolean(options.runsDir), serving: Boolean(options.serving) });
    }
    if (what === 'serving' && rest.length === 1) {
      if (!options.serving) throw new HttpError(404, 'no model server in this process (run lathe serve --ui)');
      return sendJson(res, 200, await options.serving());
    }
    if (what !== 'runs') throw new HttpError(404, `no API route /api/${rest.join('/')}`);
    if (rest.length === 1) {
      if (!options.runsDir) return sendJson(res, 200, { runs: [], warnings: [] });
      return sendJson(res, 200, listRunSummaries(options.runsDir));
    }
    const dir = requireRun(id);
    if (rest.length === 2) {
      const run = readRunDetail(options.runsDir!, id);
      if (!run) throw new HttpError(404, `run ${JSON.stringify(id)} has a file linking outside the runs folder; it is not served`);
      return sendJson(res, 200, run);
    }
    if (sub === 'metrics' && more.length === 0) {
      const offset = streamOffset(req);
      if ((req.headers.accept ?? '').includes('text/event-stream')) {
        const close = streamMetrics(res, dir, offset, { pollMs: options.pollMs });
        streams.add(close);
        res.on('close', () => streams.delete(close));
        return;
      }
      // Without an event stream: the whole lines from offset, once, as JSON.
      const file = runFile(dir, 'metrics.jsonl');
      const text = file ? fs.readFileSync(file) : Buffer.alloc(0);
      if (offset > text.length) throw new HttpError(400, `offset ${offset} is past the end of metrics.jsonl (${text.length} bytes)`);
      const warnings: string[] = [];
      const { records, used } = parseMetricLines(text.subarray(offset), warnings);
      return sendJson(res, 200, { records, offset: offset + used, warnings });
    }
    if (sub === 'files' && more.length === 2) {
      const rel = more.join('/');
      if (!RUN_FILE_PATTERN.test(rel)) throw new HttpError(400, 'files: only misclassified/<name>.png and explanations/<name>.png are served');
      const file = runFile(dir, rel);
      if (!file) throw new HttpError(404, `${id} has no file ${rel}`);
      return sendFile(req, res, file, 'no-cache');
    }
    throw new HttpError(404, `no API route /api/${rest.join('/')}`);
  };

  const handle = (req: IncomingMessage, res: ServerResponse): boolean => {
    const url = req.url ?? '/';
    const top = url.split(/[/?#]/, 2)[1];
    if (top !== 'ui' && top !== 'api') return false;
    const fail = (e: unknown) => {
      const status = e instanceof HttpError ? e.status : 500;
      const message = e instanceof HttpError ? e.message : `internal error: ${(e as Error).message}`;
      if (!res.headersSent) sendJson(res, status, { error: message });
      else res.end();
    };
    try {
      if (req.method !== 'GET' && req.method !== 'HEAD') throw new HttpError(405, `${req.method} is not allowed here; the dashboard is read-only (GET)`);
      const [first, ...rest] = pathSegments(url);
      if (first === 'ui') {
        if (rest.length === 0) {
          res.writeHead(301, { location: '/ui/' });
          res.end();
        } else serveAsset(req, res, rest);
      } else serveApi(req, res, rest).catch(fail);
    } catch (e) {
      fail(e);
    }
    return true;
  };

  return {
    handle,
    close() {
      for (const close of streams) close();
      streams.clear();
    },
  };
}
