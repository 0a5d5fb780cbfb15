// The fitted preprocessing of tabular data, saved with a model so that serving applies exactly
// the transform training used: missing-value fills, standardisation or min-max scaling,
// one-hot or ordinal encoding, and the class names of the label. Every statistic comes from
// the rows given to fit(), which must be the training split only.
import { fail } from '../../errors.js';
import { ConfigReader } from '../../nn/config.js';
import {
  type ColumnType, type MissingOptions, type PerColumn, type TabularRows, columnIndices, columnTypes, isMissingText,
  missingMarkers, missingRule, parseNumber, perColumn, policyOf, rowName, sortNames,
} from './columns.js';

/** 'standardize': (x - mean) / std, as Keras' Normalization (population std; a zero std divides by 1). 'minmax': (x - min) / (max - min), not clipped. */
export type Scaling = 'standardize' | 'minmax' | 'none';
/** 'onehot': one 0/1 feature per category, all zero for an unknown one. 'ordinal': 1..n in vocabulary order, 0 reserved for unknown (Keras' StringLookup). */
export type Encoding = 'onehot' | 'ordinal';
export const SCALINGS: readonly Scaling[] = ['standardize', 'minmax', 'none'];
export const ENCODINGS: readonly Encoding[] = ['onehot', 'ordinal'];

export interface TabularSpec {
  /** The input columns, in the order the output features follow (and array records use). */
  features: readonly string[];
  /** The label column, for classification. */
  label?: string;
  /** Declared types; the others are inferred from the fit rows. */
  columnTypes?: Record<string, ColumnType>;
  missing?: MissingOptions;
  scaling?: PerColumn<Scaling>;
  encoding?: PerColumn<Encoding>;
  /** The classes in index order; by default the fit rows' labels, sorted (sortNames). */
  classNames?: readonly string[];
}

export type MissingJson = { policy: 'error' | 'drop' } | { policy: 'mean' | 'mode' | 'constant'; fill: number | string };
export type ColumnJson =
  | { name: string; type: 'numeric'; missing: MissingJson; scaling: 'standardize'; mean: number; std: number }
  | { name: string; type: 'numeric'; missing: MissingJson; scaling: 'minmax'; min: number; max: number }
  | { name: string; type: 'numeric'; missing: MissingJson; scaling: 'none' }
  | { name: string; type: 'categorical'; missing: MissingJson; encoding: Encoding; vocabulary: string[] };

/** The saved form (model.json's "preprocessing"): plain JSON, no code. */
export interface TabularPreprocessorJson {
  type: 'tabular';
  version: 1;
  missingMarkers: string[];
  columns: ColumnJson[];
  label: { name: string; classNames: string[] } | null;
}

/** A raw serving record: {column: value}, or the values in feature column order; CSV-shaped strings or numbers. */
export type RawRecord = Record<string, unknown> | readonly unknown[];

export interface TransformResult {
  /** Row-major float32 [n, features.length]. */
  x: Float32Array;
  n: number;
  features: string[];
}

export class TabularPreprocessor {
  private columns: ColumnJson[] = [];
  private markers = new Set<string>();
  private label: { name: string; classNames: string[] } | null = null;
  private lookups: (Map<string, number> | null)[] = []; // category -> vocabulary index, per column
  private classIndex = new Map<string, number>();
  private width = 0;

  /** Learns every statistic from `rows` (the training split only). Returns this. */
  fit(rows: TabularRows, spec: TabularSpec): this {
    if (rows.rows.length === 0) fail('TabularPreprocessor.fit', 'no rows to fit on');
    const markers = missingMarkers(spec.missing);
    const types = columnTypes(rows, spec.features, markers, spec.columnTypes);
    const index = columnIndices(rows, spec.features);
    const columns = spec.features.map((name, c) => fitColumn(rows, index[c], name, types[name], markers, spec));
    let label: { name: string; classNames: string[] } | null = null;
    if (spec.label !== undefined) {
      const [k] = columnIndices(rows, [spec.label], 'label column');
      const seen = rows.rows.map((r) => r[k].trim()).filter((v) => !markers.has(v));
      label = { name: spec.label, classNames: spec.classNames ? stringList('TabularSpec', 'classNames', spec.classNames, true) : sortNames(seen) };
    }
    return this.load({ type: 'tabular', version: 1, missingMarkers: [...markers], columns, label });
  }

  get inputColumns(): string[] {
    return this.columns.map((c) => c.name);
  }

