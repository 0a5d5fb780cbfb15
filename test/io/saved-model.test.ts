// Saved models: a compiled Sequential saved and loaded predicts bit for bit the same; the
// contents of model.json and weights.safetensors; saving over a folder replaces it whole and
// leaves nothing behind; every load error names the file and what is wrong.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import * as lt from '../../src/index.js';
import { MODEL_FORMAT_VERSION, loadModel, saveModel } from '../../src/io/saved-model.js';
import { BatchNormalization, Conv2D, Dense, Dropout, Flatten, Rescaling } from '../../src/nn/layers/index.js';
import { decodeSafetensors, encodeSafetensors } from '../../src/tensor/safetensors.js';
import { assertThrowsLathe, onEachBackend } from '../helpers.js';

const values = (t: lt.Tensor) => Array.from(t.dataSync());
const pkg = JSON.parse(fs.readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };

/** Rescaling (uint8 pixels) -> conv -> batchnorm -> flatten -> dense -> dropout -> dense softmax, compiled. */
function makeModel(seed: number): lt.Sequential {
  const model = new lt.Sequential([
    new Rescaling(1 / 255, 0, { inputShape: [1, 6, 6] }),
    new Conv2D(2, 3, { activation: 'relu' }),
    new BatchNormalization(),
    new Flatten(),
    new Dense(5, { activation: 'gelu' }),
    new Dropout(0.5),
    new Dense(3, { activation: 'softmax' }),
  ]);
  // weights as after training: nothing at its initial value, moving statistics included
  const g = new lt.Generator(seed);
  for (const [name, t] of Object.entries(model.stateDict())) t.assign(lt.uniform([...t.shape], name.endsWith('movingVariance') ? 0.5 : -1, 1.5, { generator: g }));
  return model.compile({ optimizer: 'adam', loss: 'sparse_categorical_crossentropy', metrics: ['accuracy'] });
}

const pixels = (n: number) => lt.tensor(Uint8Array.from({ length: n * 36 }, (_, i) => (i * 97 + 13) % 256), { dtype: 'uint8', shape: [n, 1, 6, 6] });

let root: string;
before(() => (root = fs.mkdtempSync(path.join(os.tmpdir(), 'lathe-saved-model-'))));
after(() => fs.rmSync(root, { recursive: true, force: true }));
let counter = 0;
const freshDir = () => path.join(root, `m${++counter}`);

