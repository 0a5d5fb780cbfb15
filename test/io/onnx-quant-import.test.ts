// ONNX import of quantized models, checked against ONNX Runtime (an independent implementation):
// each quantization operator on its own (exact: integer outputs equal, float outputs bit for bit),
// at the int8/uint8 extremes, ties and saturation; ONNX Runtime's two formats built by hand as its
// quantization tool writes them (QOperator: QLinearConv/QLinearMatMul, dynamic MatMulInteger; QDQ:
// QuantizeLinear/DequantizeLinear around float ops), with and without ORT's int8 fusions; and the errors.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import ort from 'onnxruntime-node';
import * as lt from '../../src/index.js';
import { tensorFromProto } from '../../src/io/onnx/import/tensors.js';
import { ModelProto } from '../../src/io/onnx/schema.js';
import { assertThrowsLathe } from '../helpers.js';

type Attr = { name: string; type: number; i?: number; ints?: number[]; s?: Uint8Array };
const A = {
  i: (name: string, i: number): Attr => ({ name, type: 2, i }),
  ints: (name: string, ints: number[]): Attr => ({ name, type: 7, ints }),
  s: (name: string, s: string): Attr => ({ name, type: 3, s: Buffer.from(s) }),
};
/** ONNX element type codes. */
const T = { float: 1, uint8: 2, int8: 3, int16: 5, int32: 6 } as const;
type Node = { opType: string; input: string[]; output: string[]; attribute?: Attr[]; domain?: string };

const vi = (name: string, elemType: number, shape?: (number | string)[]) => ({
  name,
  type: { tensorType: { elemType, ...(shape && { shape: { dim: shape.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } }) } },
});
const INT64 = 7;
const init = (name: string, elemType: number, dims: number[], data: ArrayLike<number>) => {
  const field = elemType === T.float ? 'floatData' : elemType === INT64 ? 'int64Data' : 'int32Data';
  return { name, dims, dataType: elemType, [field]: Array.from(data) };
};

function encode(nodes: Node[], inputs: object[], outputs: object[], initializers: object[], opset: number): Uint8Array {
  const opsetImport = [{ domain: '', version: opset }, ...(nodes.some((n) => n.domain) ? [{ domain: 'com.microsoft', version: 1 }] : [])];
  const msg = ModelProto.fromObject({ irVersion: opset >= 21 ? 10 : opset >= 19 ? 9 : 8, opsetImport, graph: { name: 'g', node: nodes, input: inputs, output: outputs, initializer: initializers } });
  return ModelProto.encode(msg).finish();
}

const ORT_TYPES = { float32: 'float32', uint8: 'uint8', int8: 'int8', int32: 'int32' } as const;

/** Where each integer-product op holds [its activation's zero point, its weight, the weight's zero point] (no activation for DequantizeLinear). */
const WEIGHT_SLOTS: Record<string, [number | null, number, number]> = {
  MatMulInteger: [2, 1, 3], ConvInteger: [2, 1, 3], QLinearMatMul: [2, 3, 5], QLinearConv: [2, 3, 5], DequantizeLinear: [null, 0, 2],
};

type Initializer = { name: string; dataType: number; int32Data?: number[]; rawData?: Uint8Array };
type Graph = { node: Node[]; input: { name: string; type: { tensorType: { elemType: number } } }[]; initializer: Initializer[] };

/**
 * The model and feeds as ONNX Runtime computes them exactly on any x86 CPU. Its uint8 x int8 kernels
 * on CPUs without VNNI sum products pairwise in int16 (vpmaddubsw) and saturate, so as an oracle ORT
 * runs an equivalent copy: each int8 weight (initializer or feed) that meets uint8 activations, or
 * feeds a DequantizeLinear that ORT may fuse into such a kernel, is shifted by 128 to uint8 with its
 * zero point: (w + 128) - (zw + 128) = w - zw. Lathe runs the model as written.
 */
