// The config fields every layer shares (name, inputShape, dtype), read in one place so that
// getConfig's output always reads back: Layer.getConfig writes dtype for float64 layers.
import type { ConfigReader } from '../config.js';
import type { LayerOptions } from '../layer.js';

export const LAYER_FIELDS = ['type', 'name', 'inputShape', 'dtype'] as const;

/** Rejects fields outside LAYER_FIELDS and `own`, then reads the shared ones. */
export function readLayerOptions(r: ConfigReader, own: readonly string[]): LayerOptions {
  r.rejectUnknown([...LAYER_FIELDS, ...own]);
  return {
    name: r.has('name') ? r.string('name') : undefined,
    inputShape: r.optionalShape('inputShape'),
    dtype: r.has('dtype') ? r.oneOf('dtype', ['float32', 'float64'] as const) : undefined,
  };
}
