// lathe quantize as a user runs it: on a model lathe train saved (synthetic digits in MNIST's
// IDX files), the int8 folder, its report, and evaluate on it; with $LATHE_DATA, issue 10's
// acceptance on the real MNIST: the brief's MLP and the CNN, dynamic and static, at least 3.5x
// smaller and at most 0.3 points less accurate.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as lt from '../../src/index.js';
import { LATHE_BIN } from '../cli-process.js';
import { mlpConfig, writeSyntheticMnist } from '../train/synthetic-mnist.js';

const { LATHE_DATA: dataRoot, ...envWithoutData } = process.env;

function lathe(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  return spawnSync(process.execPath, [LATHE_BIN, ...args], { encoding: 'utf8', env: envWithoutData });
}

interface Report {
  mode: string;
  evaluation: string;
  bytes: { float: number; quantized: number };
  accuracy: { float: number; quantized: number };
  latencyMs: { batch: number; float: number; quantized: number }[];
  int8Kernel?: string;
  layers: { name: string; type: string; quantizedType: string; cosine: number; reason?: string }[];
}

describe('lathe quantize on a model lathe train saved', () => {
  let tmp: string;
  let data: string;
  let model: string;
  before(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lathe-quantize-cli-'));
    data = writeSyntheticMnist(400, 200);
    const config = path.join(tmp, 'digits.json');
    fs.writeFileSync(config, JSON.stringify(mlpConfig({ hidden: 64, epochs: 2, lr: 0.003 })));
    model = path.join(tmp, 'model');
    const r = lathe('train', config, '--data', data, '--out', path.join(tmp, 'run'), '--save-to', model, '--json');
    assert.equal(r.status, 0, r.stderr);
  });
  after(() => {
    for (const dir of [tmp, data]) fs.rmSync(dir, { recursive: true, force: true });
  });

  for (const mode of ['dynamic', 'static'] as const) {
    test(`${mode}: an int8 folder, its report printed and written, and evaluate runs on it`, () => {
      const out = path.join(tmp, `q-${mode}`);
      const r = lathe('quantize', model, '--out', out, '--data', data, '--mode', mode, '--json');
      assert.equal(r.status, 0, r.stderr);
      const report = JSON.parse(r.stdout) as Report;
      assert.deepEqual(report, JSON.parse(fs.readFileSync(path.join(out, 'quantization-report.json'), 'utf8')));
      assert.equal(report.mode, mode);
      assert.equal(report.evaluation, 'mnist test (200 examples)');
      assert.equal(report.bytes.quantized, fs.statSync(path.join(out, 'weights.safetensors')).size);
      assert.ok(report.bytes.float / report.bytes.quantized > 3.5, `${report.bytes.float} -> ${report.bytes.quantized} bytes`);
      assert.ok(Math.abs(report.accuracy.quantized - report.accuracy.float) <= 0.02, JSON.stringify(report.accuracy));
      assert.deepEqual(report.latencyMs.map((l) => l.batch), [1, 32]);
      assert.ok(report.latencyMs.every((l) => l.float > 0 && l.quantized > 0));
      assert.deepEqual(report.layers.map((l) => l.quantizedType), ['rescaling', 'quantizeddense', 'quantizeddense']);
      assert.ok(report.layers.every((l) => l.cosine > 0.99), JSON.stringify(report.layers));
      const text = fs.readFileSync(path.join(out, 'quantization-report.txt'), 'utf8');
      assert.match(text, /weights\s+\S+ KiB\s+\S+ KiB\s+\d\.\d\dx smaller/);
      assert.match(text, /latency, batch 32 .* \d\.\d\dx (faster|slower)/);
      // The int8 kernel that ran, and on a CPU without VNNI the reason int8 is no faster there.
      const kernel = lt.nativeInfo()?.qgemmKernel;
      assert.equal(report.int8Kernel, kernel);
      assert.equal(text.includes('without AVX-512 VNNI'), kernel !== undefined && kernel !== 'avx512vnni');
      const saved = JSON.parse(fs.readFileSync(path.join(out, 'model.json'), 'utf8'));
      assert.equal(saved.training.dataset, 'mnist');
      assert.equal(saved.architecture.layers[1].inputQuantization.mode, mode);
      const evaluated = lathe('evaluate', out, '--data', data, '--json');
      assert.equal(evaluated.status, 0, evaluated.stderr);
      assert.ok(Math.abs(JSON.parse(evaluated.stdout).accuracy - report.accuracy.quantized) < 1e-9);
    });
  }

  test('bad options are named, and nothing is written (an empty calibration set: test/quant)', () => {
    assert.match(lathe('quantize', model, '--out', path.join(tmp, 'x'), '--mode', 'fancy', '--data', data).stderr, /--mode must be dynamic or static, got "fancy"/);
    assert.match(lathe('quantize', model, '--out', model).stderr, /--out must differ from the model folder/);
    assert.match(lathe('quantize', model, '--out', path.join(tmp, 'x'), '--calibration-size', '0', '--data', data).stderr, /--calibration-size must be a positive integer/);
    assert.match(lathe('quantize', model, '--data', data).stderr, /Usage: lathe quantize <model_dir> --out DIR/);
    assert.match(lathe('quantize', model, '--out', path.join(tmp, 'x'), '--data', data, '--keep-float', 'nope').stderr, /--keep-float names no layer "nope"/);
    assert.ok(!fs.existsSync(path.join(tmp, 'x')), 'nothing is written when quantizing fails');
  });
});