function exactInOrt(bytes: Uint8Array, feeds: Record<string, lt.Tensor>): { bytes: Uint8Array; feeds: Record<string, lt.Tensor> } {
  const m = ModelProto.toObject(ModelProto.decode(bytes), { longs: Number, defaults: false }) as { graph: Graph };
  const inits = new Map((m.graph.initializer ?? []).map((t) => [t.name, t]));
  const dtypeOf = (name: string) => (inits.has(name) ? inits.get(name)!.dataType : feeds[name] ? T[(feeds[name].dtype === 'float32' ? 'float' : feeds[name].dtype) as keyof typeof T] : undefined);
  const dynamicZeroPoints = new Set(m.graph.node.filter((n) => n.opType === 'DynamicQuantizeLinear').map((n) => n.output[2]));
  const shifted = new Set<string>();
  const out = { ...feeds };
  for (const node of m.graph.node) {
    const slots = WEIGHT_SLOTS[node.opType];
    if (!slots || (slots[0] !== null && !dynamicZeroPoints.has(node.input[slots[0]]) && dtypeOf(node.input[slots[0]]) !== T.uint8)) continue;
    const pair = [node.input[slots[1]], node.input[slots[2]]];
    if (!pair.every((name) => dtypeOf(name) === T.int8 && !shifted.has(name))) continue;
    for (const name of pair) {
      shifted.add(name);
      const t = inits.get(name);
      if (!t) {
        out[name] = feeds[name].cast('int32').add(128).cast('uint8');
        m.graph.input.find((i) => i.name === name)!.type.tensorType.elemType = T.uint8;
        continue;
      }
      t.dataType = T.uint8;
      if (t.int32Data) t.int32Data = t.int32Data.map((v) => v + 128);
      if (t.rawData) t.rawData = t.rawData.map((b) => b ^ 0x80); // two's complement int8 + 128, as uint8
    }
  }
  return { bytes: ModelProto.encode(ModelProto.fromObject(m)).finish(), feeds: out };
}

async function ortRun(bytes: Uint8Array, feeds: Record<string, lt.Tensor>, optimize = true): Promise<Record<string, ort.Tensor>> {
  const exact = exactInOrt(bytes, feeds);
  const session = await ort.InferenceSession.create(exact.bytes, { graphOptimizationLevel: optimize ? 'all' : 'disabled' });
  const ortFeeds = Object.fromEntries(Object.entries(exact.feeds).map(([k, x]) => [k, new ort.Tensor(ORT_TYPES[x.dtype as keyof typeof ORT_TYPES], x.dataSync() as Float32Array, [...x.shape])]));
  return session.run(ortFeeds);
}

/** Equal shapes, equal element types, equal values (floats bit for bit); returns how many elements were compared. */
function assertSame(name: string, got: lt.Tensor, expected: ort.Tensor): number {
  assert.deepEqual([...got.shape], [...expected.dims], `${name}: shape`);
  assert.equal(ORT_TYPES[got.dtype as keyof typeof ORT_TYPES], expected.type, `${name}: element type`);
  const [a, e] = [got.dataSync(), expected.data as ArrayLike<number>];
  for (let i = 0; i < e.length; i++) if (!Object.is(Number(a[i]), Number(e[i]))) assert.fail(`${name}: element ${i}: Lathe ${a[i]}, ONNX Runtime ${e[i]}`);
  return e.length;
}

/** Runs the model in both and compares every output exactly. */
async function matchesOrtExactly(bytes: Uint8Array, feeds: Record<string, lt.Tensor>, what: string): Promise<Record<string, lt.Tensor>> {
  const expected = await ortRun(bytes, feeds);
  const got = lt.noGrad(() => lt.loadOnnx(bytes).run(feeds));
  for (const name of Object.keys(expected)) assertSame(`${what}: ${name}`, got[name], expected[name]);
  return got;
}

const gen = (seed: number) => ({ generator: new lt.Generator(seed) });
const uniform = (shape: number[], lo: number, hi: number, seed: number) => lt.uniform(shape, lo, hi, gen(seed));
/** Integers in [lo, hi] of the dtype, with both extremes planted at the first two positions. */
function ints(shape: number[], dtype: 'uint8' | 'int8' | 'int32', lo: number, hi: number, seed: number): lt.Tensor {
  const data = Int32Array.from(lt.randint(lo, hi + 1, shape, gen(seed)).dataSync() as Int32Array);
  data[0] = lo;
  if (data.length > 1) data[1] = hi;
  return lt.tensor(data, { dtype: 'int32' }).reshape(shape).cast(dtype);
}
const values = (t: lt.Tensor) => Array.from(t.dataSync() as ArrayLike<number>);

/** One node with graph inputs `feeds` (x, a, ...) and initializers `inits`, compared exactly with ORT. */
async function singleNode(opType: string, feeds: Record<string, lt.Tensor>, inits: object[], inputs: string[], attribute: Attr[], opset: number, outputs = ['y']): Promise<Record<string, lt.Tensor>> {
  const elem = (x: lt.Tensor) => T[(x.dtype === 'float32' ? 'float' : x.dtype) as keyof typeof T];
  const bytes = encode([{ opType, input: inputs, output: outputs, attribute }], Object.entries(feeds).map(([k, x]) => vi(k, elem(x), [...x.shape])), outputs.map((name) => ({ name })), inits, opset);
  return matchesOrtExactly(bytes, feeds, `${opType} (opset ${opset})`);
}

