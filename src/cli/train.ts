// `lathe train config.json`: train the model a config describes, write the run folder
// (run.json, config.json, metrics.jsonl, checkpoints/, model/, evaluation.json, misclassified/;
// the contract is src/train/runs/run-format.ts), and print progress or JSON lines. A language
// model config ("text" dataset, "gpt" model) goes to train-lm.ts.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { getBackend, initWebGPU, listBackends, setBackend } from '../backends/registry.js';
import { fail } from '../errors.js';
import { hostTensors } from '../train/checkpoint.js';
import { integratedGradientsHeatmaps } from '../explain/example-heatmaps.js';
import { saveModel } from '../io/saved-model.js';
import { BackupAndRestore, JsonLinesLogger, ModelCheckpoint, NanGuard, StepLogger } from '../train/callbacks/index.js';
import type { History } from '../train/fit.js';
import { rowRange } from '../train/model.js';
import { type RunConfig, type RunData, buildRunModel, checkLabels, loadRunData, readRunConfig } from '../train/run-config.js';
import { type Evaluation, type RunSummary, RunWriter, hyperparametersFromConfig, prepareRunFolder, writeRunEvaluation } from '../train/runs/index.js';
import type { Sequential } from '../train/sequential.js';
import type { Tensor } from '../tensor/tensor.js';
import { trainingAdvice } from '../train/advice.js';
import { isLanguageModelConfig } from '../train/lm/config.js';
import { parseArgs } from './args.js';
import { trainLanguageModelCommand } from './train-lm.js';

const USAGE = 'Usage: lathe train <config.json> [--data DIR|FILE] [--download] [--out RUN_DIR] [--save-to MODEL_DIR] [--epochs N | --iterations N] [--seed S] [--resume] [--json] [--backend js|native|webgpu]';
const BACKENDS = ['js', 'native', 'webgpu'];