  /** The output feature names: a numeric or ordinal column's name, or "column=category" per one-hot feature. */
  get features(): string[] {
    return this.columns.flatMap((c) => (c.type === 'categorical' && c.encoding === 'onehot' ? c.vocabulary.map((v) => `${c.name}=${v}`) : [c.name]));
  }

  get classNames(): string[] {
    return this.label ? [...this.label.classNames] : [];
  }

  get labelColumn(): string | null {
    return this.label?.name ?? null;
  }

  /** Rows with a header that includes every input column (CSV rows, in any column order). */
  transform(rows: TabularRows): TransformResult {
    this.checkFitted();
    const index = columnIndices(rows, this.inputColumns);
    return this.encode(rows.rows.length, (i, c) => rows.rows[i][index[c]], (i, c) => ['csv', `${rowName(rows, i)}, column ${JSON.stringify(this.columns[c].name)}`]);
  }

  /** Raw records for serving; errors name records[i] and the column. */
  transformRecords(records: readonly RawRecord[]): TransformResult {
    this.checkFitted();
    if (!Array.isArray(records)) fail('transformRecords', `expected an array of records, got ${JSON.stringify(records)}`);
    const names = this.inputColumns;
    records.forEach((r, i) => {
      if (Array.isArray(r)) {
        if (r.length !== names.length) fail('transformRecords', `records[${i}]: expected ${names.length} values in the order ${names.join(', ')}, got ${r.length}`);
      } else if (r === null || typeof r !== 'object') {
        fail('transformRecords', `records[${i}]: expected an object {column: value} or an array of values, got ${JSON.stringify(r)}`);
      }
    });
    return this.encode(
      records.length,
      (i, c) => (Array.isArray(records[i]) ? (records[i] as unknown[])[c] : (records[i] as Record<string, unknown>)[names[c]]),
      (i, c) => ['transformRecords', `records[${i}], column ${JSON.stringify(names[c])}`],
    );
  }

  /** Class indices of the label column; an unknown or missing label fails naming its row. */
  encodeLabels(rows: TabularRows): Int32Array {
    this.checkFitted();
    if (!this.label) fail('TabularPreprocessor.encodeLabels', 'this preprocessor was fitted without a label column');
    const [k] = columnIndices(rows, [this.label.name], 'label column');
    const out = new Int32Array(rows.rows.length);
    const where = (i: number) => `${rowName(rows, i)}, column ${JSON.stringify(this.label!.name)}`;
    rows.rows.forEach((r, i) => {
      const v = r[k].trim();
      const y = this.classIndex.get(v);
      if (y !== undefined) out[i] = y;
      else if (this.markers.has(v)) fail('csv', `${where(i)}: the label is missing (${JSON.stringify(r[k])})`);
      else fail('csv', `${where(i)}: ${JSON.stringify(v)} is not one of the classes (${this.label!.classNames.join(', ')})`);
    });
    return out;
  }

  /** Class names for predicted indices. */
  decodeLabels(indices: ArrayLike<number>): string[] {
    const names = this.classNames;
    return Array.from(indices, (y, i) => names[y] ?? fail('decodeLabels', `index ${i}: class ${y} is not in [0, ${names.length})`));
  }

  toJSON(): TabularPreprocessorJson {
    this.checkFitted();
    return JSON.parse(JSON.stringify({ type: 'tabular', version: 1, missingMarkers: [...this.markers], columns: this.columns, label: this.label }));
  }

  /** Reads the saved form, checking every field; errors name the field ("preprocessing.columns[2].std"). */
  static fromJSON(json: unknown, where = 'preprocessing'): TabularPreprocessor {
    return new TabularPreprocessor().load(readJson(json, where));
  }

  private load(json: TabularPreprocessorJson): this {
    this.columns = json.columns;
    this.markers = new Set(json.missingMarkers);
    this.label = json.label;
    this.lookups = json.columns.map((c) => (c.type === 'categorical' ? new Map(c.vocabulary.map((v, k) => [v, k])) : null));
    this.classIndex = new Map((json.label?.classNames ?? []).map((v, k) => [v, k]));
    this.width = this.features.length;
    return this;
  }

  private checkFitted(): void {
    if (this.columns.length === 0) fail('TabularPreprocessor', 'not fitted: call fit(rows, spec) or fromJSON(json) first');
  }