test('QuantizeLinear rounds half to even and saturates: ties, extremes and per-tensor values as ONNX Runtime', async () => {
  // scale 0.5 makes x / scale exact, so 0.25, 0.75, -0.25, 1.25 are true ties (0.5, 1.5, -0.5, 2.5).
  const x = lt.tensor([0.25, 0.75, -0.25, 1.25, -1.25, 1000, -1000, 3.1, -0.74], { dtype: 'float32' });
  for (const opset of [10, 13, 19, 21]) {
    const u8 = await singleNode('QuantizeLinear', { x }, [init('s', T.float, [], [0.5]), init('z', T.uint8, [], [128])], ['x', 's', 'z'], [], opset);
    assert.deepEqual(values(u8.y), [128, 130, 128, 130, 126, 255, 0, 134, 127], `uint8, opset ${opset}`);
    const i8 = await singleNode('QuantizeLinear', { x }, [init('s', T.float, [], [0.5]), init('z', T.int8, [], [-3])], ['x', 's', 'z'], [], opset);
    assert.deepEqual(values(i8.y), [-3, -1, -3, -1, -5, 127, -128, 3, -4], `int8, opset ${opset}`);
    // Without a zero point the output is uint8 with zero point 0.
    const bare = await singleNode('QuantizeLinear', { x }, [init('s', T.float, [], [0.5])], ['x', 's'], [], opset);
    assert.equal(bare.y.dtype, 'uint8');
  }
});

test('QuantizeLinear and DequantizeLinear per axis (opset 13+) and in blocks (opset 21) agree exactly with ONNX Runtime', async () => {
  const x = uniform([2, 3, 5], -3, 3, 1);
  const scales = init('s', T.float, [3], [0.011, 0.023, 0.037]);
  for (const opset of [13, 19, 21]) {
    await singleNode('QuantizeLinear', { x }, [scales, init('z', T.int8, [3], [-3, 0, 5])], ['x', 's', 'z'], [A.i('axis', 1)], opset);
    await singleNode('QuantizeLinear', { x }, [init('s', T.float, [5], [0.01, 0.02, 0.03, 0.04, 0.05]), init('z', T.uint8, [5], [0, 10, 128, 200, 255])], ['x', 's', 'z'], [A.i('axis', -1)], opset);
    const w = ints([4, 3, 2, 2], 'int8', -128, 127, 2);
    await singleNode('DequantizeLinear', { w }, [init('s', T.float, [4], [0.5, 0.01, 0.003, 1e-4]), init('z', T.int8, [4], [0, 0, -7, 9])], ['w', 's', 'z'], [A.i('axis', 0)], opset);
    const q = ints([3, 7], 'uint8', 0, 255, 3);
    await singleNode('DequantizeLinear', { q }, [init('s', T.float, [], [0.0173]), init('z', T.uint8, [], [121])], ['q', 's', 'z'], [], opset);
    // An int32 bias has no zero point; its scale is x_scale * w_scale per channel.
    const b = ints([4], 'int32', -2147483648, 2147483647, 4);
    await singleNode('DequantizeLinear', { b }, [init('s', T.float, [4], [1e-3, 2e-4, 3e-5, 4e-6])], ['b', 's'], [A.i('axis', 0)], opset);
  }
  // Opset 21: one scale per block of 2 along axis 1 of [2, 5] (3 blocks, the last one short); output_dtype picks int8 without a zero point.
  const xb = uniform([2, 5], -2, 2, 5);
  const blockScales = init('s', T.float, [2, 3], [0.01, 0.02, 0.03, 0.015, 0.025, 0.035]);
  const qb = await singleNode('QuantizeLinear', { xb }, [blockScales], ['xb', 's'], [A.i('axis', 1), A.i('block_size', 2), A.i('output_dtype', T.int8)], 21);
  assert.equal(qb.y.dtype, 'int8');
  await singleNode('DequantizeLinear', { qb: qb.y }, [blockScales, init('z', T.int8, [2, 3], [1, -1, 2, -2, 3, -3])], ['qb', 's', 'z'], [A.i('axis', 1), A.i('block_size', 2)], 21);
});

