// Steps whose figures wait on the device. On a backend that reads back only asynchronously
// (webgpu: Backend.downloadAsync), fit and evaluate queue each step's loss (and, for the
// metrics, its labels and predictions) as tensors, and read them all back in one transfer per
// log interval, so that training never waits for the GPU between read-backs.
import { noGrad } from '../autograd/engine.js';
import { concat, tensor as makeTensor } from '../ops/functions.js';
import { castArray } from '../tensor/dtype.js';
import type { Tensor } from '../tensor/tensor.js';

export { readsBackAsync } from '../tensor/tensor.js';

/** A step as queued: its loss and batch size, and, when metrics need them, its labels and predictions. */
interface QueuedStep<I> {
  info: I;
  loss: Tensor;
  examples: number;
  yTrue?: Tensor;
  yPred?: Tensor;
}

/** A step as read back: the loss as a number and the metrics' inputs as js tensors. */
export interface ReadStep<I> {
  info: I;
  loss: number;
  examples: number;
  yTrue?: Tensor;
  yPred?: Tensor;
}

export class DeferredSteps<I> {
  private queued: QueuedStep<I>[] = [];

  get length(): number {
    return this.queued.length;
  }

  /** Queues a step; the tensors are detached, so no graph is kept alive until the read-back. */
  push(info: I, loss: Tensor, examples: number, metricsInputs?: [Tensor, Tensor]): void {
    const step: QueuedStep<I> = { info, loss: loss.detach(), examples };
    if (metricsInputs) [step.yTrue, step.yPred] = [metricsInputs[0].detach(), metricsInputs[1].detach()];
    this.queued.push(step);
  }

  /**
   * Every queued step's figures, in order, from one read-back: the losses, labels and predictions
   * are packed into one float32 tensor on the device (labels are class indices, exact in float32).
   */
  async readBack(): Promise<ReadStep<I>[]> {
    const steps = this.queued;
    this.queued = [];
    if (steps.length === 0) return [];
    const parts: Tensor[] = [];
    for (const s of steps) {
      parts.push(s.loss.reshape([1]));
      if (s.yTrue && s.yPred) parts.push(s.yTrue.reshape([-1]), s.yPred.reshape([-1]));
    }
    const packed = noGrad(() => concat(parts.map((p) => (p.dtype === 'float32' ? p : p.cast('float32'))), 0));
    const values = await packed.data();
    packed.dispose();
    let at = 0;
    const take = (like: Tensor): Tensor => {
      const host = castArray(values.subarray(at, (at += like.size)), like.dtype);
      return makeTensor(host, { shape: [...like.shape], dtype: like.dtype, backend: 'js' });
    };
    return steps.map((s) => {
      const loss = values[at++];
      const read: ReadStep<I> = { info: s.info, loss, examples: s.examples };
      if (s.yTrue && s.yPred) [read.yTrue, read.yPred] = [take(s.yTrue), take(s.yPred)];
      return read;
    });
  }
}
