// The declarative training config behind `lathe train config.json`: which data, which model,
// how to compile and fit it. Everything is checked before any training starts, and every error
// names the field: config.model.layers[1] (dense): "units" must be a positive integer, got "128a".
import * as path from 'node:path';
import { LatheError, fail } from '../errors.js';
import { loadMnistSplit } from '../data/mnist.js';
import { ConfigReader } from '../nn/config.js';
import { Rescaling } from '../nn/layers/rescaling.js';
import { getLoss } from '../nn/losses.js';
import { getMetric } from '../metrics/index.js';
import { optimizerFromConfig, getOptimizer } from '../optim/index.js';
import { reshape } from '../ops/functions.js';
import { manualSeed } from '../tensor/random.js';
import type { Tensor } from '../tensor/tensor.js';
import { Sequential } from './sequential.js';

export interface RunConfig {
  seed: number;
  data: { dataset: 'mnist' | 'fashion-mnist'; inputShape: number[] | null; rescale: number | null; validation: 'test' | number | null };
  layers: unknown[];
  compile: { optimizer: unknown; loss: unknown; metrics: unknown[] };
  fit: { epochs: number; batchSize: number; shuffle: boolean };
}

const DATASETS = ['mnist', 'fashion-mnist'] as const;

/** Validates a parsed config.json; overrides come from command-line flags. */
export function readRunConfig(raw: unknown, overrides: { epochs?: number; seed?: number } = {}): RunConfig {
  const top = new ConfigReader('config', raw as Record<string, unknown>);
  top.rejectUnknown(['seed', 'data', 'model', 'compile', 'fit', 'description']);
  const data = new ConfigReader('config.data', (top.obj.data ?? fail('config', '"data" is required, e.g. {"dataset": "mnist"}')) as Record<string, unknown>);
  data.rejectUnknown(['dataset', 'inputShape', 'rescale', 'validation']);
  const validation = data.obj.validation === undefined ? 'test' : data.obj.validation;
  if (validation !== 'test' && validation !== null && !(typeof validation === 'number' && validation > 0 && validation < 1)) {
    fail('config.data', `"validation" must be "test", a fraction in (0, 1), or null, got ${JSON.stringify(validation)}`);
  }
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
  fit.rejectUnknown(['epochs', 'batchSize', 'shuffle']);
  return {
    seed: overrides.seed ?? top.int('seed', 0),
    data: {
      dataset: data.oneOf('dataset', DATASETS),
      inputShape: data.has('inputShape') ? data.shape('inputShape') : null,
      rescale: data.has('rescale') ? data.number('rescale') : null,
      validation: validation as RunConfig['data']['validation'],
    },
    layers: model.obj.layers,
    compile: { optimizer: compile.obj.optimizer, loss: compile.obj.loss, metrics },
    fit: { epochs: overrides.epochs ?? fit.positiveInt('epochs', 1), batchSize: fit.positiveInt('batchSize', 32), shuffle: fit.bool('shuffle', true) },
  };
}

export interface RunData {
  train: [Tensor, Tensor];
  test: [Tensor, Tensor];
  classes: number;
}

/** Loads the config's dataset from `dir` (the four IDX files), reshaped to the model's input. */
export function loadRunData(config: RunConfig, dir: string): RunData {
  const shape = config.data.inputShape;
  const load = (split: 'train' | 'test'): [Tensor, Tensor] => {
    const { images, labels } = loadMnistSplit(path.resolve(dir), split);
    const n = images.shape[0];
    if (shape && shape.reduce((a, b) => a * b, 1) !== images.size / n) {
      fail('config.data', `"inputShape" [${shape}] does not hold one ${images.shape.slice(1).join('x')} image`);
    }
    return [shape ? reshape(images, [n, ...shape]) : images, labels];
  };
  return { train: load('train'), test: load('test'), classes: 10 };
}

/** Builds and compiles the model the config describes; the input shape comes from the data. */
export function buildRunModel(config: RunConfig, inputShape: readonly number[], classes: number): Sequential {
  manualSeed(config.seed);
  const model = Sequential.fromConfig(config.layers, 'config.model.layers');
  const first = model.layers[0];
  if (first.inputShape && first.inputShape.join() !== inputShape.join()) {
    fail('config.model.layers[0]', `inputShape [${first.inputShape}] differs from the data's per-example shape [${inputShape}]; set config.data.inputShape`);
  }
  const out = model.build(inputShape);
  if (config.data.rescale !== null) {
    // The preprocessing goes into the model, so the saved model takes raw pixels when served.
    const rescaling = new Rescaling(config.data.rescale, 0, { name: 'rescaling', inputShape });
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
