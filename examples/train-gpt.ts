// Trains the character-level GPT that examples/shakespeare-char.json describes, from TypeScript:
// the same pieces `lathe train examples/shakespeare-char.json` puts together (the config reader,
// the text data, the GPT, the iteration loop with accumulation, evaluations and a checkpoint),
// without the run folder. One JSON line per evaluation, then a sample and the done line.
//   LATHE_DATA=/path/to/data node dist/examples/train-gpt.js examples/shakespeare-char.json [--iterations N] [--out DIR]
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as lt from '../src/index.js';
import { parseArgs } from '../src/cli/args.js';
import { fail } from '../src/errors.js';
import { optimizerFromConfig } from '../src/optim/index.js';
import { loadTextData, readLanguageModelConfig, trainLanguageModel } from '../src/train/lm/index.js';

async function main(argv: string[]): Promise<void> {
  const { flags, positional } = parseArgs('train-gpt', argv, { iterations: 'int', out: 'string', data: 'string' });
  if (positional.length !== 1) fail('train-gpt', 'Usage: node dist/examples/train-gpt.js config.json [--iterations N] [--out DIR] [--data DIR]');
  const configFile = positional[0];
  const config = readLanguageModelConfig(JSON.parse(fs.readFileSync(configFile, 'utf8')), { iterations: flags.iterations as number | undefined });
  const { tokenizer, windows, report } = loadTextData(config.dataset, config.model.blockSize, { data: flags.data as string | undefined, configDir: path.dirname(configFile) });
  console.error(report);

  lt.manualSeed(config.seed);
  const { type: _, ...fields } = config.model;
  const model = lt.GPT.fromConfig({ ...fields, vocabSize: tokenizer.vocabSize, seed: config.seed }, 'config.model');
  // AdamW with decoupled weight decay, warmup + cosine schedule and global-norm clipping, as the config says
  model.optimizer = optimizerFromConfig(config.optimizer, 'config.compile.optimizer').attach(model.parameters());
  console.error(`${model.countParameters()} parameters`);

  const result = await trainLanguageModel(model, windows, {
    ...config.fit,
    seed: config.seed,
    loss: lt.nextTokenLoss,
    onEval: (r) => console.log(JSON.stringify({ iteration: r.step, train_loss: r.loss, val_loss: r.val_loss, lr: +r.lr.toExponential(3), ms_per_iter: r.ms_per_iter })),
  });
  const modelDir = path.resolve((flags.out as string | undefined) ?? path.join('runs', `${path.basename(configFile, '.json')}-gpt`, 'model'));
  lt.saveGPT(model, modelDir, { tokenizer });
  const sample = tokenizer.decode([...lt.generate(model, tokenizer.encode('\n'), { maxTokens: 300, temperature: 0.8, topK: 200, seed: config.seed })]);
  console.error(sample);
  console.log(JSON.stringify({ done: true, iterations: result.iterations, ms_per_iter: result.msPerIter, val_loss: result.valLoss, model_dir: modelDir }));
}

main(process.argv.slice(2)).catch((e) => {
  console.error(e instanceof lt.LatheError ? `lathe: ${e.message}` : e);
  process.exitCode = 1;
});
