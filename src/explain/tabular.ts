// Attributions of a tabular model, moved from the model's features back to the CSV columns the
// user gave. The fitted preprocessing is per-column affine for numeric columns, so:
//  - integrated gradients are unchanged by it: along the straight path, (raw - raw_b) * df/draw
//    equals (feat - feat_b) * df/dfeat, so a column's IG is its feature's IG (with the baseline
//    at feature 0: the training mean for standardised columns, the minimum for min-max ones);
//  - a gradient (saliency) is multiplied by d feat / d raw: 1/std, 1/(max - min), or 1.
// A one-hot column's features are summed into the column (with a zero baseline, only the active
// category's feature is non-zero for IG). An ordinal column is explained through its code.
import { fail, fmtShape } from '../errors.js';
import type { ColumnJson, TabularPreprocessor } from '../data/tabular/index.js';
import type { Tensor } from '../tensor/tensor.js';

export interface ColumnAttribution {
  column: string;
  /** The raw value given for this column (null when the record left it out). */
  value: unknown;
  attribution: number;
}

/** d feature / d raw for a numeric column (the scaling's slope). */
function slope(c: ColumnJson): number {
  if (c.type !== 'numeric') return 1;
  if (c.scaling === 'standardize') return 1 / (c.std || 1);
  if (c.scaling === 'minmax') return 1 / (c.max - c.min || 1);
  return 1;
}

/**
 * Feature attributions [n, features] summed back to the preprocessor's input columns: [n][columns].
 * `kind` 'gradient' (saliency) applies the chain rule through the scaling; 'attribution' (IG,
 * or any completeness-preserving method) sums as is.
 */
export function columnAttributions(preprocessor: TabularPreprocessor, attributions: Tensor, kind: 'gradient' | 'attribution'): Float64Array[] {
  const columns = preprocessor.toJSON().columns;
  const width = preprocessor.features.length;
  if (attributions.rank !== 2 || attributions.shape[1] !== width) {
    fail('columnAttributions', `expected attributions [n,${width}] for the preprocessor's ${width} features, got ${fmtShape(attributions.shape)}`);
  }
  const a = attributions.dataSync() as ArrayLike<number>;
  const out: Float64Array[] = [];
  for (let i = 0; i < attributions.shape[0]; i++) {
    const row = new Float64Array(columns.length);
    let f = i * width;
    columns.forEach((c, k) => {
      const span = c.type === 'categorical' && c.encoding === 'onehot' ? c.vocabulary.length : 1;
      const scale = kind === 'gradient' ? slope(c) : 1;
      for (let j = 0; j < span; j++) row[k] += a[f++] * scale;
    });
    out.push(row);
  }
  return out;
}

/** The raw value of each input column in a record ({column: value} or values in column order). */
export function rawValues(preprocessor: TabularPreprocessor, record: unknown): unknown[] {
  const names = preprocessor.inputColumns;
  if (Array.isArray(record)) return names.map((_, k) => record[k] ?? null);
  return names.map((name) => (record as Record<string, unknown>)?.[name] ?? null);
}

/** The columns ranked by |attribution|, largest first (ties keep column order). */
export function rankColumns(preprocessor: TabularPreprocessor, record: unknown, attributions: Float64Array): ColumnAttribution[] {
  const values = rawValues(preprocessor, record);
  return preprocessor.inputColumns
    .map((column, k) => ({ column, value: values[k], attribution: attributions[k] }))
    .sort((p, q) => Math.abs(q.attribution) - Math.abs(p.attribution));
}
