// ReduceLROnPlateau (Keras): multiply the learning rate by `factor` when the monitored figure
// has not improved for `patience` epochs, waiting `cooldown` epochs after each cut.
import { fail } from '../../errors.js';
import { Callback, type CallbackState, type Logs, fromJson, toJson } from './callback.js';
import { Monitor, type MonitorOptions } from './early-stopping.js';

export class ReduceLROnPlateau extends Callback {
  readonly monitor: Monitor;
  readonly factor: number;
  readonly patience: number;
  readonly cooldown: number;
  readonly minLr: number;
  private wait = 0;
  private cooling = 0;

  constructor(options: MonitorOptions & { factor?: number; patience?: number; cooldown?: number; minLr?: number } = {}) {
    super();
    this.monitor = new Monitor('ReduceLROnPlateau', options);
    this.factor = options.factor ?? 0.1;
    this.patience = options.patience ?? 10;
    this.cooldown = options.cooldown ?? 0;
    this.minLr = options.minLr ?? 0;
    if (!(this.factor > 0 && this.factor < 1)) fail('ReduceLROnPlateau', `factor must be in (0, 1), got ${this.factor}`);
  }

  override onTrainBegin(): void {
    this.wait = 0;
    this.cooling = 0;
    this.monitor.best = Infinity;
  }

  override onEpochEnd(_epoch: number, logs: Logs): void {
    const opt = this.model.optimizer!;
    logs.lr = opt.lr;
    if (this.cooling > 0) this.cooling--;
    if (this.monitor.improves(this.monitor.read('ReduceLROnPlateau', logs))) {
      this.wait = 0;
      return;
    }
    if (this.cooling === 0 && ++this.wait >= this.patience) {
      opt.lr = Math.max(this.minLr, opt.lr * this.factor);
      this.cooling = this.cooldown;
      this.wait = 0;
    }
  }

  override stateDict(): CallbackState {
    return { wait: this.wait, cooling: this.cooling, best: toJson(this.monitor.best) };
  }

  override loadStateDict(s: CallbackState): void {
    this.wait = fromJson(s.wait, 0);
    this.cooling = fromJson(s.cooling, 0);
    this.monitor.best = fromJson(s.best, Infinity);
  }
}
