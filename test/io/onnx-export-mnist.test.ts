// Issue 6, acceptance 1: the brief's MNIST MLP and the CNN example, trained, exported to ONNX,
// give ONNX Runtime outputs within 1e-5 of Lathe's on the whole 10000-image test set. Runs when
// $LATHE_DATA/mnist (or ../shared/data/mnist) holds the four IDX files; skipped otherwise.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import * as ort from 'onnxruntime-node';
import * as lt from '../../src/index.js';
import { exportOnnx } from '../../src/io/onnx/export.js';
import { narrow } from '../../src/ops/functions.js';
import type { Tensor } from '../../src/tensor/tensor.js';

const repo = new URL('../../../', import.meta.url).pathname;
const dir = path.join(process.env.LATHE_DATA ?? path.join(repo, '../shared/data'), 'mnist');
const skip = fs.existsSync(path.join(dir, 't10k-images-idx3-ubyte.gz')) ? false : `no MNIST in ${dir}`;

/** Runs the whole test set through ORT in chunks (a CNN's activations for 10000 images at once are ~1 GB) and returns the largest |ORT - Lathe|. */
async function compareOnTestSet(model: lt.Sequential, images: Tensor, name: string): Promise<number> {
  const session = await ort.InferenceSession.create(exportOnnx(model, { inputType: 'uint8' }));
  const expected = model.predict(images).dataSync() as Float32Array;
  const n = images.shape[0];
  const perImage = expected.length / n;
  let worst = 0;
  let agree = 0;
  const chunk = 1000;
  for (let start = 0; start < n; start += chunk) {
    const x = narrow(images, 0, start, Math.min(chunk, n - start));
    const out = await session.run({ input: new ort.Tensor('uint8', x.dataSync() as Uint8Array, [...x.shape]) });
    const got = out.output.data as Float32Array;
    for (let i = 0; i < got.length; i++) worst = Math.max(worst, Math.abs(got[i] - expected[start * perImage + i]));
    for (let r = 0; r < x.shape[0]; r++) {
      const argmax = (a: ArrayLike<number>, o: number) => Array.from({ length: perImage }, (_, k) => a[o + k]).reduce((b, v, k, arr) => (v > arr[b] ? k : b), 0);
      if (argmax(got, r * perImage) === argmax(expected, (start + r) * perImage)) agree++;
    }
  }
  console.log(JSON.stringify({ test: 'onnx-export-mnist', model: name, images: n, max_abs_diff: worst, argmax_agreement: agree / n }));
  return worst;
}

test('the brief\'s MLP and the CNN example, trained on MNIST: ORT matches Lathe within 1e-5 on all 10000 test images', { skip, timeout: 120_000 }, async () => {
  const { train, test: testSplit } = lt.data.loadMnist(dir);
  const compile = (m: lt.Sequential) => m.compile({ optimizer: new lt.Adam(), loss: 'sparse_categorical_crossentropy', metrics: ['accuracy'] });
  lt.manualSeed(0);

  // The brief's model (examples/mnist-mlp.json), one epoch; Rescaling in the model so both take raw pixels.
  const mlp = compile(new lt.Sequential([new lt.layers.Rescaling(1 / 255, 0, { inputShape: [784] }), new lt.layers.Dense(128, { activation: 'relu' }), new lt.layers.Dense(10, { activation: 'softmax' })]));
  await mlp.fit(train.images.reshape([-1, 784]), train.labels, { epochs: 1, batchSize: 32, verbose: 0 });
  const mlpAcc = (await mlp.evaluate(testSplit.images.reshape([-1, 784]), testSplit.labels)).accuracy;
  assert.ok(mlpAcc > 0.9, `the MLP trained (test accuracy ${mlpAcc})`);
  assert.ok((await compareOnTestSet(mlp, testSplit.images.reshape([-1, 784]), 'mlp')) <= 1e-5);

  // examples/mnist-cnn.json's model, 300 steps of batch 32 (the full 3 epochs take a minute).
  const config = JSON.parse(fs.readFileSync(path.join(repo, 'examples/mnist-cnn.json'), 'utf8'));
  const cnn = compile(lt.Sequential.fromConfig([{ type: 'rescaling', scale: config.dataset.rescale, inputShape: [1, 28, 28] }, ...config.model.layers]));
  const steps = 300;
  await cnn.fit(narrow(train.images, 0, 0, steps * 32).reshape([-1, 1, 28, 28]), narrow(train.labels, 0, 0, steps * 32), { epochs: 1, batchSize: 32, verbose: 0 });
  const images = testSplit.images.reshape([-1, 1, 28, 28]);
  const cnnAcc = (await cnn.evaluate(images, testSplit.labels)).accuracy;
  assert.ok(cnnAcc > 0.9, `the CNN trained (test accuracy ${cnnAcc})`);
  assert.ok((await compareOnTestSet(cnn, images, 'cnn')) <= 1e-5);
});
