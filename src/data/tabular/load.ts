// A CSV file to training tensors in one call: choose the columns, check types and missing
// values over the whole file, drop rows by policy, split (seeded, optionally stratified), fit
// the preprocessing on the training split only, and report what was done to the data.
import { fail } from '../../errors.js';
import { fromArray } from '../../tensor/create.js';
import { Generator } from '../../tensor/random.js';
import type { Tensor } from '../../tensor/tensor.js';
import { type CsvDelimiter, type CsvTable, readCsvFile } from '../sources/csv.js';
import {
  type ColumnChoice, type ColumnType, type MissingPolicy, type TabularRows, checkNamedColumns, chooseColumns, columnIndices, columnTypes,
  isMissingText, missingMarkers, missingRule, parseNumber, policyOf, rowName, selectRows, sortNames,
} from './columns.js';
import { type TabularSpec, TabularPreprocessor } from './preprocessor.js';

export interface CsvDatasetOptions extends ColumnChoice, Omit<TabularSpec, 'features' | 'label' | 'classNames'> {
  /** The fraction of rows held out for validation, in [0, 1); default 0.2. */
  validationSplit?: number;
  /** Seeds the split's shuffle; default 0. */
  seed?: number;
  /** Keep each class's share in both splits (per class, round(count * validationSplit) go to validation). */
  stratify?: boolean;
  delimiter?: CsvDelimiter;
}

export interface ColumnReport {
  name: string;
  role: 'label' | 'feature' | 'excluded';
  /** null for an excluded column. */
  type: ColumnType | null;
  /** Missing values in the whole file. */
  missing: number;
  policy: MissingPolicy | null;
  /** What was done: "none", "dropped 3 rows", "filled with the training mean 5.84", "excluded". */
  action: string;
}

export interface TabularReport {
  source: string;
  delimiter: string;
  /** Data rows read, rows dropped for missing values, and the split sizes. */
  rows: number;
  dropped: number;
  train: number;
  validation: number;
  columns: ColumnReport[];
  classNames: string[];
  features: string[];
  /** Things worth a look that were left as they are (an Id-like feature column, say). */
  notes: string[];
}

export interface TabularSplit {
  /** float32 [n, features]. */
  x: Tensor;
  /** int32 class indices [n]. */
  y: Tensor;
}

export interface CsvDataset {
  train: TabularSplit;
  validation: TabularSplit;
  preprocessor: TabularPreprocessor;
  report: TabularReport;
}

/** Reads a CSV file (synchronously) and prepares it as tabularDataset does. */
export function loadCsvDataset(path: string, options: CsvDatasetOptions): CsvDataset {
  return tabularDataset(readCsvFile(path, { delimiter: options.delimiter }), options);
}

const OPTIONS = ['label', 'features', 'exclude', 'columnTypes', 'missing', 'scaling', 'encoding', 'validationSplit', 'seed', 'stratify', 'delimiter'];

export function tabularDataset(table: CsvTable, options: CsvDatasetOptions): CsvDataset {
  const src = table.source;
  // Options often come straight from a JSON config, where a misspelt key would otherwise be ignored.
  for (const key of Object.keys(options)) if (!OPTIONS.includes(key)) fail('loadCsvDataset', `unknown option "${key}" (expected one of: ${OPTIONS.join(', ')})`);
  const { label, features } = chooseColumns(table, options);
  const used = [...features, label];
  checkNamedColumns('columnTypes', options.columnTypes, features);
  checkNamedColumns('missing.columns', options.missing?.columns, used);
  for (const key of ['scaling', 'encoding'] as const) {
    const s = options[key];
    if (typeof s === 'object' && s !== null) checkNamedColumns(`${key}.columns`, s.columns, features);
  }
  const split = options.validationSplit ?? 0.2;
  if (typeof split !== 'number' || !(split >= 0 && split < 1)) fail('loadCsvDataset', `"validationSplit" must be a number in [0, 1), got ${JSON.stringify(split)}`);
  const markers = missingMarkers(options.missing);
  const types = columnTypes(table, features, markers, options.columnTypes);

  // The label is a class name, never imputed: it may only be dropped (when asked for it, or when the default is "drop") or fail.
  const labelRule = options.missing?.columns?.[label] ?? (options.missing?.default === 'drop' ? 'drop' : 'error');
  if (labelRule !== 'drop' && labelRule !== 'error') fail('missing.columns', `the label column ${JSON.stringify(label)} can only be "drop" or "error", got ${JSON.stringify(labelRule)}`);
  const policies = used.map((c) => (c === label ? labelRule : policyOf(missingRule(options.missing, c))));

  const index = columnIndices(table, used);
  const missing = used.map(() => 0);
  const dropped = used.map(() => 0);
  const keep: number[] = [];
  table.rows.forEach((row, i) => {
    let drop = false;
    used.forEach((name, c) => {
      if (!isMissingText(row[index[c]], markers)) return;
      missing[c]++;
      if (policies[c] === 'error') {
        fail('csv', `${rowName(table, i)}, column ${JSON.stringify(name)}: missing value (${JSON.stringify(row[index[c]])}); choose a policy in missing.columns: ${name === label ? '"drop"' : '"drop", "mean", "mode" or {"constant": value}'}`);
      }
      if (policies[c] === 'drop' && !drop) {
        drop = true;
        dropped[c]++; // a row is counted once, under the first column that dropped it
      }
    });
    if (!drop) keep.push(i);
  });
  const rows = selectRows(table, keep);
  if (rows.rows.length === 0) fail('loadCsvDataset', `${src}: no rows are left after dropping rows with missing values`);

  const labels = rows.rows.map((r) => r[index[used.length - 1]].trim());
  const { trainIdx, valIdx } = splitIndices(labels, split, options.seed ?? 0, options.stratify ?? false, src);
  const train = selectRows(rows, trainIdx);
  const validation = selectRows(rows, valIdx);
  // The class set comes from every kept row: it defines the task (fitting it on train alone would make a class seen only in validation an error), and it is no statistic of the features.
  const classNames = sortNames(labels);
  const spec: TabularSpec = { ...options, features, label, columnTypes: types, classNames };
  const preprocessor = new TabularPreprocessor().fit(train, spec);
  const json = preprocessor.toJSON();

  const columnsReport: ColumnReport[] = table.header.map((name) => {
    const c = used.indexOf(name);
    if (c < 0) return { name, role: 'excluded', type: null, missing: table.rows.reduce((s, r) => s + (isMissingText(r[table.header.indexOf(name)], markers) ? 1 : 0), 0), policy: null, action: 'excluded' };
    const col = json.columns.find((j) => j.name === name);
    const m = col?.missing;
    const action = missing[c] === 0 ? 'none'
      : policies[c] === 'drop' ? `dropped ${dropped[c]} row${dropped[c] === 1 ? '' : 's'}${dropped[c] < missing[c] ? ' (others were dropped for another column)' : ''}`
      : m && 'fill' in m ? `filled with ${m.policy === 'constant' ? '' : `the training ${m.policy} `}${JSON.stringify(m.fill)}` : 'none';
    return { name, role: name === label ? 'label' : 'feature', type: name === label ? 'categorical' : types[name], missing: missing[c], policy: policies[c], action };
  });
  const report: TabularReport = {
    source: src, delimiter: table.delimiter, rows: table.rows.length, dropped: table.rows.length - rows.rows.length,
    train: train.rows.length, validation: validation.rows.length, columns: columnsReport, classNames, features: preprocessor.features,
    notes: notesFor(rows, features, types, json.columns),
  };
  return { train: tensors(preprocessor, train), validation: tensors(preprocessor, validation), preprocessor, report };
}

