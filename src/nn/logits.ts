// Keras' trick for stable cross-entropy: a softmax or sigmoid output remembers the logits it
// came from, and a loss given the probabilities uses the logits instead, fused and exact.
import type { Tensor } from '../tensor/tensor.js';

const origin = new WeakMap<Tensor, { logits: Tensor; activation: 'softmax' | 'sigmoid' }>();

export function rememberLogits(output: Tensor, logits: Tensor, activation: 'softmax' | 'sigmoid'): Tensor {
  origin.set(output, { logits, activation });
  return output;
}

/** The logits `output` was computed from by `activation`, if it was. */
export function logitsOf(output: Tensor, activation: 'softmax' | 'sigmoid'): Tensor | undefined {
  const o = origin.get(output);
  return o && o.activation === activation ? o.logits : undefined;
}