test('DynamicQuantizeLinear gives ONNX Runtime\'s output, scale and zero point, including one-signed and all-zero inputs', async () => {
  const cases = { mixed: uniform([3, 7], -3, 5, 6), positive: uniform([9], 1, 2, 7), negative: uniform([2, 2, 3], -2, -1, 8), zeros: lt.zeros([4]) };
  for (const [name, x] of Object.entries(cases)) {
    const got = await singleNode('DynamicQuantizeLinear', { x }, [], ['x'], [], 11, ['y', 'y_scale', 'y_zero_point']);
    if (name === 'zeros') assert.deepEqual([values(got.y_scale)[0], values(got.y_zero_point)[0]], [1, 0], 'a zero range takes scale 1 and zero point 0 (no 0/0)');
    if (name === 'negative') assert.equal(values(got.y_zero_point)[0], 255, 'all-negative input: zero point at the top');
  }
});

/** Plain int32 loops: sum_k (a[m,k] - za[m]) (b[k,n] - zb[n]), the reference MatMulInteger defines. */
function matmulIntegerReference(a: lt.Tensor, b: lt.Tensor, za: number[], zb: number[]): number[] {
  const [M, K] = a.shape;
  const N = b.shape[1];
  const [av, bv] = [values(a), values(b)];
  const out: number[] = [];
  for (let m = 0; m < M; m++) {
    for (let n = 0; n < N; n++) {
      let s = 0;
      for (let k = 0; k < K; k++) s += (av[m * K + k] - za[za.length === 1 ? 0 : m]) * (bv[k * N + n] - zb[zb.length === 1 ? 0 : n]);
      out.push(s);
    }
  }
  return out;
}

test('QLinearMatMul and MatMulInteger are exact at the 8-bit extremes over a long inner dimension (sums past float32\'s 2^24)', async () => {
  const K = 1031;
  const a = ints([5, K], 'uint8', 0, 255, 9);
  const b = ints([K, 6], 'int8', -128, 127, 10);
  // Rows 0 and 1 of a and column 0 of b at their extremes make sums of about -+255 * 128 * K = 3.4e7,
  // odd ones (253 * an odd sum), which float32 (even integers only past 2^24) cannot hold.
  const aData = Uint8Array.from(a.dataSync() as Uint8Array).fill(255, 0, K).fill(0, K, 2 * K);
  const bData = Int8Array.from(b.dataSync() as Int8Array);
  for (let k = 0; k < K; k++) bData[k * 6] = k % 2 === 1 ? -127 : -128;
  const [a2, b2] = [lt.tensor(aData, { dtype: 'uint8' }).reshape([5, K]), lt.tensor(bData, { dtype: 'int8' }).reshape([K, 6])];
  const mi = await singleNode('MatMulInteger', { a: a2, b: b2 }, [init('za', T.uint8, [], [2]), init('zb', T.int8, [6], [0, 1, -1, 2, -2, 127])], ['a', 'b', 'za', 'zb'], [], 10);
  const reference = matmulIntegerReference(a2, b2, [2], [0, 1, -1, 2, -2, 127]);
  assert.deepEqual(values(mi.y), reference, 'MatMulInteger against int loops');
  assert.ok(Math.abs(reference[0]) > 2 ** 24 && reference[0] % 2 !== 0, `the sum ${reference[0]} is odd and beyond 2^24, where float32 holds only even integers`);
  // Per-row a zero points (ONNX allows them; ONNX Runtime does not): against the loops only.
  const perRow = lt.loadOnnx(encode([{ opType: 'MatMulInteger', input: ['a', 'b', 'za'], output: ['y'] }], [vi('a', T.uint8, [5, K]), vi('b', T.int8, [K, 6])], [vi('y', T.int32)], [init('za', T.uint8, [5], [0, 1, 2, 3, 255])], 10));
  assert.deepEqual(values(perRow.run({ a: a2, b: b2 }).y), matmulIntegerReference(a2, b2, [0, 1, 2, 3, 255], [0]));

  // Requantized: per-column b scales, a y_scale small enough that some outputs saturate at both ends.
  const qInits = [init('as', T.float, [], [0.02]), init('az', T.uint8, [], [131]), init('bs', T.float, [6], [0.003, 0.004, 0.005, 0.006, 0.007, 0.008]), init('bz', T.int8, [6], [0, 0, 0, 0, 0, 0]), init('ys', T.float, [], [0.5]), init('yz', T.uint8, [], [100])];
  const qm = await singleNode('QLinearMatMul', { a: a2, b: b2 }, qInits, ['a', 'as', 'az', 'b', 'bs', 'bz', 'ys', 'yz'], [], 10);
  assert.ok(values(qm.y).includes(0) && values(qm.y).includes(255), 'saturation at 0 and 255 was exercised');
  // int8 x int8 -> int8, batched [2, 4, K] x [2, K, 3].
  const a3 = ints([2, 4, 37], 'int8', -128, 127, 11);
  const b3 = ints([2, 37, 3], 'int8', -128, 127, 12);
  const q3 = [init('as', T.float, [], [0.05]), init('az', T.int8, [], [-4]), init('bs', T.float, [], [0.01]), init('bz', T.int8, [], [0]), init('ys', T.float, [], [0.2]), init('yz', T.int8, [], [3])];
  for (const opset of [10, 21]) await singleNode('QLinearMatMul', { a: a3, b: b3 }, q3, ['a', 'as', 'az', 'b', 'bs', 'bz', 'ys', 'yz'], [], opset);
});

