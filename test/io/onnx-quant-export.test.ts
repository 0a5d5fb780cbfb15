// ONNX export of QuantizedDense and QuantizedConv2D (QDQ form), checked against ONNX Runtime: each
// model is exported, run in ORT at batch 1 and 32 with its reference kernels and with its fused
// int8 kernels, and compared with Lathe's predict (each quantized layer alone, then the whole
// model); predicted classes must agree. Also the graph's structure (uint8 initializers, per-axis
// DequantizeLinear), every export opset, the import back into Lathe, an all-zero input in dynamic
// mode, saturation past a static range, and (with $LATHE_DATA) a trained MNIST MLP's test set.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import ort from 'onnxruntime-node';
import * as lt from '../../src/index.js';
import { mnist } from '../../src/data/datasets/index.js';
import { exportOnnx } from '../../src/io/onnx/export.js';
import { ModelProto } from '../../src/io/onnx/schema.js';
import type { Layer } from '../../src/nn/layer.js';
import type { Tensor } from '../../src/tensor/tensor.js';
import { assertThrowsLathe } from '../helpers.js';

const L = lt.layers;
type Quantized = InstanceType<typeof L.QuantizedDense> | InstanceType<typeof L.QuantizedConv2D>;

/**
 * Each quantized layer on its own, fed the same input, is compared with ORT twice. With graph
 * optimization off ORT runs the exported ops as written: it must agree to float32 rounding (Lathe
 * sums the integer products exactly and scales once, ORT dequantizes and sums in float32),
 * LAYER_TOLERANCE, absolute up to 1 and relative beyond. With optimization on ORT fuses each QDQ
 * group into an int8 kernel (QGemm, MatMulIntegerToFloat, QLinearConv) and on the way quantizes the
 * float bias to int32 at scale input_scale * kernelScale: up to half that step off,
 * FUSED_LAYER_TOLERANCE. Through a whole model such float-rounding differences can carry a value
 * across the next layer's rounding boundary (or move a dynamic range's end, and with it the
 * scale), one quantization step of that layer: MODEL_TOLERANCE, with the predicted classes equal.
 */
const LAYER_TOLERANCE = 1e-5;
const FUSED_LAYER_TOLERANCE = 1e-3;
const MODEL_TOLERANCE = 0.02;

const gen = (seed: number) => ({ generator: new lt.Generator(seed) });

/** Seeded int8 weights (an all-zero channel first when asked: scale 1, as the quantizer gives it) and float scales and bias. */
function fillWeights(layer: Quantized, seed: number, zeroChannel = false): Quantized {
  const outputs = layer.kernelScale.size;
  const axis = layer.type === 'quantizeddense' ? 1 : 0;
  const kernel = Int8Array.from(lt.randint(-127, 128, [...layer.kernel.shape], gen(seed)).dataSync() as Int32Array);
  const scale = Float32Array.from(lt.uniform([outputs], 0.002, 0.02, gen(seed + 1)).dataSync() as Float32Array);
  if (zeroChannel) {
    const shape = layer.kernel.shape;
    kernel.forEach((_, i) => {
      const channel = axis === 1 ? i % shape[1] : Math.floor(i / (kernel.length / shape[0]));
      if (channel === 0) kernel[i] = 0;
    });
    scale[0] = 1;
  }
  const bias = layer.bias ? lt.uniform([outputs], -0.5, 0.5, gen(seed + 2)) : null;
  layer.setWeights(lt.tensor(kernel, { dtype: 'int8' }).reshape([...layer.kernel.shape]), lt.tensor(scale), bias);
  return layer;
}

const rowsArgmax = (v: ArrayLike<number>, rows: number): number[] => {
  const n = v.length / rows;
  return Array.from({ length: rows }, (_, r) => {
    let best = 0;
    for (let j = 1; j < n; j++) if (v[r * n + j] > v[r * n + best]) best = j;
    return best;
  });
};

