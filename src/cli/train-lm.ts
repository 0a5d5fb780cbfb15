// `lathe train` for a language-model config ("text" dataset, "gpt" model, iterations): the data
// and the model are built and checked first, then the run folder is written as for other models
// (run.json, config.json, metrics.jsonl with step and eval lines, checkpoints/last.safetensors,
// model/ with its tokenizer) plus samples.jsonl. --json prints one line per evaluation and then
// {"done": true, "iterations", "ms_per_iter", "val_loss", "model_dir"}.
// With a GPU (--backend webgpu) the model is built and trained there; the samples and the saved
// model come from a copy of its weights read back to the CPU.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Backend } from '../backends/backend.js';
import { getBackend, setBackend, withBackend } from '../backends/registry.js';
import { LatheError, fail } from '../errors.js';
import { generate } from '../models/gpt/generate.js';
import { GPT, nextTokenLoss } from '../models/gpt/gpt.js';
import { saveGPT } from '../models/gpt/saved.js';
import { optimizerFromConfig } from '../optim/index.js';
import { manualSeed } from '../tensor/random.js';
import { hostTensors } from '../train/checkpoint.js';
import { loadTextData, readLanguageModelConfig, trainLanguageModel } from '../train/lm/index.js';
import { type RunSummary, RunWriter, hyperparametersFromConfig, prepareRunFolder } from '../train/runs/index.js';

export interface TrainFlags {
  data?: string;
  out?: string;
  saveTo?: string;
  iterations?: number;
  seed?: number;
  json: boolean;
  resume: boolean;
  /** The GPU backend to train on (webgpu, set up); the CPU backend current at the call otherwise. */
  gpu?: Backend | null;
}

/** nanoGPT's sample.py: temperature 0.8, top-k 200 (all of a character vocabulary). */
const SAMPLING = { temperature: 0.8, topK: 200 };