  /** The one encoding loop shared by CSV rows and serving records, so the two cannot drift apart. */
  private encode(n: number, get: (i: number, c: number) => unknown, where: (i: number, c: number) => [string, string]): TransformResult {
    const x = new Float32Array(n * this.width);
    const bad = (i: number, c: number, msg: string): never => {
      const [w, at] = where(i, c);
      return fail(w, `${at}: ${msg}`);
    };
    for (let i = 0; i < n; i++) {
      let o = i * this.width;
      for (let c = 0; c < this.columns.length; c++) {
        const col = this.columns[c];
        let v = get(i, c);
        if (v !== null && v !== undefined && typeof v !== 'string' && typeof v !== 'number') bad(i, c, `expected a number or a string, got ${JSON.stringify(v)}`);
        if (v === null || v === undefined || (typeof v === 'number' && Number.isNaN(v)) || (typeof v === 'string' && isMissingText(v, this.markers))) {
          const m = col.missing;
          const shown = JSON.stringify(v ?? null);
          if ('fill' in m) v = m.fill;
          else if (m.policy === 'error') bad(i, c, `missing value (${shown}), and the column's missing-value policy is "error"`);
          else bad(i, c, `missing value (${shown}): the column's policy is "drop", so such rows must be dropped before transform`);
        }
        if (col.type === 'numeric') {
          const num = typeof v === 'number' ? v : parseNumber(v as string);
          if (!Number.isFinite(num)) bad(i, c, `${JSON.stringify(v)} is not a number`);
          x[o++] = col.scaling === 'standardize' ? (num - col.mean) / (col.std || 1) : col.scaling === 'minmax' ? (num - col.min) / (col.max - col.min || 1) : num;
        } else {
          const k = this.lookups[c]!.get(typeof v === 'number' ? String(v) : (v as string).trim());
          if (col.encoding === 'onehot') {
            if (k !== undefined) x[o + k] = 1;
            o += col.vocabulary.length;
          } else {
            x[o++] = k === undefined ? 0 : k + 1;
          }
        }
      }
    }
    return { x, n, features: this.features };
  }
}

/** One column's fill value and statistics; values filled for missing ones count in the statistics, as in an imputer-then-scaler pipeline. */
function fitColumn(rows: TabularRows, k: number, name: string, type: ColumnType, markers: ReadonlySet<string>, spec: TabularSpec): ColumnJson {
  const rule = missingRule(spec.missing, name);
  const policy = policyOf(rule);
  const present: string[] = [];
  let missing = 0;
  rows.rows.forEach((r, i) => {
    if (!isMissingText(r[k], markers)) present.push(r[k].trim());
    else if (policy === 'error') fail('csv', `${rowName(rows, i)}, column ${JSON.stringify(name)}: missing value (${JSON.stringify(r[k])}); choose a policy in missing.columns: "drop", "mean", "mode" or {"constant": value}`);
    else missing++;
  });
  const where = `column ${JSON.stringify(name)}`;
  if (present.length === 0) fail('TabularPreprocessor.fit', `${where}: every value in the fit rows is missing`);
  let m: MissingJson = { policy: policy as 'error' | 'drop' };
  if (policy === 'mean') {
    if (type !== 'numeric') fail('missing', `${where} is categorical: "mean" needs a numeric column (use "mode" or {"constant": value})`);
    m = { policy, fill: present.reduce((s, v) => s + parseNumber(v), 0) / present.length };
  } else if (policy === 'mode') {
    const counts = new Map<string, number>();
    for (const v of present) counts.set(type === 'numeric' ? String(parseNumber(v)) : v, (counts.get(type === 'numeric' ? String(parseNumber(v)) : v) ?? 0) + 1);
    const best = sortNames(counts.keys()).reduce((a, b) => (counts.get(b)! > counts.get(a)! ? b : a)); // ties: the first in sorted order
    m = { policy, fill: type === 'numeric' ? Number(best) : best };
  } else if (policy === 'constant') {
    const value = (rule as { constant: string | number }).constant;
    const fill = type === 'numeric' ? (typeof value === 'number' ? value : parseNumber(value)) : String(value).trim();
    if (typeof fill === 'number' && !Number.isFinite(fill)) fail('missing', `${where} is numeric: its constant must be a number, got ${JSON.stringify(value)}`);
    m = { policy, fill };
  }
  const fills = 'fill' in m ? missing : 0;
  if (type === 'categorical') {
    const vocabulary = sortNames('fill' in m && fills ? [...present, String(m.fill)] : present);
    return { name, type, missing: m, encoding: perEncoding(spec, name), vocabulary };
  }
  const values = [...present.map(parseNumber), ...Array<number>(fills).fill((m as { fill: number }).fill)];
  const scaling = perScaling(spec, name);
  if (scaling === 'none') return { name, type, missing: m, scaling };
  if (scaling === 'minmax') return { name, type, missing: m, scaling, min: values.reduce((a, b) => Math.min(a, b)), max: values.reduce((a, b) => Math.max(a, b)) };
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  const std = Math.sqrt(values.reduce((a, b) => a + (b - mean) * (b - mean), 0) / values.length); // two passes: no cancellation
  return { name, type, missing: m, scaling, mean, std };
}

