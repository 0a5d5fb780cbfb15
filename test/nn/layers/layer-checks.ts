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
