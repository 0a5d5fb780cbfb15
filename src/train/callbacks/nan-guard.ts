// The NaN guard: stops training at the first non-finite loss or gradient, or at a loss that has
// exploded (diverged), before the optimizer applies that step, so the weights (and the last
// checkpoint) stay the last good ones. It names the step and a parameter, and gives the brief's
// advice. On a backend read back asynchronously (webgpu) fit hands it each step's loss only at
// the read-back, every few steps: it then names the first bad step of the interval, the updates
// up to the read-back have been applied, and the last checkpoint holds the last good weights.
import { LatheError } from '../../errors.js';
import { sum } from '../../ops/functions.js';
import type { Tensor } from '../../tensor/tensor.js';
import { Callback, type CallbackState, type StepInfo } from './callback.js';

export class NonFiniteError extends LatheError {
  override name = 'NonFiniteError';
}

export class NanGuard extends Callback {
  /** Whether to check every gradient each step too (one reduction per parameter). */
  readonly checkGradients: boolean;
  /**
   * A finite loss above this many times the first step's (times 1 when that was below 1) counts
   * as diverged; null turns this off. Divergence need not overflow: at learning rate 1e6 the
   * MLP's loss jumps from 2.3 to 1e12 in one step, then its ReLUs die and it stays finite.
   */
  readonly divergenceFactor: number | null;
  /** Set when the guard stopped training. */
  error: NonFiniteError | null = null;
  private firstLoss: number | null = null;

  constructor(options: { checkGradients?: boolean; divergenceFactor?: number | null } = {}) {
    super();
    this.checkGradients = options.checkGradients ?? true;
    this.divergenceFactor = options.divergenceFactor === undefined ? 1e6 : options.divergenceFactor;
  }

  override onTrainBegin(): void {
    this.error = null;
    this.firstLoss = null;
  }

  override onAfterBackward(info: StepInfo, _loss: Tensor): void {
    const where = `step ${info.step + 1} (epoch ${info.epoch + 1}, batch ${info.batch + 1})`;
    if (info.readBackEvery !== undefined) return this.checkReadBack(info, where);
    let bad = this.lossProblem(info.loss);
    // A parameter's own name (dense_1.kernel) is the one summary() shows; its path is the fallback.
    const named = this.model.namedParameters().map(([path, p]): [string, Tensor] => [p.name ?? path, p]);
    let badGradient = false;
    if (this.checkGradients) {
      // Walk from the output side: the first bad gradient in backward order is where it started.
      for (const [name, p] of [...named].reverse()) {
        if (p.grad && !Number.isFinite(sum(p.grad).item())) {
          bad = `${bad ? `${bad}; ` : ''}the gradient of ${name} is not finite`;
          badGradient = true;
          break;
        }
      }
    }
    if (!bad) return;
    if (!badGradient) {
      // Diverged with finite gradients: point at the largest one.
      let top: [string, number] | null = null;
      for (const [name, p] of named) {
        const m = p.grad ? p.grad.abs().max().item() : 0;
        if (!top || m > top[1]) top = [name, m];
      }
      if (top) bad += `; the largest gradient is ${top[0]}'s (max |g| ${top[1].toPrecision(3)})`;
    }
    const lr = this.model.optimizer?.lr;
    this.error = new NonFiniteError(
      `NaN guard: ${where}: ${bad}. Training stopped before this update, so the weights are the last good ones. ` +
        'This usually means exploding gradients: lower the learning rate' + (lr !== undefined ? ` (now ${lr})` : '') +
        ', clip gradients (clipNorm), or change the optimizer (Adam is the most forgiving).',
    );
    this.model.stopTraining = true;
  }

  /** What is wrong with a step's loss (non-finite, or diverged from the first step's), or null; remembers the first loss. */
  private lossProblem(loss: number): string | null {
    if (!Number.isFinite(loss)) return `the loss is ${loss}`;
    if (this.firstLoss === null) this.firstLoss = loss;
    else if (this.divergenceFactor !== null && loss > this.divergenceFactor * Math.max(1, this.firstLoss)) {
      return `the loss is ${loss.toPrecision(3)}, more than ${this.divergenceFactor} times the first step's (${this.firstLoss.toPrecision(3)}): training diverged`;
    }
    return null;
  }

  /**
   * A step read back after the fact: its loss only (the gradients are a later step's by now, and
   * GPU tensors cannot be read synchronously), reported as found at the read-back.
   */
  private checkReadBack(info: StepInfo, where: string): void {
    const bad = this.lossProblem(info.loss);
    if (!bad) return;
    const lr = this.model.optimizer?.lr;
    this.error = new NonFiniteError(
      `NaN guard: ${where}: ${bad}. Found at the read-back (losses are read every ${info.readBackEvery} steps on the ${this.model.parameters()[0]?.backend.name ?? 'GPU'} backend), ` +
        'so the updates up to it were applied: the last checkpoint holds the last good weights. ' +
        'This usually means exploding gradients: lower the learning rate' + (lr !== undefined ? ` (now ${lr})` : '') +
        ', clip gradients (clipNorm), or change the optimizer (Adam is the most forgiving).',
    );
    this.model.stopTraining = true;
  }

  override onTrainEnd(): void {
    if (this.error) throw this.error;
  }

  override stateDict(): CallbackState {
    return { firstLoss: this.firstLoss };
  }

  override loadStateDict(s: CallbackState): void {
    this.firstLoss = typeof s.firstLoss === 'number' ? s.firstLoss : null;
  }
}