function tensors(p: TabularPreprocessor, rows: TabularRows): TabularSplit {
  const { x, n, features } = p.transform(rows);
  return { x: fromArray(x, [n, features.length], { dtype: 'float32' }, 'loadCsvDataset', true), y: fromArray(p.encodeLabels(rows), [n], { dtype: 'int32' }, 'loadCsvDataset', true) };
}

/**
 * A seeded Fisher-Yates permutation picks round(n * split) rows for validation; with `stratify`
 * each class (in sorted order) is permuted and split alone. Both splits keep file order, so
 * rows can be traced back to the file; the fit loop shuffles the training rows every epoch.
 */
export function splitIndices(labels: readonly string[], split: number, seed: number, stratify: boolean, source = 'table'): { trainIdx: number[]; valIdx: number[] } {
  const g = new Generator(seed);
  let groups = [labels.map((_, i) => i)];
  if (stratify) {
    const byClass = new Map(sortNames(labels).map((c) => [c, [] as number[]]));
    labels.forEach((l, i) => byClass.get(l)!.push(i));
    groups = [...byClass.values()];
  }
  const trainIdx: number[] = [];
  const valIdx: number[] = [];
  for (const perm of groups) {
    g.shuffle(perm);
    const nVal = Math.round(perm.length * split);
    valIdx.push(...perm.slice(0, nVal));
    trainIdx.push(...perm.slice(nVal));
  }
  if (trainIdx.length === 0) fail('loadCsvDataset', `${source}: validationSplit ${split} of ${labels.length} rows leaves no training rows`);
  if (split > 0 && valIdx.length === 0) fail('loadCsvDataset', `${source}: validationSplit ${split} of ${labels.length} rows leaves no validation rows`);
  const ascending = (a: number, b: number) => a - b;
  return { trainIdx: trainIdx.sort(ascending), valIdx: valIdx.sort(ascending) };
}

/** Notes on columns that are kept as asked but deserve a look. */
function notesFor(rows: TabularRows, features: string[], types: Record<string, ColumnType>, columns: { name: string; type: string; vocabulary?: string[] }[]): string[] {
  const notes: string[] = [];
  const index = columnIndices(rows, features);
  features.forEach((name, c) => {
    const values = types[name] === 'numeric' ? rows.rows.map((r) => parseNumber(r[index[c]])) : [];
    // Unique integers in file order are a row id; in a file sorted by class they predict the class perfectly and generalise not at all.
    if (values.length > 2 && values.every((v, i) => Number.isInteger(v) && (i === 0 || v > values[i - 1]))) {
      notes.push(`column ${JSON.stringify(name)} looks like a row id (increasing integers); it is kept as a feature: add it to "exclude" if it carries no information`);
    }
    const vocab = columns.find((col) => col.name === name)?.vocabulary;
    if (vocab && vocab.length > 20 && vocab.length > rows.rows.length / 2) {
      notes.push(`column ${JSON.stringify(name)} has ${vocab.length} categories in ${rows.rows.length} rows: nearly one per row, like a name or an id`);
    }
  });
  return notes;
}

/** The report as lines of text, for the command line. */
export function formatTabularReport(r: TabularReport): string {
  const lines = [
    `${r.source}: ${r.rows} rows (delimiter ${JSON.stringify(r.delimiter)}), ${r.dropped} dropped for missing values, ${r.train} train, ${r.validation} validation`,
    `classes: ${r.classNames.join(', ')}`,
    `${r.features.length} features`,
    ...r.columns.map((c) => `  ${c.name}: ${c.role}${c.type ? `, ${c.type}` : ''}, ${c.missing} missing${c.policy && c.missing ? ` (${c.policy}): ${c.action}` : ''}`),
    ...r.notes.map((n) => `note: ${n}`),
  ];
  return lines.join('\n');
}
