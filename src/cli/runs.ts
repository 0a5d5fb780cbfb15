// `lathe runs [--dir runs] [--json]`: the runs under a folder, newest first, with their key
// figures. Warnings (a metrics line cut short by a kill) go to stderr; the list still prints.
import * as path from 'node:path';
import { fail } from '../errors.js';
import { type Run, listRuns } from '../train/runs/index.js';
import { parseArgs } from './args.js';

const USAGE = 'Usage: lathe runs [--dir runs] [--json]';

export function runsCommand(argv: string[]): number {
  const { flags, positional } = parseArgs('runs', argv, { dir: 'string', json: 'flag' });
  if (positional.length) fail('runs', `unexpected argument "${positional[0]}". ${USAGE}`);
  const dir = (flags.dir as string | undefined) ?? 'runs';
  const { runs, warnings } = listRuns(dir);
  for (const w of warnings) console.error(`lathe: warning: ${w}`);
  if (flags.json) {
    for (const run of runs) console.log(JSON.stringify(runListing(run)));
    return 0;
  }
  if (!runs.length) {
    console.log(`No runs under ${path.resolve(dir)} (lathe train writes one per run; --dir names another folder)`);
    return 0;
  }
  const rows = runs.map((r) => {
    const s = r.summary;
    return [r.id, r.status, localTime(r.started), progress(s), fixed(s.loss), fixed(s.val_loss), fixed(s.val_accuracy), fixed(s.test_accuracy), duration(r.durationSeconds)];
  });
  for (const line of textTable(['ID', 'STATUS', 'STARTED', 'PROGRESS', 'LOSS', 'VAL_LOSS', 'VAL_ACC', 'TEST_ACC', 'DURATION'], rows, new Set([3, 4, 5, 6, 7, 8]))) console.log(line);
  return 0;
}

/** Epochs for an epoch-based run, iterations for a language model's ("2000 it"). */
function progress(s: Run['summary']): string {
  if (typeof s.iterations === 'number') return `${s.iterations} it`;
  return s.epochs ? `${s.epochs} ep` : '';
}

/** One run's line of `lathe runs --json`. */
export function runListing(run: Run): Record<string, unknown> {
  const s = run.summary;
  return {
    id: run.id,
    dir: run.dir,
    name: run.name,
    status: run.status,
    started: run.started,
    ended: run.ended,
    duration_seconds: run.durationSeconds,
    epochs: s.epochs,
    ...(typeof s.iterations === 'number' ? { iterations: s.iterations } : {}),
    loss: s.loss,
    val_loss: s.val_loss,
    val_accuracy: s.val_accuracy,
    test_accuracy: s.test_accuracy,
  };
}

/** Rows padded into columns; the columns numbered in `right` are right-aligned (figures). */
export function textTable(head: string[], rows: string[][], right: ReadonlySet<number> = new Set()): string[] {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) => r.map((c, i) => (right.has(i) ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ').trimEnd();
  return [line(head), ...rows.map(line)];
}

/** A figure to 4 decimals, or "-" when there is none. */
export const fixed = (v: unknown): string => (typeof v === 'number' && Number.isFinite(v) ? v.toFixed(4) : '-');

/** 0.4s, 12.3s, 4m05s, 1h02m. */
export function duration(seconds: number | null): string {
  if (seconds === null || !Number.isFinite(seconds)) return '-';
  if (seconds < 60) return `${seconds.toFixed(1)}s`;
  const m = Math.floor(seconds / 60);
  if (m < 60) return `${m}m${String(Math.floor(seconds % 60)).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

/** "2025-01-31 14:05" in local time. */
function localTime(iso: string | null): string {
  const t = iso ? new Date(iso) : null;
  if (!t || Number.isNaN(t.getTime())) return '-';
  const p = (n: number) => String(n).padStart(2, '0');
  return `${t.getFullYear()}-${p(t.getMonth() + 1)}-${p(t.getDate())} ${p(t.getHours())}:${p(t.getMinutes())}`;
}
