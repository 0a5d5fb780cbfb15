// Training configs: a bad config fails before any training, with a message that names the field
// or layer and says what was expected. Also the good path: defaults, overrides, the seed, the
// rescaling layer, and data read from small IDX files written here.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as lt from '../../src/index.js';
import { Rescaling } from '../../src/nn/layers/index.js';
import { buildRunModel, checkLabels, loadRunData, readRunConfig } from '../../src/train/run-config.js';
import { assertRejectsLathe, assertThrowsLathe } from '../helpers.js';

type Config = Record<string, any>;
const base = (): Config => ({
  seed: 3,
  dataset: { type: 'mnist' },
  model: { layers: [{ type: 'flatten' }, { type: 'dense', units: 16, activation: 'relu' }, { type: 'dense', units: 10, activation: 'softmax' }] },
  compile: { optimizer: { type: 'adam', lr: 0.001 }, loss: 'sparse_categorical_crossentropy', metrics: ['accuracy'] },
  fit: { epochs: 2, batchSize: 8 },
});
const edited = (edit: (c: Config) => void) => {
  const c = base();
  edit(c);
  return c;
};
/** Reads and builds, as `lathe train` does before its first step. */
const prepare = (c: Config, inputShape = [28, 28], classes = 10) => buildRunModel(readRunConfig(c), inputShape, classes);
const values = (t: lt.Tensor) => Array.from(t.dataSync());
const LAYER_TYPES = 'dense, activation, rescaling, conv2d, maxpool2d, avgpool2d, globalaveragepooling2d, globalmaxpooling2d, flatten, reshape, dropout, batchnormalization, layernormalization, rmsnormalization, embedding, leakyrelu, multiheadattention, positionembedding, transformerblock, quantizeddense, quantizedconv2d';

describe('a good config', () => {
  test('read with defaults and command-line overrides', () => {
    const c = readRunConfig({ dataset: { type: 'fashion-mnist' }, model: { layers: [{ type: 'dense', units: 2 }] }, compile: { optimizer: 'sgd', loss: 'mse' } });
    assert.deepEqual(c, {
      seed: 0,
      dataset: { type: 'fashion-mnist', inputShape: null, rescale: null, validation: 'test' },
      layers: [{ type: 'dense', units: 2 }],
      compile: { optimizer: 'sgd', loss: 'mse', metrics: [] },
      fit: { epochs: 1, batchSize: 32, shuffle: true },
    });
    const o = readRunConfig(base(), { epochs: 7, seed: 11 });
    assert.equal(o.fit.epochs, 7);
    assert.equal(o.seed, 11);
    assert.equal(o.fit.batchSize, 8);
    assert.equal((readRunConfig(edited((x) => (x.dataset.validation = 0.1))).dataset as { validation: unknown }).validation, 0.1);
  });

  test('"validation": null means no validation', () => {
    assert.equal((readRunConfig(edited((x) => (x.dataset.validation = null))).dataset as { validation: unknown }).validation, null);
  });

  test('builds and compiles the model; the seed fixes the weights', () => {
    const model = prepare(base());
    assert.deepEqual(model.layers.map((l) => [l.type, l.built]), [['flatten', true], ['dense', true], ['dense', true]]);
    assert.deepEqual(model.inputShape, [28, 28]);
    assert.deepEqual(model.outputShape, [10]);
    assert.equal(model.countParameters(), 784 * 16 + 16 + 16 * 10 + 10);
    assert.equal(model.optimizer!.getConfig().type, 'adam');
    assert.equal(model.optimizer!.getConfig().lr, 0.001);
    assert.equal(model.loss!.name, 'sparseCategoricalCrossentropy');
    assert.deepEqual(model.metrics.map((m) => m.name), ['accuracy']);
    const again = prepare(base());
    assert.deepEqual(values(again.layers[1].parameters()[0]), values(model.layers[1].parameters()[0]));
    const other = prepare(edited((c) => (c.seed = 4)));
    assert.notDeepEqual(values(other.layers[1].parameters()[0]), values(model.layers[1].parameters()[0]));
  });

  test('data.rescale puts a Rescaling layer first, so the model takes raw pixels', () => {
    const model = prepare(edited((c) => (c.dataset.rescale = 1 / 255)));
    assert.ok(model.layers[0] instanceof Rescaling);
    assert.equal((model.layers[0] as Rescaling).scale, 1 / 255);
    assert.deepEqual(model.layers.map((l) => l.type), ['rescaling', 'flatten', 'dense', 'dense']);
    const out = model.predict(lt.full([2, 28, 28], 255, { dtype: 'uint8' }));
    assert.deepEqual(out.shape, [2, 10]);
  });
});

