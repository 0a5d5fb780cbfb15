// A saved model with its optimizer state (issue 6: "optimizer state, optionally, for resuming"):
// loading compiles the model as it was saved, and fit() continues bit for bit.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import * as lt from '../../src/index.js';
import { assertThrowsLathe } from '../helpers.js';

const mk = () => {
  lt.manualSeed(1);
  const m = new lt.Sequential([new lt.layers.Dense(4, { inputShape: [3], activation: 'relu' }), new lt.layers.Dense(2, { activation: 'softmax' })]);
  return m.compile({ optimizer: new lt.Adam({ learningRate: 0.05 }), loss: 'sparse_categorical_crossentropy', metrics: ['accuracy'] });
};
const x = lt.randn([40, 3], { generator: new lt.Generator(2) });
const y = lt.randint(0, 2, [40], { generator: new lt.Generator(3) });
const weights = (m: lt.Sequential) => m.parameters().map((p) => Array.from(p.dataSync()));

test('save with includeOptimizer, load, fit on: the same weights as training straight through', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lathe-optsave-'));
  const straight = mk();
  await straight.fit(x, y, { epochs: 4, verbose: 0, shuffle: false });
  const first = mk();
  await first.fit(x, y, { epochs: 2, verbose: 0, shuffle: false });
  lt.save(first, dir, { includeOptimizer: true });
  assert.ok(fs.existsSync(path.join(dir, 'optimizer.safetensors')));
  const { model } = lt.load(dir);
  assert.equal(model.optimizer!.iterations, 4);
  assert.equal(model.optimizer!.getConfig().type, 'adam');
  assert.deepEqual(model.metrics.map((m) => m.name), ['accuracy']);
  await model.fit(x, y, { epochs: 2, verbose: 0, shuffle: false });
  assert.deepEqual(weights(model), weights(straight));

  // Without the optimizer's state the model is compiled afresh: step 0, other weights after fitting on.
  lt.save(first, dir);
  assert.ok(!fs.existsSync(path.join(dir, 'optimizer.safetensors')));
  const { model: fresh } = lt.load(dir);
  assert.equal(fresh.optimizer!.iterations, 0);
  await fresh.fit(x, y, { epochs: 2, verbose: 0, shuffle: false });
  assert.notDeepEqual(weights(fresh), weights(straight));

  // A slot of the wrong shape names the file and the slot.
  lt.save(first, dir, { includeOptimizer: true });
  const file = path.join(dir, 'optimizer.safetensors');
  const { tensors, metadata } = lt.decodeSafetensors(fs.readFileSync(file));
  tensors['0.m'] = lt.zeros([2]);
  fs.writeFileSync(file, Buffer.concat(lt.encodeSafetensors(tensors, metadata)));
  assertThrowsLathe(() => lt.load(dir), /optimizer\.safetensors: .*slot "0\.m" has shape \[2\]/);
  fs.rmSync(dir, { recursive: true, force: true });
});
