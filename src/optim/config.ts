// Reading an optimizer's JSON config ({type, lr, beta1, ...}) into constructor options, for
// optimizerFromConfig and loadStateDict; each check names the field.
import { fail } from '../errors.js';
import { ConfigReader } from '../nn/config.js';
import type { OptimizerClass, OptimizerOptions } from './optimizer.js';
import { scheduleFromConfig } from './schedules.js';

export const CLIPS = ['clipNorm', 'globalClipNorm', 'clipValue'] as const;
/** Options every optimizer takes, besides its own hyperparameters. */
export const COMMON: readonly string[] = ['lr', 'learningRate', ...CLIPS];

export const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && [Object.prototype, null].includes(Object.getPrototypeOf(v));

/**
 * Reads an optimizer's JSON config ({type, lr, beta1, ...}) into constructor options, naming
 * the field in errors: `config.optimizer: "beta1" must be a number in [0, 1), got 1`.
 * lr (or learningRate) is a number or a schedule config.
 */
export function readOptimizerConfig(spec: OptimizerClass, config: unknown, where: string): OptimizerOptions {
  const r = new ConfigReader(where, config as Record<string, unknown>);
  r.rejectUnknown(['type', ...COMMON, ...Object.keys(spec.fields)]);
  const out: Record<string, unknown> = {};
  const got = (k: string) => JSON.stringify(r.obj[k]);
  for (const k of ['lr', 'learningRate']) {
    const v = r.obj[k];
    if (isPlainObject(v)) out[k] = scheduleFromConfig(v, `${where}.${k}`);
    else if (v !== undefined && !(typeof v === 'number' && v >= 0 && Number.isFinite(v))) fail(where, `"${k}" must be a number >= 0 or a schedule config, got ${got(k)}`);
    else if (v !== undefined) out[k] = v;
  }
  for (const k of CLIPS) {
    const v = r.obj[k];
    if (v != null && !(typeof v === 'number' && v > 0 && Number.isFinite(v))) fail(where, `"${k}" must be a number > 0 or null, got ${got(k)}`);
    if (v != null) out[k] = v;
  }
  for (const [k, f] of Object.entries(spec.fields)) {
    if (!r.has(k)) continue;
    if (typeof f.default === 'boolean') {
      out[k] = r.bool(k, f.default);
      continue;
    }
    const v = r.obj[k];
    const [lo, hi] = [f.min ?? -Infinity, f.max ?? Infinity];
    if (typeof v !== 'number' || !(v >= lo && v < hi)) fail(where, `"${k}" must be a number in [${lo}, ${hi}), got ${got(k)}`);
    out[k] = v;
  }
  const problem = spec.crossCheck(Object.fromEntries(Object.entries(spec.fields).map(([k, f]) => [k, (out[k] ?? f.default) as number | boolean])));
  if (problem) fail(where, problem);
  return out as OptimizerOptions;
}