/** [what is wrong, the edit, the message]. Each is found by readRunConfig + buildRunModel, before fit. */
const BAD: [string, (c: Config) => void, RegExp][] = [
  // layers
  ['unknown layer type', (c) => (c.model.layers[1].type = 'dnse'), new RegExp(`^config\\.model\\.layers\\[1\\]: unknown layer type "dnse" \\(expected one of ${LAYER_TYPES}\\)$`)],
  ['layer without a type', (c) => delete c.model.layers[0].type, /^config\.model\.layers\[0\]: "type" must be a string, got nothing$/],
  ['layer that is not an object', (c) => (c.model.layers[1] = 42), /^config\.model\.layers\[1\]: expected an object, got 42$/],
  ['dense without units', (c) => delete c.model.layers[1].units, /^config\.model\.layers\[1\] \(dense\): "units" is required \(a positive integer\)$/],
  ['units of the wrong type', (c) => (c.model.layers[1].units = '128a'), /^config\.model\.layers\[1\] \(dense\): "units" must be a positive integer, got "128a"$/],
  ['units 0', (c) => (c.model.layers[2].units = 0), /^config\.model\.layers\[2\] \(dense\): "units" must be a positive integer, got 0$/],
  ['a typo in a layer field', (c) => (c.model.layers[1].activaton = 'relu'), /^config\.model\.layers\[1\] \(dense\): unknown field "activaton" \(expected one of: type, name, inputShape, dtype, units, activation, useBias, kernelInitializer, biasInitializer\)$/],
  ['unknown activation', (c) => (c.model.layers[2].activation = 'softmx'), /^config\.model\.layers\[2\] \(dense\): unknown activation "softmx" \(expected one of linear, relu, sigmoid, tanh, softmax, /],
  ['unknown initializer', (c) => (c.model.layers[1].kernelInitializer = 'xavier'), /^config\.model\.layers\[1\] \(dense\): kernelInitializer: unknown initializer "xavier" \(expected one of zeros, ones, glorotUniform, /],
  ['conv2d after flatten', (c) => (c.model.layers[1] = { type: 'conv2d', filters: 4, kernelSize: 3 }), /^config\.model\.layers\[1\] \(conv2d\): expected input \[channels, height, width\], got per-example shape \[784\] \(the input comes from layers\[0\] \(flatten\)\)$/],
  ['conv2d on 2-d images', (c) => (c.model.layers = [{ type: 'conv2d', filters: 4, kernelSize: 3 }, { type: 'flatten' }, { type: 'dense', units: 10 }]), /^config\.model\.layers\[0\] \(conv2d\): expected input \[channels, height, width\], got per-example shape \[28,28\] \(the input comes from the model input\)$/],
  ['a kernel larger than the image', (c) => (c.model.layers = [{ type: 'reshape', targetShape: [1, 28, 28] }, { type: 'conv2d', filters: 2, kernelSize: 29 }]), /^config\.model\.layers\[1\] \(conv2d\): kernel \[29,29\].*does not fit per-example input \[1,28,28\]/],
  ['inputShape that differs from the data', (c) => (c.model.layers[0].inputShape = [784]), /^config\.model\.layers\[0\]: inputShape \[784\] differs from the data's per-example shape \[28,28\]; set config\.dataset\.inputShape$/],
  ['last layer width vs classes', (c) => (c.model.layers[2].units = 5), /^config\.model\.layers: the last layer gives 5 outputs per example, but the dataset has 10 classes$/],
  ['no layers', (c) => (c.model.layers = []), /^config\.model: "layers" must be a non-empty array, got \[\]$/],
  ['model type', (c) => (c.model.type = 'functional'), /^config\.model: "type" must be one of "sequential", got "functional"$/],
  // compile
  ['beta1 1', (c) => (c.compile.optimizer.beta1 = 1), /^config\.compile\.optimizer \(adam\): "beta1" must be a number in \[0, 1\), got 1$/],
  ['negative lr', (c) => (c.compile.optimizer.lr = -0.1), /^config\.compile\.optimizer \(adam\): "lr" must be /],
  ['a typo in the optimizer', (c) => (c.compile.optimizer.learning_rate = 0.1), /^config\.compile\.optimizer \(adam\): unknown field "learning_rate" \(expected one of: type, lr, learningRate, /],
  ['unknown optimizer type', (c) => (c.compile.optimizer.type = 'adamm'), /^config\.compile\.optimizer: unknown optimizer "adamm" \(expected one of adam, adamw, sgd, rmsprop\)$/],
  ['unknown optimizer name', (c) => (c.compile.optimizer = 'adamm'), /unknown optimizer "adamm" \(expected one of adam, adamw, sgd, rmsprop\)$/],
  ['unknown loss', (c) => (c.compile.loss = 'crossentropy'), /loss: unknown loss "crossentropy" \(expected one of: mean_squared_error, mse, /],
  ['loss option that does not apply', (c) => (c.compile.loss = { type: 'mse', fromLogits: true }), /loss: unknown field "fromLogits" \(expected one of: type, reduction\)$/],
  ['unknown metric', (c) => (c.compile.metrics = ['accuracy', 'f1x']), /^config\.compile\.metrics\[1\]: metric: unknown metric "f1x" \(expected one of: accuracy, /],
  ['metrics not a list', (c) => (c.compile.metrics = 'accuracy'), /^config\.compile: "metrics" must be an array, got "accuracy"$/],
  ['no loss', (c) => delete c.compile.loss, /^config\.compile: "optimizer" and "loss" are required$/],
  ['a typo in compile', (c) => (c.compile.metric = ['accuracy']), /^config\.compile: unknown field "metric" \(expected one of: optimizer, loss, metrics\)$/],
  // fit
  ['epochs 0', (c) => (c.fit.epochs = 0), /^config\.fit: "epochs" must be a positive integer, got 0$/],
  ['batchSize "x"', (c) => (c.fit.batchSize = 'x'), /^config\.fit: "batchSize" must be a positive integer, got "x"$/],
  ['shuffle "yes"', (c) => (c.fit.shuffle = 'yes'), /^config\.fit: "shuffle" must be true or false, got "yes"$/],
  ['a typo in fit', (c) => (c.fit.epoch = 3), /^config\.fit: unknown field "epoch" \(expected one of: epochs, batchSize, shuffle, logEvery\)$/],
  // data and the top level
  ['unknown dataset', (c) => (c.dataset.type = 'cifar10'), /^config\.dataset: "type" must be one of "mnist", "fashion-mnist", "csv", "images", got "cifar10"$/],
  ['no dataset section', (c) => delete c.dataset, /^config: "dataset" is required, e\.g\. \{"type": "mnist"\}/],
  ['dataset not an object', (c) => (c.dataset = 'mnist'), /^config\.dataset: expected an object, got "mnist"$/],
  ['a typo in data', (c) => (c.dataset.inputshape = [784]), /^config\.dataset: unknown field "inputshape" \(expected one of: type, inputShape, rescale, validation\)$/],
  ['data.inputShape with a 0', (c) => (c.dataset.inputShape = [784, 0]), /^config\.dataset: "inputShape" must be an array of positive integers, got \[784,0\]$/],
  ['validation 1.5', (c) => (c.dataset.validation = 1.5), /^config\.dataset: "validation" must be "test", a fraction in \(0, 1\), or null, got 1\.5$/],
  ['rescale as a string', (c) => (c.dataset.rescale = '1/255'), /^config\.dataset: "rescale" must be a finite number, got "1\/255"$/],
  ['a typo at the top', (c) => (c.epochs = 3), /^config: unknown field "epochs" \(expected one of: seed, dataset, model, compile, fit, description\)$/],
  ['negative seed', (c) => (c.seed = -1), /^config: "seed" must be an integer >= 0, got -1$/],
  ['no model', (c) => delete c.model, /^config: "model" is required: \{"layers": \[\.\.\.\]\}$/],
];

describe('a bad config fails before training, naming the field', () => {
  for (const [what, edit, message] of BAD) {
    test(what, () => assertThrowsLathe(() => prepare(edited(edit)), message));
  }

  test('the config itself must be an object', () => {
    assertThrowsLathe(() => readRunConfig([]), /^config: expected an object, got \[\]$/);
    assertThrowsLathe(() => readRunConfig(null), /^config: expected an object, got null$/);
  });

  test('the shape check is against the classes given', () => {
    assertThrowsLathe(() => prepare(base(), [28, 28], 3), /the last layer gives 10 outputs per example, but the dataset has 3 classes$/);
    // categorical (one-hot) losses take any width: the labels are checked against it at fit time
    assert.deepEqual(prepare(edited((c) => (c.compile.loss = 'mse')), [28, 28], 3).outputShape, [10]);
  });

  test('dense after conv2d without flatten', () => {
    const c = edited((x) => (x.model.layers = [{ type: 'conv2d', filters: 4, kernelSize: 3 }, { type: 'dense', units: 10 }]));
    assertThrowsLathe(() => prepare(c, [1, 28, 28]), /^config\.model\.layers.*per example/);
  });

  test('an unknown optimizer or loss name the config field', () => {
    assertThrowsLathe(() => prepare(edited((c) => (c.compile.optimizer = 'adamm'))), /^config\.compile\.optimizer/);
    assertThrowsLathe(() => prepare(edited((c) => (c.compile.loss = 'crossentropy'))), /^config\.compile\.loss/);
  });
});

test('checkLabels: class indices in [0, classes)', () => {
  checkLabels(lt.tensor([0, 9, 3], { dtype: 'int32' }), 10, 'labels');
  checkLabels(lt.tensor([0, 9], { dtype: 'uint8' }), 10, 'labels');
  assertThrowsLathe(() => checkLabels(lt.tensor([0, 3, 9, 10], { dtype: 'int32' }), 10, 'train labels'), /^train labels: label 10 at index 3 is outside \[0, 10\)$/);
  assertThrowsLathe(() => checkLabels(lt.tensor([-1, 0], { dtype: 'int32' }), 10, 'test labels'), /^test labels: label -1 at index 0 is outside \[0, 10\)$/);
  assertThrowsLathe(() => checkLabels(lt.tensor([0, 1.5]), 10, 'y'), /^y: label 1\.5 at index 1 is outside \[0, 10\)$/);
  assertThrowsLathe(() => checkLabels(lt.tensor([0, NaN]), 10, 'y'), /^y: label NaN at index 1 is outside \[0, 10\)$/);
  assertThrowsLathe(() => checkLabels(lt.tensor([2], { dtype: 'int32' }), 2, 'y'), /^y: label 2 at index 0 is outside \[0, 2\)$/);
});

describe('data from IDX files', () => {
  let dir: string;
  /** IDX: 0x00 0x00, type 0x08 (uint8), rank, big-endian dims, bytes. */
  const idx = (shape: number[], data: number[]) => {
    const head = Buffer.alloc(4 + 4 * shape.length);
    head.writeUInt8(8, 2);
    head.writeUInt8(shape.length, 3);
    shape.forEach((d, i) => head.writeUInt32BE(d, 4 + 4 * i));
    return Buffer.concat([head, Uint8Array.from(data)]);
  };
  const write = (labels: number[]) => {
    const n = labels.length;
    for (const prefix of ['train', 't10k']) {
      fs.writeFileSync(path.join(dir, `${prefix}-images-idx3-ubyte`), idx([n, 28, 28], Array.from({ length: n * 784 }, (_, i) => (i * 31) % 256)));
      fs.writeFileSync(path.join(dir, `${prefix}-labels-idx1-ubyte`), idx([n], labels));
    }
  };
  before(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lathe-config-'))));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('data.inputShape reshapes the images; the model is built for it', async () => {
    write([0, 1, 2, 9, 4]);
    const config = readRunConfig(edited((c) => {
      c.dataset.inputShape = [1, 28, 28];
      c.model.layers = [{ type: 'conv2d', filters: 2, kernelSize: 3 }, { type: 'flatten' }, { type: 'dense', units: 10 }];
    }));
    const data = await loadRunData(config, { data: dir });
    assert.deepEqual(data.train[0].shape, [5, 1, 28, 28]);
    assert.equal(data.train[0].dtype, 'uint8');
    assert.deepEqual(values(data.train[1]), [0, 1, 2, 9, 4]);
    assert.equal(data.classes, 10);
    const model = buildRunModel(config, data.train[0].shape.slice(1), data.classes);
    assert.deepEqual(model.outputShape, [10]);
    assert.deepEqual(model.predict(data.train[0].cast('float32')).shape, [5, 10]);
  });

  test('data.inputShape that does not hold one image', async () => {
    write([0, 1]);
    const config = readRunConfig(edited((c) => (c.dataset.inputShape = [15])));
    await assertRejectsLathe(() => loadRunData(config, { data: dir }), /^config\.dataset: "inputShape" \[15\] does not hold one 28x28 image$/);
  });

  test('labels outside the classes are found while loading, naming the file and byte', async () => {
    write([0, 1, 12, 3]);
    await assertRejectsLathe(() => loadRunData(readRunConfig(base()), { data: dir }), /^mnist: .*train-labels-idx1-ubyte: label 2 is 12, expected 0\.\.9 \(byte 10\)$/);
  });
});
