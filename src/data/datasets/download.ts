// Fetching dataset files, only when a caller opts in: HTTPS only (plain http only to a loopback
// mirror, which tests serve), a size cap, idle and total timeouts, a bounded number of https
// redirects. Bytes are held in memory until the caller has verified them, then written with
// writeFileAtomic, so a failed or killed download never leaves a partial file under the final name.
import { createHash } from 'node:crypto';
import * as http from 'node:http';
import * as https from 'node:https';
import * as os from 'node:os';
import * as path from 'node:path';
import { fail } from '../../errors.js';

export interface DownloadOptions {
  /** Refuse responses larger than this (default 64 MiB; Fashion-MNIST's largest file is 26 MB). */
  maxBytes?: number;
  /** Abort when no byte arrives for this long (default 30 s). */
  idleTimeoutMs?: number;
  /** Abort when the whole transfer takes longer (default 10 min). */
  totalTimeoutMs?: number;
  /** Allow http:// to 127.0.0.1, ::1 or localhost (a test's local mirror). Never other hosts. */
  allowLoopbackHttp?: boolean;
}

const MAX_REDIRECTS = 5;
const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);

/** The cache folder of a dataset: <root>/<name>, root = cacheDir, $LATHE_CACHE, or ~/.cache/lathe/datasets. */
export function datasetCacheDir(name: string, cacheDir?: string): string {
  const root = cacheDir ?? process.env.LATHE_CACHE ?? path.join(process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'lathe', 'datasets');
  return path.join(root, name);
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** True when a mirror URL is plain http to this machine: the only http a download may use. */
export function isLoopbackHttp(url: string): boolean {
  try {
    const u = new URL(url);
    return u.protocol === 'http:' && LOOPBACK.has(u.hostname);
  } catch {
    return false;
  }
}

/** `context` names the request in the message: the URL, or the redirect that led here. */
function checkUrl(url: URL, options: DownloadOptions, context: string): void {
  if (url.protocol === 'https:') return;
  if (url.protocol === 'http:' && options.allowLoopbackHttp && LOOPBACK.has(url.hostname)) return;
  fail('download', `${context}: only https downloads are allowed`);
}

/** GETs `url` into memory and returns its bytes; every failure is a LatheError naming the URL. */
export async function fetchBytes(url: string, options: DownloadOptions = {}): Promise<Buffer> {
  const { maxBytes = 64 << 20, idleTimeoutMs = 30_000, totalTimeoutMs = 600_000 } = options;
  let current = new URL(url);
  checkUrl(current, options, url);
  const deadline = Date.now() + totalTimeoutMs;
  for (let hop = 0; ; hop++) {
    const res = await getOnce(current, { maxBytes, idleTimeoutMs, deadline });
    if ('location' in res) {
      if (hop >= MAX_REDIRECTS) fail('download', `${url}: more than ${MAX_REDIRECTS} redirects`);
      const next = new URL(res.location, current);
      checkUrl(next, options, `${url} redirected to ${next.href}`);
      current = next;
      continue;
    }
    return res.body;
  }
}

type Got = { body: Buffer } | { location: string };

function getOnce(url: URL, limits: { maxBytes: number; idleTimeoutMs: number; deadline: number }): Promise<Got> {
  return new Promise((resolve, reject) => {
    const lib = url.protocol === 'https:' ? https : http;
    let settled = false;
    let timer: NodeJS.Timeout | undefined;
    const finish = (err: Error | null, value?: Got) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (err) {
        req.destroy();
        reject(err);
      } else resolve(value!);
    };
    const error = (message: string) => {
      try {
        fail('download', `${url.href}: ${message}`);
      } catch (e) {
        finish(e as Error);
      }
    };
    const req = lib.get(url, { headers: { 'user-agent': 'lathe', 'accept-encoding': 'identity' } }, (res) => {
      const status = res.statusCode ?? 0;
      if (status >= 300 && status < 400 && res.headers.location) {
        res.resume();
        finish(null, { location: res.headers.location });
        return;
      }
      if (status !== 200) {
        res.resume();
        return error(`HTTP ${status} ${res.statusMessage ?? ''}`.trim());
      }
      const declared = Number(res.headers['content-length'] ?? NaN);
      if (declared > limits.maxBytes) return error(`${declared} bytes is over the ${limits.maxBytes}-byte limit`);
      const chunks: Buffer[] = [];
      let got = 0;
      res.on('data', (chunk: Buffer) => {
        got += chunk.length;
        if (got > limits.maxBytes) return error(`more than the ${limits.maxBytes}-byte limit`);
        chunks.push(chunk);
      });
      res.on('end', () => {
        // Node reports a connection closed early as 'error' (below); this guards a clean but short end.
        if (Number.isFinite(declared) && got !== declared) return error(`connection closed after ${got} of ${declared} bytes`);
        finish(null, { body: Buffer.concat(chunks, got) });
      });
      res.on('error', (e) => error(`connection closed after ${got} bytes (${e.message})`));
    });
    req.setTimeout(limits.idleTimeoutMs, () => error(`no data for ${limits.idleTimeoutMs / 1000} s`));
    req.on('error', (e) => error(e.message));
    timer = setTimeout(() => error('took longer than the download time limit'), Math.max(0, limits.deadline - Date.now()));
  });
}