test('QLinearConv and ConvInteger are exact: per-channel int8 weights, int32 bias, asymmetric pads, strides, dilations, groups', async () => {
  const x = ints([2, 4, 9, 9], 'uint8', 0, 255, 13);
  const w = ints([6, 2, 3, 3], 'int8', -128, 127, 14);
  const bias = ints([6], 'int32', -5000, 5000, 15);
  const inits = [
    init('xs', T.float, [], [0.03]), init('xz', T.uint8, [], [120]), init('ws', T.float, [6], [0.01, 0.02, 0.005, 0.03, 0.002, 0.015]),
    init('wz', T.int8, [6], [0, 0, 0, 0, 0, 0]), init('ys', T.float, [], [0.02]), init('yz', T.uint8, [], [128]),
  ];
  const names = ['x', 'xs', 'xz', 'w', 'ws', 'wz', 'ys', 'yz', 'b'];
  const attrs = [A.ints('kernel_shape', [3, 3]), A.ints('pads', [1, 0, 2, 1]), A.ints('strides', [2, 1]), A.ints('dilations', [1, 2]), A.i('group', 2)];
  const y = await singleNode('QLinearConv', { x, w, b: bias }, inits, names, attrs, 10);
  assert.ok(values(y.y).includes(0) && values(y.y).includes(255), 'saturation at 0 and 255 was exercised');
  // int8 activations, SAME_UPPER padding (the padded cells hold the zero point), int8 output.
  const xi = ints([1, 3, 6, 7], 'int8', -128, 127, 16);
  const wi = ints([4, 3, 2, 2], 'int8', -128, 127, 17);
  const inits8 = [init('xs', T.float, [], [0.05]), init('xz', T.int8, [], [-9]), init('ws', T.float, [4], [0.01, 0.02, 0.03, 0.04]), init('wz', T.int8, [4], [0, 0, 0, 0]), init('ys', T.float, [], [0.3]), init('yz', T.int8, [], [-2])];
  await singleNode('QLinearConv', { x: xi, w: wi }, inits8, names.slice(0, 8), [A.s('auto_pad', 'SAME_UPPER')], 13);
  // ConvInteger: uint8 x and int8 w with zero points, padded.
  await singleNode('ConvInteger', { x, w: ints([3, 4, 2, 2], 'int8', -128, 127, 18) }, [init('xz', T.uint8, [], [77]), init('wz', T.int8, [], [-5])], ['x', 'w', 'xz', 'wz'], [A.ints('pads', [1, 1, 0, 2])], 10);
});

/** The float ops of a small CNN; the two formats below quantize it. */
const CNN = { C: 2, H: 8, F: 4, classes: 5 };

