// Every layer type a config or saved model may name, with the function that reads its options.
import { fail } from '../../errors.js';
import { ConfigReader } from '../config.js';
import type { Layer } from '../layer.js';
import { Activation, ReLU, Softmax } from './activation.js';
import { Dense, Linear } from './dense.js';
import { Rescaling } from './rescaling.js';

export { Activation, Dense, Linear, ReLU, Rescaling, Softmax };

export const LAYER_TYPES: Record<string, (r: ConfigReader) => Layer> = {
  dense: Dense.fromConfig,
  activation: Activation.fromConfig,
  rescaling: Rescaling.fromConfig,
};

/** Builds one layer from its config; `where` names it in errors: config.model.layers[1]. */
export function layerFromConfig(config: unknown, where: string): Layer {
  const r = new ConfigReader(where, config as Record<string, unknown>);
  const type = r.string('type');
  const make = LAYER_TYPES[type];
  if (!make) fail(where, `unknown layer type ${JSON.stringify(type)} (expected one of ${Object.keys(LAYER_TYPES).join(', ')})`);
  return make(new ConfigReader(`${where} (${type})`, r.obj));
}
