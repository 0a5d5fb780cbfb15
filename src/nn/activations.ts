// Activation functions by name, for layers' `activation` option and the Activation layer.
import { FUSED_ACTIVATIONS, type FusedActivation } from '../backends/backend.js';
import { fail } from '../errors.js';
import * as F from '../ops/functions.js';
import type { Tensor } from '../tensor/tensor.js';
import { rememberLogits } from './logits.js';

export const ACTIVATIONS: Record<string, (x: Tensor) => Tensor> = {
  linear: (x) => x,
  relu: F.relu,
  sigmoid: (x) => rememberLogits(F.sigmoid(x), x, 'sigmoid'),
  tanh: F.tanh,
  softmax: (x) => rememberLogits(F.softmax(x, -1), x, 'softmax'),
  logSoftmax: (x) => F.logSoftmax(x, -1),
  gelu: (x) => F.gelu(x),
  elu: (x) => F.elu(x),
  leakyRelu: (x) => F.leakyRelu(x, 0.2), // Keras' LeakyReLU default slope
  softplus: F.softplus,
  silu: (x) => F.mul(x, F.sigmoid(x)),
  swish: (x) => F.mul(x, F.sigmoid(x)),
};

export const ACTIVATION_NAMES = Object.keys(ACTIVATIONS);

/** Canonical name for an activation; Keras' snake_case spellings are accepted too. */
export function activationName(name: unknown, where = 'activation'): string {
  const camel = typeof name === 'string' ? name.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase()) : '';
  if (!Object.hasOwn(ACTIVATIONS, camel)) fail(where, `unknown activation ${JSON.stringify(name)} (expected one of ${ACTIVATION_NAMES.join(', ')})`);
  return camel;
}

/**
 * The activation a layer's kernel applies itself (linear, relu, tanh), or null where it runs as
 * an op of its own: sigmoid, so that an output layer remembers its logits for the loss
 * (src/nn/logits.ts), and the activations no kernel has.
 */
export function kernelActivation(name: string): FusedActivation | null {
  return name !== 'sigmoid' && (FUSED_ACTIVATIONS as readonly string[]).includes(name) ? (name as FusedActivation) : null;
}
