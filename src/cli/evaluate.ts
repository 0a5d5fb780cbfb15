// `lathe evaluate <model_dir> --data DIR|FILE`: a saved model's loss and metrics on the test
// split of the dataset it was trained on, or, for a model trained on a CSV, on the rows of a
// CSV file (its fitted preprocessing applied, labels from the same column).
import * as path from 'node:path';
import * as datasets from '../data/datasets/index.js';
import { readCsvFile } from '../data/sources/csv.js';
import { fail } from '../errors.js';
import { loadModel } from '../io/saved-model.js';
import { reshape, tensor } from '../ops/functions.js';
import type { Tensor } from '../tensor/tensor.js';
import { checkLabels } from '../train/run-config.js';
import { parseArgs } from './args.js';

export async function evaluateCommand(argv: string[]): Promise<number> {
  const { flags, positional } = parseArgs('evaluate', argv, { data: 'string', download: 'flag', json: 'flag', 'batch-size': 'int' });
  if (positional.length !== 1) fail('evaluate', 'Usage: lathe evaluate <model_dir> [--data DIR|FILE] [--download] [--json]');
  const loaded = loadModel(positional[0]);
  const { model, json } = loaded;
  const training = json.training;
  if (!training?.loss) fail('evaluate', `${path.join(positional[0], 'model.json')} records no loss ("training.loss"); it cannot be evaluated`);
  model.compile({ optimizer: 'sgd', loss: training.loss as never, metrics: training.metrics ?? [] });
  let x: Tensor;
  let y: Tensor;
  if (loaded.preprocessor) {
    if (typeof flags.data !== 'string') fail('evaluate', 'this model was trained on a CSV: pass --data FILE with rows holding its columns and its label');
    const table = readCsvFile(flags.data);
    const { x: rows, n, features } = loaded.preprocessor.transform(table);
    x = tensor(rows, { shape: [n, features.length] });
    y = tensor(loaded.preprocessor.encodeLabels(table), { dtype: 'int32' });
  } else {
    const name = training.dataset ?? 'mnist';
    const named = name === 'fashion-mnist' ? datasets.fashionMnist : name === 'mnist' ? datasets.mnist : fail('evaluate', `the model was trained on "${name}", which evaluate cannot load`);
    const { test } = await named.load({ ...(typeof flags.data === 'string' ? { dir: path.resolve(flags.data) } : {}), download: Boolean(flags.download) });
    const shape = model.inputShape!;
    if (shape.reduce((a, b) => a * b, 1) !== test.images.size / test.images.shape[0]) fail('evaluate', `the model takes [${shape}] per example; the data's images are [${test.images.shape.slice(1)}]`);
    x = reshape(test.images, [test.images.shape[0], ...shape]);
    y = test.labels;
  }
  const out = model.outputShape!;
  checkLabels(y, out[out.length - 1], 'labels');
  const logs = await model.evaluate(x, y, { batchSize: (flags['batch-size'] as number | undefined) ?? 1000 });
  console.log(flags.json ? JSON.stringify(logs) : Object.entries(logs).map(([k, v]) => `${k}: ${v.toFixed(4)}`).join(' - '));
  return 0;
}
