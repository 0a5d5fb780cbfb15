// Loggers: one record per epoch as JSON lines (for tools and the dashboard) or CSV (Keras'
// CSVLogger), appended and flushed as each epoch ends; and StepLogger, the loss every few batches.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Callback, type Logs, type StepInfo } from './callback.js';

export class JsonLinesLogger extends Callback {
  override readonly runsLastAtEpochEnd = true;
  private started = 0;

  /** `out` is a file path, or a function given each record (the CLI prints to stdout). */
  constructor(readonly out: string | ((record: Record<string, unknown>) => void)) {
    super();
    if (typeof out === 'string') fs.mkdirSync(path.dirname(out), { recursive: true });
  }

  override onEpochBegin(): void {
    this.started = performance.now();
  }

  override onEpochEnd(epoch: number, logs: Logs): void {
    const record = { epoch: epoch + 1, seconds: +((performance.now() - this.started) / 1000).toFixed(4), ...logs };
    if (typeof this.out === 'string') fs.appendFileSync(this.out, `${JSON.stringify(record)}\n`);
    else this.out(record);
  }
}

export class CsvLogger extends Callback {
  override readonly runsLastAtEpochEnd = true;
  private columns: string[] | null = null;

  constructor(readonly file: string, readonly options: { append?: boolean } = {}) {
    super();
  }

  override onTrainBegin(): void {
    fs.mkdirSync(path.dirname(this.file), { recursive: true });
    if (!this.options.append) fs.rmSync(this.file, { force: true });
    this.columns = null;
  }

  override onEpochEnd(epoch: number, logs: Logs): void {
    if (!this.columns) {
      this.columns = ['epoch', ...Object.keys(logs)];
      if (!fs.existsSync(this.file) || fs.statSync(this.file).size === 0) fs.appendFileSync(this.file, `${this.columns.join(',')}\n`);
    }
    const row = { epoch, ...logs } as Record<string, number>;
    fs.appendFileSync(this.file, `${this.columns.map((c) => row[c] ?? '').join(',')}\n`);
  }
}

/**
 * The training loss every `every` batches, for loss curves finer than an epoch: the mean of the
 * batch losses since the last record, keyed by the global step (from 1), so that a resumed run's
 * points fall where an uninterrupted run's would. By default about 50 records an epoch.
 */
export class StepLogger extends Callback {
  /** Batches per record, once training began. */
  every = 1;
  private sum = 0;
  private count = 0;
  private began = 0;

  /**
   * `out` is given each record; `every` fixes the interval; `time` gives the record's time in
   * seconds (by default, since training began).
   */
  constructor(readonly out: (record: { kind: 'step'; step: number; epoch: number; loss: number; time: number }) => void, readonly options: { every?: number; time?: () => number } = {}) {
    super();
  }

  /** About `perEpoch` records an epoch of `stepsPerEpoch` batches (10 batches when the length is unknown). */
  static defaultEvery(stepsPerEpoch: number, perEpoch = 50): number {
    return stepsPerEpoch > 0 ? Math.max(1, Math.round(stepsPerEpoch / perEpoch)) : 10;
  }

  override onTrainBegin(info: { stepsPerEpoch: number }): void {
    this.every = this.options.every ?? StepLogger.defaultEvery(info.stepsPerEpoch);
    this.sum = 0;
    this.count = 0;
    this.began = performance.now();
  }

  override onBatchEnd(info: StepInfo): void {
    this.sum += info.loss;
    this.count++;
    const step = info.step + 1;
    if (step % this.every !== 0) return;
    const time = this.options.time ? this.options.time() : +((performance.now() - this.began) / 1000).toFixed(3);
    this.out({ kind: 'step', step, epoch: info.epoch + 1, loss: this.sum / this.count, time });
    this.sum = 0;
    this.count = 0;
  }
}