const perScaling = (spec: TabularSpec, name: string) => perColumn(spec.scaling, name, 'standardize', SCALINGS, 'scaling');
const perEncoding = (spec: TabularSpec, name: string) => perColumn(spec.encoding, name, 'onehot', ENCODINGS, 'encoding');

function stringList(where: string, key: string, v: unknown, nonEmpty: boolean): string[] {
  if (!Array.isArray(v) || v.some((s) => typeof s !== 'string') || (nonEmpty && v.length === 0)) fail(where, `"${key}" must be a${nonEmpty ? ' non-empty' : 'n'} array of strings, got ${JSON.stringify(v) ?? 'nothing'}`);
  const dup = v.find((s, i) => v.indexOf(s) !== i);
  if (dup !== undefined) fail(where, `"${key}" lists ${JSON.stringify(dup)} twice`);
  return [...v];
}

function readJson(json: unknown, where: string): TabularPreprocessorJson {
  const r = new ConfigReader(where, json as Record<string, unknown>);
  r.rejectUnknown(['type', 'version', 'missingMarkers', 'columns', 'label']);
  r.oneOf('type', ['tabular']);
  if (r.obj.version !== 1) fail(where, `"version" must be 1, got ${JSON.stringify(r.obj.version) ?? 'nothing'}`);
  const markers = stringList(where, 'missingMarkers', r.obj.missingMarkers, false);
  if (!Array.isArray(r.obj.columns) || r.obj.columns.length === 0) fail(where, `"columns" must be a non-empty array, got ${JSON.stringify(r.obj.columns) ?? 'nothing'}`);
  const columns = (r.obj.columns as unknown[]).map((c, i) => readColumn(c, `${where}.columns[${i}]`));
  stringList(where, 'columns[].name', columns.map((c) => c.name), true);
  let label: TabularPreprocessorJson['label'] = null;
  if (r.obj.label !== null) {
    const l = new ConfigReader(`${where}.label`, r.obj.label as Record<string, unknown>);
    l.rejectUnknown(['name', 'classNames']);
    label = { name: l.string('name'), classNames: stringList(`${where}.label`, 'classNames', l.obj.classNames, true) };
    if (columns.some((c) => c.name === label!.name)) fail(`${where}.label`, `the label ${JSON.stringify(label.name)} is also an input column`);
  }
  return { type: 'tabular', version: 1, missingMarkers: markers, columns, label };
}

function readColumn(json: unknown, where: string): ColumnJson {
  const r = new ConfigReader(where, json as Record<string, unknown>);
  const name = r.string('name');
  if (name === '') fail(where, '"name" must not be empty');
  const type = r.oneOf('type', ['numeric', 'categorical'] as const);
  const m = new ConfigReader(`${where}.missing`, r.obj.missing as Record<string, unknown>);
  const policy = m.oneOf('policy', ['error', 'drop', 'mean', 'mode', 'constant'] as const);
  let missing: MissingJson;
  if (policy === 'error' || policy === 'drop') {
    m.rejectUnknown(['policy']);
    missing = { policy };
  } else {
    m.rejectUnknown(['policy', 'fill']);
    missing = { policy, fill: type === 'numeric' ? m.number('fill') : m.string('fill') };
  }
  if (type === 'categorical') {
    r.rejectUnknown(['name', 'type', 'missing', 'encoding', 'vocabulary']);
    return { name, type, missing, encoding: r.oneOf('encoding', ENCODINGS), vocabulary: stringList(where, 'vocabulary', r.obj.vocabulary, false) };
  }
  const scaling = r.oneOf('scaling', SCALINGS);
  if (scaling === 'none') {
    r.rejectUnknown(['name', 'type', 'missing', 'scaling']);
    return { name, type, missing, scaling };
  }
  if (scaling === 'minmax') {
    r.rejectUnknown(['name', 'type', 'missing', 'scaling', 'min', 'max']);
    const min = r.number('min');
    return { name, type, missing, scaling, min, max: r.number('max', undefined, [min, Infinity]) };
  }
  r.rejectUnknown(['name', 'type', 'missing', 'scaling', 'mean', 'std']);
  return { name, type, missing, scaling, mean: r.number('mean'), std: r.number('std', undefined, [0, Infinity]) };
}
