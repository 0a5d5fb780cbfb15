// Language-model training (src/train/lm): the config reader's errors name the field; the loop
// lowers the loss, gradient accumulation of 2 x 4 windows takes the step one batch of 8 takes,
// and a run resumed from its checkpoint ends with the weights of an uninterrupted one.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, test } from 'node:test';
import * as lt from '../../src/index.js';
import { CharTokenizer, TokenWindows } from '../../src/data/text/index.js';
import { optimizerFromConfig } from '../../src/optim/index.js';
import { isLanguageModelConfig, loadTextData, readLanguageModelConfig, trainLanguageModel, type LanguageModelRunConfig } from '../../src/train/lm/index.js';
import { readRunConfig } from '../../src/train/run-config.js';
import { assertThrowsLathe } from '../helpers.js';
import { shakespeareLikeText, tinyLanguageModelConfig } from './lm-fixture.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lathe-lm-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));
const textFile = path.join(tmp, 'text.txt');
fs.writeFileSync(textFile, shakespeareLikeText());

const edited = (edit: (c: Record<string, any>) => void) => {
  const c = tinyLanguageModelConfig(textFile);
  edit(c);
  return c;
};

describe('the language-model config', () => {
  test('read with defaults and overrides', () => {
    const c = readLanguageModelConfig(edited((c) => (c.fit = { iterations: 100 })), { seed: 9 });
    assert.equal(c.seed, 9);
    assert.deepEqual(c.dataset, { type: 'text', path: textFile, tokenizer: 'char', vocabSize: null, validationSplit: 0.1 });
    assert.deepEqual(c.fit, { iterations: 100, batchSize: 12, gradientAccumulation: 1, evalInterval: 100, evalIterations: 20, sampleTokens: 200, logEvery: 10 });
    assert.equal(readLanguageModelConfig(tinyLanguageModelConfig(textFile), { iterations: 7 }).fit.iterations, 7);
    assert.ok(isLanguageModelConfig(tinyLanguageModelConfig(textFile)));
    assert.ok(!isLanguageModelConfig({ dataset: { type: 'mnist' }, model: { layers: [] } }));
  });

  test('every error names its field', () => {
    const cases: [(c: Record<string, any>) => void, RegExp][] = [
      [(c) => (c.dataset.tokenizer = 'word'), /config\.dataset: "tokenizer" must be one of/],
      [(c) => (c.dataset.tokenizer = 'bpe'), /config\.dataset: "vocabSize" is required with "tokenizer": "bpe"/],
      [(c) => Object.assign(c.dataset, { tokenizer: 'bpe', vocabSize: 100 }), /config\.dataset: "vocabSize" must be at least 256/],
      [(c) => (c.dataset.vocabSize = 300), /config\.dataset: "vocabSize" applies to "tokenizer": "bpe" only/],
      [(c) => (c.dataset.validationSplit = 1.5), /config\.dataset: "validationSplit" must be a number in \[0, 0\.99\], got 1\.5/],
      [(c) => (c.dataset.type = 'csv'), /config\.dataset: a "gpt" model trains on \{"type": "text"/],
      [(c) => (c.dataset.blocksize = 3), /config\.dataset: unknown field "blocksize"/],
      [(c) => delete c.model.blockSize, /config\.model: "blockSize" is required/],
      [(c) => (c.model.vocabSize = 65), /config\.model: "vocabSize" comes from the tokenizer/],
      [(c) => (c.compile.loss = 'mse'), /config\.compile: unknown field "loss"/],
      [(c) => delete c.compile.optimizer, /config\.compile: "optimizer" is required/],
      [(c) => (c.fit.epochs = 3), /config\.fit: a language model counts "iterations", not "epochs"/],
      [(c) => (c.fit.evalInterval = 0), /config\.fit: "evalInterval" must be a positive integer, got 0/],
      [(c) => (c.fit.gradientAccumulation = 1.5), /config\.fit: "gradientAccumulation" must be a positive integer, got 1\.5/],
      [(c) => (c.fit.sampleTokens = -1), /config\.fit: "sampleTokens" must be an integer >= 0, got -1/],
      [(c) => delete c.fit.iterations, /config\.fit: "iterations" is required/],
    ];
    for (const [edit, pattern] of cases) assertThrowsLathe(() => readLanguageModelConfig(edited(edit)), pattern);
    // the epoch-based reader points language model configs here
    assertThrowsLathe(() => readRunConfig(tinyLanguageModelConfig(textFile)), /config: a "text" dataset or a "gpt" model is a language model config/);
  });

  test('data that cannot hold a window fails before training, naming the field', () => {
    const short = path.join(tmp, 'short.txt');
    fs.writeFileSync(short, 'abcdefghij'.repeat(10));
    const c = readLanguageModelConfig(edited((c) => (c.dataset.path = short)));
    assertThrowsLathe(() => loadTextData(c.dataset, 16), /config\.dataset: "validationSplit" 0\.1 leaves 10 validation tokens; a window of config\.model\.blockSize 16 needs at least 17/);
    assertThrowsLathe(() => loadTextData({ ...c.dataset, path: 'nope.txt' }, 16, { data: tmp }), /config\.dataset: "path" "nope\.txt": .*nope\.txt not found/);
    const data = loadTextData({ ...c.dataset, validationSplit: 0 }, 16);
    assert.equal(data.windows.val.tokens.length, 0);
  });

  test('a "bpe" tokenizer is learned from the text with the vocabulary asked for', () => {
    const c = readLanguageModelConfig(edited((c) => Object.assign(c.dataset, { tokenizer: 'bpe', vocabSize: 300 })));
    const data = loadTextData(c.dataset, 16);
    assert.equal(data.tokenizer.vocabSize, 300);
    const text = fs.readFileSync(textFile, 'utf8');
    assert.ok(data.windows.tokens.length < text.length * 0.6, `${data.windows.tokens.length} tokens for ${text.length} characters`);
    assert.equal(data.tokenizer.decode(data.windows.tokens), text);
  });
});

/** A GPT and AdamW for the tiny config, from its seed. */
function tinyModel(config: LanguageModelRunConfig, vocabSize: number): lt.GPT {
  const { type: _, ...fields } = config.model;
  const model = lt.GPT.fromConfig({ ...fields, vocabSize, seed: config.seed });
  model.optimizer = optimizerFromConfig(config.optimizer).attach(model.parameters());
  return model;
}

const flat = (m: lt.GPT) => Object.values(m.stateDict()).flatMap((t) => Array.from(t.dataSync()));

describe('the loop', () => {
  const config = readLanguageModelConfig(tinyLanguageModelConfig(textFile));
  const text = fs.readFileSync(textFile, 'utf8');
  const tokenizer = CharTokenizer.fromText(text);
  const windows = TokenWindows.fromText(text, tokenizer, { blockSize: 16, validationSplit: 0.1 });
  const base = { ...config.fit, seed: config.seed, loss: lt.nextTokenLoss };

  test('lowers the validation loss, samples text, and reports each evaluation', async () => {
    const model = tinyModel(config, tokenizer.vocabSize);
    const evals: number[] = [];
    const samples: (string | null)[] = [];
    const r = await trainLanguageModel(model, windows, { ...base, iterations: 40, sample: (n) => 'x'.repeat(n), onEval: (e, s) => (evals.push(e.step), samples.push(s)) });
    assert.deepEqual(evals, [10, 20, 30, 40]);
    assert.deepEqual(samples, Array(4).fill('x'.repeat(40)));
    const [first, last] = [r.evaluations[0], r.evaluations[3]];
    // ln(vocab) is about 3.4 for the uniform model; 40 steps learn the letter frequencies at least
    assert.ok(first.val_loss! < Math.log(tokenizer.vocabSize) + 0.1, `first val loss ${first.val_loss}`);
    assert.ok(last.val_loss! < first.val_loss! - 0.3, `val loss ${first.val_loss} -> ${last.val_loss}`);
    assert.equal(r.valLoss, last.val_loss);
    assert.equal(r.iterations, 40);
    assert.ok(r.msPerIter! > 0);
  });

  test('gradient accumulation of 2 x 4 windows takes the step one batch of 8 takes', async () => {
    // SGD, whose step is proportional to the gradient (Adam's hardly changes when it doubles)
    const sgd = { ...config, optimizer: { type: 'sgd', lr: 0.5 } };
    const one = tinyModel(sgd, tokenizer.vocabSize);
    const two = tinyModel(sgd, tokenizer.vocabSize);
    const fit = { ...base, iterations: 3, evalInterval: 100, sampleTokens: 0 };
    await trainLanguageModel(one, windows, { ...fit, batchSize: 8, gradientAccumulation: 1 });
    await trainLanguageModel(two, windows, { ...fit, batchSize: 4, gradientAccumulation: 2 });
    const [a, b] = [flat(one), flat(two)];
    let worst = 0;
    for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
    assert.ok(worst < 1e-5, `largest weight difference ${worst}`);
    // and the step did move the weights
    const fresh = flat(tinyModel(sgd, tokenizer.vocabSize));
    assert.ok(a.some((v, i) => Math.abs(v - fresh[i]) > 1e-4));
  });

  test('a resumed run ends with the weights of an uninterrupted one', async () => {
    const ckpt = path.join(tmp, 'resume.safetensors');
    const fit = { ...base, evalInterval: 10, sampleTokens: 0 };
    const straight = tinyModel(config, tokenizer.vocabSize);
    await trainLanguageModel(straight, windows, { ...fit, iterations: 20 });
    await trainLanguageModel(tinyModel(config, tokenizer.vocabSize), windows, { ...fit, iterations: 10, checkpointFile: ckpt });
    const resumed = tinyModel(config, tokenizer.vocabSize);
    const r = await trainLanguageModel(resumed, windows, { ...fit, iterations: 20, checkpointFile: ckpt, resume: true });
    assert.equal(r.resumedAt, 10);
    assert.deepEqual(r.evaluations.map((e) => e.step), [10, 20]);
    assert.deepEqual(flat(resumed), flat(straight));
    assert.equal(resumed.optimizer!.iterations, 20);
  });
});

describe('examples/shakespeare-char.json', () => {
  const example = JSON.parse(fs.readFileSync(new URL('../../../examples/shakespeare-char.json', import.meta.url), 'utf8'));

  test('is the issue\'s configuration: 4 layers, 4 heads, 128 embedding, block 64, batch 12, 2000 steps, AdamW with warmup and cosine decay', () => {
    const c = readLanguageModelConfig(example);
    assert.deepEqual(c.model, { type: 'gpt', blockSize: 64, nLayer: 4, nHead: 4, nEmbd: 128, dropout: 0 });
    assert.equal(c.fit.iterations, 2000);
    assert.equal(c.fit.batchSize, 12);
    const opt = optimizerFromConfig(c.optimizer);
    assert.equal(opt.type, 'adamw');
    assert.equal(opt.schedule!.at(100), 1e-3);
    assert.ok(Math.abs(opt.schedule!.at(2000) - 1e-4) < 1e-9);
  });

  const data = process.env.LATHE_DATA;
  const file = data ? path.join(data, 'tinyshakespeare', 'input.txt') : '';
  test('with $LATHE_DATA: the text loads as 65 characters, split 90/10', { skip: !data || !fs.existsSync(file) ? 'set LATHE_DATA to a folder with tinyshakespeare/input.txt' : false }, () => {
    const c = readLanguageModelConfig(example);
    const loaded = loadTextData(c.dataset, c.model.blockSize, { data });
    assert.equal(loaded.tokenizer.vocabSize, 65);
    assert.equal(loaded.windows.tokens.length, 1115394);
    assert.equal(loaded.windows.train.tokens.length, Math.floor(1115394 * 0.9));
  });
});
