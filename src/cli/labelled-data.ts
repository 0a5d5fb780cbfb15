// The examples and labels a saved model is scored on (evaluate, quantize): for a model trained
// on a named image dataset, a split of it (from --data DIR, the cache, or --download); for one
// trained on a CSV, a CSV file's rows through the model's fitted preprocessing.
import * as path from 'node:path';
import * as datasets from '../data/datasets/index.js';
import { readCsvFile } from '../data/sources/csv.js';
import { fail } from '../errors.js';
import type { LoadedModel } from '../io/saved-model.js';
import { reshape, tensor } from '../ops/functions.js';
import type { Tensor } from '../tensor/tensor.js';

export interface LabelledSet {
  x: Tensor;
  y: Tensor;
  /** Where the examples came from, for reports: "mnist test (10000 examples)". */
  name: string;
}

/**
 * `split` of the model's dataset. `source` is a directory (image datasets) or a CSV file (tabular
 * models, where it is required); `command` names the caller in errors.
 */
export async function loadLabelledSet(loaded: LoadedModel, split: 'train' | 'test', source: string | undefined, download: boolean, command: string): Promise<LabelledSet> {
  const { model, json } = loaded;
  if (loaded.preprocessor) {
    if (source === undefined) fail(command, 'this model was trained on a CSV: pass a CSV file with rows holding its columns and its label');
    const table = readCsvFile(source);
    const { x: rows, n, features } = loaded.preprocessor.transform(table);
    return { x: tensor(rows, { shape: [n, features.length] }), y: tensor(loaded.preprocessor.encodeLabels(table), { dtype: 'int32' }), name: `${path.basename(source)} (${n} rows)` };
  }
  const dataset = json.training?.dataset ?? 'mnist';
  const named = dataset === 'fashion-mnist' ? datasets.fashionMnist : dataset === 'mnist' ? datasets.mnist : fail(command, `the model was trained on "${dataset}", which ${command} cannot load`);
  const data = (await named.load({ ...(source !== undefined ? { dir: path.resolve(source) } : {}), download }))[split];
  const shape = model.inputShape!;
  const n = data.images.shape[0];
  if (shape.reduce((a, b) => a * b, 1) !== data.images.size / n) fail(command, `the model takes [${shape}] per example; the data's images are [${data.images.shape.slice(1)}]`);
  return { x: reshape(data.images, [n, ...shape]), y: data.labels, name: `${dataset} ${split} (${n} examples)` };
}
