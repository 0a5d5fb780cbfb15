// Trains the character-level GPT that examples/shakespeare-char.json describes, nanoGPT's way:
// random windows of the training split each iteration, the validation loss over a fixed number of
// random windows every evalEvery iterations, then saves the model with its tokenizer and prints a
// sample. One JSON line per evaluation, then {"done": true, "iterations", "ms_per_iter", "val_loss",
// "model_dir"}. Until `lathe train` reads "text" datasets (issue 9), this is how the config runs:
//   LATHE_DATA=/path/to/data node dist/examples/train-gpt.js examples/shakespeare-char.json [--iterations N] [--out DIR]
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as lt from '../src/index.js';
import { parseArgs } from '../src/cli/args.js';
import { CharTokenizer, TokenWindows, type TokenSplit } from '../src/data/text/index.js';
import { fail } from '../src/errors.js';
import { ConfigReader } from '../src/nn/config.js';
import { optimizerFromConfig } from '../src/optim/index.js';

async function main(argv: string[]): Promise<void> {
  const { flags, positional } = parseArgs('train-gpt', argv, { iterations: 'int', out: 'string', data: 'string' });
  if (positional.length !== 1) fail('train-gpt', 'Usage: node dist/examples/train-gpt.js config.json [--iterations N] [--out DIR] [--data DIR]');
  const configFile = positional[0];
  const top = new ConfigReader('config', JSON.parse(fs.readFileSync(configFile, 'utf8')));
  top.rejectUnknown(['description', 'seed', 'dataset', 'model', 'compile', 'fit']);
  const seed = top.int('seed', 0);
  const ds = new ConfigReader('config.dataset', top.obj.dataset as Record<string, unknown>);
  ds.rejectUnknown(['type', 'path', 'tokenizer', 'blockSize', 'validationSplit']);
  ds.oneOf('type', ['text']);
  ds.oneOf('tokenizer', ['char']);
  const blockSize = ds.positiveInt('blockSize');
  const file = path.resolve((flags.data as string | undefined) ?? process.env.LATHE_DATA ?? path.dirname(configFile), ds.string('path'));
  if (!fs.existsSync(file)) fail('config.dataset', `"path": ${file} not found (a relative path resolves against --data, then $LATHE_DATA, then the config's folder)`);
  const fit = new ConfigReader('config.fit', top.obj.fit as Record<string, unknown>);
  fit.rejectUnknown(['iterations', 'batchSize', 'evalEvery', 'evalBatches']);
  const iterations = (flags.iterations as number | undefined) ?? fit.positiveInt('iterations');
  const batchSize = fit.positiveInt('batchSize');
  const evalEvery = fit.positiveInt('evalEvery', 250);
  const evalBatches = fit.positiveInt('evalBatches', 20);

  lt.manualSeed(seed);
  const text = fs.readFileSync(file, 'utf8');
  const tokenizer = CharTokenizer.fromText(text);
  const windows = TokenWindows.fromText(text, tokenizer, { blockSize, validationSplit: ds.number('validationSplit', 0.1, [0, 0.99]) });
  const { type: _, ...modelConfig } = top.obj.model as Record<string, unknown>;
  const model = lt.GPT.fromConfig({ ...modelConfig, vocabSize: tokenizer.vocabSize, blockSize, seed }, 'config.model');
  const optimizer = optimizerFromConfig((top.obj.compile as { optimizer: unknown }).optimizer, 'config.compile.optimizer');
  optimizer.attach(model.parameters());
  const rng = new lt.Generator(seed);
  const times: number[] = [];
  let valLoss = NaN;
  for (let it = 1; it <= iterations; it++) {
    const started = performance.now();
    const [x, y] = windows.train.sampleBatch(batchSize, rng);
    optimizer.zeroGrad();
    const loss = lt.nextTokenLoss(model.forward(x), y);
    loss.backward();
    optimizer.step();
    const trainLoss = loss.item();
    times.push(performance.now() - started);
    if (it % evalEvery === 0 || it === iterations) {
      valLoss = estimateLoss(model, windows.val, batchSize, evalBatches, seed);
      console.log(JSON.stringify({ iteration: it, train_loss: +trainLoss.toFixed(4), val_loss: +valLoss.toFixed(4), ms_per_iter: median(times), lr: +optimizer.lr.toExponential(3) }));
    }
  }
  const modelDir = path.resolve((flags.out as string | undefined) ?? path.join('runs', `${path.basename(configFile, '.json')}-gpt`, 'model'));
  lt.saveGPT(model, modelDir, { tokenizer });
  const sample = tokenizer.decode([...lt.generate(model, tokenizer.encode('\n'), { maxTokens: 300, temperature: 0.8, topK: 40, seed })]);
  console.error(sample);
  console.log(JSON.stringify({ done: true, iterations, ms_per_iter: median(times), val_loss: +valLoss.toFixed(4), model_dir: modelDir }));
}

/** The mean loss over `batches` random windows of a split, in eval mode; the same windows every time (its own seed). */
function estimateLoss(model: lt.GPT, split: TokenSplit, batchSize: number, batches: number, seed: number): number {
  const rng = new lt.Generator(seed + 1);
  model.eval();
  try {
    let sum = 0;
    for (let b = 0; b < batches; b++) {
      const [x, y] = split.sampleBatch(batchSize, rng);
      sum += lt.noGrad(() => lt.nextTokenLoss(model.forward(x), y).item());
    }
    return sum / batches;
  } finally {
    model.train();
  }
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return +((s[(s.length - 1) >> 1] + s[s.length >> 1]) / 2).toFixed(1);
};

main(process.argv.slice(2)).catch((e) => {
  console.error(e instanceof lt.LatheError ? `lathe: ${e.message}` : e);
  process.exitCode = 1;
});
