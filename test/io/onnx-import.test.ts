// ONNX import: single-node models compared with ONNX Runtime (an independent implementation),
// the whole-graph checks before running, TensorProto decoding (raw little-endian, float16,
// bfloat16, int64, external data), shape subgraphs, fine-tuning through autograd, the shared
// models (iris-mlp against ORT, mnist-cntk's MNIST score) and the CLI on .onnx files.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import ort from 'onnxruntime-node';
import * as lt from '../../src/index.js';
import { mnist } from '../../src/data/datasets/index.js';
import { HostInts, tensorFromProto, tensorOf } from '../../src/io/onnx/import/tensors.js';
import { ModelProto } from '../../src/io/onnx/schema.js';
import { assertClose, assertThrowsLathe } from '../helpers.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const MODELS = path.join(root, '..', 'shared', 'models', 'onnx');
const DATA = process.env.LATHE_DATA;
const haveShared = DATA !== undefined && fs.existsSync(DATA) && fs.existsSync(MODELS);

type Attr = { name: string; type: number; i?: number; f?: number; s?: Uint8Array; ints?: number[]; floats?: number[]; t?: object };
const A = {
  i: (name: string, i: number): Attr => ({ name, type: 2, i }),
  f: (name: string, f: number): Attr => ({ name, type: 1, f }),
  s: (name: string, s: string): Attr => ({ name, type: 3, s: Buffer.from(s) }),
  ints: (name: string, ints: number[]): Attr => ({ name, type: 7, ints }),
};
const vi = (name: string, shape: (number | string)[], elemType = 1) => ({
  name,
  type: { tensorType: { elemType, shape: { dim: shape.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } } },
});
const floatInit = (name: string, dims: number[], data: number[]) => ({ name, dims, dataType: 1, floatData: data });
const int64Init = (name: string, data: number[]) => ({ name, dims: [data.length], dataType: 7, int64Data: data });

interface Spec {
  nodes: { opType: string; input: string[]; output: string[]; attribute?: Attr[]; domain?: string }[];
  inputs: ReturnType<typeof vi>[];
  outputs: ReturnType<typeof vi>[];
  initializers?: object[];
  opset?: number;
}

function encode(spec: Spec): Uint8Array {
  const msg = ModelProto.fromObject({
    irVersion: 8,
    opsetImport: [{ domain: '', version: spec.opset ?? 13 }],
    graph: { name: 'g', node: spec.nodes, input: spec.inputs, output: spec.outputs, initializer: spec.initializers ?? [] },
  });
  return ModelProto.encode(msg).finish();
}

/** One node with inputs x0, x1, ... (given) and output y, compared with ONNX Runtime. */
async function checkAgainstOrt(opType: string, xs: lt.Tensor[], attribute: Attr[], opset = 13, extraInits: object[] = [], extraInputs: string[] = []): Promise<void> {
  const names = xs.map((_, i) => `x${i}`);
  const bytes = encode({
    nodes: [{ opType, input: [...names, ...extraInputs], output: ['y'], attribute }],
    inputs: xs.map((x, i) => vi(names[i], [...x.shape])),
    outputs: [{ name: 'y', type: { tensorType: { elemType: 1 } } } as ReturnType<typeof vi>],
    initializers: extraInits,
    opset,
  });
  const session = await ort.InferenceSession.create(bytes);
  const feeds = Object.fromEntries(xs.map((x, i) => [names[i], new ort.Tensor('float32', Float32Array.from(x.dataSync()), [...x.shape])]));
  const expected = (await session.run(feeds)).y;
  const got = lt.loadOnnx(bytes).run(Object.fromEntries(xs.map((x, i) => [names[i], x]))).y;
  assert.deepEqual([...got.shape], expected.dims, `${opType} shape`);
  assertClose(got.dataSync(), expected.data as Float32Array, { atol: 1e-5, rtol: 1e-4 }, opType);
}

const rnd = (shape: number[], seed: number) => lt.uniform(shape, -2, 2, { generator: new lt.Generator(seed) });