onEachBackend('saveModel / loadModel', () => {
  test('the loaded model predicts bit for bit the same, in eval mode', () => {
    const model = makeModel(1);
    const dir = freshDir();
    saveModel(model, dir, { classNames: ['cat', 'dog', 'eel'] });
    assert.deepEqual(fs.readdirSync(dir).sort(), ['model.json', 'weights.safetensors']);
    const { model: loaded } = loadModel(dir);
    assert.equal(loaded.training, false);
    assert.ok(loaded.layers.every((l) => !l.training));
    assert.deepEqual(loaded.layers.map((l) => l.type), ['rescaling', 'conv2d', 'batchnormalization', 'flatten', 'dense', 'dropout', 'dense']);
    const x = pixels(7);
    const expected = values(model.predict(x));
    assert.deepEqual(values(loaded.predict(x)), expected);
    // the rows are softmax outputs, and not all the same (the weights matter)
    assert.ok(Math.abs(expected.slice(0, 3).reduce((a, b) => a + b, 0) - 1) < 1e-6);
    assert.notDeepEqual(expected.slice(0, 3), expected.slice(3, 6));
    for (const [name, t] of Object.entries(model.stateDict())) assert.deepEqual(values(loaded.stateDict()[name]), values(t), name);
  });

  test('model.json: format, versions, architecture, signature, classNames, training', () => {
    const model = makeModel(2);
    const dir = freshDir();
    saveModel(model, dir, { classNames: ['a', 'b', 'c'] });
    const json = JSON.parse(fs.readFileSync(path.join(dir, 'model.json'), 'utf8'));
    assert.equal(json.format, 'lathe-saved-model');
    assert.equal(json.formatVersion, 1);
    assert.equal(MODEL_FORMAT_VERSION, 1);
    assert.equal(json.latheVersion, pkg.version);
    assert.equal(json.latheVersion, lt.version);
    assert.deepEqual(json.architecture, JSON.parse(JSON.stringify(model.getConfig())));
    assert.equal(json.architecture.type, 'sequential');
    assert.deepEqual(json.architecture.layers[0], { type: 'rescaling', name: model.layers[0].name, inputShape: [1, 6, 6], scale: 1 / 255, offset: 0 });
    assert.deepEqual(json.signature, {
      inputs: [{ name: 'input', dtype: 'float32', shape: [null, 1, 6, 6] }],
      outputs: [{ name: 'output', dtype: 'float32', shape: [null, 3] }],
    });
    assert.deepEqual(json.classNames, ['a', 'b', 'c']);
    assert.deepEqual(json.training, {
      loss: { type: 'sparseCategoricalCrossentropy', reduction: 'mean', fromLogits: false },
      metrics: ['accuracy'],
      optimizer: { type: 'adam', lr: 0.001, beta1: 0.9, beta2: 0.999, epsilon: 1e-7, weightDecay: 0, decoupled: false },
    });
    assert.deepEqual(loadModel(dir).json, json);
    // the weights: one tensor per stateDict entry, under the same names, tagged as Lathe's
    const { tensors, metadata } = decodeSafetensors(fs.readFileSync(path.join(dir, 'weights.safetensors')));
    assert.deepEqual(metadata, { format: 'lathe' });
    assert.deepEqual(Object.keys(tensors).sort(), Object.keys(model.stateDict()).sort());
    assert.ok(Object.keys(tensors).includes('layers.2.movingVariance'));
  });

  test('an uncompiled, lazily built model: no training section, no classNames', () => {
    const model = new lt.Sequential([new Dense(4, { activation: 'tanh' }), new Dense(2)]);
    const x = lt.tensor([[1, 2, 3], [-1, 0.5, 2]]);
    assertThrowsLathe(() => saveModel(model, freshDir()), /^save: the model is not built yet: give the first layer an inputShape, or call it on data first$/);
    const y = values(model.predict(x));
    const dir = freshDir();
    saveModel(model, dir);
    const { model: loaded, json } = loadModel(dir);
    assert.equal('training' in json, false);
    assert.equal('classNames' in json, false);
    assert.deepEqual(json.signature.inputs[0].shape, [null, 3]);
    assert.deepEqual(values(loaded.predict(x)), y);
  });

  test('saving over an existing folder replaces it whole and leaves no temporary folders', () => {
    const dir = freshDir();
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'stale.txt'), 'from before');
    saveModel(makeModel(3), dir);
    const second = makeModel(4);
    saveModel(second, dir);
    assert.deepEqual(fs.readdirSync(dir).sort(), ['model.json', 'weights.safetensors']);
    assert.deepEqual(fs.readdirSync(path.dirname(dir)).filter((n) => n.startsWith(path.basename(dir))), [path.basename(dir)]);
    const x = pixels(2);
    assert.deepEqual(values(loadModel(dir).model.predict(x)), values(second.predict(x)));
  });

  test('only Sequential models can be saved', () => {
    assertThrowsLathe(() => saveModel({} as never, freshDir()), /^save: only Sequential models can be saved for now/);
  });
});

