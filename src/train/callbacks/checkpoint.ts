// ModelCheckpoint writes the last epoch's checkpoint and the best one by a monitored figure;
// BackupAndRestore (Keras' name) resumes an interrupted fit() from the last checkpoint, with
// the same shuffle order and random draws as a run that was never interrupted.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readCheckpoint, restoreCheckpoint, saveCheckpoint, saveCheckpointAsync } from '../checkpoint.js';
import { readsBackAsync } from '../deferred-steps.js';
import { Callback, type CallbackState, type Logs, fromJson, toJson } from './callback.js';
import { Monitor, type MonitorOptions } from './early-stopping.js';

export class ModelCheckpoint extends Callback {
  override readonly runsLastAtEpochEnd = true;
  readonly dir: string;
  readonly monitor: Monitor;
  readonly saveBest: boolean;
  /** Facts stored in each checkpoint's state (the CLI stores the run config). */
  extra?: Record<string, unknown>;

  constructor(dir: string, options: MonitorOptions & { saveBest?: boolean; extra?: Record<string, unknown> } = {}) {
    super();
    this.dir = dir;
    this.monitor = new Monitor('ModelCheckpoint', options);
    this.saveBest = options.saveBest ?? true;
    this.extra = options.extra;
  }

  get lastFile(): string {
    return path.join(this.dir, 'last.safetensors');
  }

  get bestFile(): string {
    return path.join(this.dir, 'best.safetensors');
  }

  override onEpochEnd(_epoch: number, logs: Logs): void | Promise<void> {
    if (Object.values(logs).some((v) => !Number.isFinite(v))) return; // never replace a good checkpoint with a broken one
    const st = this.model.fitState!;
    const value = logs[this.monitor.key];
    const best = this.saveBest && value !== undefined && this.monitor.improves(value);
    const callbacks = st.callbacks.map((c) => {
      const s = c.stateDict();
      return s && { type: c.constructor.name, state: s };
    });
    const state = { epoch: st.epoch, shuffleState: st.rng.getState(), history: st.history, callbacks, extra: this.extra };
    // A GPU model's weights reach the host only asynchronously.
    if (this.model.parameters().some(readsBackAsync)) {
      return (async () => {
        await saveCheckpointAsync(this.lastFile, this.model, state);
        if (best) await saveCheckpointAsync(this.bestFile, this.model, state);
      })();
    }
    saveCheckpoint(this.lastFile, this.model, state);
    if (best) saveCheckpoint(this.bestFile, this.model, state);
  }

  override stateDict(): CallbackState {
    return { best: toJson(this.monitor.best) };
  }

  override loadStateDict(s: CallbackState): void {
    this.monitor.best = fromJson(s.best, Infinity);
  }
}

export class BackupAndRestore extends Callback {
  /** The epoch training resumed at, or null when it started fresh. */
  resumedAt: number | null = null;

  constructor(readonly file: string) {
    super();
  }

  override onTrainBegin(): void {
    if (!fs.existsSync(this.file)) return;
    const ckpt = readCheckpoint(this.file);
    restoreCheckpoint(this.model, ckpt);
    const st = this.model.fitState!;
    st.epoch = ckpt.state.epoch;
    st.history = ckpt.state.history;
    st.callbackStates = ckpt.state.callbacks;
    if (ckpt.state.shuffleState) st.rng.setState(ckpt.state.shuffleState);
    this.resumedAt = ckpt.state.epoch;
  }
}