test('Conv, pooling and normalization agree with ONNX Runtime, padding and opset rules included', async () => {
  const x = rnd([2, 3, 9, 8], 1);
  const w = rnd([4, 3, 3, 3], 2);
  await checkAgainstOrt('Conv', [x, w, rnd([4], 3)], [A.ints('pads', [1, 0, 2, 1]), A.ints('strides', [2, 1])]);
  await checkAgainstOrt('Conv', [x, w], [A.s('auto_pad', 'SAME_UPPER'), A.ints('strides', [2, 2])]);
  await checkAgainstOrt('Conv', [x, w], [A.s('auto_pad', 'SAME_LOWER'), A.ints('strides', [1, 2])]);
  await checkAgainstOrt('Conv', [x, w], [A.ints('pads', [2, 1, 2, 1]), A.ints('dilations', [2, 1])]);
  await checkAgainstOrt('Conv', [x, rnd([6, 1, 2, 2], 4)], [A.i('group', 3)]);
  await checkAgainstOrt('Conv', [rnd([2, 3, 11], 5), rnd([4, 3, 3], 6)], [A.ints('pads', [2, 1]), A.ints('strides', [2])]);
  await checkAgainstOrt('MaxPool', [x], [A.ints('kernel_shape', [3, 3]), A.ints('strides', [2, 2]), A.i('ceil_mode', 1)]);
  await checkAgainstOrt('MaxPool', [x], [A.ints('kernel_shape', [2, 3]), A.ints('pads', [1, 0, 0, 2])]);
  await checkAgainstOrt('AveragePool', [x], [A.ints('kernel_shape', [3, 3]), A.ints('pads', [1, 1, 1, 1]), A.ints('strides', [2, 2])]);
  await checkAgainstOrt('AveragePool', [x], [A.ints('kernel_shape', [3, 3]), A.ints('pads', [1, 1, 1, 1]), A.i('count_include_pad', 1)]);
  await checkAgainstOrt('AveragePool', [x], [A.ints('kernel_shape', [2, 2]), A.ints('strides', [2, 2]), A.i('ceil_mode', 1)]);
  await checkAgainstOrt('GlobalAveragePool', [x], []);
  await checkAgainstOrt('BatchNormalization', [x, rnd([3], 7), rnd([3], 8), rnd([3], 9), rnd([3], 10).abs()], [A.f('epsilon', 1e-3)]);
  await checkAgainstOrt('LayerNormalization', [x, rnd([9, 8], 11), rnd([9, 8], 12)], [A.i('axis', 2)], 17);
  // Softmax before opset 13 flattens to 2-D at axis (default 1); from 13 it is one axis (default -1).
  await checkAgainstOrt('Softmax', [x], [], 11);
  await checkAgainstOrt('Softmax', [x], [], 13);
  await checkAgainstOrt('LogSoftmax', [x], [A.i('axis', 2)], 11);
  await checkAgainstOrt('Gemm', [rnd([4, 3], 13), rnd([5, 4], 14), rnd([5], 15)], [A.i('transA', 1), A.i('transB', 1), A.f('alpha', 0.5), A.f('beta', 2)]);
  await checkAgainstOrt('MatMul', [rnd([2, 1, 4, 3], 16), rnd([3, 3, 5], 17)], []);
  await checkAgainstOrt('Clip', [x], [A.f('min', -0.5), A.f('max', 1)], 9);
  await checkAgainstOrt('ReduceMean', [x], [A.ints('axes', [1, -1]), A.i('keepdims', 0)], 13);
  await checkAgainstOrt('ReduceSum', [x], [A.i('keepdims', 1)], 13, [int64Init('axes', [2])], ['axes']);
  await checkAgainstOrt('Slice', [x], [], 13, [int64Init('s', [1, -1]), int64Init('e', [2 ** 62, -100]), int64Init('a', [2, 3]), int64Init('st', [2, -2])], ['s', 'e', 'a', 'st']);
});

