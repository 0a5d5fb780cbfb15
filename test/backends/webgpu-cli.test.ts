// `lathe train --backend webgpu` (issue 11's acceptance 2, on synthetic digits for CI; the real
// MNIST run is in the report): the run trains on the GPU, saves from the weights read back,
// and reaches the accuracy the js backend does. Skips without the `webgpu` package or an adapter.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, test } from 'node:test';
import * as lt from '../../src/index.js';
import { shakespeareLikeText, tinyLanguageModelConfig } from '../train/lm-fixture.js';
import { mlpConfig, writeSyntheticMnist } from '../train/synthetic-mnist.js';

import { skip } from './webgpu-setup.js';

// The CLI as compiled next to this test (bin/lathe.js runs dist/, which may be another build).
const main = new URL('../../src/cli/main.js', import.meta.url).href;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lathe-webgpu-cli-'));
const data = writeSyntheticMnist(2000, 500);
after(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
  fs.rmSync(data, { recursive: true, force: true });
});

function lathe(args: string[], env: Record<string, string> = {}) {
  const script = `const { main } = await import(${JSON.stringify(main)}); process.exitCode = await main(process.argv.slice(1));`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script, ...args], { encoding: 'utf8', env: { ...process.env, ...env } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The run's last JSON line (the summary lathe train --json prints when done). */
function summary(stdout: string): Record<string, unknown> {
  const lines = stdout.trim().split('\n').filter((l) => l.startsWith('{'));
  return JSON.parse(lines[lines.length - 1]) as Record<string, unknown>;
}

describe('lathe train --backend', () => {
  test('an unknown backend fails naming the choices', () => {
    const config = path.join(tmp, 'bad.json');
    fs.writeFileSync(config, JSON.stringify(mlpConfig()));
    const r = lathe(['train', config, '--backend', 'cuda']);
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /--backend must be one of js, native, webgpu, got "cuda"/);
  });

  test('webgpu trains the MLP to the js backend\'s accuracy and saves a model the CPU loads', { skip }, async () => {
    const config = path.join(tmp, 'mlp.json');
    fs.writeFileSync(config, JSON.stringify(mlpConfig({ epochs: 2 })));
    const results: Record<string, Record<string, unknown>> = {};
    const runs: [string, string[], Record<string, string>][] = [
      ['js', ['--backend', 'js'], {}],
      ['webgpu', ['--backend', 'webgpu'], {}],
      ['env', [], { LATHE_BACKEND: 'webgpu' }], // which the CLI reads as --backend webgpu
    ];
    for (const [name, flags, env] of runs) {
      const r = lathe(['train', config, '--data', data, ...flags, '--json', '--out', path.join(tmp, `run-${name}`)], env);
      assert.equal(r.status, 0, `${name}: ${r.stderr}`);
      results[name] = summary(r.stdout);
    }
    assert.equal(results.env.test_accuracy, results.webgpu.test_accuracy, 'LATHE_BACKEND=webgpu trains as --backend webgpu does');
    assert.equal(results.env.val_loss, results.webgpu.val_loss);
    const [js, gpu] = [results.js, results.webgpu];
    assert.equal(gpu.done, true);
    assert.ok((gpu.test_accuracy as number) >= 0.95, `webgpu test accuracy ${gpu.test_accuracy}`);
    assert.ok(Math.abs((gpu.test_accuracy as number) - (js.test_accuracy as number)) <= 0.02, `webgpu ${gpu.test_accuracy} vs js ${js.test_accuracy}`);
    assert.ok(Math.abs((gpu.val_loss as number) - (js.val_loss as number)) <= 0.02, `val_loss: webgpu ${gpu.val_loss} vs js ${js.val_loss}`);
    // the saved model (and the checkpoint) were written from the GPU weights, read back
    const { model } = lt.load(gpu.model_dir as string);
    const { test: held } = lt.data.loadMnist(data);
    const loaded = await model.evaluate(held.images.reshape([-1, 784]), held.labels);
    assert.equal(loaded.accuracy, gpu.test_accuracy, 'the saved model scores what the run reported');
    assert.ok(fs.existsSync(path.join(tmp, 'run-webgpu', 'checkpoints', 'last.safetensors')));
    const ckpt = lt.readCheckpoint(path.join(tmp, 'run-webgpu', 'checkpoints', 'last.safetensors'));
    assert.equal(ckpt.state.epoch, 2);
  });

  // The char-GPT's run on the GPU: global-norm clipping, evaluations, samples and checkpoints
  // without per-step read-backs; the same figures as the CPU run within float32's rounding, and
  // a saved model the CPU loads.
  test('webgpu trains a language model as the CPU does and saves a GPT the CPU loads', { skip }, () => {
    const text = path.join(tmp, 'text.txt');
    fs.writeFileSync(text, shakespeareLikeText(4000));
    const config = path.join(tmp, 'lm.json');
    fs.writeFileSync(config, JSON.stringify(tinyLanguageModelConfig(text, { iterations: 12, evalInterval: 6, evalIterations: 4, sampleTokens: 20, logEvery: 3, batchSize: 4 })));
    const results: Record<string, Record<string, unknown>[]> = {};
    for (const backend of ['js', 'webgpu']) {
      const r = lathe(['train', config, '--backend', backend, '--json', '--out', path.join(tmp, `lm-${backend}`)]);
      assert.equal(r.status, 0, `${backend}: ${r.stderr}`);
      results[backend] = r.stdout.trim().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
    }
    const [cpu, gpu] = [results.js, results.webgpu];
    assert.deepEqual(gpu.map((e) => e.iteration ?? 'done'), [6, 12, 'done']);
    for (let i = 0; i < 2; i++) {
      for (const k of ['train_loss', 'val_loss']) assert.ok(Math.abs((gpu[i][k] as number) - (cpu[i][k] as number)) < 2e-3, `${k} at ${gpu[i].iteration}: webgpu ${gpu[i][k]} vs js ${cpu[i][k]}`);
    }
    const samples = fs.readFileSync(path.join(tmp, 'lm-webgpu', 'samples.jsonl'), 'utf8').trim().split('\n');
    assert.equal(samples.length, 2);
    const ckpt = lt.readCheckpoint(path.join(tmp, 'lm-webgpu', 'checkpoints', 'last.safetensors'));
    assert.equal(ckpt.state.epoch, 12);
    const saved = lt.loadGPT(gpu[2].model_dir as string);
    assert.equal(saved.model.config.nEmbd, 16);
  });
});
