// Progress output, as Keras prints it: on a terminal a bar with step/total, ETA, loss and
// metrics, redrawn at most 10 times a second; otherwise (or with verbose 2) one line per epoch.
import { Callback, type Logs, type StepInfo } from './callback.js';

export function formatLogs(logs: Logs): string {
  return Object.entries(logs).map(([k, v]) => `${k}: ${Math.abs(v) >= 1e-3 || v === 0 ? v.toFixed(4) : v.toExponential(3)}`).join(' - ');
}

function formatSeconds(s: number): string {
  return s >= 3600 ? `${Math.floor(s / 3600)}:${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}:${String(Math.floor(s % 60)).padStart(2, '0')}` : s >= 60 ? `${Math.floor(s / 60)}:${String(Math.floor(s % 60)).padStart(2, '0')}` : `${s.toFixed(0)}s`;
}

export class ProgressLogger extends Callback {
  private epochs = 0;
  private steps = 0;
  private started = 0;
  private lastDraw = 0;
  private readonly bar: boolean;

  constructor(verbose: 1 | 2, private readonly out: NodeJS.WriteStream = process.stdout) {
    super();
    this.bar = verbose === 1 && Boolean(out.isTTY);
  }

  override onTrainBegin(info: { epochs: number; stepsPerEpoch: number }): void {
    this.epochs = info.epochs;
    this.steps = info.stepsPerEpoch;
  }

  override onEpochBegin(epoch: number): void {
    this.started = performance.now();
    this.lastDraw = 0;
    if (this.bar) this.out.write(`Epoch ${epoch + 1}/${this.epochs}\n`);
  }

  override onBatchEnd(info: StepInfo, logs: Logs): void {
    if (!this.bar) return;
    const now = performance.now();
    const done = info.batch + 1;
    if (now - this.lastDraw < 100 && done < this.steps) return;
    this.lastDraw = now;
    const elapsed = (now - this.started) / 1000;
    const width = 30;
    const filled = Math.round((width * done) / this.steps);
    const bar = '='.repeat(Math.max(0, filled - 1)) + (filled ? (done === this.steps ? '=' : '>') : '') + '.'.repeat(width - filled);
    const eta = done < this.steps ? `ETA: ${formatSeconds((elapsed / done) * (this.steps - done))}` : formatSeconds(elapsed);
    this.out.write(`\r${String(done).padStart(String(this.steps).length)}/${this.steps} [${bar}] - ${eta} - ${formatLogs(logs)}\x1b[K`);
  }

  override onEpochEnd(epoch: number, logs: Logs): void {
    const seconds = (performance.now() - this.started) / 1000;
    const perStep = ((seconds * 1e3) / Math.max(1, this.steps)).toFixed(2);
    const line = `${this.steps}/${this.steps} - ${seconds.toFixed(1)}s ${perStep}ms/step - ${formatLogs(logs)}`;
    this.out.write(this.bar ? `\r${line}\x1b[K\n` : `Epoch ${epoch + 1}/${this.epochs} - ${line}\n`);
  }
}
