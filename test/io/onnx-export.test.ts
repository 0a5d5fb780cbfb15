// ONNX export checked against an independent implementation: each layer (and the brief's models)
// with seeded weights is exported, run in ONNX Runtime, and compared with Lathe's predict at
// several batch sizes through the one dynamic batch axis. Also the file's structure, the CLI,
// and the errors.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as ort from 'onnxruntime-node';
import * as lt from '../../src/index.js';
import { main } from '../../src/cli/main.js';
import { type ExportOnnxOptions, exportOnnx } from '../../src/io/onnx/export.js';
import { ModelProto } from '../../src/io/onnx/schema.js';
import { TabularPreprocessor } from '../../src/data/tabular/index.js';
import { saveModel } from '../../src/io/saved-model.js';
import { Layer } from '../../src/nn/layer.js';
import type { Tensor } from '../../src/tensor/tensor.js';
import { assertThrowsLathe, onEachBackend } from '../helpers.js';

const L = lt.layers;
type Input = 'float32' | 'uint8' | 'int32';

/** Every weight and buffer drawn from a seeded generator: nothing at its initial value, variances positive. */
export function randomizeWeights(model: lt.Sequential, seed: number): lt.Sequential {
  const g = new lt.Generator(seed);
  for (const [name, t] of Object.entries(model.stateDict())) {
    t.assign(name.endsWith('movingVariance') ? lt.uniform([...t.shape], 0.5, 2, { generator: g }) : lt.uniform([...t.shape], -0.8, 0.8, { generator: g }));
  }
  return model;
}

/** A batch of n examples of the model's input: floats in [-2, 2), raw pixels, or ids below `ids`. */
function makeInput(model: lt.Sequential, n: number, type: Input, seed: number, ids = 0): Tensor {
  const shape = [n, ...model.inputShape!];
  const g = new lt.Generator(seed);
  if (type === 'int32') return lt.randint(0, ids, shape, { generator: g });
  if (type === 'uint8') return lt.randint(0, 256, shape, { generator: g }).cast('uint8');
  return lt.uniform(shape, -2, 2, { generator: g });
}

/** Runs x through the session; `as` converts the values to the graph's declared input type (uint8 pixels fed as float32). */
export async function ortRun(session: ort.InferenceSession, x: Tensor, name = 'input', as = x.dtype as Input): Promise<Float32Array> {
  const raw = x.dataSync() as Float32Array | Uint8Array | Int32Array;
  const data = as === x.dtype ? raw : { float32: Float32Array, uint8: Uint8Array, int32: Int32Array }[as].from(raw);
  const out = await session.run({ [name]: new ort.Tensor(as, data, [...x.shape]) });
  return Object.values(out)[0].data as Float32Array;
}

/** max |ort - lathe| / max(1, |lathe|): absolute for outputs up to 1, relative beyond. */
export function maxScaledDiff(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  assert.equal(actual.length, expected.length, 'element count');
  let worst = 0;
  for (let i = 0; i < expected.length; i++) {
    const d = Math.abs(actual[i] - expected[i]) / Math.max(1, Math.abs(expected[i]));
    worst = Number.isNaN(d) ? Infinity : Math.max(worst, d);
  }
  return worst;
}

interface Case {
  input?: Input;
  ids?: number;
  options?: ExportOnnxOptions;
  batches?: number[];
}

/** Exports, loads in ORT, and compares with predict at each batch size; returns the largest difference. */
async function matchesOrt(model: lt.Sequential, c: Case = {}): Promise<number> {
  const type = c.input ?? c.options?.inputType ?? 'float32';
  const session = await ort.InferenceSession.create(exportOnnx(model, c.options));
  let worst = 0;
  for (const [k, n] of (c.batches ?? [1, 3, 8]).entries()) {
    const x = makeInput(model, n, type, 100 + k, c.ids);
    const expected = model.predict(x);
    const actual = await ortRun(session, x, c.options?.inputName, c.options?.inputType ?? (type === 'int32' ? 'int32' : 'float32'));
    const d = maxScaledDiff(actual, expected.dataSync());
    assert.ok(d <= 1e-5, `batch ${n}: ORT differs from Lathe by ${d}`);
    assert.ok(expected.dataSync().some((v) => v !== 0), 'the outputs are not all zero (the comparison means something)');
    worst = Math.max(worst, d);
  }
  return worst;
}