/** ORT's QOperator format (quantize_static, QuantFormat.QOperator): u8 activations, per-channel s8 weights. */
function qoperatorModel(): Uint8Array {
  const { C, H, F, classes } = CNN;
  const inF = F * (H / 2) * (H / 2);
  const inits = [
    init('xs', T.float, [], [0.02]), init('xz', T.uint8, [], [128]),
    init('w1', T.int8, [F, C, 3, 3], values(ints([F, C, 3, 3], 'int8', -127, 127, 20))),
    init('w1s', T.float, [F], [0.004, 0.003, 0.005, 0.002]), init('w1z', T.int8, [F], [0, 0, 0, 0]),
    init('b1', T.int32, [F], values(ints([F], 'int32', -3000, 3000, 21))),
    init('y1s', T.float, [], [0.05]), init('y1z', T.uint8, [], [0]), // a fused Relu: the output range starts at 0
    init('w2', T.int8, [inF, classes], values(ints([inF, classes], 'int8', -127, 127, 22))),
    init('w2s', T.float, [classes], [0.003, 0.002, 0.004, 0.001, 0.005]), init('w2z', T.int8, [classes], [0, 0, 0, 0, 0]),
    init('y2s', T.float, [], [0.1]), init('y2z', T.uint8, [], [128]),
  ];
  const nodes: Node[] = [
    { opType: 'QuantizeLinear', input: ['x', 'xs', 'xz'], output: ['xq'] },
    { opType: 'QLinearConv', input: ['xq', 'xs', 'xz', 'w1', 'w1s', 'w1z', 'y1s', 'y1z', 'b1'], output: ['c1'], attribute: [A.ints('pads', [1, 1, 1, 1])] },
    { opType: 'MaxPool', input: ['c1'], output: ['p1'], attribute: [A.ints('kernel_shape', [2, 2]), A.ints('strides', [2, 2])] },
    { opType: 'Flatten', input: ['p1'], output: ['f1'], attribute: [A.i('axis', 1)] },
    { opType: 'QLinearMatMul', input: ['f1', 'y1s', 'y1z', 'w2', 'w2s', 'w2z', 'y2s', 'y2z'], output: ['m2'] },
    { opType: 'DequantizeLinear', input: ['m2', 'y2s', 'y2z'], output: ['logits'] },
  ];
  return encode(nodes, [vi('x', T.float, ['N', C, H, H])], [vi('logits', T.float, ['N', classes]), vi('c1', T.uint8)], inits, 13);
}

test('a QOperator model (QuantizeLinear, QLinearConv, uint8 MaxPool, QLinearMatMul, DequantizeLinear) equals ONNX Runtime\'s outputs', async () => {
  const bytes = qoperatorModel();
  for (const n of [1, 32]) {
    const got = await matchesOrtExactly(bytes, { x: uniform([n, CNN.C, CNN.H, CNN.H], -2, 2, 30 + n) }, `QOperator CNN, batch ${n}`);
    assert.ok(new Set(values(got.c1)).size > 20, 'the quantized feature map is not degenerate');
  }
});

/** ORT's dynamic QOperator format (quantize_dynamic): DynamicQuantizeLinear, MatMulInteger, then the float rescale. */
test('a dynamically quantized MLP (DynamicQuantizeLinear, MatMulInteger, Cast, Mul, Add) matches ONNX Runtime within 1e-6', async (t) => {
  const [inF, units] = [12, 7];
  const inits = [
    init('w', T.int8, [inF, units], values(ints([inF, units], 'int8', -127, 127, 40))), init('wz', T.int8, [], [0]),
    init('ws', T.float, [], [0.0123]), init('b', T.float, [units], values(uniform([units], -1, 1, 41))),
  ];
  const nodes: Node[] = [
    { opType: 'DynamicQuantizeLinear', input: ['x'], output: ['xq', 'xs', 'xz'] },
    { opType: 'MatMulInteger', input: ['xq', 'w', 'xz', 'wz'], output: ['acc'] },
    { opType: 'Cast', input: ['acc'], output: ['accf'], attribute: [A.i('to', T.float)] },
    { opType: 'Mul', input: ['xs', 'ws'], output: ['scale'] },
    { opType: 'Mul', input: ['accf', 'scale'], output: ['y0'] },
    { opType: 'Add', input: ['y0', 'b'], output: ['y1'] },
    { opType: 'Relu', input: ['y1'], output: ['y'] },
  ];
  const bytes = encode(nodes, [vi('x', T.float, ['N', inF])], [vi('y', T.float, ['N', units])], inits, 13);
  for (const n of [1, 32]) {
    const x = uniform([n, inF], -3, 4, 42 + n);
    const expected = (await ortRun(bytes, { x })).y.data as Float32Array;
    const got = values(lt.loadOnnx(bytes).predict(x));
    const diff = Math.max(...got.map((v, i) => Math.abs(v - expected[i]) / Math.max(1, Math.abs(expected[i]))));
    t.diagnostic(`batch ${n}: max scaled difference ${diff}`);
    assert.ok(diff <= 1e-6, `batch ${n}: differs from ONNX Runtime by ${diff}`);
  }
});

