// Training on the webgpu backend (issue 11): fit, evaluate and predict with the tensors on the
// GPU, against the same run on js; losses and metrics read back once per log interval, not per
// step; the NaN guard at that granularity; checkpoints written from GPU weights. Skips, saying
// why, when the `webgpu` package or an adapter is missing (CI: .ci/install-lavapipe.sh).
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, test } from 'node:test';
import * as lt from '../../src/index.js';
import { BackupAndRestore, ModelCheckpoint, NanGuard, StepLogger } from '../../src/train/callbacks/index.js';
import { CharTokenizer, TokenWindows } from '../../src/data/text/index.js';
import { clipGradNorm, clipOnDevice } from '../../src/optim/clip.js';
import { trainLanguageModel } from '../../src/train/lm/index.js';
import { shakespeareLikeText } from '../train/lm-fixture.js';
import { digitTensors } from '../train/synthetic-mnist.js';

import { gpu, skip } from './webgpu-setup.js';
const host = lt.getBackend();
after(() => lt.setBackend(host.name));

const { Dense } = lt.layers;
const compileArgs = { optimizer: { type: 'adam', lr: 0.01 }, loss: 'sparse_categorical_crossentropy', metrics: ['accuracy'] };

/** 784-32-10 with weights drawn after lt.manualSeed(seed), built on `backend` (the current one while it builds). */
function mlpOn(backend: string, seed = 0, hidden = 32): lt.Sequential {
  const before = lt.getBackend().name;
  lt.setBackend(backend);
  try {
    lt.manualSeed(seed);
    return new lt.Sequential([new Dense(hidden, { activation: 'relu', inputShape: [784] }), new Dense(10, { activation: 'softmax' })]).compile(compileArgs);
  } finally {
    lt.setBackend(before);
  }
}

/** Runs f with `backend` current, so that the tensors fit creates (batch indices) live there too. */
async function withBackend<T>(backend: string, f: () => Promise<T>): Promise<T> {
  const before = lt.getBackend().name;
  lt.setBackend(backend);
  try {
    return await f();
  } finally {
    lt.setBackend(before);
  }
}

/** Counts the backend's read-backs (downloadAsync calls) while f runs. */
async function countReadBacks<T>(f: () => Promise<T>): Promise<{ value: T; readBacks: number }> {
  const original = gpu!.downloadAsync!;
  let readBacks = 0;
  gpu!.downloadAsync = (x) => {
    readBacks++;
    return original(x);
  };
  try {
    return { value: await f(), readBacks };
  } finally {
    gpu!.downloadAsync = original;
  }
}

const train = digitTensors(320, 1); // 10 steps of 32 an epoch
const held = digitTensors(100, 2);
const onGpu = (t: lt.Tensor) => t.to('webgpu');

