// `lathe evaluate <model_dir> --data DIR`: the saved model's loss and metrics on the test split.
import * as path from 'node:path';
import { fail } from '../errors.js';
import { loadModel } from '../io/saved-model.js';
import { loadMnistSplit } from '../data/mnist.js';
import { reshape } from '../ops/functions.js';
import { checkLabels } from '../train/run-config.js';
import { parseArgs } from './args.js';
import { dataDir } from './train.js';

export async function evaluateCommand(argv: string[]): Promise<number> {
  const { flags, positional } = parseArgs('evaluate', argv, { data: 'string', json: 'flag', 'batch-size': 'int' });
  if (positional.length !== 1) fail('evaluate', 'Usage: lathe evaluate <model_dir> --data DIR [--json]');
  const { model, json } = loadModel(positional[0]);
  const training = json.training;
  if (!training?.loss) fail('evaluate', `${path.join(positional[0], 'model.json')} records no loss ("training.loss"); it cannot be evaluated`);
  model.compile({ optimizer: 'sgd', loss: training.loss as never, metrics: training.metrics ?? [] });
  const { images, labels } = loadMnistSplit(path.resolve(dataDir(flags.data, 'mnist')), 'test');
  const shape = model.inputShape!;
  if (shape.reduce((a, b) => a * b, 1) !== images.size / images.shape[0]) fail('evaluate', `the model takes [${shape}] per example; the data's images are [${images.shape.slice(1)}]`);
  const out = model.outputShape!;
  checkLabels(labels, out[out.length - 1], 'test labels');
  const logs = await model.evaluate(reshape(images, [images.shape[0], ...shape]), labels, { batchSize: (flags['batch-size'] as number | undefined) ?? 1000 });
  console.log(flags.json ? JSON.stringify(logs) : Object.entries(logs).map(([k, v]) => `${k}: ${v.toFixed(4)}`).join(' - '));
  return 0;
}