const seq = (seed: number, layers: Layer[]) => randomizeWeights(new lt.Sequential(layers), seed);

onEachBackend('exportOnnx: the brief\'s models', () => {
  test('MLP 784-128-10 with Rescaling, taking raw uint8 pixels or floats', async () => {
    const mlp = () => seq(1, [new L.Rescaling(1 / 255, 0, { inputShape: [784] }), new L.Dense(128, { activation: 'relu' }), new L.Dense(10, { activation: 'softmax' })]);
    await matchesOrt(mlp(), { options: { inputType: 'uint8' }, batches: [1, 32, 5] });
    await matchesOrt(mlp(), { input: 'uint8', batches: [2] }); // a float32 input fed the same pixel values
  });

  test('the CNN of examples/mnist-cnn.json, with its Rescaling', async () => {
    const config = JSON.parse(fs.readFileSync(new URL('../../../examples/mnist-cnn.json', import.meta.url), 'utf8'));
    const model = lt.Sequential.fromConfig([{ type: 'rescaling', scale: config.dataset.rescale, inputShape: [1, 28, 28] }, ...config.model.layers]);
    await matchesOrt(randomizeWeights(model, 2), { options: { inputType: 'uint8' }, batches: [1, 4] });
  });
});

onEachBackend('exportOnnx: layers', () => {
  test('Dense: Gemm on [N, F], MatMul + Add on [N, T, F], without bias', async () => {
    await matchesOrt(seq(3, [new L.Dense(6, { inputShape: [5], activation: 'tanh' }), new L.Dense(4, { useBias: false })]));
    await matchesOrt(seq(4, [new L.Dense(6, { inputShape: [3, 5], activation: 'relu' }), new L.Dense(2, { useBias: false }), new L.Dense(3)]));
  });

  test('Conv2D: same padding with stride 2 and an even kernel (asymmetric), dilation, groups, explicit padding', async () => {
    await matchesOrt(seq(5, [new L.Conv2D(4, 4, { inputShape: [2, 9, 8], strides: 2, padding: 'same', activation: 'relu' })]));
    await matchesOrt(seq(6, [new L.Conv2D(4, 3, { inputShape: [2, 7, 7], strides: [2, 1], padding: 'same' })]));
    await matchesOrt(seq(7, [new L.Conv2D(6, [3, 2], { inputShape: [4, 9, 8], dilationRate: [2, 1], groups: 2, padding: [1, 2], useBias: false })]));
    await matchesOrt(seq(8, [new L.Conv2D(3, 3, { inputShape: [1, 6, 6], padding: 'same', dilationRate: 2 })]));
  });

  test('MaxPool2D and AvgPool2D: valid, same (asymmetric, padding not counted), explicit (PyTorch: zeros counted)', async () => {
    for (const Pool of [L.MaxPool2D, L.AvgPool2D]) {
      await matchesOrt(seq(9, [new Pool(2, { inputShape: [2, 7, 6] })]));
      await matchesOrt(seq(10, [new Pool(3, { inputShape: [2, 7, 8], strides: 2, padding: 'same' })]));
      await matchesOrt(seq(11, [new Pool(2, { inputShape: [2, 5, 5], strides: 1, padding: 'same' })]));
      await matchesOrt(seq(12, [new Pool([3, 2], { inputShape: [2, 7, 6], strides: [2, 1], padding: [1, 1] })]));
    }
    await matchesOrt(seq(13, [new L.Conv2D(2, 1, { inputShape: [1, 6, 7] }), new L.AvgPool2d(3, { stride: 2, padding: 1 }), new L.MaxPool2d(2, { padding: 1 })]));
  });

  test('global pooling, with and without keepdims', async () => {
    for (const keepdims of [false, true]) {
      await matchesOrt(seq(14, [new L.GlobalAveragePooling2D({ inputShape: [3, 5, 4], keepdims })]));
      await matchesOrt(seq(15, [new L.GlobalMaxPooling2D({ inputShape: [3, 5, 4], keepdims })]));
    }
  });

  test('BatchNormalization in inference mode with moving statistics from training, on [N, C, H, W] and [N, C]', async () => {
    const model = seq(16, [new L.Conv2D(3, 3, { inputShape: [2, 6, 6] }), new L.BatchNormalization({ momentum: 0.5 }), new L.Flatten(), new L.Dense(5), new L.BatchNorm1d(5), new L.Dense(3)]);
    model.compile({ optimizer: 'sgd', loss: 'mse' });
    await model.fit(lt.uniform([16, 2, 6, 6], -2, 2, { generator: new lt.Generator(1) }), lt.uniform([16, 3], 0, 1, { generator: new lt.Generator(2) }), { epochs: 1, batchSize: 8, verbose: 0 });
    const bn = model.layers[1] as InstanceType<typeof L.BatchNormalization>;
    assert.ok(bn.movingMean.dataSync().some((v) => Math.abs(v) > 0.01), 'training moved the moving mean');
    await matchesOrt(model);
    await matchesOrt(seq(17, [new L.BatchNormalization({ inputShape: [3, 4], center: false, scale: false, epsilon: 0.1 })]));
  });

  test('LayerNormalization: the op at opset 17, its decomposition at 13; on [N, F] and [N, T, F]', async () => {
    for (const opset of [13, 17]) {
      await matchesOrt(seq(18, [new L.Dense(8, { inputShape: [5] }), new L.LayerNormalization({ epsilon: 1e-5 })]), { options: { opset } });
      await matchesOrt(seq(19, [new L.LayerNormalization({ inputShape: [3, 6], center: false }), new L.Dense(4)]), { options: { opset } });
      await matchesOrt(seq(20, [new L.Dense(6, { inputShape: [4] }), new L.LayerNorm(6, { elementwiseAffine: false }), new L.LayerNormalization({ scale: false })]), { options: { opset } });
    }
  });

  test('Embedding: int32 ids straight into Gather, then LayerNorm, Dense on [N, T, F], Flatten', async () => {
    const model = seq(21, [new L.Embedding(11, 4, { inputShape: [5] }), new L.LayerNormalization(), new L.Dense(3, { activation: 'gelu' }), new L.Flatten(), new L.Dense(2)]);
    await matchesOrt(model, { input: 'int32', ids: 11 });
  });

  test('a small GPT as a Sequential: Embedding, PositionEmbedding, causal TransformerBlocks, RMSNorm, Dense', async () => {
    const model = seq(24, [
      new L.Embedding(13, 8, { inputShape: [6] }),
      new L.PositionEmbedding(6, 8),
      new L.TransformerBlock(2, 8),
      new L.TransformerBlock(2, 8, { dropout: 0.1 }),
      new L.RMSNormalization(),
      new L.Dense(13),
    ]);
    await matchesOrt(model, { input: 'int32', ids: 13 });
  });

  test('MultiHeadAttention alone, causal and not; PositionEmbedding on a shorter sequence than its table', async () => {
    for (const causal of [true, false]) {
      await matchesOrt(seq(25, [new L.PositionEmbedding(9, 6, { inputShape: [5, 6] }), new L.MultiHeadAttention(3, 6, { causal })]));
    }
  });

  test('every activation, as a Dense option and as an Activation layer; LeakyReLU with its slope; Dropout', async () => {
    for (const activation of lt.nn.ACTIVATION_NAMES) {
      await matchesOrt(seq(22, [new L.Dense(7, { inputShape: [4], activation }), new L.Dropout(0.5), new L.Activation(activation)]), { batches: [3] });
      await matchesOrt(seq(23, [new L.Conv2D(2, 2, { inputShape: [1, 4, 4], activation })]), { batches: [2] });
    }
    await matchesOrt(seq(24, [new L.LeakyReLU(0.05, { inputShape: [6] })]));
    await matchesOrt(seq(25, [new L.Dropout(0.3, { inputShape: [6] })])); // nothing but an Identity
  });

  test('Rescaling with an offset, on floats and on uint8 pixels cast first', async () => {
    await matchesOrt(seq(30, [new L.Rescaling(1 / 127.5, -1, { inputShape: [2, 3] }), new L.Flatten()]), { input: 'uint8' });
    await matchesOrt(seq(31, [new L.Rescaling(1 / 127.5, -1, { inputShape: [1, 4, 4] }), new L.Conv2D(2, 3)]), { options: { inputType: 'uint8' } });
  });

  test('Flatten and Reshape keep the batch axis; a -1 stays inferred', async () => {
    await matchesOrt(seq(26, [new L.Reshape([1, 4, 6], { inputShape: [24] }), new L.Conv2D(2, 3, { padding: 'same' }), new L.Reshape([-1, 3]), new L.Dense(2), new L.Flatten()]));
  });

  test('opsets 13 to 21 give the same outputs; names are configurable', async () => {
    const model = seq(27, [new L.Conv2D(2, 3, { inputShape: [1, 5, 5] }), new L.BatchNormalization(), new L.GlobalAveragePooling2D(), new L.LayerNormalization(), new L.Dense(3, { activation: 'softmax' })]);
    for (const opset of [13, 15, 17, 19, 21]) await matchesOrt(model, { options: { opset, inputName: 'pixels', outputName: 'probs' }, batches: [2] });
  });
});

