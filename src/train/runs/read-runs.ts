// Reading run folders for `lathe runs`, `lathe compare` and the dashboard's server. Nothing here
// prints: what a reader should know (a cut metrics line, an unreadable run.json) comes back in
// `warnings`. Folders written before run.json existed are read from config.json + metrics.jsonl.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fail } from '../../errors.js';
import { readMetricsFile } from './metrics-file.js';
import {
  type EpochRecord, type Evaluation, type Flat, type MisclassifiedExample, type RunRecord, type RunStatus, type RunSummary, type StepRecord,
  hyperparametersFromConfig, parseRunId,
} from './run-format.js';

export interface Run {
  /** The run folder, absolute. */
  dir: string;
  id: string;
  name: string;
  /** "running" only while its process lives; a dead writer's run reads as "stopped". */
  status: RunStatus;
  started: string | null;
  ended: string | null;
  /** Ended (or now, while running) minus started; for a stopped run, up to its last metrics line. */
  durationSeconds: number | null;
  pid: number | null;
  hyperparameters: Flat;
  env: Record<string, unknown>;
  /** run.json's final figures, or worked out from the last epoch line while none are written. */
  summary: RunSummary;
  config: unknown;
  steps: StepRecord[];
  epochs: EpochRecord[];
  evaluation: Evaluation | null;
  misclassified: MisclassifiedExample[] | null;
  /** run.json itself (null for a folder from before run.json). */
  record: RunRecord | null;
  error: string | null;
  warnings: string[];
}

/** Whether a folder looks like a run: it has run.json, or config.json or metrics.jsonl from an older `lathe train`. */
export function isRunFolder(dir: string): boolean {
  return ['run.json', 'config.json', 'metrics.jsonl'].some((f) => fs.existsSync(path.join(dir, f)));
}

/** Whether a process with this pid exists (EPERM: it does, under another user). */
export function processAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Reads one run folder. Fails only when `dir` is not a run folder at all. */
export function readRun(dir: string): Run {
  const abs = path.resolve(dir);
  if (!fs.existsSync(abs) || !fs.statSync(abs).isDirectory()) fail('runs', `${dir}: not a folder`);
  if (!isRunFolder(abs)) fail('runs', `${dir}: not a run folder (no run.json, config.json or metrics.jsonl)`);
  const warnings: string[] = [];
  const readJson = <T>(file: string): T | null => {
    const f = path.join(abs, file);
    if (!fs.existsSync(f)) return null;
    try {
      return JSON.parse(fs.readFileSync(f, 'utf8')) as T;
    } catch (e) {
      warnings.push(`${f}: not valid JSON (${(e as Error).message}); ignored it`);
      return null;
    }
  };
  const record = validRecord(readJson<RunRecord>('run.json'), path.join(abs, 'run.json'), warnings);
  const config = readJson<unknown>('config.json');
  const metrics = readMetricsFile(path.join(abs, 'metrics.jsonl'));
  const evaluation = readJson<Evaluation>('evaluation.json');
  const misclassified = readJson<MisclassifiedExample[]>('misclassified.json');

  const id = path.basename(abs);
  const fromId = parseRunId(record?.id ?? id);
  let status: RunStatus;
  if (record) {
    status = record.status;
    const sameHost = typeof record.env?.hostname !== 'string' || record.env.hostname === os.hostname();
    if (status === 'running' && sameHost && !processAlive(record.pid)) status = 'stopped';
  } else {
    // before run.json: a saved model means the run got to its end
    status = fs.existsSync(path.join(abs, 'model', 'model.json')) ? 'finished' : 'stopped';
  }
  // A live run's last line may be mid-write; only a run that is over has a cut line to report.
  warnings.push(...(status === 'running' && metrics.cutShort ? metrics.warnings.slice(0, -1) : metrics.warnings));

  const started = record?.started ?? fromId?.started ?? fileTime(path.join(abs, 'config.json'));
  const ended = record?.ended ?? null;
  const lastTime = Math.max(-1, ...metrics.steps.map((s) => s.time), ...metrics.epochs.map((e) => (typeof e.time === 'number' ? e.time : -1)));
  let durationSeconds: number | null = null;
  if (started && ended) durationSeconds = (Date.parse(ended) - Date.parse(started)) / 1000;
  else if (started && status === 'running') durationSeconds = (Date.now() - Date.parse(started)) / 1000;
  else if (lastTime >= 0) durationSeconds = lastTime;
  else if (metrics.epochs.length) durationSeconds = metrics.epochs.reduce((s, e) => s + (typeof e.seconds === 'number' ? e.seconds : 0), 0);

  const hyperparameters = record?.hyperparameters ?? hyperparametersFromConfig(config);
  return {
    dir: abs,
    id: record?.id ?? id,
    name: record?.name ?? fromId?.name ?? id,
    status,
    started,
    ended,
    durationSeconds: durationSeconds === null || !Number.isFinite(durationSeconds) ? null : +durationSeconds.toFixed(3),
    pid: record?.pid ?? null,
    hyperparameters,
    env: record?.env ?? {},
    summary: { ...summaryFromMetrics(metrics.epochs, evaluation), ...(record?.summary ?? {}) },
    config,
    steps: metrics.steps,
    epochs: metrics.epochs,
    evaluation,
    misclassified: Array.isArray(misclassified) ? misclassified : null,
    record,
    error: typeof record?.error === 'string' ? record.error : null,
    warnings,
  };
}

