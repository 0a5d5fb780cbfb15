// Loggers that write one record per epoch: JSON lines (for tools and the dashboard) or CSV
// (Keras' CSVLogger). Each line is appended and flushed as its epoch ends.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Callback, type Logs } from './callback.js';

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