type Kind = 'reference' | 'fused';
type Measured = Record<Kind, number>;
const KINDS: Kind[] = ['reference', 'fused'];

/** ORT's outputs for x with its reference kernels (optimization off) and its fused ones. */
async function ortBoth(bytes: Uint8Array, x: Tensor): Promise<Record<Kind, Float32Array>> {
  const feed = { input: new ort.Tensor('float32', Float32Array.from(x.dataSync() as Float32Array), [...x.shape]) };
  const run = async (level: 'disabled' | 'all') => (await (await ort.InferenceSession.create(bytes, { graphOptimizationLevel: level })).run(feed)).output.data as Float32Array;
  return { reference: await run('disabled'), fused: await run('all') };
}

/** max |a - e| / max(1, |e|), after checking the counts and that ORT's values are finite. */
function scaledDiff(actual: Float32Array, expected: ArrayLike<number>, where: string): number {
  assert.equal(actual.length, expected.length, `${where}: element count`);
  assert.ok(actual.every(Number.isFinite), `${where}: ORT's outputs are finite`);
  let d = 0;
  for (let i = 0; i < expected.length; i++) d = Math.max(d, Math.abs(actual[i] - expected[i]) / Math.max(1, Math.abs(expected[i])));
  return d;
}

/** A one-layer model holding a copy of `layer` (config and state), taking per-example input `shape`. */
function alone(layer: Layer, shape: readonly number[]): lt.Sequential {
  const copy = lt.Sequential.fromConfig([{ ...layer.getConfig(), inputShape: [...shape] }]);
  copy.layers[0].loadStateDict(layer.stateDict());
  return copy;
}

/**
 * Exports the model and each quantized layer alone, runs them in ORT at each batch size (reference
 * and fused kernels), and compares with Lathe at the tolerances above; predicted classes must agree.
 * Returns the largest scaled differences: the layers' and the whole model's.
 */
async function matchesOrt(model: lt.Sequential, what: string, options: { batches?: number[]; input?: (n: number, seed: number) => Tensor; opset?: number } = {}): Promise<{ layer: Measured; model: Measured }> {
  const bytes = exportOnnx(model, { opset: options.opset });
  model.eval(); // the layer-by-layer walk below is then predict's computation
  const worst = { layer: { reference: 0, fused: 0 }, model: { reference: 0, fused: 0 } };
  for (const n of options.batches ?? [1, 32]) {
    const x = options.input?.(n, 100 + n) ?? lt.uniform([n, ...model.inputShape!], -2, 2, gen(100 + n));
    let h = x;
    for (const [i, layer] of model.layers.entries()) {
      const next = lt.noGrad(() => layer.call(h));
      if (layer.type.startsWith('quantized')) {
        const ortOut = await ortBoth(exportOnnx(alone(layer, h.shape.slice(1)), { opset: options.opset }), h);
        for (const kind of KINDS) {
          const d = scaledDiff(ortOut[kind], next.dataSync(), `${what}, layers[${i}] alone, batch ${n}, ORT ${kind}`);
          assert.ok(d <= (kind === 'reference' ? LAYER_TOLERANCE : FUSED_LAYER_TOLERANCE), `${what}, layers[${i}] alone, batch ${n}, ORT ${kind}: differs from Lathe by ${d}`);
          worst.layer[kind] = Math.max(worst.layer[kind], d);
        }
      }
      h = next;
    }
    const expected = h.dataSync() as Float32Array;
    assert.ok(expected.some((v) => v !== 0), `${what}: the outputs are not all zero (the comparison means something)`);
    const ortOut = await ortBoth(bytes, x);
    for (const kind of KINDS) {
      const where = `${what}, batch ${n}, ORT ${kind}`;
      const d = scaledDiff(ortOut[kind], expected, where);
      assert.ok(d <= MODEL_TOLERANCE, `${where}: differs from Lathe by ${d}`);
      if (h.rank === 2) { // [N, classes]: h is Lathe's output
        assert.deepEqual(rowsArgmax(ortOut[kind], n), rowsArgmax(expected, n), `${where}: predicted classes`);
      }
      worst.model[kind] = Math.max(worst.model[kind], d);
    }
  }
  return worst;
}

