// Writes a run folder's run.json and metrics.jsonl while a run trains. run.json is replaced
// atomically (start: "running"; end: "finished", "failed" or "stopped"); metrics lines are
// appended whole, one write each, so a reader tailing the file sees whole lines or a cut last one.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { writeFileAtomic } from '../../atomic-write.js';
import { getBackend } from '../../backends/registry.js';
import { getNumThreads } from '../../backends/threads.js';
import { VERSION } from '../../version.js';
import { fail } from '../../errors.js';
import { type Flat, RUN_FORMAT, type RunRecord, type RunStatus, type RunSummary, runId } from './run-format.js';

/**
 * The folder a `lathe train` run writes to (`out`, or runs/<config name>-<time>), checked against
 * --resume before anything trains, holding the config as given. Returns it and the checkpoint
 * that --resume continues from.
 */
export function prepareRunFolder(configFile: string, config: unknown, options: { out?: string; resume?: boolean }): { runDir: string; lastCheckpoint: string } {
  const runDir = path.resolve(options.out ?? path.join('runs', runId(path.basename(configFile, '.json'), new Date())));
  const lastCheckpoint = path.join(runDir, 'checkpoints', 'last.safetensors');
  if (fs.existsSync(lastCheckpoint) && !options.resume) fail('train', `${runDir} already holds a run; pass --resume to continue it, or choose another --out`);
  if (options.resume && !fs.existsSync(lastCheckpoint)) fail('train', `--resume: ${lastCheckpoint} not found, nothing to resume`);
  fs.mkdirSync(path.dirname(lastCheckpoint), { recursive: true });
  writeFileAtomic(path.join(runDir, 'config.json'), `${JSON.stringify(config, null, 2)}\n`);
  return { runDir, lastCheckpoint };
}

/** What the run ran on: enough to explain why two runs' timings differ. */
export function runEnvironment(): RunRecord['env'] {
  return {
    lathe: VERSION,
    node: process.version,
    backend: getBackend().name,
    threads: getNumThreads(),
    cpu: os.cpus()[0]?.model?.trim() ?? 'unknown',
    platform: `${process.platform}-${process.arch}`,
    cpus: os.cpus().length,
    // readers check the pid of a "running" run only on the machine that wrote it
    hostname: os.hostname(),
  };
}

export class RunWriter {
  readonly runFile: string;
  readonly metricsFile: string;
  private record: RunRecord;
  private readonly startedMs: number;

  /**
   * Starts (or, on --resume, continues) the run in `dir`: run.json says "running" with this
   * process's pid. A resumed run keeps its id and start time, and counts its resumes.
   */
  constructor(readonly dir: string, init: { id: string; name: string; hyperparameters: Flat }) {
    this.runFile = path.join(dir, 'run.json');
    this.metricsFile = path.join(dir, 'metrics.jsonl');
    const previous = readPreviousRecord(this.runFile);
    const now = new Date();
    this.record = {
      format: RUN_FORMAT,
      id: previous?.id ?? init.id,
      name: init.name,
      status: 'running',
      started: previous?.started ?? now.toISOString(),
      ended: null,
      pid: process.pid,
      hyperparameters: init.hyperparameters,
      env: runEnvironment(),
      summary: null,
      ...(previous ? { resumes: [...(Array.isArray(previous.resumes) ? previous.resumes : []), now.toISOString()] } : {}),
    };
    const started = Date.parse(this.record.started);
    this.startedMs = Number.isFinite(started) ? started : now.getTime();
    fs.mkdirSync(dir, { recursive: true });
    // A run killed mid-write left a last line without its newline: end it, so the next line starts clean.
    if (fs.existsSync(this.metricsFile)) {
      const size = fs.statSync(this.metricsFile).size;
      if (size > 0 && lastByte(this.metricsFile, size) !== 0x0a) fs.appendFileSync(this.metricsFile, '\n');
    }
    this.write();
  }

  get id(): string {
    return this.record.id;
  }

  /** Seconds since the run started (across resumes: wall-clock time since the first start). */
  elapsed(): number {
    return +((Date.now() - this.startedMs) / 1000).toFixed(3);
  }

  /** Adds fields to the hyperparameters (what is known once the model is built). */
  addHyperparameters(extra: Flat): void {
    this.record.hyperparameters = { ...this.record.hyperparameters, ...extra };
    this.write();
  }

  /** Appends one metrics.jsonl line; appendFileSync hands it to the OS in one write. */
  appendMetrics(record: Record<string, unknown>): void {
    fs.appendFileSync(this.metricsFile, `${JSON.stringify(record)}\n`);
  }

  /** Ends the run: its status, final figures and, for a failure, the reason. */
  finish(status: Exclude<RunStatus, 'running'>, summary: RunSummary | null, error?: string): void {
    this.record = { ...this.record, status, ended: new Date().toISOString(), summary: summary ?? this.record.summary, ...(error ? { error } : {}) };
    this.write();
  }

  private write(): void {
    writeFileAtomic(this.runFile, `${JSON.stringify(this.record, null, 2)}\n`);
  }
}

function readPreviousRecord(file: string): RunRecord | null {
  try {
    const r = JSON.parse(fs.readFileSync(file, 'utf8')) as RunRecord;
    return r && typeof r === 'object' && typeof r.started === 'string' ? r : null;
  } catch {
    return null;
  }
}

function lastByte(file: string, size: number): number {
  const fd = fs.openSync(file, 'r');
  try {
    const b = Buffer.alloc(1);
    fs.readSync(fd, b, 0, 1, size - 1);
    return b[0];
  } finally {
    fs.closeSync(fd);
  }
}
