// Keras' callback hooks. fit() calls them in order; a callback stops training by setting
// model.stopTraining. `logs` hold the epoch's figures: loss, accuracy, val_loss, val_accuracy, ...
import type { Tensor } from '../../tensor/tensor.js';
import type { Model } from '../model.js';

export type Logs = Record<string, number>;

/** A callback's own counters and best values, as JSON (null stands for an infinite best). */
export type CallbackState = Record<string, number | null>;

export interface StepInfo {
  epoch: number;
  batch: number;
  /** Steps since training first began (across resumes). */
  step: number;
  loss: number;
  /**
   * Set when the step ran on a backend read back asynchronously (webgpu): fit queues steps and
   * reads their losses back every `readBackEvery` steps, and only then runs onAfterBackward and
   * onBatchEnd for each, in order. By then this step's update (and the interval's later ones)
   * has been applied, and parameters' .grad hold the latest step's gradients, not this one's.
   */
  readBackEvery?: number;
}

export abstract class Callback {
  model!: Model;
  /**
   * Checkpoints and loggers: fit() runs their onEpochEnd after the other callbacks' (in list
   * order among themselves), so that they save and report the state those leave (a cut rate).
   */
  readonly runsLastAtEpochEnd: boolean = false;

  setModel(model: Model): void {
    this.model = model;
  }

  onTrainBegin(_info: { epochs: number; stepsPerEpoch: number; initialEpoch: number }): void {}
  onEpochBegin(_epoch: number): void {}
  /** After backward and before the optimizer step: the place to inspect gradients. */
  onAfterBackward(_info: StepInfo, _loss: Tensor): void {}
  onBatchEnd(_info: StepInfo, _logs: Logs): void {}
  onEpochEnd(_epoch: number, _logs: Logs): void | Promise<void> {}
  onTrainEnd(_logs: Logs): void {}

  /** State a resumed run needs to act as an uninterrupted one (a plateau count, the best value); checkpoints save it. */
  stateDict(): CallbackState | null {
    return null;
  }

  /** Puts back a stateDict(); fit() calls it after onTrainBegin when resuming. */
  loadStateDict(_state: CallbackState): void {}
}

/** An Infinity best as null, for JSON. */
export const toJson = (v: number): number | null => (Number.isFinite(v) ? v : null);
export const fromJson = (v: unknown, fallback: number): number => (typeof v === 'number' ? v : fallback);