/** ORT's QDQ format (QuantFormat.QDQ): Q/DQ pairs on activations, DQ on int8 weights (per channel) and int32 biases. */
function qdqModel(): Uint8Array {
  const { C, H, F, classes } = CNN;
  const inF = F * H * H;
  const [xs, w1s, a1s] = [0.02, [0.004, 0.003, 0.005, 0.002], 0.05];
  const w2s = [0.003, 0.002, 0.004, 0.001, 0.005];
  const inits = [
    init('xs', T.float, [], [xs]), init('xz', T.uint8, [], [128]),
    init('w1', T.int8, [F, C, 3, 3], values(ints([F, C, 3, 3], 'int8', -127, 127, 50))), init('w1s', T.float, [F], w1s), init('w1z', T.int8, [F], [0, 0, 0, 0]),
    init('b1', T.int32, [F], values(ints([F], 'int32', -3000, 3000, 51))), init('b1s', T.float, [F], w1s.map((s) => Math.fround(xs * s))),
    init('a1s', T.float, [], [a1s]), init('a1z', T.uint8, [], [0]),
    init('w2', T.int8, [inF, classes], values(ints([inF, classes], 'int8', -127, 127, 52))), init('w2s', T.float, [classes], w2s), init('w2z', T.int8, [classes], [0, 0, 0, 0, 0]),
    init('b2', T.int32, [classes], values(ints([classes], 'int32', -300, 300, 53))), init('b2s', T.float, [classes], w2s.map((s) => Math.fround(a1s * s))),
    init('shape', INT64, [2], [0, -1]),
  ];
  const dq = (x: string, s: string, z: string | null, out: string, axis?: number): Node => ({ opType: 'DequantizeLinear', input: z ? [x, s, z] : [x, s], output: [out], attribute: axis === undefined ? [] : [A.i('axis', axis)] });
  const nodes: Node[] = [
    { opType: 'QuantizeLinear', input: ['x', 'xs', 'xz'], output: ['xq'] }, dq('xq', 'xs', 'xz', 'xd'),
    dq('w1', 'w1s', 'w1z', 'w1d', 0), dq('b1', 'b1s', null, 'b1d', 0),
    { opType: 'Conv', input: ['xd', 'w1d', 'b1d'], output: ['c1'], attribute: [A.ints('pads', [1, 1, 1, 1])] },
    { opType: 'Relu', input: ['c1'], output: ['r1'] },
    { opType: 'QuantizeLinear', input: ['r1', 'a1s', 'a1z'], output: ['r1q'] }, dq('r1q', 'a1s', 'a1z', 'r1d'),
    { opType: 'Reshape', input: ['r1d', 'shape'], output: ['f1'] },
    dq('w2', 'w2s', 'w2z', 'w2d', 1), dq('b2', 'b2s', null, 'b2d', 0),
    { opType: 'MatMul', input: ['f1', 'w2d'], output: ['m2'] },
    { opType: 'Add', input: ['m2', 'b2d'], output: ['logits'] },
  ];
  return encode(nodes, [vi('x', T.float, ['N', C, H, H])], [vi('logits', T.float, ['N', classes]), vi('r1q', T.uint8)], inits, 13);
}

/**
 * One step of the QDQ model's activation quantizer, carried to the logits: a1s * 127 * max(w2s).
 * The float Conv before it sums in another order in ORT than in Lathe (in float32 there, in float64
 * in Lathe's js kernel), and ORT's fused kernels requantize from int32: a value at a rounding
 * boundary of that quantizer can land one step apart, and only by one.
 */
const QDQ_STEP = 0.05 * 127 * 0.005;

test('a QDQ model matches ONNX Runtime, reference and fused int8 kernels: activations within one step, classes equal', async (t) => {
  const bytes = qdqModel();
  const model = lt.loadOnnx(bytes);
  // The scales are state, not trainable weights: only the float initializers that are not scales would be parameters (none here).
  assert.deepEqual(model.parameters().length, 0);
  assert.ok(model.namedBuffers().some(([n]) => n === 'w2s'));
  const argmax = (v: ArrayLike<number>, r: number) => Array.from({ length: CNN.classes }, (_, j) => v[r * CNN.classes + j]).reduce((b, v2, j, all) => (v2 > all[b] ? j : b), 0);
  for (const n of [1, 32]) {
    const x = uniform([n, CNN.C, CNN.H, CNN.H], -2, 2, 60 + n);
    const got = lt.noGrad(() => model.run({ x }));
    const [logits, activations] = [values(got.logits), values(got.r1q)];
    for (const optimize of [false, true]) {
      const expected = await ortRun(bytes, { x }, optimize);
      const kind = optimize ? 'ORT fused int8 kernels' : 'ORT reference kernels';
      const ortActivations = expected.r1q.data as Uint8Array;
      const off = activations.filter((v, i) => v !== ortActivations[i]);
      assert.ok(activations.every((v, i) => Math.abs(v - ortActivations[i]) <= 1), `batch ${n}, ${kind}: a quantized activation is more than one step apart`);
      assert.ok(off.length <= activations.length / 100, `batch ${n}, ${kind}: ${off.length} of ${activations.length} quantized activations differ`);
      const ortLogits = expected.logits.data as Float32Array;
      const diff = Math.max(...logits.map((v, i) => Math.abs(v - ortLogits[i]) / Math.max(1, Math.abs(ortLogits[i]))));
      t.diagnostic(`batch ${n}, ${kind}: ${off.length} of ${activations.length} uint8 activations one step apart; logits' max scaled difference ${diff.toExponential(2)}`);
      assert.ok(diff <= (off.length === 0 ? 1e-5 : off.length * QDQ_STEP), `batch ${n}, ${kind}: logits differ by ${diff}`);
      for (let r = 0; r < n; r++) assert.equal(argmax(logits, r), argmax(ortLogits, r), `batch ${n}, row ${r}: predicted classes agree`);
    }
  }
});