describe('exportOnnx: the file', () => {
  test('a dynamic batch axis, named input and output, producer, opset, weights named as in the state dict', () => {
    const model = seq(28, [new L.Rescaling(0.5, 1, { inputShape: [3] }), new L.Dense(2)]);
    const proto = ModelProto.toObject(ModelProto.decode(exportOnnx(model, { opset: 18, metadata: { classNames: '["a","b"]' } })), { longs: Number, defaults: false }) as Record<string, any>;
    assert.equal(proto.producerName, 'lathe');
    assert.equal(proto.irVersion, 8);
    assert.deepEqual(proto.opsetImport, [{ version: 18 }]);
    assert.deepEqual(proto.graph.input[0].type.tensorType.shape.dim, [{ dimParam: 'batch' }, { dimValue: 3 }]);
    assert.deepEqual(proto.graph.output[0].type.tensorType.shape.dim, [{ dimParam: 'batch' }, { dimValue: 2 }]);
    assert.deepEqual([proto.graph.input[0].name, proto.graph.output[0].name], ['input', 'output']);
    assert.deepEqual(proto.graph.node.map((n: { opType: string }) => n.opType), ['Mul', 'Add', 'Gemm']);
    assert.ok(proto.graph.initializer.some((t: { name: string }) => t.name === 'layers.1.kernel'));
    assert.deepEqual(proto.metadataProps, [{ key: 'classNames', value: '["a","b"]' }]);
  });
});