export async function trainCommand(argv: string[]): Promise<number> {
  const { flags, positional } = parseArgs('train', argv, { data: 'string', download: 'flag', out: 'string', 'save-to': 'string', epochs: 'int', seed: 'number', json: 'flag', resume: 'flag', iterations: 'int', backend: 'string' });
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
  // LATHE_BACKEND=webgpu asks for what --backend webgpu does (the registry cannot: it is set up asynchronously).
  const backend = (flags.backend as string | undefined) ?? (process.env.LATHE_BACKEND === 'webgpu' ? 'webgpu' : undefined);
  if (backend !== undefined && !BACKENDS.includes(backend)) fail('train', `--backend must be one of ${BACKENDS.join(', ')}, got "${backend}"`);
  // The CPU backends are picked at once. With webgpu the data is still read and prepared on the
  // CPU (native when it loaded); the model is built and trained on the GPU.
  if (backend === 'js' || backend === 'native') setBackend(backend);
  if (backend === 'webgpu') setBackend(listBackends().includes('native') ? 'native' : 'js');
  if (isLanguageModelConfig(raw)) {
    if (flags.epochs !== undefined) fail('train', '--epochs: a language model config counts iterations; pass --iterations N');
    if (flags.download) fail('train', '--download: a "text" dataset is a local file; nothing to download');
    const str = (v: unknown) => (typeof v === 'string' ? v : undefined);
    return trainLanguageModelCommand(configFile, raw, {
      data: str(flags.data),
      out: str(flags.out),
      saveTo: str(flags['save-to']),
      iterations: flags.iterations as number | undefined,
      seed: flags.seed as number | undefined,
      json: Boolean(flags.json),
      resume: Boolean(flags.resume),
      gpu: backend === 'webgpu' ? await initWebGPU() : null,
    });
  }
  if (flags.iterations !== undefined) fail('train', '--iterations applies to language model configs (a "text" dataset); this config counts epochs: pass --epochs N');
  const config = readRunConfig(raw, { epochs: flags.epochs as number | undefined, seed: flags.seed as number | undefined });
  const json = Boolean(flags.json);
  const say = (s: string) => !json && console.log(s);

  // Everything that can be wrong with the config or the data fails here, before training.
  const data = await loadRunData(config, { data: flags.data as string | undefined, download: Boolean(flags.download), configDir: path.dirname(path.resolve(configFile)) });
  const inputShape = data.train[0].shape.slice(1);
  const hostBackend = getBackend();
  const gpu = backend === 'webgpu' ? await initWebGPU() : null;
  // On webgpu the model is built there, and fit's tensors (batch indices included) are created there.
  if (gpu) setBackend(gpu.name);
  let model = buildRunModel(config, inputShape, data.classes);
  checkLabels(data.train[1], data.classes, 'train labels');
  if (data.validation) checkLabels(data.validation[1], data.classes, 'validation labels');

  const { runDir, lastCheckpoint: lastCkpt } = prepareRunFolder(configFile, raw, { out: flags.out as string | undefined, resume: Boolean(flags.resume) });
  const ckptDir = path.dirname(lastCkpt);
  const optimizer = model.optimizer!;
  const run = new RunWriter(runDir, {
    id: path.basename(runDir),
    name: path.basename(configFile, '.json'),
    hyperparameters: {
      ...hyperparametersFromConfig(raw),
      optimizer: optimizer.type,
      learning_rate: optimizer.lr,
      batch_size: config.fit.batchSize,
      epochs: config.fit.epochs,
      seed: config.seed,
      params: model.countParameters(),
    },
  });
  say(model.summary());
  if (data.report) say(data.report);

  const epochSeconds: number[] = [];
  const restore = new BackupAndRestore(lastCkpt);
  const guard = new NanGuard();
  const steps = new StepLogger((r) => run.appendMetrics(r), { ...(config.fit.logEvery ? { every: config.fit.logEvery } : {}), time: () => run.elapsed() });
  const callbacks = [
    restore,
    guard,
    new ModelCheckpoint(ckptDir, { monitor: data.validation || data.validationSplit ? 'val_loss' : 'loss' }),
    steps,
    // One logger for the file and stdout, so that both hold the same figures (seconds included);
    // the file's line adds its kind, the rate and the time, stdout keeps the shape tools parse.
    new JsonLinesLogger((r) => {
      run.appendMetrics({ kind: 'epoch', ...r, lr: optimizer.lr, time: run.elapsed() });
      epochSeconds.push(r.seconds as number);
      if (json) console.log(JSON.stringify(r));
    }),
  ];
  let history: History = { epoch: [], history: {} };
  const summary = (evaluation: Evaluation | null): RunSummary => runSummary(history, epochSeconds, evaluation);
  // Ctrl-C or a kill ends the process at once (a handler would wait for the epoch's end, when fit
  // yields): run.json keeps "running" with a dead pid, which readers show as "stopped".
  // On webgpu the data stays on the CPU: fit moves each batch up (Tensor.to).
  try {
    history = await model.fit(data.train[0], data.train[1], {
      epochs: config.fit.epochs,
      batchSize: config.fit.batchSize,
      shuffle: config.fit.shuffle,
      seed: config.seed,
      callbacks,
      verbose: json ? 0 : 1,
      ...(data.validation ? { validationData: data.validation } : data.validationSplit ? { validationSplit: data.validationSplit } : {}),
    });
  } catch (e) {
    // (a failure's figures are those of the epochs it finished)
    history = model.fitState?.history ?? history;
    run.finish('failed', summary(null), (e as Error).message);
    throw e;
  } finally {
    if (gpu) setBackend(hostBackend.name);
  }
  // Saving and the final evaluation run on the CPU, on a copy of the trained weights and optimizer state.
  if (gpu) model = await modelOnHost(model, config, inputShape, data.classes);
  let evaluation: Evaluation | null = null;
  try {
    const modelDir = path.join(runDir, 'model');
    const saveOptions = { classNames: data.classNames, dataset: config.dataset.type, ...(data.preprocessor ? { preprocessing: data.preprocessor } : {}) };
    saveModel(model, modelDir, saveOptions);
    // --save-to: a second copy where a server looks, e.g. a model repository's models/mnist/1.
    if (typeof flags['save-to'] === 'string') saveModel(model, flags['save-to'], saveOptions);
    evaluation = await evaluateRun(runDir, model, config, data);
    const figures = summary(evaluation);
    const done = {
      done: true,
      epochs: figures.epochs,
      ...(restore.resumedAt !== null ? { resumed_at_epoch: restore.resumedAt } : {}),
      median_epoch_seconds: figures.median_epoch_seconds,
      val_accuracy: figures.val_accuracy,
      val_loss: figures.val_loss,
      test_accuracy: figures.test_accuracy,
      test_loss: figures.test_loss,
      model_dir: modelDir,
      run_dir: runDir,
      peak_rss_mb: figures.peak_rss_mb,
    };
    run.finish('finished', figures);
    if (json) console.log(JSON.stringify(done));
    else {
      if (evaluation && evaluation.metrics.accuracy !== undefined) say(`${evaluation.split} accuracy: ${evaluation.metrics.accuracy.toFixed(4)} (${evaluation.examples} examples; confusion matrix in evaluation.json)`);
      say(`Saved the model to ${modelDir}; metrics in ${run.metricsFile}`);
      for (const hint of trainingAdvice(history)) say(`advice: ${hint}`);
    }
  } catch (e) {
    run.finish('failed', summary(evaluation), (e as Error).message);
    throw e;
  }
  return 0;
}