test('errors name the node and the problem: ORT contrib operators, zero-point types, per-axis before opset 13, shapes', () => {
  const x = [vi('x', T.float, [2, 3])];
  const qlinearAdd = encode([{ opType: 'QLinearAdd', input: ['x', 'x'], output: ['y'], domain: 'com.microsoft' }], x, [vi('y', T.uint8)], [], 13);
  assertThrowsLathe(() => lt.loadOnnx(qlinearAdd), /unsupported operators: QLinearAdd \(com\.microsoft opset 1\); com\.microsoft operators are ONNX Runtime extensions .* quantize with QuantFormat\.QDQ/);
  const q = (inits: object[], attribute: Attr[], opset: number, inputs = ['x', 's', 'z']) => lt.loadOnnx(encode([{ opType: 'QuantizeLinear', input: inputs, output: ['y'], attribute }], x, [{ name: 'y' }], inits, opset)).run({ x: lt.zeros([2, 3]) });
  assertThrowsLathe(() => q([init('s', T.float, [], [0.1]), init('z', T.int16, [], [0])], [], 13), /node 0 \(QuantizeLinear\): y_zero_point is an int16, uint16 or int32 tensor: Lathe quantizes to uint8 and int8 only/);
  assertThrowsLathe(() => q([init('s', T.float, [3], [1, 1, 1]), init('z', T.uint8, [3], [0, 0, 0])], [], 10), /y_scale is a vector \(per-axis quantization\), which needs opset 13; the model imports opset 10/);
  assertThrowsLathe(() => q([init('s', T.float, [4], [1, 1, 1, 1]), init('z', T.uint8, [4], [0, 0, 0, 0])], [], 13), /y_scale has shape \[4\]; expected one value, or 3 along axis 1 of x \[2,3\]/);
  assertThrowsLathe(() => q([init('s', T.float, [2, 1], [1, 1])], [A.i('axis', 1), A.i('block_size', 2)], 21, ['x', 's']), /y_scale has shape \[2,1\]; block_size 2 on axis 1 of x \[2,3\] needs \[2,2\]/);
  assertThrowsLathe(() => q([init('s', T.float, [], [1])], [A.i('output_dtype', T.int16)], 21, ['x', 's']), /output_dtype int16 is not supported/);
  const mm = encode([{ opType: 'QLinearMatMul', input: ['x', 's', 'z', 'x', 's', 'z', 's', 'z'], output: ['y'] }], x, [{ name: 'y' }], [init('s', T.float, [], [1]), init('z', T.uint8, [], [0])], 10);
  assertThrowsLathe(() => lt.loadOnnx(mm).run({ x: lt.zeros([2, 3]) }), /node 0 \(QLinearMatMul\): a must be uint8 or int8, got float32/);
});

test('int8 TensorProtos stay int8 (raw_data and int32_data), so quantized weights keep their size', () => {
  const raw = tensorFromProto({ dims: [3], dataType: T.int8, rawData: Uint8Array.from([0x80, 0x7f, 0xff]) }, 't') as lt.Tensor;
  assert.equal(raw.dtype, 'int8');
  assert.deepEqual(values(raw), [-128, 127, -1]);
  const typed = tensorFromProto({ dims: [2], dataType: T.int8, int32Data: [-128, 5] }, 't') as lt.Tensor;
  assert.equal(typed.dtype, 'int8');
  assert.deepEqual(values(typed), [-128, 5]);
});