describe('training on webgpu', { skip }, () => {
  test('fit, evaluate and predict give the js run\'s figures; losses are read back once per interval', async () => {
    const opts = { epochs: 3, batchSize: 32, verbose: 0 as const, seed: 1 };
    const jsModel = mlpOn(host.name);
    const jsSteps: { step: number; loss: number }[] = [];
    const want = await jsModel.fit(train.x, train.y, { ...opts, validationData: [held.x, held.y], callbacks: [new StepLogger((r) => jsSteps.push(r), { every: 5 })] });

    const model = mlpOn('webgpu');
    assert.equal(model.parameters()[0].backend.name, 'webgpu');
    const steps: { step: number; loss: number }[] = [];
    const { value: got, readBacks } = await countReadBacks(() => withBackend('webgpu', () => model.fit(onGpu(train.x), onGpu(train.y), {
      ...opts, validationData: [onGpu(held.x), onGpu(held.y)], callbacks: [new StepLogger((r) => steps.push(r), { every: 5 })],
    })));
    // 30 steps read every 5 (the StepLogger's interval): 6 read-backs, plus one per validation (100 examples, one batch).
    assert.equal(readBacks, 6 + 3, 'read-backs during fit');
    assert.deepEqual(steps.map((s) => s.step), jsSteps.map((s) => s.step), 'the step logger\'s records fall on the same steps');
    steps.forEach((s, i) => assert.ok(Math.abs(s.loss - jsSteps[i].loss) <= 1e-3 * Math.max(1, jsSteps[i].loss), `step ${s.step} loss ${s.loss} vs js ${jsSteps[i].loss}`));
    for (const k of ['loss', 'accuracy', 'val_loss', 'val_accuracy']) {
      got.history[k].forEach((v, e) => assert.ok(Math.abs(v - want.history[k][e]) <= 2e-3, `${k} epoch ${e + 1}: ${v} vs js ${want.history[k][e]}`));
    }
    assert.ok(got.history.val_accuracy[2] >= 0.95, `val accuracy ${got.history.val_accuracy}`);

    const evaluated = await withBackend('webgpu', () => model.evaluate(onGpu(held.x), onGpu(held.y), { batchSize: 16 }));
    assert.ok(Math.abs(evaluated.loss - got.history.val_loss[2]) <= 1e-5, `evaluate ${evaluated.loss} vs the last val_loss ${got.history.val_loss[2]}`);
    assert.equal(evaluated.accuracy, got.history.val_accuracy[2]);

    const probs = model.predict(onGpu(held.x), { batchSize: 40 });
    assert.equal(probs.backend.name, 'webgpu');
    assert.deepEqual(probs.shape, [100, 10]);
    assert.throws(() => probs.dataSync(), /await t\.data\(\)/, 'a GPU result is read asynchronously');
    const p = await probs.data();
    const labels = held.y.dataSync();
    let right = 0;
    for (let i = 0; i < 100; i++) {
      const row = Array.from(p.subarray(i * 10, i * 10 + 10));
      if (row.indexOf(Math.max(...row)) === labels[i]) right++;
    }
    assert.equal(right / 100, evaluated.accuracy, 'predict\'s argmax agrees with the accuracy metric');
  });

  test('a Dataset pipeline on the CPU feeds a GPU model batch by batch, as the same data as tensors does', async () => {
    const pipeline = () => lt.data.Dataset.fromTensorSlices([train.x, train.y]).batch(32); // host tensors
    const model = mlpOn('webgpu');
    const fromDataset = await withBackend('webgpu', () => model.fit(pipeline(), { epochs: 2, verbose: 0, validationData: lt.data.Dataset.fromTensorSlices([held.x, held.y]).batch(64) }));
    const same = mlpOn('webgpu');
    const fromTensors = await withBackend('webgpu', () => same.fit(train.x, train.y, { epochs: 2, batchSize: 32, verbose: 0, shuffle: false, validationData: [held.x, held.y], validationBatchSize: 64 }));
    for (const k of ['loss', 'accuracy', 'val_loss', 'val_accuracy']) assert.deepEqual(fromDataset.history[k], fromTensors.history[k], k);
    assert.ok(fromDataset.history.val_accuracy[1] >= 0.9, `val accuracy ${fromDataset.history.val_accuracy}`);
  });

  test('checkpoints are written from GPU weights, and a resumed run repeats an uninterrupted one', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lathe-webgpu-ckpt-'));
    try {
      const opts = { batchSize: 32, verbose: 0 as const, seed: 5 };
      const whole = mlpOn('webgpu');
      const wholeHistory = await withBackend('webgpu', () => whole.fit(train.x, train.y, { ...opts, epochs: 3 }));
      const first = mlpOn('webgpu');
      await withBackend('webgpu', () => first.fit(train.x, train.y, { ...opts, epochs: 2, callbacks: [new ModelCheckpoint(dir)] }));
      const last = path.join(dir, 'last.safetensors');
      assert.equal(lt.readCheckpoint(last).state.epoch, 2);
      const resumed = mlpOn('webgpu', 99); // other initial weights: the checkpoint replaces them
      const restore = new BackupAndRestore(last);
      const h = await withBackend('webgpu', () => resumed.fit(train.x, train.y, { ...opts, epochs: 3, callbacks: [restore] }));
      assert.equal(restore.resumedAt, 2);
      assert.deepEqual(h.history.loss, wholeHistory.history.loss);
      const weights = async (m: lt.Model) => Promise.all(m.parameters().map(async (p) => Array.from(await p.data())));
      assert.deepEqual(await weights(resumed), await weights(whole), 'the same weights bit for bit');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  // Norm clipping on the device: the same scaled gradients as the CPU's float64 norms, for
  // ordinary values, for gradients whose float32 squares would overflow, and for zero ones.
  test('clipNorm and globalClipNorm on the device scale as the CPU does, huge and zero gradients included', async () => {
    const cases = [[0.5, -2, 3], [1e25, -3e24, 2e24], [0, 0, 0]];
    for (const kind of ['globalClipNorm', 'clipNorm'] as const) {
      for (const values of cases) {
        const grads = [values, values.map((v) => v / 2)].map((v) => lt.tensor(v, { backend: 'js' }));
        const cpu = grads.map((g) => lt.tensor(g.dataSync(), { backend: 'js' }).requireGrad());
        cpu.forEach((p, i) => (p.grad = grads[i]));
        if (kind === 'globalClipNorm') clipGradNorm(cpu, 1);
        const want = kind === 'globalClipNorm' ? cpu.map((p) => Array.from(p.grad!.dataSync())) : grads.map((g) => { const n = Math.hypot(...g.dataSync()); return Array.from(g.dataSync(), (v) => (n > 1 ? v / n : v)); });
        const got = clipOnDevice(grads.map((g) => g.to('webgpu')), kind, 1);
        for (let i = 0; i < 2; i++) {
          const a = Array.from(await got[i]!.data());
          a.forEach((v, j) => assert.ok(Math.abs(v - want[i][j]) <= 1e-6 * Math.max(1, Math.abs(want[i][j])), `${kind} ${values}: ${a} vs ${want[i]}`));
        }
      }
    }
  });

  // A language model's loop (lathe train on a "text" config): the step losses come back once per
  // log interval and the validation loss once per evaluation, never per step; a loss that turns
  // non-finite is named by its step at the read-back.
  test('the language-model loop reads losses back once per log interval, with global-norm clipping on the device', async () => {
    const text = shakespeareLikeText(3000);
    const tokenizer = CharTokenizer.fromText(text);
    const windows = TokenWindows.fromText(text, tokenizer, { blockSize: 8, validationSplit: 0.1 });
    const gptOn = (backend: string, lr: number) => {
      const before = lt.getBackend().name;
      lt.setBackend(backend);
      try {
        const model = lt.gpt({ vocabSize: tokenizer.vocabSize, blockSize: 8, nLayer: 1, nHead: 2, nEmbd: 16, dropout: 0, seed: 3 });
        model.optimizer = new lt.AdamW(model.parameters(), { lr, globalClipNorm: 0.5 });
        return model;
      } finally {
        lt.setBackend(before);
      }
    };
    const fit = { seed: 1, iterations: 12, batchSize: 4, gradientAccumulation: 2, evalInterval: 6, evalIterations: 3, sampleTokens: 0, logEvery: 3, loss: lt.nextTokenLoss };
    const cpu = await trainLanguageModel(gptOn(host.name, 1e-2), windows, fit);
    const { value: gpu, readBacks } = await countReadBacks(() => withBackend('webgpu', () => trainLanguageModel(gptOn('webgpu', 1e-2), windows, fit)));
    assert.equal(readBacks, 4 + 2, 'at steps 3, 6, 9 and 12, and one validation estimate per evaluation');
    for (let i = 0; i < 2; i++) {
      for (const k of ['loss', 'val_loss'] as const) assert.ok(Math.abs(gpu.evaluations[i][k]! - cpu.evaluations[i][k]!) < 1e-3, `${k}: webgpu ${gpu.evaluations[i][k]} vs ${host.name} ${cpu.evaluations[i][k]}`);
    }
    await assert.rejects(withBackend('webgpu', () => trainLanguageModel(gptOn('webgpu', 1e30), windows, fit)), /^LatheError: train: the training loss is NaN at step \d+/);
  });

  test('the NaN guard stops at the first NaN loss, found at the read-back, naming the step', async () => {
    const x = train.x.dataSync().slice();
    x[(2 * 32 + 5) * 784 + 10] = Number.NaN; // an example of the third batch (no shuffle)
    const model = mlpOn('webgpu');
    const guard = new NanGuard();
    await assert.rejects(
      withBackend('webgpu', () => model.fit(onGpu(lt.tensor(x, { shape: [320, 784], backend: 'js' })), onGpu(train.y), { epochs: 2, batchSize: 32, verbose: 0, shuffle: false, readBackEvery: 4, callbacks: [guard] })),
      /^NonFiniteError: NaN guard: step 3 \(epoch 1, batch 3\): the loss is NaN\. Found at the read-back \(losses are read every 4 steps on the webgpu backend\), so the updates up to it were applied/,
    );
    assert.equal(model.optimizer!.iterations, 4, 'steps 1-4 were queued before the read-back');
  });
});