const e2 = (v: number) => v.toExponential(2);
const fmt = (m: { layer: Measured; model: Measured }) =>
  `max scaled difference, layers alone: ${e2(m.layer.reference)} (ORT reference kernels), ${e2(m.layer.fused)} (fused int8); whole model: ${e2(m.model.reference)}, ${e2(m.model.fused)}`;

const staticInput = (scale: number, zeroPoint: number) => ({ mode: 'static' as const, scale, zeroPoint });

test('QuantizedDense: dynamic and static input, activations, no bias, a zero channel, [N, T, F] input', async (t) => {
  const mlp = new lt.Sequential([
    fillWeights(new L.QuantizedDense(16, { inputFeatures: 12, inputShape: [12], activation: 'relu' }), 1, true),
    fillWeights(new L.QuantizedDense(9, { inputFeatures: 16, activation: 'tanh', useBias: false, inputQuantization: staticInput(0.02, 0) }), 2),
    fillWeights(new L.QuantizedDense(5, { inputFeatures: 9, activation: 'softmax', inputQuantization: staticInput(0.01, 128) }), 3),
  ]);
  t.diagnostic(`MLP dynamic/static/static: ${fmt(await matchesOrt(mlp, 'MLP'))}`);
  const sequence = new lt.Sequential([
    fillWeights(new L.QuantizedDense(6, { inputFeatures: 5, inputShape: [3, 5], activation: 'sigmoid' }), 4),
    fillWeights(new L.QuantizedDense(4, { inputFeatures: 6, inputQuantization: staticInput(0.005, 3) }), 5, true),
  ]);
  t.diagnostic(`[N, 3, 5] input: ${fmt(await matchesOrt(sequence, 'sequence', { batches: [1, 32, 7] }))}`);
});

test('QuantizedConv2D: valid, same (asymmetric) and explicit padding, strides, dilation, dynamic and static', async (t) => {
  const conv = (filters: number, k: number | [number, number], options: Record<string, unknown>, seed: number, zero = false) =>
    fillWeights(new L.QuantizedConv2D(filters, k, options as unknown as ConstructorParameters<typeof L.QuantizedConv2D>[2]), seed, zero);
  const model = new lt.Sequential([
    conv(4, 4, { inChannels: 2, inputShape: [2, 9, 8], strides: 2, padding: 'same', activation: 'relu' }, 10, true),
    conv(5, [3, 2], { inChannels: 4, dilationRate: [2, 1], padding: [1, 2], inputQuantization: staticInput(0.03, 0), activation: 'relu' }, 11),
    conv(3, 3, { inChannels: 5, padding: 'same', inputQuantization: staticInput(0.04, 20) }, 12),
    new L.Flatten(),
    fillWeights(new L.QuantizedDense(4, { inputFeatures: 3 * 3 * 7, activation: 'softmax' }), 13), // [2,9,8] -> [4,5,4] -> [5,3,7] -> [3,3,7]
  ] as Layer[]);
  t.diagnostic(`CNN: ${fmt(await matchesOrt(model, 'CNN'))}`);
});

test('quantized attention projections and transformer MLPs (inside their composites) run in ORT as in Lathe', async (t) => {
  lt.manualSeed(11);
  const float = new lt.Sequential([
    new L.Dense(32, { inputShape: [6, 16] }),
    new L.TransformerBlock(4, 32),
    new L.MultiHeadAttention(2, 32, { causal: false }),
    new L.Flatten(),
    new L.Dense(3, { activation: 'softmax' }),
  ]);
  for (const mode of ['dynamic', 'static'] as const) {
    const { model, layers } = lt.quant.quantizeModel(float, { mode, sample: lt.randn([48, 6, 16], gen(14)), minInputsPerOutput: 16 });
    assert.equal(layers.filter((l) => l.path !== undefined && l.quantizedType === 'quantizeddense').length, 6);
    const input = (n: number, seed: number) => lt.randn([n, 6, 16], gen(seed));
    t.diagnostic(`attention ${mode}: ${fmt(await matchesOrt(model, `attention ${mode}`, { batches: [1, 5], input }))}`);
  }
});