onEachBackend('loadModel errors', () => {
  let dir: string;
  let file: string;
  let weights: string;
  const reset = () => {
    dir = freshDir();
    saveModel(makeModel(5), dir);
    file = path.join(dir, 'model.json');
    weights = path.join(dir, 'weights.safetensors');
  };
  const editJson = (edit: (j: Record<string, any>) => void) => {
    reset();
    const j = JSON.parse(fs.readFileSync(file, 'utf8'));
    edit(j);
    fs.writeFileSync(file, JSON.stringify(j));
  };
  const editWeights = (edit: (t: Record<string, lt.Tensor>) => void) => {
    reset();
    const { tensors } = decodeSafetensors(fs.readFileSync(weights));
    edit(tensors);
    fs.writeFileSync(weights, Buffer.concat(encodeSafetensors(tensors)));
  };
  const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const load = () => loadModel(dir);

  test('a missing folder or file', () => {
    const missing = path.join(root, 'nothing-here');
    assertThrowsLathe(() => loadModel(missing), new RegExp(`^load: ${esc(path.join(missing, 'model.json'))} not found: ${esc(missing)} is not a Lathe saved model \\(expected model\\.json and weights\\.safetensors\\)$`));
    reset();
    fs.rmSync(weights);
    assertThrowsLathe(load, new RegExp(`^load: ${esc(weights)} not found$`));
  });

  test('model.json: bad JSON, wrong format, newer or missing formatVersion, bad architecture', () => {
    reset();
    fs.writeFileSync(file, '{"format": "lathe-saved-model",');
    assertThrowsLathe(load, new RegExp(`^${esc(file)}: not valid JSON \\(`));
    editJson((j) => (j.format = 'keras'));
    assertThrowsLathe(load, new RegExp(`^${esc(file)}: "format" must be "lathe-saved-model", got "keras"$`));
    editJson((j) => (j.formatVersion = 2));
    assertThrowsLathe(load, new RegExp(`^${esc(file)}: format version 2 is newer than this Lathe reads \\(1\\); upgrade Lathe$`));
    editJson((j) => delete j.formatVersion);
    assertThrowsLathe(load, new RegExp(`^${esc(file)}: "formatVersion" must be a positive integer, got nothing$`));
    editJson((j) => (j.formatVersion = '1'));
    assertThrowsLathe(load, new RegExp(`^${esc(file)}: "formatVersion" must be a positive integer, got "1"$`));
    editJson((j) => (j.architecture.type = 'functional'));
    assertThrowsLathe(load, new RegExp(`^${esc(file)}: "architecture.type" must be "sequential", got "functional"$`));
    editJson((j) => (j.architecture.layers[4].type = 'dnse'));
    assertThrowsLathe(load, new RegExp(`^${esc(file)}: architecture\\.layers\\[4\\]: unknown layer type "dnse" \\(expected one of dense, activation, rescaling, conv2d, `));
    editJson((j) => (j.architecture.layers[4].units = -5));
    assertThrowsLathe(load, new RegExp(`^${esc(file)}: architecture\\.layers\\[4\\] \\(dense\\): "units" must be a positive integer, got -5$`));
  });

  test('weights: a missing, mis-shaped or mis-typed tensor names the file and the tensor', () => {
    editWeights((t) => delete t['layers.6.bias']);
    assertThrowsLathe(load, new RegExp(`^${esc(weights)}: loadStateDict: missing layers\\.6\\.bias$`));
    editWeights((t) => (t['layers.4.kernel'] = lt.zeros([5, 8])));
    assertThrowsLathe(load, new RegExp(`^${esc(weights)}: loadStateDict: layers\\.4\\.kernel: expected shape \\[32,5\\], got \\[5,8\\]$`));
    editWeights((t) => (t['layers.2.movingMean'] = lt.zeros([2], { dtype: 'float64' })));
    assertThrowsLathe(load, new RegExp(`^${esc(weights)}: loadStateDict: layers\\.2\\.movingMean: expected float32, got float64$`));
    editWeights((t) => (t.extra = lt.zeros([1])));
    assertThrowsLathe(load, new RegExp(`^${esc(weights)}: loadStateDict: unexpected extra$`));
    reset();
    fs.writeFileSync(weights, Buffer.from([1, 2, 3]));
    assertThrowsLathe(load, new RegExp(`^${esc(weights)}: file is 3 bytes, too short for a safetensors header$`));
  });

  test("issue 6's corrupt folders: a truncated file, a header claiming too much, a huge header, a wrong dtype", () => {
    const raw = () => (reset(), fs.readFileSync(weights));
    const bytes = raw();
    fs.writeFileSync(weights, bytes.subarray(0, bytes.length - 10)); // cut inside the last tensor
    assertThrowsLathe(load, new RegExp(`^${esc(weights)}: tensor ".*" ends at byte \\d+, past the \\d+ bytes of data$`));
    const claims = raw();
    claims.writeBigUInt64LE(BigInt(claims.length), 0); // the header "runs" to past the file's end
    fs.writeFileSync(weights, claims);
    assertThrowsLathe(load, new RegExp(`^${esc(weights)}: header length \\d+ runs past the end of the \\d+-byte file$`));
    const huge = raw();
    huge.writeBigUInt64LE(2n ** 62n, 0);
    fs.writeFileSync(weights, huge);
    assertThrowsLathe(load, new RegExp(`^${esc(weights)}: header length 4611686018427387904 exceeds the limit of \\d+ bytes$`));
    const typed = raw();
    const n = Number(typed.readBigUInt64LE(0));
    const header = typed.subarray(8, 8 + n).toString('utf8').replace('"F32"', '"F64"'); // same length: one tensor now claims float64
    fs.writeFileSync(weights, Buffer.concat([typed.subarray(0, 8), Buffer.from(header, 'utf8'), typed.subarray(8 + n)]));
    assertThrowsLathe(load, new RegExp(`^${esc(weights)}: tensor ".*": float64 \\[[\\d,]*\\] needs \\d+ bytes, its range holds \\d+$`));
  });
});
