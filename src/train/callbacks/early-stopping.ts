// EarlyStopping (Keras): stop when a monitored figure has not improved by minDelta for
// `patience` epochs, optionally putting back the best epoch's weights.
import { noGrad } from '../../autograd/engine.js';
import { fail } from '../../errors.js';
import type { Tensor } from '../../tensor/tensor.js';
import { Callback, type CallbackState, type Logs, fromJson, toJson } from './callback.js';

export interface MonitorOptions {
  /** The log to watch: val_loss (default), val_accuracy, loss, ... */
  monitor?: string;
  /** 'min' for losses, 'max' for accuracies; 'auto' picks from the name. */
  mode?: 'min' | 'max' | 'auto';
  minDelta?: number;
}

/** Tracks the best value of one log entry; shared by EarlyStopping, ModelCheckpoint and ReduceLROnPlateau. */
export class Monitor {
  readonly key: string;
  readonly sign: 1 | -1;
  readonly minDelta: number;
  best = Infinity;

  constructor(where: string, o: MonitorOptions) {
    this.key = o.monitor ?? 'val_loss';
    const mode = o.mode ?? 'auto';
    if (!['min', 'max', 'auto'].includes(mode)) fail(where, `mode must be "min", "max" or "auto", got ${JSON.stringify(mode)}`);
    const max = mode === 'max' || (mode === 'auto' && /acc|auc|precision|recall|f1/.test(this.key));
    this.sign = max ? -1 : 1;
    this.minDelta = Math.abs(o.minDelta ?? 0);
  }

  /** The monitored value in `logs`; a missing key is an error naming what is there. */
  read(where: string, logs: Logs): number {
    const v = logs[this.key];
    if (v === undefined) fail(where, `monitor "${this.key}" is not among the logs (${Object.keys(logs).join(', ')}); give fit() validationData for val_ figures`);
    return v;
  }

  /** Whether `v` beats the best so far (then it becomes the best). */
  improves(v: number): boolean {
    if (!Number.isFinite(v)) return false;
    if (this.sign * v < this.best - this.minDelta) {
      this.best = this.sign * v;
      return true;
    }
    return false;
  }
}

export class EarlyStopping extends Callback {
  readonly monitor: Monitor;
  readonly patience: number;
  readonly restoreBestWeights: boolean;
  private wait = 0;
  /** Parameters and buffers (BatchNorm's statistics) at the best epoch. */
  private bestWeights: Record<string, Tensor> | null = null;
  /** The epoch at which training stopped, or -1. */
  stoppedEpoch = -1;

  constructor(options: MonitorOptions & { patience?: number; restoreBestWeights?: boolean } = {}) {
    super();
    this.monitor = new Monitor('EarlyStopping', options);
    this.patience = options.patience ?? 0;
    if (!Number.isInteger(this.patience) || this.patience < 0) fail('EarlyStopping', `patience must be a non-negative integer, got ${options.patience}`);
    this.restoreBestWeights = options.restoreBestWeights ?? false;
  }

  override onTrainBegin(): void {
    this.wait = 0;
    this.monitor.best = Infinity;
    this.stoppedEpoch = -1;
    this.bestWeights = null;
  }

  override onEpochEnd(epoch: number, logs: Logs): void {
    if (this.monitor.improves(this.monitor.read('EarlyStopping', logs))) {
      this.wait = 0;
      if (this.restoreBestWeights) this.bestWeights = noGrad(() => Object.fromEntries(Object.entries(this.model.stateDict()).map(([k, t]) => [k, t.detach().clone()])));
      return;
    }
    // Keras: patience 2 stops at the end of the second epoch in a row without improvement.
    if (++this.wait >= this.patience) {
      this.stoppedEpoch = epoch;
      this.model.stopTraining = true;
      if (this.bestWeights) this.model.loadStateDict(this.bestWeights);
    }
  }

  // The best weights are not saved: after a resume, restoreBestWeights only sees epochs since.
  override stateDict(): CallbackState {
    return { wait: this.wait, best: toJson(this.monitor.best) };
  }

  override loadStateDict(s: CallbackState): void {
    this.wait = fromJson(s.wait, 0);
    this.monitor.best = fromJson(s.best, Infinity);
  }
}