/** The brief's MLP and the CNN of examples/mnist-cnn.json, seeded, made by quantizeModel from float layers. */
function quantizedBriefModels(mode: 'dynamic' | 'static'): [string, lt.Sequential][] {
  const seeded = (m: lt.Sequential, seed: number) => {
    const g = new lt.Generator(seed);
    for (const [, w] of Object.entries(m.stateDict())) w.assign(lt.uniform([...w.shape], -0.15, 0.15, { generator: g }));
    return m;
  };
  const mlp = seeded(new lt.Sequential([new L.Dense(128, { inputShape: [784], activation: 'relu' }), new L.Dense(10, { activation: 'softmax' })]), 20);
  const config = JSON.parse(fs.readFileSync(new URL('../../../examples/mnist-cnn.json', import.meta.url), 'utf8'));
  const cnn = seeded(lt.Sequential.fromConfig(config.model.layers), 21);
  return ([['MLP 784-128-10', mlp, [784]], ['MNIST CNN', cnn, [1, 28, 28]]] as const).map(([name, m, shape]) => {
    const sample = lt.uniform([16, ...shape], 0, 1, gen(22));
    const q = lt.quant.quantizeModel(m, { mode, sample, minCosine: 0 }).model;
    // Every Dense and Conv2D, the CNN's first convolution too (9 inputs per output, but a 2x2 pool follows it).
    const quantized = q.layers.filter((l) => l.type.startsWith('quantized')).length;
    assert.equal(quantized, m.layers.filter((l) => l.type === 'dense' || l.type === 'conv2d').length, `${name}: the Dense and Conv2D layers are quantized`);
    return [`${name} (${mode})`, q];
  });
}

test('the brief\'s MLP and the MNIST CNN quantized by quantizeModel, dynamic and static, run in ORT as in Lathe', async (t) => {
  for (const mode of ['dynamic', 'static'] as const) {
    for (const [name, model] of quantizedBriefModels(mode)) {
      const d = await matchesOrt(model, name, { input: (n, seed) => lt.uniform([n, ...model.inputShape!], 0, 1, gen(seed)) });
      t.diagnostic(`${name}: ${fmt(d)}`);
    }
  }
});

