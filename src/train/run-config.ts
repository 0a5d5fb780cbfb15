// The declarative training config behind `lathe train config.json`: which data, which model,
// how to compile and fit it. Everything is checked before any training starts, and every error
// names the field: config.model.layers[1] (dense): "units" must be a positive integer, got "128a".
// Language models ("text" dataset, "gpt" model, iterations) have their own reader: src/train/lm/config.ts.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { LatheError, fail } from '../errors.js';
import * as datasets from '../data/datasets/index.js';
import { loadImageFolder } from '../data/sources/images.js';
import { trainTestSplit } from '../data/split.js';
import { type CsvDatasetOptions, TabularPreprocessor, formatTabularReport, loadCsvDataset } from '../data/tabular/index.js';
import { ConfigReader } from '../nn/config.js';
import { Rescaling } from '../nn/layers/rescaling.js';
import { getLoss } from '../nn/losses.js';
import { getMetric } from '../metrics/index.js';
import { optimizerFromConfig, getOptimizer } from '../optim/index.js';
import { reshape } from '../ops/functions.js';
import { manualSeed } from '../tensor/random.js';
import type { Tensor } from '../tensor/tensor.js';
import { isLanguageModelConfig } from './lm/config.js';
import { Sequential } from './sequential.js';

export interface ImageDatasetSpec {
  type: 'mnist' | 'fashion-mnist';
  /** The per-example shape the images are reshaped to: [784] for an MLP, [1, 28, 28] for a CNN. */
  inputShape: number[] | null;
  rescale: number | null;
  /** The test split, a fraction of the training examples, or none. */
  validation: 'test' | number | null;
}

export interface CsvDatasetSpec {
  type: 'csv';
  path: string;
  /** loadCsvDataset's options (label, features, exclude, validationSplit, seed, stratify, ...), checked there. */
  options: CsvDatasetOptions;
}

export interface ImageFolderSpec {
  type: 'images';
  /** A folder of class folders (Keras' image_dataset_from_directory layout). */
  path: string;
  size: [number, number] | null;
  channels: 1 | 3 | null;
  rescale: number | null;
  validationSplit: number;
  seed: number;
}

export interface RunConfig {
  seed: number;
  dataset: ImageDatasetSpec | CsvDatasetSpec | ImageFolderSpec;
  layers: unknown[];
  compile: { optimizer: unknown; loss: unknown; metrics: unknown[] };
  /** logEvery: batches between the loss points metrics.jsonl records (default: about 50 an epoch). */
  fit: { epochs: number; batchSize: number; shuffle: boolean; logEvery?: number };
}

const IMAGE_DATASETS = ['mnist', 'fashion-mnist'] as const;
const DATASET_TYPES = [...IMAGE_DATASETS, 'csv', 'images'] as const;

function readDataset(raw: unknown): RunConfig['dataset'] {
  const r = new ConfigReader('config.dataset', (raw ?? fail('config', '"dataset" is required, e.g. {"type": "mnist"} or {"type": "csv", "path": "...", "label": "..."}')) as Record<string, unknown>);
  const type = r.oneOf('type', DATASET_TYPES);
  if (type === 'csv') {
    const { type: _, path: file, ...options } = r.obj;
    if (typeof file !== 'string' || file === '') fail('config.dataset', `"path" must name the CSV file, got ${JSON.stringify(file)}`);
    if (typeof options.label !== 'string') fail('config.dataset', `"label" must name the label column, got ${JSON.stringify(options.label)}`);
    return { type, path: file, options: options as unknown as CsvDatasetOptions };
  }
  if (type === 'images') {
    r.rejectUnknown(['type', 'path', 'size', 'channels', 'rescale', 'validationSplit', 'seed']);
    const split = r.number('validationSplit', 0.2, [0, 0.99]);
    return {
      type,
      path: r.string('path'),
      size: r.has('size') ? r.pair('size') : null,
      channels: readChannels(r.obj.channels),
      rescale: r.has('rescale') ? r.number('rescale') : null,
      validationSplit: split,
      seed: r.int('seed', 0),
    };
  }
  r.rejectUnknown(['type', 'inputShape', 'rescale', 'validation']);
  const validation = r.obj.validation === undefined ? 'test' : r.obj.validation;
  if (validation !== 'test' && validation !== null && !(typeof validation === 'number' && validation > 0 && validation < 1)) {
    fail('config.dataset', `"validation" must be "test", a fraction in (0, 1), or null, got ${JSON.stringify(validation)}`);
  }
  return {
    type,
    inputShape: r.has('inputShape') ? r.shape('inputShape') : null,
    rescale: r.has('rescale') ? r.number('rescale') : null,
    validation: validation as ImageDatasetSpec['validation'],
  };
}

function readChannels(c: unknown): 1 | 3 | null {
  if (c === undefined) return null;
  if (c !== 1 && c !== 3) fail('config.dataset', `"channels" must be 1 (grayscale) or 3 (RGB), got ${JSON.stringify(c)}`);
  return c;
}

