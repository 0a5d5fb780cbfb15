// Optimizers by name, for configs and for Keras-style compile({optimizer: 'adam'}).
import { fail } from '../errors.js';
import { ConfigReader } from '../nn/config.js';
import { Adam, AdamW } from './adam.js';
import { readOptimizerConfig } from './config.js';
import { Optimizer, type OptimizerClass } from './optimizer.js';
import { RMSprop } from './rmsprop.js';
import { SGD } from './sgd.js';

export const OPTIMIZERS: Readonly<Record<string, OptimizerClass>> = { adam: Adam, adamw: AdamW, sgd: SGD, rmsprop: RMSprop };
export const OPTIMIZER_TYPES: readonly string[] = Object.keys(OPTIMIZERS);

function lookup(type: string, where: string): OptimizerClass {
  const key = type.toLowerCase();
  if (!Object.hasOwn(OPTIMIZERS, key)) fail(where, `unknown optimizer ${JSON.stringify(type)} (expected one of ${OPTIMIZER_TYPES.join(', ')})`);
  return OPTIMIZERS[key];
}

/** Builds an optimizer from {type, ...options}; `where` names it in errors: config.optimizer. */
export function optimizerFromConfig(config: unknown, where = 'optimizer'): Optimizer {
  const type = new ConfigReader(where, config as Record<string, unknown>).string('type');
  const cls = lookup(type, where);
  return new cls(readOptimizerConfig(cls, config, `${where} (${cls.type})`));
}

/** What compile accepts: an optimizer, a name ('adam', 'sgd', 'rmsprop', 'adamw'; any case) with defaults, or a config. */
export function getOptimizer(optimizer: Optimizer | string | Record<string, unknown>): Optimizer {
  if (optimizer instanceof Optimizer) return optimizer;
  if (typeof optimizer === 'string') return new (lookup(optimizer, 'getOptimizer'))();
  if (typeof optimizer === 'object' && optimizer !== null) return optimizerFromConfig(optimizer, 'optimizer');
  return fail('getOptimizer', `expected an Optimizer, a name (${OPTIMIZER_TYPES.join(', ')}) or a config, got ${String(optimizer)}`);
}