describe('exportOnnx: errors', () => {
  class Doubler extends Layer {
    readonly type: string = 'doubler';
    computeOutputShape(s: readonly number[]) {
      return [...s];
    }
    forward(x: Tensor) {
      return x.mul(2);
    }
  }
  class Halver extends Doubler {
    override readonly type: string = 'halver';
  }

  test('every unsupported layer is named in one error', () => {
    const model = new lt.Sequential([new Doubler({ inputShape: [3] }), new L.Dense(2), new Halver()]);
    assertThrowsLathe(() => exportOnnx(model), /exportOnnx: 2 layers cannot be exported to ONNX: layers\[0\] \(doubler "[^"]+"\): no ONNX mapping.*; layers\[2\] \(halver/);
  });

  test('an unbuilt or empty model, float64 weights, a bad opset, an input type that does not fit', () => {
    assertThrowsLathe(() => exportOnnx(new lt.Sequential([new L.Dense(2)])), /not built yet/);
    assertThrowsLathe(() => exportOnnx(new lt.Sequential()), /no layers/);
    assertThrowsLathe(() => exportOnnx(new lt.Sequential([new L.Dense(2, { inputShape: [3], dtype: 'float64' })])), /layers\[0\] \(dense .*float64/);
    const model = new lt.Sequential([new L.Dense(2, { inputShape: [3] })]);
    assertThrowsLathe(() => exportOnnx(model, { opset: 12 }), /opset must be an integer from 13 to 21, got 12/);
    assertThrowsLathe(() => exportOnnx(model, { inputType: 'int32' }), /inputType int32 does not fit the first layer \(dense\)/);
    assertThrowsLathe(() => exportOnnx(model, { inputName: 'x', outputName: 'x' }), /distinct/);
  });
});

describe('lathe export', () => {
  let root: string;
  before(() => (root = fs.mkdtempSync(path.join(os.tmpdir(), 'lathe-onnx-export-'))));
  after(() => fs.rmSync(root, { recursive: true, force: true }));

  test('writes a model ORT runs, with the class names in its metadata', async () => {
    const model = seq(29, [new L.Rescaling(1 / 255, 0, { inputShape: [1, 4, 4] }), new L.Conv2D(2, 3), new L.Flatten(), new L.Dense(3, { activation: 'softmax' })]);
    const dir = path.join(root, 'saved');
    saveModel(model, dir, { classNames: ['a', 'b', 'c'] });
    const out = path.join(root, 'out', 'model.onnx');
    assert.equal(await main(['export', dir, '--format', 'onnx', '--out', out, '--opset', '15']), 0); // uint8 input: the model rescales raw pixels
    const session = await ort.InferenceSession.create(out);
    const x = makeInput(model, 3, 'uint8', 7);
    assert.ok(maxScaledDiff(await ortRun(session, x), model.predict(x).dataSync()) <= 1e-5);
    // --input-type float32 takes the same pixels as floats
    assert.equal(await main(['export', dir, '--out', `${out}.f32`, '--input-type', 'float32']), 0);
    assert.ok(maxScaledDiff(await ortRun(await ort.InferenceSession.create(`${out}.f32`), x, 'input', 'float32'), model.predict(x).dataSync()) <= 1e-5);
    fs.rmSync(`${out}.f32`);
    const proto = ModelProto.toObject(ModelProto.decode(fs.readFileSync(out)), { longs: Number }) as Record<string, any>;
    assert.equal(proto.opsetImport[0].version, 15);
    assert.deepEqual(proto.metadataProps.find((p: { key: string }) => p.key === 'lathe.classNames')?.value, '["a","b","c"]');
    assert.deepEqual(fs.readdirSync(path.dirname(out)), ['model.onnx'], 'no temporary file left behind');
  });

  test('a tabular model exports its numeric part: the ONNX file takes preprocessed features and carries the fitted preprocessing as metadata', async () => {
    const rows = { header: ['color', 'size'], rows: [['red', '1'], ['green', '3'], ['red', '2']] };
    const preprocessing = new TabularPreprocessor().fit(rows, { features: ['color', 'size'] });
    const model = seq(32, [new L.Dense(2, { inputShape: [preprocessing.features.length], activation: 'softmax' })]);
    const dir = path.join(root, 'tabular');
    saveModel(model, dir, { preprocessing });
    const out = path.join(root, 'tabular.onnx');
    assert.equal(await main(['export', dir, '--out', out]), 0);
    const session = await ort.InferenceSession.create(out);
    const x = preprocessing.transformRecords([{ color: 'green', size: '2' }]).x;
    const features = lt.tensor(Float32Array.from(x), { shape: [1, x.length] });
    assert.ok(maxScaledDiff(await ortRun(session, features), model.predict(features).dataSync()) <= 1e-5);
    const proto = ModelProto.toObject(ModelProto.decode(fs.readFileSync(out))) as Record<string, any>;
    const stored = proto.metadataProps.find((p: { key: string }) => p.key === 'lathe.preprocessing')?.value;
    assert.deepEqual(JSON.parse(stored), preprocessing.toJSON());
  });

  test('usage errors name the problem', async () => {
    assert.equal(await main(['export', path.join(root, 'nope'), '--out', path.join(root, 'x.onnx')]), 1);
    assert.equal(await main(['export', path.join(root, 'saved'), '--format', 'tflite', '--out', path.join(root, 'x.onnx')]), 1);
    assert.equal(await main(['export', path.join(root, 'saved')]), 1);
    assert.equal(await main(['export', path.join(root, 'saved'), '--out', path.join(root, 'x.onnx'), '--input-type', 'int64']), 1);
    assert.equal(await main(['export', path.join(root, 'saved'), '--out', path.join(root, 'x.onnx'), '--weight-type', 'int4']), 1);
    assert.ok(!fs.existsSync(path.join(root, 'x.onnx')));
  });
});