/** Validates a parsed config.json; overrides come from command-line flags. */
export function readRunConfig(raw: unknown, overrides: { epochs?: number; seed?: number } = {}): RunConfig {
  // "text" datasets and "gpt" models train by iterations, not epochs: src/train/lm reads those
  if (isLanguageModelConfig(raw)) fail('config', 'a "text" dataset or a "gpt" model is a language model config: read it with readLanguageModelConfig (src/train/lm), as lathe train does');
  const top = new ConfigReader('config', raw as Record<string, unknown>);
  top.rejectUnknown(['seed', 'dataset', 'model', 'compile', 'fit', 'description']);
  const dataset = readDataset(top.obj.dataset);
  const model = new ConfigReader('config.model', (top.obj.model ?? fail('config', '"model" is required: {"layers": [...]}')) as Record<string, unknown>);
  model.rejectUnknown(['type', 'layers']);
  if (model.has('type')) model.oneOf('type', ['sequential']);
  if (!Array.isArray(model.obj.layers) || model.obj.layers.length === 0) fail('config.model', `"layers" must be a non-empty array, got ${JSON.stringify(model.obj.layers)}`);
  const compile = new ConfigReader('config.compile', (top.obj.compile ?? fail('config', '"compile" is required: {"optimizer", "loss", "metrics"}')) as Record<string, unknown>);
  compile.rejectUnknown(['optimizer', 'loss', 'metrics']);
  if (!compile.has('optimizer') || !compile.has('loss')) fail('config.compile', '"optimizer" and "loss" are required');
  const metrics = compile.obj.metrics ?? [];
  if (!Array.isArray(metrics)) fail('config.compile', `"metrics" must be an array, got ${JSON.stringify(metrics)}`);
  const fit = new ConfigReader('config.fit', (top.obj.fit ?? {}) as Record<string, unknown>);
  fit.rejectUnknown(['epochs', 'batchSize', 'shuffle', 'logEvery']);
  return {
    seed: overrides.seed ?? top.int('seed', 0),
    dataset,
    layers: model.obj.layers,
    compile: { optimizer: compile.obj.optimizer, loss: compile.obj.loss, metrics },
    fit: { epochs: overrides.epochs ?? fit.positiveInt('epochs', 1), batchSize: fit.positiveInt('batchSize', 32), shuffle: fit.bool('shuffle', true), ...(fit.has('logEvery') ? { logEvery: fit.positiveInt('logEvery') } : {}) },
  };
}

export interface RunData {
  train: [Tensor, Tensor];
  /** Held-out examples for validation; absent when the config asks for none or for a split of train. */
  validation?: [Tensor, Tensor];
  /** A fraction of train for fit() to hold out (image datasets' "validation": 0.1). */
  validationSplit?: number;
  /** A named dataset's test split, when it is not already the validation data (the run's final evaluation). */
  test?: [Tensor, Tensor];
  classes: number;
  classNames: string[];
  /** The fitted preprocessing of a CSV's columns, saved with the model. */
  preprocessor?: TabularPreprocessor;
  /** What loading found (a CSV's missing values, dropped rows), for the run log. */
  report?: string;
}

export interface DataLocation {
  /** --data: the image dataset's folder, or a CSV file or the folder a relative CSV path is in. */
  data?: string;
  /** --download: fetch a named dataset into the cache when it is nowhere local. */
  download?: boolean;
  /** The config file's folder: a relative CSV path resolves there when neither --data nor LATHE_DATA is given. */
  configDir?: string;
}

/** Where a CSV config's relative path points: --data (a file, or a folder), LATHE_DATA, or beside the config. */
export function resolveCsvPath(file: string, where: DataLocation): string {
  if (where.data && fs.existsSync(where.data) && fs.statSync(where.data).isFile()) return where.data;
  if (path.isAbsolute(file)) return file;
  const base = where.data ?? process.env.LATHE_DATA ?? where.configDir ?? '.';
  return path.resolve(base, file);
}

