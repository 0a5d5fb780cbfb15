// Keras' trick for stable cross-entropy: a softmax or sigmoid output remembers the logits it
// came from, and a loss given the probabilities uses the logits instead, fused and exact.
import type { Tensor } from '../tensor/tensor.js';
import { inInferenceScope } from './module.js';

const origin = new WeakMap<Tensor, { logits: Tensor; activation: 'softmax' | 'sigmoid' }>();

export function rememberLogits(output: Tensor, logits: Tensor, activation: 'softmax' | 'sigmoid'): Tensor {
  // predict()'s outputs go to the caller, not to a loss: no entry (a WeakMap set per call, and
  // the collector's work on the entries, were an eighth of a small model's predict).
  if (!inInferenceScope()) origin.set(output, { logits, activation });
  return output;
}

/** The logits `output` was computed from by `activation`, if it was. */
export function logitsOf(output: Tensor, activation: 'softmax' | 'sigmoid'): Tensor | undefined {
  const o = origin.get(output);
  return o && o.activation === activation ? o.logits : undefined;
}
