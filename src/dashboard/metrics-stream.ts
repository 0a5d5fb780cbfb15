// Server-sent events for a run's metrics.jsonl: the lines from a byte offset on, then every new
// whole line as training appends it. Each event's id is the byte offset after its last line, so
// a browser that reconnects (EventSource sends Last-Event-ID) gets only what it has not seen.
import * as fs from 'node:fs';
import type { ServerResponse } from 'node:http';
import { parseMetricLines, runFile } from './run-files.js';

/** fs.watch misses changes on some file systems (network mounts, some containers): poll too. */
const POLL_MS = 1000;
/** A comment line keeps proxies and the browser from closing an idle stream. */
const HEARTBEAT_MS = 15000;
/** One read at most this much, so a long backlog goes out in several events. */
const MAX_READ_BYTES = 4 * 1024 * 1024;

export interface MetricsStreamOptions {
  pollMs?: number;
}

/**
 * Streams runDir/metrics.jsonl to res from `offset` (a line boundary; anything else restarts at
 * 0 with a "reset" event). Also sends a "run" event when run.json changes (status, summary).
 * Returns a function that ends the stream.
 */
export function streamMetrics(res: ServerResponse, runDir: string, offset: number, options: MetricsStreamOptions = {}): () => void {
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-store',
    connection: 'keep-alive',
    'x-content-type-options': 'nosniff',
  });
  res.write('retry: 2000\n\n');
  let closed = false;
  let reading = false;
  let again = false;
  let lines = 0;
  let runJsonStamp = '';
  let checkedOffset = offset === 0;

  const send = (event: string, data: unknown, id?: number) => {
    if (closed) return;
    res.write(`${id !== undefined ? `id: ${id}\n` : ''}event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  };

  const reset = () => {
    offset = 0;
    lines = 0;
    send('reset', { offset: 0 }, 0);
  };

  const readMore = async (): Promise<void> => {
    const file = runFile(runDir, 'metrics.jsonl');
    if (!file) return;
    const fh = await fs.promises.open(file, 'r');
    try {
      const { size } = await fh.stat();
      // A file shorter than what was sent was rewritten: the page starts over.
      if (size < offset) reset();
      if (!checkedOffset) {
        checkedOffset = true;
        const before = Buffer.alloc(1);
        await fh.read(before, 0, 1, offset - 1);
        if (before[0] !== 0x0a) reset();
      }
      while (!closed && size > offset) {
        const length = Math.min(size - offset, MAX_READ_BYTES);
        const buf = Buffer.alloc(length);
        const { bytesRead } = await fh.read(buf, 0, length, offset);
        const warnings: string[] = [];
        const { records, used } = parseMetricLines(buf.subarray(0, bytesRead), warnings, lines);
        if (used === 0) break; // only a partial line so far: wait for its newline
        offset += used;
        lines += buf.subarray(0, used).reduce((n, b) => n + (b === 0x0a ? 1 : 0), 0);
        send('metrics', { records, warnings }, offset);
      }
    } finally {
      await fh.close();
    }
  };

  const checkRunJson = () => {
    const file = runFile(runDir, 'run.json');
    if (!file) return;
    try {
      const st = fs.statSync(file);
      const stamp = `${st.mtimeMs}:${st.size}`;
      if (stamp === runJsonStamp) return;
      const first = runJsonStamp === '';
      runJsonStamp = stamp;
      if (first) return; // the page read run.json itself just before it opened the stream
      const run = JSON.parse(fs.readFileSync(file, 'utf8'));
      send('run', { status: run.status ?? null, ended: run.ended ?? null, summary: run.summary ?? null });
    } catch {
      // run.json mid-rewrite is skipped: atomic writes make this rare, the next tick reads it.
    }
  };

  const tick = () => {
    if (closed) return;
    if (reading) {
      again = true;
      return;
    }
    reading = true;
    checkRunJson();
    readMore()
      .catch(() => { /* the file vanished between the checks: the next tick sees it */ })
      .finally(() => {
        reading = false;
        if (again) {
          again = false;
          tick();
        }
      });
  };

  let watcher: fs.FSWatcher | null = null;
  try {
    // Watch the folder, not the file: metrics.jsonl may not exist yet, or be replaced.
    watcher = fs.watch(runDir, (_event, name) => {
      if (name === null || name === 'metrics.jsonl' || name === 'run.json' || String(name).startsWith('run.json')) tick();
    });
    watcher.on('error', () => { watcher?.close(); watcher = null; });
  } catch {
    watcher = null; // the poll below still follows the file
  }
  const poll = setInterval(tick, options.pollMs ?? POLL_MS);
  const heartbeat = setInterval(() => { if (!closed) res.write(': ping\n\n'); }, HEARTBEAT_MS);
  const close = () => {
    if (closed) return;
    closed = true;
    clearInterval(poll);
    clearInterval(heartbeat);
    watcher?.close();
    res.end();
  };
  res.on('close', close);
  tick();
  return close;
}
