// `lathe evaluate <model_dir> --data DIR|FILE`: a saved model's loss and metrics on the test
// split of the dataset it was trained on, or, for a model trained on a CSV, on the rows of a
// CSV file (its fitted preprocessing applied, labels from the same column). An .onnx image
// classifier is scored (accuracy) on an image dataset's test split, --dataset mnist by default.
import * as path from 'node:path';
import * as datasets from '../data/datasets/index.js';
import { fail } from '../errors.js';
import { loadOnnx } from '../io/onnx/import/model.js';
import { loadModel } from '../io/saved-model.js';
import { argmax, reshape } from '../ops/functions.js';
import { checkLabels } from '../train/run-config.js';
import { loadLabelledSet } from './labelled-data.js';
import { parseArgs } from './args.js';

export async function evaluateCommand(argv: string[]): Promise<number> {
  const { flags, positional } = parseArgs('evaluate', argv, { data: 'string', download: 'flag', json: 'flag', 'batch-size': 'int', dataset: 'string' });
  if (positional.length !== 1) fail('evaluate', 'Usage: lathe evaluate <model_dir|model.onnx> [--data DIR|FILE] [--dataset mnist|fashion-mnist] [--download] [--json]');
  if (positional[0].toLowerCase().endsWith('.onnx')) return evaluateOnnx(positional[0], flags);
  const loaded = loadModel(positional[0]);
  const { model, json } = loaded;
  const training = json.training;
  if (!training?.loss) fail('evaluate', `${path.join(positional[0], 'model.json')} records no loss ("training.loss"); it cannot be evaluated`);
  model.compile({ optimizer: 'sgd', loss: training.loss as never, metrics: training.metrics ?? [] });
  if (loaded.preprocessor && typeof flags.data !== 'string') fail('evaluate', 'this model was trained on a CSV: pass --data FILE with rows holding its columns and its label');
  const { x, y } = await loadLabelledSet(loaded, 'test', typeof flags.data === 'string' ? flags.data : undefined, Boolean(flags.download), 'evaluate');
  const out = model.outputShape!;
  checkLabels(y, out[out.length - 1], 'labels');
  const logs = await model.evaluate(x, y, { batchSize: (flags['batch-size'] as number | undefined) ?? 1000 });
  console.log(flags.json ? JSON.stringify(logs) : Object.entries(logs).map(([k, v]) => `${k}: ${v.toFixed(4)}`).join(' - '));
  return 0;
}

/** Accuracy of an imported ONNX classifier on a dataset's test split; the ONNX file records no loss or dataset. */
async function evaluateOnnx(file: string, flags: Record<string, unknown>): Promise<number> {
  const model = loadOnnx(file);
  const name = (flags.dataset as string | undefined) ?? 'mnist';
  const named = name === 'fashion-mnist' ? datasets.fashionMnist : name === 'mnist' ? datasets.mnist : fail('evaluate', `--dataset must be mnist or fashion-mnist, got "${name}"`);
  const { test } = await named.load({ ...(typeof flags.data === 'string' ? { dir: path.resolve(flags.data) } : {}), download: Boolean(flags.download) });
  const shape = model.inputShape ?? fail('evaluate', `${file}: the input's shape is not fully known beyond the batch axis, so images cannot be reshaped to it`);
  const n = test.images.shape[0];
  if (shape.reduce((a, b) => a * b, 1) !== test.images.size / n) fail('evaluate', `${file} takes [${shape}] per example; the data's images are [${test.images.shape.slice(1)}]`);
  // Pixels go in as float32 0-255, as the model zoo's MNIST models take them.
  const out = model.predict(reshape(test.images, [n, ...shape]), { batchSize: (flags['batch-size'] as number | undefined) ?? 1000 });
  if (out.rank !== 2) fail('evaluate', `${file}: expected [batch, classes] outputs, got [${out.shape}]`);
  const pred = argmax(out, 1).dataSync();
  const labels = test.labels.dataSync();
  let right = 0;
  for (let i = 0; i < n; i++) if (pred[i] === labels[i]) right++;
  const logs = { accuracy: right / n };
  console.log(flags.json ? JSON.stringify(logs) : `accuracy: ${logs.accuracy.toFixed(4)}`);
  return 0;
}
