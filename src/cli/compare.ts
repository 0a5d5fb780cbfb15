// `lathe compare RUN RUN... [--dir runs] [--json] [--all]`: runs side by side, one column each:
// the hyperparameters that differ (--all: every one), then the final figures, the best epoch
// and the time per epoch. RUN is a run folder, or an id (or a unique start of one) under --dir.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fail } from '../errors.js';
import { type Run, bestEpoch, isRunFolder, listRuns, readRun } from '../train/runs/index.js';
import { parseArgs } from './args.js';
import { duration, fixed, textTable } from './runs.js';

const USAGE = 'Usage: lathe compare RUN RUN... [--dir runs] [--json] [--all]';
const FIGURES = ['loss', 'accuracy', 'val_loss', 'val_accuracy', 'test_loss', 'test_accuracy'] as const;

export function compareCommand(argv: string[]): number {
  const { flags, positional } = parseArgs('compare', argv, { dir: 'string', json: 'flag', all: 'flag' });
  if (positional.length < 2) fail('compare', `expected two or more runs, got ${positional.length}. ${USAGE}`);
  const dir = (flags.dir as string | undefined) ?? 'runs';
  const runs = positional.map((r) => readRun(resolveRun(r, dir)));
  for (const run of runs) for (const w of run.warnings) console.error(`lathe: warning: ${w}`);
  const table = comparison(runs, Boolean(flags.all));
  if (flags.json) {
    console.log(JSON.stringify(table));
    return 0;
  }
  const cell = (v: unknown) => (v === null || v === undefined ? '-' : typeof v === 'number' && !Number.isInteger(v) ? String(+v.toPrecision(6)) : String(v));
  const rows: string[][] = [];
  const section = (title: string) => rows.push([title, ...runs.map(() => '')]);
  const hp = Object.entries(table.hyperparameters);
  section(flags.all ? 'hyperparameters' : hp.length ? 'hyperparameters that differ' : 'hyperparameters: all the same');
  for (const [k, values] of hp) rows.push([`  ${k}`, ...values.map(cell)]);
  section('results');
  rows.push(['  status', ...runs.map((r) => r.status)]);
  rows.push(['  epochs', ...runs.map((r) => String(r.summary.epochs))]);
  for (const [k, values] of Object.entries(table.metrics)) rows.push([`  ${k}`, ...values.map(fixed)]);
  rows.push(['  best epoch', ...table.best_epoch.map((b) => (b ? `${b.epoch} (${b.monitor} ${b.value.toFixed(4)})` : '-'))]);
  rows.push(['  s/epoch (median)', ...table.median_epoch_seconds.map((s) => (s === null ? '-' : s.toFixed(3)))]);
  rows.push(['  duration', ...table.duration_seconds.map(duration)]);
  for (const line of textTable(['', ...runs.map((r) => r.id)], rows)) console.log(line);
  return 0;
}

/** What `lathe compare --json` prints: one array entry per run, in the order given. */
export function comparison(runs: Run[], all = false) {
  const keys = [...new Set(runs.flatMap((r) => Object.keys(r.hyperparameters)))];
  const hyperparameters: Record<string, unknown[]> = {};
  const same: Record<string, unknown> = {};
  for (const k of keys) {
    const values = runs.map((r) => r.hyperparameters[k] ?? null);
    if (all || new Set(values.map((v) => JSON.stringify(v))).size > 1) hyperparameters[k] = values;
    else same[k] = values[0];
  }
  const metrics: Record<string, (number | null)[]> = {};
  for (const k of FIGURES) {
    const values = runs.map((r) => (typeof r.summary[k] === 'number' ? (r.summary[k] as number) : null));
    if (values.some((v) => v !== null)) metrics[k] = values;
  }
  return {
    runs: runs.map((r) => ({ id: r.id, dir: r.dir, status: r.status, epochs: r.summary.epochs })),
    hyperparameters,
    same_hyperparameters: same,
    metrics,
    best_epoch: runs.map((r) => bestEpoch(r.epochs)),
    median_epoch_seconds: runs.map((r) => r.summary.median_epoch_seconds),
    duration_seconds: runs.map((r) => r.durationSeconds),
  };
}

/** A run folder from a path, an id under dir, or the one id under dir that starts with it. */
export function resolveRun(run: string, dir: string): string {
  if (fs.existsSync(run) && fs.statSync(run).isDirectory() && isRunFolder(run)) return run;
  const under = path.join(dir, run);
  if (fs.existsSync(under) && fs.statSync(under).isDirectory()) return under;
  const matches = listRuns(dir).runs.filter((r) => r.id.startsWith(run));
  if (matches.length === 1) return matches[0].dir;
  if (matches.length > 1) fail('compare', `"${run}" matches ${matches.length} runs under ${dir} (${matches.slice(0, 5).map((r) => r.id).join(', ')}${matches.length > 5 ? ', ...' : ''}); give more of the id`);
  fail('compare', `no run "${run}": not a run folder, nor a run id under ${dir} (lathe runs --dir ${dir} lists them)`);
}