test('a PyTorch-style Flatten (Shape -> Gather -> Unsqueeze -> Concat -> Reshape) runs for any batch', async () => {
  const bytes = encode({
    nodes: [
      { opType: 'Shape', input: ['x'], output: ['s'] },
      { opType: 'Gather', input: ['s', 'zero'], output: ['n'], attribute: [A.i('axis', 0)] },
      { opType: 'Unsqueeze', input: ['n', 'axes'], output: ['n1'] },
      { opType: 'Concat', input: ['n1', 'minus1'], output: ['shape'], attribute: [A.i('axis', 0)] },
      { opType: 'Reshape', input: ['x', 'shape'], output: ['flat'] },
      { opType: 'MatMul', input: ['flat', 'w'], output: ['y'] },
    ],
    inputs: [vi('x', ['batch', 2, 3])],
    outputs: [vi('y', ['batch', 2])],
    initializers: [{ name: 'zero', dims: [], dataType: 7, int64Data: [0] }, int64Init('axes', [0]), int64Init('minus1', [-1]), floatInit('w', [6, 2], [1, 0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 1])],
  });
  const model = lt.loadOnnx(bytes);
  assert.deepEqual(model.inputs, [{ name: 'x', dtype: 'float32', onnxType: 'float', shape: [null, 2, 3] }]);
  assert.deepEqual(model.inputShape, [2, 3]);
  for (const n of [1, 5]) {
    const x = rnd([n, 2, 3], n);
    const xs = x.reshape([n, 6]).toArray() as number[][];
    assertClose(model.predict(x), xs.map((r) => [r[0] + r[2] + r[4], r[1] + r[3] + r[5]]), { atol: 1e-5 });
  }
});

test('the whole graph is checked before running: every unsupported op in one error, opsets, missing inputs', () => {
  const nodes = [
    { opType: 'NonMaxSuppression', input: ['x'], output: ['a'] },
    { opType: 'Relu', input: ['x'], output: ['b'] },
    { opType: 'TopK', input: ['x'], output: ['c'] },
    { opType: 'TopK', input: ['x'], output: ['d'] },
  ];
  const spec = { nodes, inputs: [vi('x', [2])], outputs: [vi('b', [2])], opset: 11 };
  assertThrowsLathe(() => lt.loadOnnx(encode(spec)), /^onnx: model\.onnx: unsupported operators: NonMaxSuppression \(opset 11\), TopK \(opset 11\)$/);
  assertThrowsLathe(() => lt.loadOnnx(encode({ ...spec, nodes: [{ opType: 'Relu', input: ['x'], output: ['b'], domain: 'com.microsoft' }] })), /unsupported operators: Relu \(com\.microsoft opset \?\)/);
  assertThrowsLathe(() => lt.loadOnnx(encode({ ...spec, nodes: [nodes[1]], opset: 6 })), /opset 6 is outside the range Lathe imports \(7 to 21\)/);
  assertThrowsLathe(() => lt.loadOnnx(encode({ ...spec, nodes: [nodes[1]], opset: 22 })), /opset 22 is outside/);
  assertThrowsLathe(() => lt.loadOnnx(encode({ ...spec, nodes: [{ opType: 'Relu', input: ['nowhere'], output: ['b'] }] })), /node 0 \(Relu\): input "nowhere" is produced by no earlier node/);
  assertThrowsLathe(() => lt.loadOnnx(new Uint8Array([0xff, 0xff, 0xff])), /not a valid ONNX model/);
  const model = lt.loadOnnx(encode({ ...spec, nodes: [nodes[1]] }));
  assertThrowsLathe(() => model.run({}), /input "x" is missing/);
  assertThrowsLathe(() => model.run({ x: lt.zeros([3]) }), /input "x" must have shape \[2\], got \[3\]/);
});

