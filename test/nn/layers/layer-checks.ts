// Checks every layer test uses: finite-difference gradients with respect to the input and the
// layer's own weights, and the getConfig -> layerFromConfig round trip.
import assert from 'node:assert/strict';
import * as lt from '../../../src/index.js';
import { layerFromConfig } from '../../../src/nn/layers/index.js';
import type { Layer } from '../../../src/nn/layer.js';
import { type GradcheckOptions, gradcheck } from '../../helpers.js';

/**
 * gradcheck of layer.forward in x and in the weight fields named (float64 layers): each probe
 * swaps the perturbed weights into the fields, which are restored afterwards.
 */
export function gradcheckLayer(layer: Layer, x: lt.Tensor, fields: string[], options: GradcheckOptions = {}): void {
  const slots = layer as unknown as Record<string, lt.Tensor>;
  const saved = fields.map((f) => {
    assert.ok(slots[f] instanceof lt.Tensor, `${layer.name} has no weight ${f}`);
    return slots[f];
  });
  try {
    const f = (input: lt.Tensor, ...weights: lt.Tensor[]) => {
      fields.forEach((name, i) => (slots[name] = weights[i]));
      return layer.forward(input);
    };
    gradcheck(f, [x, ...saved.map((w) => w.detach())], options);
  } finally {
    fields.forEach((name, i) => (slots[name] = saved[i]));
  }
}

/** The layer rebuilt from its JSON config; the copy must report the same config. */
export function roundTrip<T extends Layer>(layer: T): T {
  const config = JSON.parse(JSON.stringify(layer.getConfig()));
  const copy = layerFromConfig(config, 'test');
  assert.equal(copy.type, layer.type);
  assert.deepEqual(copy.getConfig(), layer.getConfig());
  return copy as T;
}

export const values = (t: lt.Tensor) => Array.from(t.dataSync());

/** act(z) for z = [[4, 0.5], [-1, -0.5]], from Python's math module (erf, expm1, log1p) in float64; Dense and Activation both check against it. */
export const ACTIVATION_VALUES: Record<string, number[][]> = {
  linear: [[4, 0.5], [-1, -0.5]],
  relu: [[4, 0.5], [0, 0]],
  sigmoid: [[0.9820137900379085, 0.6224593312018546], [0.2689414213699951, 0.3775406687981454]],
  tanh: [[0.999329299739067, 0.46211715726000974], [-0.7615941559557649, -0.46211715726000974]],
  softmax: [[0.9706877692486436, 0.029312230751356316], [0.37754066879814546, 0.6224593312018546]],
  logSoftmax: [[-0.029750418272620607, -3.5297504182726205], [-0.9740769841801066, -0.47407698418010663]],
  gelu: [[3.9998733150326675, 0.34573123063700656], [-0.15865525393145707, -0.15426876936299344]],
  elu: [[4, 0.5], [-0.6321205588285577, -0.3934693402873666]],
  leakyRelu: [[4, 0.5], [-0.2, -0.1]],
  softplus: [[4.0181499279178094, 0.9740769841801067], [0.31326168751822286, 0.4740769841801067]],
  silu: [[3.928055160151634, 0.3112296656009273], [-0.2689414213699951, -0.1887703343990727]],
  swish: [[3.928055160151634, 0.3112296656009273], [-0.2689414213699951, -0.1887703343990727]],
};