export async function trainLanguageModelCommand(configFile: string, raw: unknown, flags: TrainFlags): Promise<number> {
  const config = readLanguageModelConfig(raw, { ...(flags.iterations !== undefined ? { iterations: flags.iterations } : {}), ...(flags.seed !== undefined ? { seed: flags.seed } : {}) });
  const say = (s: string) => !flags.json && console.log(s);

  // Everything that can be wrong with the config or the data fails here, before training.
  const { blockSize } = config.model;
  const data = loadTextData(config.dataset, blockSize, { data: flags.data, configDir: path.dirname(path.resolve(configFile)) });
  const { tokenizer, windows } = data;
  manualSeed(config.seed);
  const { type: _, ...modelFields } = config.model;
  const host = getBackend().name;
  const gpu = flags.gpu ?? null;
  // The weights are created on the current backend: the GPU's while it is set up.
  const model = withBackend(gpu?.name ?? host, () => naming('config.model', () => GPT.fromConfig({ ...modelFields, vocabSize: tokenizer.vocabSize, seed: config.seed }, 'config.model')));
  model.optimizer = optimizerFromConfig(config.optimizer, 'config.compile.optimizer');
  model.optimizer.attach(model.parameters(), 'config.compile.optimizer');
  const onHost = async () => (gpu ? gptOnHost(model, host) : model);
  const prompt = firstPrompt(tokenizer, windows.train.tokens);

  const { runDir, lastCheckpoint: ckptFile } = prepareRunFolder(configFile, raw, { out: flags.out, resume: flags.resume });
  const optimizer = model.optimizer;
  const fit = config.fit;
  const schedule = optimizer.schedule;
  const run = new RunWriter(runDir, {
    id: path.basename(runDir),
    name: path.basename(configFile, '.json'),
    hyperparameters: {
      ...hyperparametersFromConfig(raw),
      optimizer: optimizer.type,
      // the peak of a warmup schedule says more than its first step's 0
      learning_rate: schedule ? Math.max(...Array.from({ length: fit.iterations + 1 }, (_, s) => schedule.at(s))) : optimizer.lr,
      batch_size: fit.batchSize,
      epochs: null,
      iterations: fit.iterations,
      gradient_accumulation: fit.gradientAccumulation,
      seed: config.seed,
      layers: `gpt(${model.config.nLayer}x${model.config.nHead}x${model.config.nEmbd},block ${blockSize})`,
      loss: 'next-token cross-entropy',
      tokenizer: config.dataset.tokenizer,
      vocab_size: tokenizer.vocabSize,
      params: model.countParameters(),
    },
  });
  const samplesFile = path.join(runDir, 'samples.jsonl');
  say(`GPT: ${model.config.nLayer} layer${model.config.nLayer > 1 ? 's' : ''}, ${model.config.nHead} heads, ${model.config.nEmbd} embedding, block ${blockSize}, ${model.countParameters()} parameters`);
  say(data.report);

  let summary: RunSummary = emptySummary();
  try {
    // On a GPU the run's own tensors (each batch, the positions) are made there too, as fit does.
    if (gpu) setBackend(gpu.name);
    const result = await trainLanguageModel(model, windows, {
      ...fit,
      seed: config.seed,
      loss: nextTokenLoss,
      sample: async (maxTokens) => {
        const sampler = await onHost();
        return withBackend(host, () => tokenizer.decode([...generate(sampler, [prompt.id], { maxTokens, ...SAMPLING, seed: config.seed })]));
      },
      checkpointFile: ckptFile,
      resume: flags.resume,
      time: () => run.elapsed(),
      onStep: (r) => run.appendMetrics({ ...r }),
      onEval: (r, sample) => {
        run.appendMetrics({ ...r });
        if (sample !== null) fs.appendFileSync(samplesFile, `${JSON.stringify({ step: r.step, prompt: prompt.text, text: sample, time: r.time })}\n`);
        summary = { ...emptySummary(), loss: r.loss, val_loss: r.val_loss, iterations: r.step, ms_per_iter: r.ms_per_iter };
        if (flags.json) console.log(JSON.stringify({ iteration: r.step, train_loss: r.loss, val_loss: r.val_loss, lr: +r.lr.toExponential(3), ms_per_iter: r.ms_per_iter, time: r.time }));
        else say(`step ${r.step}/${fit.iterations}: train loss ${r.loss.toFixed(4)}, val loss ${r.val_loss?.toFixed(4) ?? '-'}, lr ${r.lr.toExponential(2)}, ${r.ms_per_iter} ms/step${sample !== null ? `\n${prompt.text}${sample}\n` : ''}`);
      },
    });
    setBackend(host);
    const modelDir = path.join(runDir, 'model');
    const trained = await onHost();
    saveGPT(trained, modelDir, { tokenizer, dataset: 'text' });
    // --save-to: a second copy where a server looks, e.g. a model repository's models/shakespeare/1.
    if (flags.saveTo) saveGPT(trained, flags.saveTo, { tokenizer, dataset: 'text' });
    summary = { ...summary, loss: result.loss, val_loss: result.valLoss, iterations: result.iterations, ms_per_iter: result.msPerIter, peak_rss_mb: peakRssMb() };
    run.finish('finished', summary);
    if (flags.json) console.log(JSON.stringify({ done: true, iterations: result.iterations, ms_per_iter: result.msPerIter, val_loss: result.valLoss, model_dir: modelDir }));
    else say(`Saved the model to ${modelDir} (try: lathe generate ${modelDir}); metrics in ${run.metricsFile}, samples in ${samplesFile}`);
  } catch (e) {
    run.finish('failed', { ...summary, peak_rss_mb: peakRssMb() }, (e as Error).message);
    throw e;
  } finally {
    setBackend(host);
  }
  return 0;
}

/** A copy of a GPU model on the `host` backend, its weights read back: generation reads each token's logits at once, and saving is synchronous. */
async function gptOnHost(model: GPT, host: string): Promise<GPT> {
  const weights = await hostTensors(model.stateDict());
  return withBackend(host, () => {
    const copy = new GPT(model.config);
    copy.loadStateDict(weights);
    if (model.optimizer) copy.optimizer = model.optimizer; // its config goes in model.json (saveGPT)
    return copy;
  });
}

/** The sample's prompt: "\n" as nanoGPT's sample.py, or the text's first token when "\n" has no id. */
function firstPrompt(tokenizer: { encode(s: string): Int32Array; decode(ids: ArrayLike<number>): string }, train: ArrayLike<number>): { id: number; text: string } {
  try {
    const ids = tokenizer.encode('\n');
    if (ids.length === 1) return { id: ids[0], text: '\n' };
  } catch (e) {
    if (!(e instanceof LatheError)) throw e;
  }
  return { id: train[0], text: tokenizer.decode([train[0]]) };
}

/** Runs f, re-raising its LatheError under the config field: the GPT's own checks say "gpt: ...". */
function naming<T>(field: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (!(e instanceof LatheError) || e.message.startsWith(`${field}`)) throw e;
    return fail(field, e.message.replace(/^[^:]*: /, ''));
  }
}

const peakRssMb = () => +(process.resourceUsage().maxRSS / 1024).toFixed(1);

function emptySummary(): RunSummary {
  return { loss: null, accuracy: null, val_loss: null, val_accuracy: null, test_loss: null, test_accuracy: null, epochs: 0, median_epoch_seconds: null, peak_rss_mb: null };
}
