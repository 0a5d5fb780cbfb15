// Keras' callback hooks. fit() calls them in order; a callback stops training by setting
// model.stopTraining. `logs` hold the epoch's figures: loss, accuracy, val_loss, val_accuracy, ...
import type { Tensor } from '../../tensor/tensor.js';
import type { Model } from '../model.js';

export type Logs = Record<string, number>;

export interface StepInfo {
  epoch: number;
  batch: number;
  /** Steps since training first began (across resumes). */
  step: number;
  loss: number;
}

export abstract class Callback {
  model!: Model;

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
}
