// The NaN guard: stops training at the first non-finite loss or gradient, before the optimizer
// applies it, so the weights (and the last checkpoint) stay the last good ones. It names the
// step and the parameter whose gradient went bad, and gives the brief's advice.
import { LatheError } from '../../errors.js';
import { sum } from '../../ops/functions.js';
import type { Tensor } from '../../tensor/tensor.js';
import { Callback, type StepInfo } from './callback.js';

export class NonFiniteError extends LatheError {
  override name = 'NonFiniteError';
}

export class NanGuard extends Callback {
  /** Whether to check every gradient each step too (one reduction per parameter). */
  readonly checkGradients: boolean;
  /** Set when the guard stopped training. */
  error: NonFiniteError | null = null;

  constructor(options: { checkGradients?: boolean } = {}) {
    super();
    this.checkGradients = options.checkGradients ?? true;
  }

  override onTrainBegin(): void {
    this.error = null;
  }

  override onAfterBackward(info: StepInfo, _loss: Tensor): void {
    const where = `step ${info.step + 1} (epoch ${info.epoch + 1}, batch ${info.batch + 1})`;
    let bad: string | null = null;
    if (!Number.isFinite(info.loss)) bad = `the loss is ${info.loss}`;
    if (this.checkGradients) {
      // Walk from the output side: the first bad gradient in backward order is where it started.
      const params = this.model.namedParameters().reverse();
      for (const [name, p] of params) {
        if (p.grad && !Number.isFinite(sum(p.grad).item())) {
          bad = `${bad ? `${bad}; ` : ''}the gradient of ${name} is not finite`;
          break;
        }
      }
    }
    if (!bad) return;
    const lr = this.model.optimizer?.lr;
    this.error = new NonFiniteError(
      `NaN guard: ${where}: ${bad}. Training stopped before this update, so the weights are the last good ones. ` +
        'This usually means exploding gradients: lower the learning rate' + (lr !== undefined ? ` (now ${lr})` : '') +
        ', clip gradients (clipNorm), or change the optimizer (Adam is the most forgiving).',
    );
    this.model.stopTraining = true;
  }

  override onTrainEnd(): void {
    if (this.error) throw this.error;
  }
}