test('the graph is QDQ: 8-bit kernels (uint8, zero point 128), per-axis DequantizeLinear (axis 1 for MatMul, 0 for Conv), and it runs at every export opset', async () => {
  const model = new lt.Sequential([
    fillWeights(new L.QuantizedConv2D(3, 3, { inChannels: 1, inputShape: [1, 6, 6], inputQuantization: staticInput(0.02, 128) }), 30),
    new L.Flatten(),
    fillWeights(new L.QuantizedDense(4, { inputFeatures: 48 }), 31),
  ] as Layer[]);
  const m = ModelProto.toObject(ModelProto.decode(exportOnnx(model)), { longs: Number, defaults: false });
  const ops = m.graph.node.map((n: { opType: string }) => n.opType);
  assert.deepEqual(ops, ['QuantizeLinear', 'DequantizeLinear', 'DequantizeLinear', 'Conv', 'Flatten', 'DynamicQuantizeLinear', 'DequantizeLinear', 'DequantizeLinear', 'MatMul', 'Add']);
  const init = (name: string) => m.graph.initializer.find((i: { name: string }) => i.name === name);
  // uint8 with zero point 128, not int8: ONNX Runtime's uint8 x int8 kernels saturate on CPUs without VNNI.
  assert.equal(init('layers.0.kernel').dataType, 2, 'the conv kernel is a uint8 initializer');
  assert.equal(init('layers.2.kernel').dataType, 2, 'the dense kernel is a uint8 initializer');
  assert.equal(init('layers.2.kernel').rawData.length, 48 * 4, 'one byte per weight');
  assert.deepEqual([...init('layers.2.kernelZeroPoint').rawData], new Array(4).fill(128), 'zero point 128 on every channel');
  const int8 = Int8Array.from((model.layers[2] as Quantized).kernel.dataSync() as Int8Array);
  assert.deepEqual([...init('layers.2.kernel').rawData], Array.from(int8, (v) => v + 128), 'the int8 weights shifted by 128');
  // protobuf leaves an int attribute of 0 unset (i undefined): the attribute's presence is what says axis 0.
  const axisOf = (i: number) => {
    const a = m.graph.node[i].attribute?.find((b: { name: string }) => b.name === 'axis');
    return a ? a.i ?? 0 : undefined;
  };
  assert.equal(axisOf(2), 0, 'Conv weights: per output channel, axis 0');
  assert.equal(axisOf(7), 1, 'MatMul weights [in, units]: per output column, axis 1');
  for (const opset of [13, 17, 19, 21]) await matchesOrt(model, `opset ${opset}`, { opset, batches: [1, 3] });
  // And Lathe's importer reads it back (QuantizeLinear, DequantizeLinear, DynamicQuantizeLinear): the same outputs.
  const x = lt.uniform([5, 1, 6, 6], -2, 2, gen(32));
  const back = lt.loadOnnx(exportOnnx(model)).predict(x).dataSync();
  const direct = model.predict(x).dataSync();
  const d = Math.max(...Array.from(direct, (v, i) => Math.abs(back[i] - v) / Math.max(1, Math.abs(v))));
  assert.ok(d <= LAYER_TOLERANCE, `imported back: differs by ${d}`);
  // weightType 'int8' writes the int8 values with zero point 0 (ORT's VNNI kernels): the same model.
  const bytes8 = exportOnnx(model, { weightType: 'int8' });
  const m8 = ModelProto.toObject(ModelProto.decode(bytes8), { longs: Number, defaults: false });
  const init8 = (name: string) => m8.graph.initializer.find((i: { name: string }) => i.name === name);
  assert.equal(init8('layers.2.kernel').dataType, 3, 'the dense kernel is an int8 initializer');
  assert.deepEqual(Array.from(init8('layers.2.kernel').rawData as Uint8Array, (b) => (b << 24) >> 24), Array.from(int8), 'the int8 weights as they are');
  assert.deepEqual([...init8('layers.2.kernelZeroPoint').rawData], [0, 0, 0, 0], 'zero point 0');
  assert.deepEqual(Array.from(lt.loadOnnx(bytes8).predict(x).dataSync()), Array.from(back), 'int8 and uint8 weights import to the same model');
  assertThrowsLathe(() => exportOnnx(model, { weightType: 'int4' as 'int8' }), /weightType must be "uint8" or "int8", got "int4"/);
});

test('dynamic mode on an all-zero input: no NaN in ORT or Lathe, both give act(bias)', async () => {
  const layer = fillWeights(new L.QuantizedDense(5, { inputFeatures: 7, inputShape: [7], activation: 'sigmoid' }), 40);
  const model = new lt.Sequential([layer]);
  const session = await ort.InferenceSession.create(exportOnnx(model));
  const out = (await session.run({ input: new ort.Tensor('float32', new Float32Array(14), [2, 7]) })).output.data as Float32Array;
  const expected = Array.from(layer.bias!.dataSync(), (b) => 1 / (1 + Math.exp(-b)));
  const lathe = model.predict(lt.zeros([2, 7])).dataSync();
  for (let i = 0; i < 10; i++) {
    assert.ok(Math.abs(out[i] - expected[i % 5]) < 1e-6, `ORT ${out[i]} vs sigmoid(bias) ${expected[i % 5]}`);
    assert.ok(Math.abs(lathe[i] - expected[i % 5]) < 1e-6, `Lathe ${lathe[i]} vs sigmoid(bias) ${expected[i % 5]}`);
  }
});