/** The model rebuilt on the current (CPU) backend with the GPU model's weights and optimizer state, read back asynchronously. */
async function modelOnHost(model: Sequential, config: RunConfig, inputShape: readonly number[], classes: number): Promise<Sequential> {
  const host = buildRunModel(config, inputShape, classes);
  host.loadStateDict(await hostTensors(model.stateDict()));
  const opt = model.optimizer!.stateDict();
  host.optimizer!.loadStateDict({ ...opt, slots: await hostTensors(opt.slots) });
  return host;
}

const last = (history: History, k: string): number | null => history.history[k]?.[history.history[k].length - 1] ?? null;
const peakRssMb = () => +(process.resourceUsage().maxRSS / 1024).toFixed(1);

/** run.json's final figures: the last epoch's, the test split's, and the timings. */
function runSummary(history: History, epochSeconds: number[], evaluation: Evaluation | null): RunSummary {
  const sorted = [...epochSeconds].sort((a, b) => a - b);
  const test = evaluation?.split === 'test' ? evaluation : null;
  return {
    loss: last(history, 'loss'),
    accuracy: last(history, 'accuracy'),
    val_loss: last(history, 'val_loss'),
    val_accuracy: last(history, 'val_accuracy'),
    test_loss: test ? test.loss : null,
    test_accuracy: test?.metrics.accuracy ?? null,
    epochs: history.epoch.length ? history.epoch[history.epoch.length - 1] + 1 : 0,
    median_epoch_seconds: sorted.length ? +((sorted[(sorted.length - 1) >> 1] + sorted[sorted.length >> 1]) / 2).toFixed(4) : null,
    peak_rss_mb: peakRssMb(),
  };
}

/**
 * A classifier's evaluation.json (and, for images, the misclassified gallery): on the test split
 * when the dataset has one, else on the validation data; null for other models or no held-out data.
 */
async function evaluateRun(runDir: string, model: Sequential, config: RunConfig, data: RunData): Promise<Evaluation | null> {
  if (!model.loss || !/sparse/i.test(model.loss.name) || data.classNames.length < 2) return null;
  const spec = config.dataset;
  const named = spec.type === 'mnist' || spec.type === 'fashion-mnist';
  let split: Evaluation['split'] = 'validation';
  let held: [Tensor, Tensor] | null = null;
  if (data.test) [split, held] = ['test', data.test];
  else if (named && spec.validation === 'test' && data.validation) [split, held] = ['test', data.validation];
  else if (data.validation) held = data.validation;
  else if (data.validationSplit) {
    // the rows fit() held out: the last round(n * fraction)
    const n = data.train[0].shape[0];
    const cut = n - Math.max(1, Math.round(n * data.validationSplit));
    held = [rowRange(data.train[0], cut, n), rowRange(data.train[1], cut, n)];
  }
  if (!held) return null;
  const x = held[0];
  const imageShape: [number, number, number] | undefined = named
    ? [1, 28, 28]
    : spec.type === 'images' && x.rank === 4 && (x.shape[1] === 1 || x.shape[1] === 3) ? [x.shape[1], x.shape[2], x.shape[3]] : undefined;
  return writeRunEvaluation(runDir, model, held[0], held[1], { split, classNames: data.classNames, ...(imageShape ? { imageShape, explainer: integratedGradientsHeatmaps(model) } : {}) });
}