/** Every run folder directly under `dir`, newest first. A missing `dir` holds no runs. */
export function listRuns(dir: string): { runs: Run[]; warnings: string[] } {
  const warnings: string[] = [];
  if (!fs.existsSync(dir)) return { runs: [], warnings };
  const runs: Run[] = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const sub = path.join(dir, entry.name);
    if (!entry.isDirectory() || !isRunFolder(sub)) continue;
    try {
      const run = readRun(sub);
      runs.push(run);
      warnings.push(...run.warnings);
    } catch (e) {
      warnings.push(`${(e as Error).message}; skipped it`);
    }
  }
  runs.sort((a, b) => (Date.parse(b.started ?? '') || 0) - (Date.parse(a.started ?? '') || 0) || b.id.localeCompare(a.id));
  return { runs, warnings };
}

/** The final figures a run's epoch lines and evaluation give, for runs whose run.json has none yet. */
export function summaryFromMetrics(epochs: EpochRecord[], evaluation: Evaluation | null): RunSummary {
  const last = epochs[epochs.length - 1];
  const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : null);
  const seconds = epochs.map((e) => e.seconds).filter((s): s is number => typeof s === 'number').sort((a, b) => a - b);
  const test = evaluation?.split === 'test' ? evaluation : null;
  return {
    loss: num(last?.loss),
    accuracy: num(last?.accuracy),
    val_loss: num(last?.val_loss),
    val_accuracy: num(last?.val_accuracy),
    test_loss: num(test?.loss),
    test_accuracy: num(test?.metrics?.accuracy),
    epochs: last ? last.epoch : 0,
    median_epoch_seconds: seconds.length ? +((seconds[(seconds.length - 1) >> 1] + seconds[seconds.length >> 1]) / 2).toFixed(4) : null,
    peak_rss_mb: null,
  };
}

/** The epoch with the lowest val_loss (or loss, without validation), 1-based, or null. */
export function bestEpoch(epochs: EpochRecord[]): { epoch: number; monitor: string; value: number } | null {
  const monitor = epochs.some((e) => typeof e.val_loss === 'number') ? 'val_loss' : 'loss';
  let best: { epoch: number; monitor: string; value: number } | null = null;
  for (const e of epochs) {
    const v = e[monitor];
    if (typeof v === 'number' && Number.isFinite(v) && (!best || v < best.value)) best = { epoch: e.epoch, monitor, value: v };
  }
  return best;
}

function validRecord(r: RunRecord | null, file: string, warnings: string[]): RunRecord | null {
  if (r === null) return null;
  const statuses: RunStatus[] = ['running', 'finished', 'failed', 'stopped'];
  if (typeof r !== 'object' || typeof r.started !== 'string' || !statuses.includes(r.status)) {
    warnings.push(`${file}: not a run record (expected "started" and a "status" of ${statuses.join(', ')}); read the folder without it`);
    return null;
  }
  return r;
}

function fileTime(file: string): string | null {
  try {
    return fs.statSync(file).mtime.toISOString();
  } catch {
    return null;
  }
}