test('TensorProto: raw little-endian data, float16 and bfloat16 widened, int64 kept in range, external data refused', () => {
  const raw = Buffer.alloc(8);
  raw.writeFloatLE(1.5, 0);
  raw.writeFloatLE(-2.25, 4);
  assert.deepEqual(Array.from(tensorOf(tensorFromProto({ dims: [2], dataType: 1, rawData: raw }, 't'), 't').dataSync()), [1.5, -2.25]);
  // float16 0x3c00 = 1, 0xc000 = -2, 0x7bff = 65504 (largest), 0x0001 = 2^-24 (smallest subnormal).
  const half = Buffer.alloc(8);
  [0x3c00, 0xc000, 0x7bff, 0x0001].forEach((h, i) => half.writeUInt16LE(h, 2 * i));
  assert.deepEqual(Array.from(tensorOf(tensorFromProto({ dims: [4], dataType: 10, rawData: half }, 't'), 't').dataSync()), [1, -2, 65504, 2 ** -24]);
  assert.deepEqual(Array.from(tensorOf(tensorFromProto({ dims: [2], dataType: 10, int32Data: [0x3800, 0x7c00] }, 't'), 't').dataSync()), [0.5, Infinity]);
  // bfloat16 0x3fc0 = 1.5, 0xc020 = -2.5 (the top 16 bits of the float32).
  assert.deepEqual(Array.from(tensorOf(tensorFromProto({ dims: [2], dataType: 16, int32Data: [0x3fc0, 0xc020] }, 't'), 't').dataSync()), [1.5, -2.5]);
  const i64 = Buffer.alloc(16);
  i64.writeBigInt64LE(-7n, 0);
  i64.writeBigInt64LE(2147483647n, 8);
  const small = tensorFromProto({ dims: [2], dataType: 7, rawData: i64 }, 't');
  assert.ok(small instanceof lt.Tensor && small.dtype === 'int32');
  assert.deepEqual(Array.from(small.dataSync()), [-7, 2147483647]);
  const big = tensorFromProto({ dims: [1], dataType: 7, int64Data: [2 ** 40] }, 'big');
  assert.ok(big instanceof HostInts);
  assertThrowsLathe(() => tensorOf(big, 'big'), /int64 value 1099511627776 is outside int32's range/);
  assertThrowsLathe(() => tensorFromProto({ dims: [2], dataType: 1, dataLocation: 1, externalData: [{ key: 'location', value: 'w.bin' }] }, 'initializer "w"'), /initializer "w": stored as external data/);
  assertThrowsLathe(() => tensorFromProto({ dims: [3], dataType: 1, rawData: raw }, 'w'), /raw_data holds 8 bytes; shape and float need 12/);
});

test('an imported model fine-tunes: its float initializers are parameters and a few Adam steps lower the loss', () => {
  const g = new lt.Generator(5);
  const w1 = Array.from(lt.uniform([8, 4], -0.5, 0.5, { generator: g }).dataSync());
  const bytes = encode({
    nodes: [
      { opType: 'Gemm', input: ['x', 'w1', 'b1'], output: ['h'], attribute: [A.i('transB', 1)] },
      { opType: 'Tanh', input: ['h'], output: ['t'] },
      { opType: 'MatMul', input: ['t', 'w2'], output: ['y'] },
    ],
    inputs: [vi('x', ['n', 4])],
    outputs: [vi('y', ['n', 3])],
    initializers: [floatInit('w1', [8, 4], w1), floatInit('b1', [8], new Array(8).fill(0)), floatInit('w2', [8, 3], new Array(24).fill(0.1))],
  });
  const model = lt.loadOnnx(bytes);
  assert.deepEqual(model.namedParameters().map(([n]) => n).sort(), ['b1', 'w1', 'w2']);
  const x = lt.uniform([32, 4], -1, 1, { generator: g });
  const labels = lt.argmax(x.slice([0, 0], [32, 3]), 1);
  const opt = new lt.Adam(model.parameters(), { lr: 0.05 });
  const losses: number[] = [];
  for (let step = 0; step < 20; step++) {
    opt.zeroGrad();
    const loss = lt.softmaxCrossEntropy(model.forward(x), labels);
    loss.backward();
    for (const p of model.parameters()) assert.ok(p.grad, 'every parameter gets a gradient');
    opt.step();
    losses.push(loss.item());
  }
  assert.ok(losses[19] < losses[0] * 0.7, `loss went from ${losses[0]} to ${losses[19]}`);
});

test('iris-mlp.onnx matches ONNX Runtime within 1e-5 on every iris.csv row', { skip: !haveShared && 'needs $LATHE_DATA and ../shared/models/onnx' }, async () => {
  const file = path.join(MODELS, 'iris-mlp.onnx');
  const rows = fs.readFileSync(path.join(DATA!, 'tabular', 'iris.csv'), 'utf8').trim().split('\n').slice(1).map((l) => l.split(',').slice(1, 5).map(Number));
  const x = Float32Array.from(rows.flat());
  const session = await ort.InferenceSession.create(file);
  const expected = (await session.run({ input: new ort.Tensor('float32', x, [rows.length, 4]) })).output.data as Float32Array;
  const got = lt.loadOnnx(file).predict(lt.tensor(x, { shape: [rows.length, 4] }));
  assert.deepEqual(got.shape, [150, 3]);
  assertClose(got.dataSync(), expected, { atol: 1e-5, rtol: 0 });
});

test('mnist-cntk.onnx scores 98.91% on the MNIST test set, as ONNX Runtime does', { skip: !haveShared && 'needs $LATHE_DATA and ../shared/models/onnx' }, async () => {
  const file = path.join(MODELS, 'mnist-cntk.onnx');
  const model = lt.loadOnnx(file);
  assert.deepEqual(model.inputShape, [1, 28, 28]);
  const { test: split } = await mnist.load({ dir: path.join(DATA!, 'mnist') });
  const n = split.images.shape[0];
  // Pixels as float32 0-255: the input the model was trained on, and ONNX Runtime's 98.91%.
  const out = model.predict(split.images.reshape([n, 1, 28, 28]));
  const pred = lt.argmax(out, 1).dataSync();
  const labels = split.labels.dataSync();
  const correct = Array.from(pred).filter((p, i) => p === labels[i]).length;
  assert.ok(Math.abs(correct / n - 0.9891) <= 0.0001, `accuracy ${correct / n}`);
  const session = await ort.InferenceSession.create(file);
  const pixels = Float32Array.from(split.images.dataSync());
  for (let i = 0; i < 50; i++) {
    const r = await session.run({ Input3: new ort.Tensor('float32', pixels.slice(i * 784, (i + 1) * 784), [1, 1, 28, 28]) });
    assertClose(out.slice([i], [i + 1]).dataSync(), r.Plus214_Output_0.data as Float32Array, { atol: 1e-3, rtol: 1e-5 }, `image ${i}`);
  }
});

test('lathe predict and evaluate take an .onnx file', { skip: !haveShared && 'needs $LATHE_DATA and ../shared/models/onnx' }, () => {
  const cli = path.join(root, 'bin', 'lathe.js');
  const body = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'lathe-onnx-')), 'body.json');
  fs.writeFileSync(body, JSON.stringify({ instances: [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]] }));
  const p = spawnSync('node', [cli, 'predict', path.join(MODELS, 'iris-mlp.onnx'), '--input', body], { encoding: 'utf8' });
  assert.equal(p.status, 0, p.stderr);
  const preds = JSON.parse(p.stdout).predictions as number[][];
  assert.deepEqual(preds.map((r) => r.indexOf(Math.max(...r))), [0, 2]);
  const e = spawnSync('node', [cli, 'evaluate', path.join(MODELS, 'mnist-cntk.onnx'), '--data', path.join(DATA!, 'mnist'), '--json'], { encoding: 'utf8' });
  assert.equal(e.status, 0, e.stderr);
  assert.equal(JSON.parse(e.stdout).accuracy, 0.9891);
});