/** Loads the config's dataset, reshaped to the model's input; everything is checked before training. */
export async function loadRunData(config: RunConfig, where: DataLocation = {}): Promise<RunData> {
  const spec = config.dataset;
  if (spec.type === 'csv') {
    const file = resolveCsvPath(spec.path, where);
    if (!fs.existsSync(file)) fail('config.dataset', `"path" ${JSON.stringify(spec.path)}: ${file} not found (a relative path resolves against --data DIR, then $LATHE_DATA, then the config's folder)`);
    const csv = naming('config.dataset', () => loadCsvDataset(file, spec.options));
    const classNames = [...csv.preprocessor.classNames];
    return {
      train: [csv.train.x, csv.train.y],
      ...(csv.validation.y.size > 0 ? { validation: [csv.validation.x, csv.validation.y] as [Tensor, Tensor] } : {}),
      classes: classNames.length,
      classNames,
      preprocessor: csv.preprocessor,
      report: formatTabularReport(csv.report),
    };
  }
  if (spec.type === 'images') {
    const dir = resolveCsvPath(spec.path, { ...where, data: where.data && fs.existsSync(where.data) && fs.statSync(where.data).isDirectory() ? where.data : undefined });
    if (!fs.existsSync(dir)) fail('config.dataset', `"path" ${JSON.stringify(spec.path)}: ${dir} not found (a relative path resolves against --data DIR, then $LATHE_DATA, then the config's folder)`);
    const folder = loadImageFolder(dir, { ...(spec.size ? { size: spec.size } : {}), ...(spec.channels ? { channels: spec.channels } : {}) });
    const classNames = folder.classNames;
    if (spec.validationSplit === 0) return { train: [folder.images, folder.labels], classes: classNames.length, classNames };
    const [xTrain, xVal, yTrain, yVal] = trainTestSplit(folder.images, folder.labels, { testSize: spec.validationSplit, seed: spec.seed, stratify: true });
    return { train: [xTrain, yTrain], validation: [xVal, yVal], classes: classNames.length, classNames };
  }
  const named = spec.type === 'mnist' ? datasets.mnist : datasets.fashionMnist;
  // A folder named with --data is the user's explicit choice (often a subset or a variant), so
  // its files are not compared with the official checksums; the IDX checks still apply. Files
  // from LATHE_DATA warn on a mismatch, and the cache and downloads must match exactly.
  const loaded = await named.load({
    ...(where.data ? { dir: path.resolve(where.data), checksum: 'off' as const } : {}),
    download: Boolean(where.download),
    onWarning: (m) => console.error(`lathe: warning: ${m}`),
  });
  const shape = spec.inputShape;
  const reshaped = ({ images, labels }: { images: Tensor; labels: Tensor }): [Tensor, Tensor] => {
    const n = images.shape[0];
    if (shape && shape.reduce((a, b) => a * b, 1) !== images.size / n) {
      fail('config.dataset', `"inputShape" [${shape}] does not hold one ${images.shape.slice(1).join('x')} image`);
    }
    return [shape ? reshape(images, [n, ...shape]) : images, labels];
  };
  const classNames = 'classNames' in named && Array.isArray(named.classNames) ? [...named.classNames] : Array.from({ length: 10 }, (_, i) => String(i));
  return {
    train: reshaped(loaded.train),
    ...(spec.validation === 'test' ? { validation: reshaped(loaded.test) } : {}),
    ...(typeof spec.validation === 'number' ? { validationSplit: spec.validation } : {}),
    ...(spec.validation !== 'test' ? { test: reshaped(loaded.test) } : {}),
    classes: classNames.length,
    classNames,
  };
}

/** Builds and compiles the model the config describes; the input shape comes from the data. */
export function buildRunModel(config: RunConfig, inputShape: readonly number[], classes: number): Sequential {
  manualSeed(config.seed);
  const model = Sequential.fromConfig(config.layers, 'config.model.layers');
  const first = model.layers[0];
  if (first.inputShape && first.inputShape.join() !== inputShape.join()) {
    fail('config.model.layers[0]', `inputShape [${first.inputShape}] differs from the data's per-example shape [${inputShape}]${config.dataset.type === 'csv' ? ` (${inputShape[0]} features after preprocessing)` : '; set config.dataset.inputShape'}`);
  }
  const out = model.build(inputShape);
  const rescale = config.dataset.type === 'csv' ? null : config.dataset.rescale;
  // (an image folder's pixels are uint8 [C,H,W], as MNIST's: rescale them the same way)
  if (rescale !== null) {
    // The preprocessing goes into the model, so the saved model takes raw pixels when served.
    const rescaling = new Rescaling(rescale, 0, { name: 'rescaling', inputShape });
    rescaling.build(inputShape);
    model.layers.unshift(rescaling);
  }
  const loss = naming('config.compile.loss', () => getLoss(config.compile.loss as never));
  if (/sparse/i.test(loss.name) && out.length !== 1) {
    fail('config.model.layers', `the model gives [${out}] per example; a classifier must give [${classes}] (one score per class): add a {"type": "flatten"} layer before the dense layers`);
  }
  if (/sparse/i.test(loss.name) && out[0] !== classes) {
    fail('config.model.layers', `the last layer gives ${out[0]} outputs per example, but the dataset has ${classes} classes`);
  }
  const optimizer = typeof config.compile.optimizer === 'string'
    ? naming('config.compile.optimizer', () => getOptimizer(config.compile.optimizer as never))
    : optimizerFromConfig(config.compile.optimizer as never, 'config.compile.optimizer');
  config.compile.metrics.forEach((m, i) => {
    try {
      getMetric(m as never, { loss });
    } catch (e) {
      fail(`config.compile.metrics[${i}]`, (e as Error).message);
    }
  });
  return model.compile({ optimizer, loss, metrics: config.compile.metrics as string[] });
}

/** Runs f, re-raising its LatheError under the config field it read. */
function naming<T>(field: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (!(e instanceof LatheError)) throw e;
    fail(field, e.message.replace(/^[^:]*: /, ''));
  }
}

/** Labels must be class indices the model can output. */
export function checkLabels(labels: Tensor, classes: number, where: string): void {
  const d = labels.dataSync();
  for (let i = 0; i < d.length; i++) {
    if (!(d[i] >= 0 && d[i] < classes && Number.isInteger(d[i]))) fail(where, `label ${d[i]} at index ${i} is outside [0, ${classes})`);
  }
}