test('static inputs far outside the calibrated range saturate at 0 and 255 alike in ORT and Lathe', async (t) => {
  const model = new lt.Sequential([fillWeights(new L.QuantizedDense(6, { inputFeatures: 8, inputShape: [8], inputQuantization: staticInput(0.01, 100) }), 50)]);
  // 0.01 * (0 - 100) = -1 and 0.01 * (255 - 100) = 1.55 bound the representable input; these go to +-50.
  const d = await matchesOrt(model, 'saturation', { input: (n, seed) => lt.uniform([n, 8], -50, 50, gen(seed)) });
  t.diagnostic(`saturated inputs: ${fmt(d)}`);
});

const DATA = process.env.LATHE_DATA;
const haveMnist = DATA !== undefined && fs.existsSync(path.join(DATA, 'mnist'));

test('a trained MNIST MLP, quantized dynamic and static: ORT and Lathe predict the same class on >= 99.9% of the test set', { skip: !haveMnist && 'needs $LATHE_DATA with mnist/' }, async (t) => {
  const { train, test: split } = await mnist.load({ dir: path.join(DATA!, 'mnist') });
  const n = split.images.shape[0];
  // 12000 training images, one epoch: enough for a model whose classes are not near-ties everywhere.
  const xTrain = train.images.slice([0], [12000]).reshape([12000, 784]);
  const model = new lt.Sequential([new L.Rescaling(1 / 255, 0, { inputShape: [784] }), new L.Dense(128, { activation: 'relu' }), new L.Dense(10, { activation: 'softmax' })]);
  model.compile({ optimizer: 'adam', loss: 'sparse_categorical_crossentropy' });
  await model.fit(xTrain, train.labels.slice([0], [12000]), { epochs: 1, batchSize: 64, verbose: 0, seed: 1 });
  const xTest = split.images.reshape([n, 784]).cast('float32');
  const labels = split.labels.dataSync();
  const accuracy = (pred: ArrayLike<number>) => Array.from(pred).filter((p, i) => p === labels[i]).length / n;
  const floatAccuracy = accuracy(rowsArgmax(model.predict(xTest).dataSync(), n));
  for (const mode of ['dynamic', 'static'] as const) {
    const q = lt.quant.quantizeModel(model, { mode, sample: xTrain.slice([0], [512]).cast('float32') }).model;
    const lathe = rowsArgmax(q.predict(xTest, { batchSize: 32 }).dataSync(), n);
    // ORT at batch 32 too: dynamic quantization's range is per batch, so both must see the same batches.
    const session = await ort.InferenceSession.create(exportOnnx(q), { graphOptimizationLevel: 'all' });
    const pixels = xTest.dataSync() as Float32Array;
    const ortPred: number[] = [];
    for (let s = 0; s < n; s += 32) {
      const rows = Math.min(32, n - s);
      const out = await session.run({ input: new ort.Tensor('float32', pixels.slice(s * 784, (s + rows) * 784), [rows, 784]) });
      ortPred.push(...rowsArgmax(out.output.data as Float32Array, rows));
    }
    const agree = ortPred.filter((p, i) => p === lathe[i]).length / n;
    t.diagnostic(`${mode}: classes agree on ${(100 * agree).toFixed(2)}% of ${n}; accuracy float ${(100 * floatAccuracy).toFixed(2)}%, Lathe int8 ${(100 * accuracy(lathe)).toFixed(2)}%, ORT int8 ${(100 * accuracy(ortPred)).toFixed(2)}%`);
    assert.ok(agree >= 0.999, `${mode}: ORT and Lathe agree on ${agree} of the test set`);
  }
});
