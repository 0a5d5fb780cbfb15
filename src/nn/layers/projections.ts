// The Dense sub-layers of composite layers (attention's qkv and output projections, a
// transformer block's MLP) that post-training quantization may replace with QuantizedDense.
// A composite saves each replaced one's config under `quantized` (path -> config), so a load
// rebuilds it as saved; plain Dense sub-layers stay implicit in the composite's own options.
import { fail } from '../../errors.js';
import { ConfigReader, type Json } from '../config.js';
import { Dense } from './dense.js';
import { QuantizedDense } from './quantized.js';

/** A Dense sub-layer, or the QuantizedDense that quantization put in its place. */
export type Projection = Dense | QuantizedDense;

export interface WithProjections {
  /** Every projection by dotted path ('qkv', 'attn.proj'), in forward order. */
  projections(): [string, Projection][];
  setProjection(path: string, layer: Projection): void;
}

export function hasProjections<T extends object>(l: T): l is T & WithProjections {
  return typeof (l as Partial<WithProjections>).projections === 'function';
}

const inputsOf = (p: Projection) => (p instanceof Dense ? p.kernel.shape[0] : p.inputFeatures);

/** `layer` in place of `current`, after checking that it maps the same features to the same units. */
export function checkedProjection(where: string, path: string, current: Projection, layer: Projection): Projection {
  if (!(layer instanceof Dense) && !(layer instanceof QuantizedDense)) fail(where, `${path} must be a Dense or QuantizedDense layer`);
  if (layer.units !== current.units || inputsOf(layer) !== inputsOf(current)) {
    fail(where, `${path} maps ${inputsOf(current)} features to ${current.units}; the replacement maps ${inputsOf(layer)} to ${layer.units}`);
  }
  return layer;
}

/** The `quantized` config entry: the projections that are not plain Dense. */
export function quantizedConfigs(l: WithProjections): { quantized?: Record<string, Json> } {
  const out: Record<string, Json> = {};
  for (const [path, p] of l.projections()) if (!(p instanceof Dense)) out[path] = p.getConfig();
  return Object.keys(out).length > 0 ? { quantized: out } : {};
}

/** Puts back the quantized projections that a config's `quantized` entry lists. */
export function restoreQuantized(l: WithProjections, r: ConfigReader): void {
  if (!r.has('quantized')) return;
  const entries = r.obj.quantized;
  if (typeof entries !== 'object' || entries === null || Array.isArray(entries)) fail(r.where, '"quantized" must map sub-layer paths to QuantizedDense configs');
  const paths = l.projections().map(([p]) => p);
  for (const [path, config] of Object.entries(entries)) {
    if (!paths.includes(path)) fail(r.where, `quantized: no sub-layer "${path}" (expected one of ${paths.join(', ')})`);
    const sub = new ConfigReader(`${r.where}.quantized.${path}`, config as Record<string, unknown>);
    const type = sub.string('type');
    if (type !== 'quantizeddense') fail(sub.where, `expected type "quantizeddense", got ${JSON.stringify(type)}`);
    l.setProjection(path, QuantizedDense.fromConfig(sub));
  }
}