// A GPT folder: its blocks' projections in int8, calibrated and judged on the text --data names
// (synthetic here, so the test needs no dataset); the folder generates as the float one does.
describe('lathe quantize on a saved GPT', () => {
  test('projections in int8, the next-token loss before and after, a folder lathe generate takes', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lathe-quantize-gpt-'));
    try {
      const text = 'to be or not to be, that is the question. '.repeat(40);
      fs.writeFileSync(path.join(dir, 'text.txt'), text);
      const tokenizer = lt.data.text.CharTokenizer.fromText(text);
      lt.saveGPT(new lt.GPT({ vocabSize: tokenizer.vocabSize, blockSize: 16, nLayer: 1, nHead: 2, nEmbd: 32, seed: 2 }), path.join(dir, 'float'), { tokenizer });
      assert.match(lathe('quantize', path.join(dir, 'float'), '--out', path.join(dir, 'int8')).stderr, /a GPT is calibrated and judged on text: pass --data FILE/);
      const r = lathe('quantize', path.join(dir, 'float'), '--out', path.join(dir, 'int8'), '--data', path.join(dir, 'text.txt'), '--mode', 'static', '--min-inputs', '16', '--json');
      assert.equal(r.status, 0, r.stderr);
      const report = JSON.parse(r.stdout) as Omit<Report, 'accuracy'> & { loss: { float: number; quantized: number } };
      assert.deepEqual(report.layers.map((l) => `${l.name} ${l.quantizedType}`), ['h0.attn.qkv', 'h0.attn.proj', 'h0.fc', 'h0.mlpProj'].map((n) => `${n} quantizeddense`));
      assert.match(report.evaluation, /next-token loss on the last 10% of text.txt/);
      assert.ok(Math.abs(report.loss.quantized - report.loss.float) < 0.01, JSON.stringify(report.loss));
      const g = lathe('generate', path.join(dir, 'int8'), '--prompt', 'to be', '--max-tokens', '5', '--seed', '1');
      assert.equal(g.status, 0, g.stderr);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

const mnistDir = dataRoot && path.join(dataRoot, 'mnist');
const haveMnist = mnistDir !== undefined && fs.existsSync(path.join(mnistDir, 't10k-images-idx3-ubyte.gz'));

describe('issue 10 acceptance on MNIST: 3.5x smaller, at most 0.3 points less accurate', { skip: !haveMnist && 'set LATHE_DATA to a folder with mnist/' }, () => {
  let tmp: string;
  before(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lathe-quantize-mnist-'));
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  async function trained(name: 'mlp' | 'cnn'): Promise<string> {
    const config = JSON.parse(fs.readFileSync(new URL(`../../../examples/mnist-${name}.json`, import.meta.url), 'utf8'));
    const { train } = await lt.data.datasets.mnist.load({ dir: mnistDir });
    // One epoch (the CNN on 12,000 images): enough for 97-98%, and a test that stays short.
    const n = name === 'cnn' ? 12_000 : train.images.shape[0];
    const model = lt.Sequential.fromConfig([{ type: 'rescaling', scale: 1 / 255, inputShape: config.dataset.inputShape }, ...config.model.layers.map((l: Record<string, unknown>) => ({ ...l, inputShape: undefined }))]);
    lt.manualSeed(0);
    model.compile({ optimizer: 'adam', loss: 'sparse_categorical_crossentropy', metrics: ['accuracy'] });
    const x = train.images.slice([0], [n]).reshape([n, ...config.dataset.inputShape]);
    await model.fit(x, train.labels.slice([0], [n]), { epochs: 1, batchSize: 32, verbose: 0 });
    const dir = path.join(tmp, name);
    lt.save(model, dir, { dataset: 'mnist' });
    return dir;
  }

  for (const name of ['mlp', 'cnn'] as const) {
    test(`the ${name === 'mlp' ? "brief's MLP" : 'MNIST CNN'}, dynamic and static`, async (t) => {
      const model = await trained(name);
      for (const mode of ['dynamic', 'static'] as const) {
        const r = lathe('quantize', model, '--out', path.join(tmp, `${name}-${mode}`), '--data', mnistDir!, '--mode', mode, '--json');
        assert.equal(r.status, 0, r.stderr);
        const report = JSON.parse(r.stdout) as Report;
        const { float, quantized } = report.accuracy;
        t.diagnostic(`${name} ${mode}: ${(report.bytes.float / report.bytes.quantized).toFixed(2)}x smaller, accuracy ${float} -> ${quantized}, batch 32 ${(report.latencyMs[1].float / report.latencyMs[1].quantized).toFixed(2)}x faster`);
        assert.equal(report.evaluation, 'mnist test (10000 examples)');
        assert.ok(float > 0.95, `the float model learned: ${float}`);
        assert.ok(report.bytes.float / report.bytes.quantized >= 3.5, `${report.bytes.float} -> ${report.bytes.quantized} bytes`);
        assert.ok(float - quantized <= 0.003, `accuracy ${float} -> ${quantized}`);
      }
    });
  }
});
