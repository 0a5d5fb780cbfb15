// Reads run folders (runs/<id>/) for the dashboard: run.json, config.json, metrics.jsonl,
// evaluation.json, misclassified.json. Every path comes from resolveRunPath, so nothing outside
// the runs folder is ever opened. The run reader itself is src/train/runs (shared with `lathe runs`).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { listRuns, readRun, type Run } from '../train/runs/read-runs.js';

/** Run ids as the train command makes them (config name + ISO time); no slashes, no leading dot. */
export const RUN_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$/;
/** Files a page may ask for inside a run: the misclassified gallery and, later, explanation maps. */
export const RUN_FILE_PATTERN = /^(misclassified|explanations)\/[A-Za-z0-9][A-Za-z0-9_-]{0,99}\.png$/;

export type MetricKind = 'step' | 'epoch' | 'other';
export type MetricRecord = Record<string, unknown> & { kind: MetricKind };

export interface RunSummary {
  id: string;
  name: string;
  status: string;
  started: string | null;
  ended: string | null;
  hyperparameters: Record<string, number | string>;
  summary: Record<string, number | null>;
  env: Record<string, unknown>;
  hasEvaluation: boolean;
  hasMisclassified: boolean;
}

export interface RunDetail extends RunSummary {
  config: unknown;
  evaluation: unknown;
  misclassified: unknown[];
  warnings: string[];
}

/**
 * Resolves `rel` (already validated) inside `root` and returns the real path, or null when it
 * does not exist or leaves root once symlinks are followed.
 */
export function resolveInside(root: string, rel: string): string | null {
  let rootReal: string;
  let real: string;
  try {
    rootReal = fs.realpathSync(root);
    real = fs.realpathSync(path.join(rootReal, rel));
  } catch {
    return null;
  }
  return real.startsWith(rootReal + path.sep) ? real : null;
}

/** The real path of a run folder, or null for an id that is malformed, absent or escapes runsDir. */
export function runFolder(runsDir: string, id: string): string | null {
  if (!RUN_ID_PATTERN.test(id)) return null;
  const dir = resolveInside(runsDir, id);
  if (!dir) return null;
  try {
    return fs.statSync(dir).isDirectory() ? dir : null;
  } catch {
    return null;
  }
}

/** A regular file inside a run folder (symlinks followed but kept inside), or null. */
export function runFile(runDir: string, rel: string): string | null {
  const file = resolveInside(runDir, rel);
  if (!file) return null;
  try {
    return fs.statSync(file).isFile() ? file : null;
  } catch {
    return null;
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Old metric lines have no "kind": one with "epoch" and no "step" is an epoch line. */
export function normalizeRecord(raw: unknown): MetricRecord | null {
  if (!isObject(raw)) return null;
  const kind = raw.kind === 'step' || raw.kind === 'epoch' ? raw.kind : 'step' in raw ? 'step' : 'epoch' in raw ? 'epoch' : 'other';
  return { ...raw, kind };
}

/**
 * Parses whole lines of metrics.jsonl text. Returns the records and how many bytes of `text`
 * they used: a last line without its newline (a write in progress, or a run killed mid-write)
 * is left for later. Unparseable whole lines are skipped with a warning.
 */
export function parseMetricLines(text: Buffer, warnings: string[], lineOffset = 0): { records: MetricRecord[]; used: number } {
  const end = text.lastIndexOf(0x0a);
  if (end < 0) return { records: [], used: 0 };
  const records: MetricRecord[] = [];
  const lines = text.subarray(0, end).toString('utf8').split('\n');
  lines.forEach((line, i) => {
    if (line.trim() === '') return;
    try {
      const r = normalizeRecord(JSON.parse(line));
      if (r) records.push(r);
      else warnings.push(`metrics.jsonl line ${lineOffset + i + 1}: not a JSON object`);
    } catch {
      warnings.push(`metrics.jsonl line ${lineOffset + i + 1}: not valid JSON, skipped`);
    }
  });
  return { records, used: end + 1 };
}

/** The files a run reader opens: each must stay inside its run folder once symlinks are followed. */
const RUN_FILES = ['run.json', 'config.json', 'metrics.jsonl', 'evaluation.json', 'misclassified.json'];

/** Why a run folder is refused: a file of it that is a link leading out of it; null when none. */
function escapingFile(dir: string): string | null {
  for (const f of RUN_FILES) {
    let exists = false;
    try {
      fs.lstatSync(path.join(dir, f));
      exists = true;
    } catch { /* absent: nothing to check */ }
    if (exists && !runFile(dir, f)) return f;
  }
  return null;
}

function toSummary(run: Run): RunSummary {
  return {
    id: run.id,
    name: run.name,
    status: run.status,
    started: run.started,
    ended: run.ended,
    hyperparameters: Object.fromEntries(Object.entries(run.hyperparameters).filter(([, v]) => v !== null).map(([k, v]) => [k, typeof v === 'boolean' ? String(v) : (v as number | string)])),
    summary: Object.fromEntries(Object.entries(run.summary).filter(([, v]) => typeof v === 'number' || v === null)) as Record<string, number | null>,
    env: run.env,
    hasEvaluation: run.evaluation !== null,
    hasMisclassified: run.misclassified !== null && run.misclassified.length > 0,
  };
}

/** Every run folder in runsDir, newest first (src/train/runs reads them; links out are refused). */
export function listRunSummaries(runsDir: string): { runs: RunSummary[]; warnings: string[] } {
  const { runs, warnings } = listRuns(runsDir);
  const kept: RunSummary[] = [];
  for (const run of runs) {
    const dir = runFolder(runsDir, path.basename(run.dir));
    const bad = dir ? escapingFile(dir) : 'the folder';
    if (bad) warnings.push(`${path.basename(run.dir)}: ${bad} links outside the runs folder; skipped the run`);
    else kept.push(toSummary(run));
  }
  return { runs: kept, warnings: warnings.map((w) => w.split(runsDir + path.sep).join('')) };
}

/** One run with its config, evaluation and misclassified list; null when absent or refused. */
export function readRunDetail(runsDir: string, id: string): RunDetail | null {
  const dir = runFolder(runsDir, id);
  if (!dir || escapingFile(dir)) return null;
  const run = readRun(dir);
  return { ...toSummary(run), config: run.config, evaluation: run.evaluation, misclassified: run.misclassified ?? [], warnings: run.warnings.map((w) => w.split(dir + path.sep).join('')) };
}
