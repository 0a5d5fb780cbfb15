// `lathe train config.json`: train the model a config describes, write the run folder
// (config.json, metrics.jsonl, checkpoints/, model/), and print progress or JSON lines.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { writeFileAtomic } from '../atomic-write.js';
import { fail } from '../errors.js';
import { saveModel } from '../io/saved-model.js';
import { BackupAndRestore, JsonLinesLogger, ModelCheckpoint, NanGuard } from '../train/callbacks/index.js';
import { buildRunModel, checkLabels, loadRunData, readRunConfig } from '../train/run-config.js';
import { trainingAdvice } from '../train/advice.js';
import { parseArgs } from './args.js';

const USAGE = 'Usage: lathe train <config.json> [--data DIR|FILE] [--download] [--out RUN_DIR] [--save-to MODEL_DIR] [--epochs N] [--seed S] [--resume] [--json]';

export async function trainCommand(argv: string[]): Promise<number> {
  const { flags, positional } = parseArgs('train', argv, { data: 'string', download: 'flag', out: 'string', 'save-to': 'string', epochs: 'int', seed: 'number', json: 'flag', resume: 'flag' });
  if (positional.length !== 1) fail('train', `expected one config file. ${USAGE}`);
  const configFile = positional[0];
  if (!fs.existsSync(configFile)) fail('train', `${configFile} not found`);
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(configFile, 'utf8'));
  } catch (e) {
    fail(configFile, `not valid JSON (${(e as Error).message})`);
  }
  if (flags.seed !== undefined && !Number.isInteger(flags.seed)) fail('train', `--seed must be an integer, got ${flags.seed}`);
  const config = readRunConfig(raw, { epochs: flags.epochs as number | undefined, seed: flags.seed as number | undefined });
  const json = Boolean(flags.json);
  const say = (s: string) => !json && console.log(s);

  // Everything that can be wrong with the config or the data fails here, before training.
  const data = await loadRunData(config, { data: flags.data as string | undefined, download: Boolean(flags.download), configDir: path.dirname(path.resolve(configFile)) });
  const inputShape = data.train[0].shape.slice(1);
  const model = buildRunModel(config, inputShape, data.classes);
  checkLabels(data.train[1], data.classes, 'train labels');
  if (data.validation) checkLabels(data.validation[1], data.classes, 'validation labels');

  const runDir = path.resolve((flags.out as string | undefined) ?? path.join('runs', `${path.basename(configFile, '.json')}-${new Date().toISOString().replace(/[:.]/g, '-')}`));
  const ckptDir = path.join(runDir, 'checkpoints');
  const lastCkpt = path.join(ckptDir, 'last.safetensors');
  if (fs.existsSync(lastCkpt) && !flags.resume) fail('train', `${runDir} already holds a run; pass --resume to continue it, or choose another --out`);
  if (flags.resume && !fs.existsSync(lastCkpt)) fail('train', `--resume: ${lastCkpt} not found, nothing to resume`);
  fs.mkdirSync(runDir, { recursive: true });
  writeFileAtomic(path.join(runDir, 'config.json'), `${JSON.stringify(raw, null, 2)}\n`);
  say(model.summary());
  if (data.report) say(data.report);

  const epochSeconds: number[] = [];
  const metricsFile = path.join(runDir, 'metrics.jsonl');
  const restore = new BackupAndRestore(lastCkpt);
  const guard = new NanGuard();
  const callbacks = [
    restore,
    guard,
    new ModelCheckpoint(ckptDir, { monitor: data.validation || data.validationSplit ? 'val_loss' : 'loss' }),
    // One logger for the file and stdout, so that both hold the same record (seconds included).
    new JsonLinesLogger((r) => {
      const line = JSON.stringify(r);
      fs.appendFileSync(metricsFile, `${line}\n`);
      epochSeconds.push(r.seconds as number);
      if (json) console.log(line);
    }),
  ];
  const history = await model.fit(data.train[0], data.train[1], {
    epochs: config.fit.epochs,
    batchSize: config.fit.batchSize,
    shuffle: config.fit.shuffle,
    seed: config.seed,
    callbacks,
    verbose: json ? 0 : 1,
    ...(data.validation ? { validationData: data.validation } : data.validationSplit ? { validationSplit: data.validationSplit } : {}),
  });
  const modelDir = path.join(runDir, 'model');
  const saveOptions = { classNames: data.classNames, dataset: config.dataset.type, ...(data.preprocessor ? { preprocessing: data.preprocessor } : {}) };
  saveModel(model, modelDir, saveOptions);
  // --save-to: a second copy where a server looks, e.g. a model repository's models/mnist/1.
  if (typeof flags['save-to'] === 'string') saveModel(model, flags['save-to'], saveOptions);
  const last = (k: string) => history.history[k]?.[history.history[k].length - 1];
  const sorted = [...epochSeconds].sort((a, b) => a - b);
  const done = {
    done: true,
    epochs: history.epoch.length ? history.epoch[history.epoch.length - 1] + 1 : 0,
    ...(restore.resumedAt !== null ? { resumed_at_epoch: restore.resumedAt } : {}),
    median_epoch_seconds: sorted.length ? +((sorted[(sorted.length - 1) >> 1] + sorted[sorted.length >> 1]) / 2).toFixed(4) : null,
    val_accuracy: last('val_accuracy') ?? null,
    val_loss: last('val_loss') ?? null,
    model_dir: modelDir,
    peak_rss_mb: +(process.resourceUsage().maxRSS / 1024).toFixed(1),
  };
  if (json) console.log(JSON.stringify(done));
  else {
    say(`Saved the model to ${modelDir}; metrics in ${metricsFile}`);
    for (const hint of trainingAdvice(history)) say(`advice: ${hint}`);
  }
  return 0;
}
