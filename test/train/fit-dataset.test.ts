// fit() and evaluate() on a lt.data.Dataset of [x, y] batches (issue 5: fit composes with the
// data pipeline), including a resume that repeats an uninterrupted run: the Dataset's shuffle is
// seeded per pass, and fit asks for pass `epoch`.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import * as lt from '../../src/index.js';
import { assertRejectsLathe } from '../helpers.js';
import { digitTensors, snapshot } from './synthetic-mnist.js';

const { Dense } = lt.layers;
const { BackupAndRestore, ModelCheckpoint } = lt.callbacks;

function model(seed = 5): lt.Sequential {
  lt.manualSeed(seed);
  const m = new lt.Sequential([new Dense(16, { activation: 'relu', inputShape: [784] }), new Dense(10, { activation: 'softmax' })]);
  return m.compile({ optimizer: new lt.Adam({ learningRate: 0.01 }), loss: 'sparse_categorical_crossentropy', metrics: ['accuracy'] });
}

const { x, y } = digitTensors(300, 9);
const xf = x.reshape([300, 784]);
const pipeline = () => lt.data.Dataset.fromTensorSlices([xf, y]).shuffle('full', { seed: 4 }).batch(20);

test('fit(dataset) learns, and evaluate(dataset) equals evaluate(x, y)', async () => {
  const m = model();
  const history = await m.fit(pipeline(), { epochs: 6, verbose: 0, validationData: lt.data.Dataset.fromTensorSlices([xf, y]).batch(64) });
  assert.deepEqual(Object.keys(history.history), ['loss', 'accuracy', 'val_loss', 'val_accuracy']);
  assert.ok(history.history.accuracy[5] > 0.9, `accuracy ${history.history.accuracy[5]}`);
  assert.ok(history.history.loss[5] < history.history.loss[0] / 3);
  const fromDataset = await m.evaluate(lt.data.Dataset.fromTensorSlices([xf, y]).batch(64));
  const fromTensors = await m.evaluate(xf, y, { batchSize: 64 });
  assert.ok(Math.abs(fromDataset.loss - fromTensors.loss) < 1e-6);
  assert.equal(fromDataset.accuracy, fromTensors.accuracy);
  assert.equal(m.optimizer!.iterations, 6 * 15, 'one step per batch: 300 / 20 = 15 a pass');
});

test('a run resumed from its checkpoint repeats an uninterrupted one, bit for bit, with a Dataset', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lathe-fit-ds-'));
  const straight = model();
  await straight.fit(pipeline(), { epochs: 4, verbose: 0 });
  const first = model();
  await first.fit(pipeline(), { epochs: 2, verbose: 0, callbacks: [new ModelCheckpoint(dir, { monitor: 'loss' })] });
  const resumed = model(77); // other initial weights: the checkpoint must replace them
  const restore = new BackupAndRestore(path.join(dir, 'last.safetensors'));
  await resumed.fit(pipeline(), { epochs: 4, verbose: 0, callbacks: [restore, new ModelCheckpoint(dir, { monitor: 'loss' })] });
  assert.equal(restore.resumedAt, 2);
  assert.deepEqual(snapshot(resumed), snapshot(straight));
  fs.rmSync(dir, { recursive: true, force: true });
});

test('a Dataset that is not [x, y] batches, never ends, or comes with y fails clearly', async () => {
  const m = model();
  await assertRejectsLathe(() => m.fit(lt.data.Dataset.fromTensorSlices([xf, y]), { epochs: 1, verbose: 0 }), /^fit: batch 0: x \[784\] and y \[\] hold different numbers of examples; batch\(\) the Dataset first$/);
  await assertRejectsLathe(() => m.fit(lt.data.Dataset.fromTensorSlices(xf).batch(10), { epochs: 1, verbose: 0 }), /^fit: batch 0: expected \[x, y\] tensors/);
  await assertRejectsLathe(() => m.fit(pipeline().repeat(), { epochs: 1, verbose: 0 }), /^fit: the Dataset never ends/);
  await assertRejectsLathe(() => m.fit(pipeline(), y as never, { epochs: 1 }), /^fit: a Dataset holds its own labels/);
  await assertRejectsLathe(() => m.fit(pipeline(), { epochs: 1, verbose: 0, validationSplit: 0.2 }), /^fit: validationSplit needs tensors/);
});
