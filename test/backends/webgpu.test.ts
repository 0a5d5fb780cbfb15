// The webgpu backend's kernels against the js reference, forward and backward, with each op's
// tolerance stated. Skips, saying why, when the `webgpu` package or a GPU adapter is missing
// (CI installs Mesa's lavapipe, a CPU Vulkan driver: .ci/install-lavapipe.sh).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import * as lt from '../../src/index.js';
import { assertClose } from '../helpers.js';

import { gpu, skip } from './webgpu-setup.js';

/** The js tensor and its copy on webgpu. */
interface Pair { js: lt.Tensor; gpu: lt.Tensor }

function pair(t: lt.Tensor): Pair {
  return { js: t, gpu: t.to('webgpu') };
}

/** Normal values (std 3) with a few exact edge values (0, -0, +-1) that the formulas branch on. */
function values(shape: number[], seed: number, std = 3): Pair {
  const data = lt.randn(shape, { generator: new lt.Generator(seed), std, backend: 'js' }).dataSync();
  [0, -0, 1, -1].forEach((v, i) => { if (data.length > 4 * i) data[(i * 7919) % data.length] = v; });
  return pair(lt.tensor(data, { shape, backend: 'js' }));
}

async function toJs(t: lt.Tensor): Promise<lt.Tensor> {
  assert.equal(t.backend.name, 'webgpu', 'ran on webgpu');
  return lt.tensor(await t.data(), { shape: [...t.shape], dtype: t.dtype, backend: 'js' });
}

type Tol = { atol: number; rtol: number };
const EXACT: Tol = { atol: 0, rtol: 0 };
// float32 on both sides, but WGSL's builtins and fused multiply-adds round differently from
// V8's float64 math rounded once: a few ulps for arithmetic, more for transcendentals.
const ARITH: Tol = { atol: 1e-6, rtol: 1e-6 };
const TRANSCENDENTAL: Tol = { atol: 2e-6, rtol: 1e-5 };
// Vulkan only promises sin/cos to 2^-11 absolute; lavapipe is far better, this bounds what we see.
const TRIG: Tol = { atol: 1e-5, rtol: 1e-5 };
const SUM: Tol = { atol: 1e-4, rtol: 1e-5 }; // float32 tree sums against js's float64 accumulation
const GEMM: Tol = { atol: 2e-4, rtol: 2e-5 };

async function compare(op: string, f: (x: lt.Tensor[]) => lt.Tensor, inputs: Pair[], tol: Tol): Promise<void> {
  const want = f(inputs.map((i) => i.js));
  const got = await toJs(f(inputs.map((i) => i.gpu)));
  assert.equal(got.dtype, want.dtype, `${op} dtype`);
  assertClose(got, want, tol, op);
}

/** Gradients of sum(f(x) * w) for a fixed w on both backends, compared input by input. */
async function compareGrads(op: string, f: (x: lt.Tensor[]) => lt.Tensor, inputs: Pair[], tol: Tol): Promise<void> {
  const run = (side: 'js' | 'gpu') => {
    const xs = inputs.map((i) => i[side].detach().requireGrad());
    const y = f(xs);
    const w = lt.arange(y.size, undefined, 1, { backend: 'js' }).reshape([...y.shape]).sin().to(y.backend);
    y.mul(w).sum().backward();
    return xs.map((x) => x.grad!);
  };
  const want = run('js');
  const got = run('gpu');
  for (let k = 0; k < want.length; k++) assertClose(await toJs(got[k]), want[k], tol, `${op} grad ${k}`);
}

describe('webgpu kernels match the js reference', { skip }, () => {
  test('the adapter is described', () => {
    assert.ok(gpu!.adapter.description.length > 0, 'adapter description');
  });

  test('layout kernels and casts move every dtype exactly', async () => {
    for (const dtype of ['float32', 'int32', 'uint8', 'bool'] as const) {
      const base = lt.arange(2 * 3 * 40 * 7, undefined, 1, { backend: 'js' }).sin().mul(100).round().cast(dtype).reshape([2, 3, 40, 7]);
      const x = pair(base);
      const cases: [string, (t: lt.Tensor) => lt.Tensor][] = [
        ['permute', (t) => t.permute([3, 1, 0, 2])],
        ['slice with steps', (t) => lt.slice(t, [1, null, 35, null], [null, null, 2, null], [1, 2, -3, 2])],
        ['expand', (t) => t.slice([0, 0, 0, 0], [1, 3, 40, 1]).expand([4, 3, 40, 5])],
        ['pad', (t) => t.pad([[0, 1], [2, 0], [1, 1], [0, 3]], 1)],
        ['concat', (t) => lt.concat([t, t.slice([0, 0, 0, 0], [2, 3, 40, 2])], 3)],
      ];
      for (const [name, f] of cases) await compare(`${name} (${dtype})`, ([t]) => f(t), [x], EXACT);
      for (const to of ['float32', 'int32', 'uint8', 'bool'] as const) await compare(`cast ${dtype} to ${to}`, ([t]) => t.cast(to), [x], EXACT);
      const gatherIndex = lt.tensor(Int32Array.from({ length: 2 * 3 * 9 * 7 }, (_, i) => (i * 7) % 40), { shape: [2, 3, 9, 7], backend: 'js' });
      await compare(`gather (${dtype})`, ([t, i]) => t.gather(2, i), [x, pair(gatherIndex)], EXACT);
      await compare(`indexSelect (${dtype})`, ([t, i]) => t.indexSelect(2, i), [x, pair(lt.tensor(new Int32Array([39, 0, 5, 5, 17]), { backend: 'js' }))], EXACT);
    }
    // float to int truncates toward zero and uint8 wraps, as typed arrays do
    const f = pair(lt.tensor([-300.7, -1.5, -0.5, 0.5, 1.9, 255.9, 256, 1000.2], { backend: 'js' }));
    for (const to of ['int32', 'uint8', 'bool'] as const) await compare(`cast float32 to ${to}`, ([t]) => t.cast(to), [f], EXACT);
  });

  test('fill writes the value in every dtype', async () => {
    for (const [dtype, value] of [['float32', -2.5], ['float32', 0], ['int32', -7], ['uint8', 200], ['bool', 1]] as const) {
      const want = lt.full([5, 67], value, { dtype, backend: 'js' });
      const got = lt.full([5, 67], value, { dtype, backend: 'webgpu' });
      assertClose(await toJs(got), want, EXACT, `fill ${dtype} ${value}`);
    }
  });

  const UNARY: [string, Tol][] = [
    ['neg', EXACT], ['abs', EXACT], ['square', ARITH], ['reciprocal', ARITH], ['sqrt', ARITH], ['rsqrt', TRANSCENDENTAL],
    ['exp', TRANSCENDENTAL], ['log', TRANSCENDENTAL], ['tanh', TRANSCENDENTAL], ['sigmoid', TRANSCENDENTAL], ['relu', EXACT],
    ['erf', TRANSCENDENTAL], ['sin', TRIG], ['cos', TRIG], ['log1p', TRANSCENDENTAL], ['expm1', TRANSCENDENTAL],
    ['softplus', TRANSCENDENTAL], ['floor', EXACT], ['ceil', EXACT], ['round', EXACT], ['sign', EXACT],
  ];
  for (const shape of [[7], [3, 33], [300, 257]]) {
    test(`unary ops, forward [${shape}]`, async () => {
      const x = values(shape, 1);
      const pos = pair(x.js.abs().add(1e-3)); // log, sqrt and friends on their domain
      for (const [op, tol] of UNARY) {
        const input = ['log', 'sqrt', 'rsqrt', 'log1p'].includes(op) ? pos : x;
        await compare(op, ([t]) => (t as unknown as Record<string, () => lt.Tensor>)[op](), [input], tol);
      }
      await compare('gelu', ([t]) => t.gelu(), [x], TRANSCENDENTAL);
      await compare('gelu tanh', ([t]) => t.gelu({ approximate: 'tanh' }), [x], TRANSCENDENTAL);
      await compare('leakyRelu', ([t]) => t.leakyRelu(0.2), [x], ARITH);
      await compare('elu', ([t]) => t.elu(0.7), [x], TRANSCENDENTAL);
      await compare('logicalNot', ([t]) => t.logicalNot(), [x], EXACT);
    });
  }

  test('unary ops, backward', async () => {
    const x = values([13, 29], 2, 1.5);
    for (const op of ['exp', 'tanh', 'sigmoid', 'relu', 'erf', 'sin', 'softplus', 'square', 'abs', 'expm1'] as const) {
      await compareGrads(op, ([t]) => t[op](), [x], TRANSCENDENTAL);
    }
    await compareGrads('gelu', ([t]) => t.gelu(), [x], TRANSCENDENTAL);
    await compareGrads('gelu tanh', ([t]) => t.gelu({ approximate: 'tanh' }), [x], TRANSCENDENTAL);
    await compareGrads('leakyRelu', ([t]) => t.leakyRelu(0.1), [x], ARITH);
  });

  test('gather and indexSelect, backward (scatterAdd, indexAdd with repeated indices)', async () => {
    const x = values([4, 9, 5], 90);
    const gi = pair(lt.tensor(Int32Array.from({ length: 4 * 6 * 5 }, (_, i) => (i * 5) % 9), { shape: [4, 6, 5], backend: 'js' }));
    await compareGrads('gather axis 1', ([t]) => t.gather(1, gi.js.backend === t.backend ? gi.js : gi.gpu), [x], SUM);
    const gi0 = pair(lt.tensor(Int32Array.from({ length: 3 * 9 * 2 }, (_, i) => (i * 3) % 4), { shape: [3, 9, 2], backend: 'js' }));
    await compareGrads('gather axis 0, a smaller index', ([t]) => t.gather(0, gi0.js.backend === t.backend ? gi0.js : gi0.gpu), [x], SUM);
    const si = pair(lt.tensor(new Int32Array([8, 0, 3, 3, 3, 7, 0]), { backend: 'js' }));
    for (const axis of [0, 1, 2]) {
      const idx = pair(lt.tensor(Int32Array.from(si.js.dataSync(), (v) => v % x.js.shape[axis]), { backend: 'js' }));
      await compareGrads(`indexSelect axis ${axis}`, ([t]) => t.indexSelect(axis, idx.js.backend === t.backend ? idx.js : idx.gpu), [x], SUM);
    }
  });

  test('integer unary and binary ops', async () => {
    const i = pair(lt.tensor(Int32Array.from({ length: 91 }, (_, k) => ((k * 7919) % 201) - 100), { backend: 'js' }));
    const j = pair(lt.tensor(Int32Array.from({ length: 91 }, (_, k) => ((k * 104729) % 9) + 1), { backend: 'js' }));
    for (const op of ['neg', 'abs', 'square', 'relu', 'sign'] as const) await compare(`${op} int32`, ([t]) => t[op](), [i], EXACT);
    for (const op of ['add', 'sub', 'mul', 'maximum', 'minimum', 'eq', 'lt', 'ge'] as const) await compare(`${op} int32`, ([a, b]) => a[op](b), [i, j], EXACT);
    // exponents uploaded, not computed: the op layer reads them on the host to reject negative ones
    const e = pair(lt.tensor(Int32Array.from({ length: 91 }, (_, k) => k % 4), { backend: 'js' }));
    await compare('pow int32', ([a, b]) => a.pow(b), [i, e], EXACT);
    await compare('div int32 (true division)', ([a, b]) => a.div(b), [i, j], ARITH);
    const u = pair(lt.tensor(Uint8Array.from({ length: 50 }, (_, k) => (k * 37) % 256), { dtype: 'uint8', backend: 'js' }));
    await compare('add uint8 wraps', ([a]) => a.add(a), [u], EXACT);
    await compare('mul uint8 wraps', ([a]) => a.mul(a), [u], EXACT);
  });

  const PAIRS: [number[], number[]][] = [[[5], [5]], [[4, 3], [3]], [[4, 1], [1, 5]], [[2, 3, 4], [3, 1]], [[], [6]],
    [[257, 129], [257, 129]], [[300, 200], [200]], [[1, 300], [250, 1]], [[2, 3, 5, 7], [3, 1, 7]]];
  test('binary ops with broadcasting, forward and backward', async () => {
    for (const [k, [sa, sb]] of PAIRS.entries()) {
      const a = values(sa, 10 + k);
      const b = values(sb, 20 + k);
      for (const op of ['add', 'sub', 'mul', 'div', 'maximum', 'minimum', 'eq', 'ne', 'lt', 'le', 'gt', 'ge'] as const) {
        await compare(`${op} [${sa}] [${sb}]`, ([x, y]) => x[op](y), [a, b], op === 'div' ? TRANSCENDENTAL : ARITH);
      }
      await compare(`pow [${sa}] [${sb}]`, ([x, y]) => x.abs().add(0.5).pow(y.div(3)), [a, b], TRANSCENDENTAL);
      await compare(`where [${sa}] [${sb}]`, ([x, y]) => lt.where(x.gt(0), x, y), [a, b], EXACT);
      if (k % 3 === 1) {
        for (const op of ['add', 'sub', 'mul', 'div', 'maximum'] as const) await compareGrads(`${op} [${sa}] [${sb}]`, ([x, y]) => x[op](y), [a, b], SUM);
      }
    }
    // C's pow on negative bases with integer exponents
    const neg = pair(lt.tensor([-2, -2, -0.5, 0, 0, 1, -1], { backend: 'js' }));
    const ex = pair(lt.tensor([3, 2, -3, 2, 0, 7.5, 4], { backend: 'js' }));
    await compare('pow with negative bases', ([x, y]) => x.pow(y), [neg, ex], TRANSCENDENTAL);
  });

  test('reductions over every axis block, softmax and arg-reductions, forward and backward', async () => {
    for (const shape of [[6], [5, 7], [3, 4, 5], [2, 3, 4, 5], [40, 900], [900, 40]]) {
      const x = values(shape, 30 + shape.length);
      const rank = shape.length;
      for (let a0 = 0; a0 < rank; a0++) {
        for (let a1 = a0; a1 < rank; a1++) {
          const axes = Array.from({ length: a1 - a0 + 1 }, (_, k) => a0 + k);
          for (const op of ['sum', 'max', 'min', 'mean'] as const) await compare(`${op} [${shape}] axes [${axes}]`, ([t]) => t[op](axes), [x], op === 'max' || op === 'min' ? EXACT : SUM);
        }
        await compare(`softmax [${shape}] axis ${a0}`, ([t]) => t.softmax(a0), [x], TRANSCENDENTAL);
        await compare(`logSoftmax [${shape}] axis ${a0}`, ([t]) => t.logSoftmax(a0), [x], { atol: 1e-5, rtol: 1e-5 });
        await compare(`argmax [${shape}] axis ${a0}`, ([t]) => t.argmax(a0), [x], EXACT);
        await compare(`argmin [${shape}] axis ${a0}`, ([t]) => t.argmin(a0), [x], EXACT);
      }
      await compareGrads(`sum [${shape}]`, ([t]) => t.sum(0), [x], SUM);
      await compareGrads(`max [${shape}]`, ([t]) => t.max(rank - 1), [x], SUM);
      await compareGrads(`softmax [${shape}]`, ([t]) => t.softmax(rank - 1), [x], SUM);
      await compareGrads(`logSoftmax [${shape}]`, ([t]) => t.logSoftmax(0), [x], SUM);
    }
    const ints = pair(lt.tensor(Int32Array.from({ length: 120 }, (_, k) => (k * 7919) % 1000 - 500), { shape: [8, 15], backend: 'js' }));
    for (const op of ['sum', 'max', 'min'] as const) await compare(`${op} int32`, ([t]) => t[op](1), [ints], EXACT);
  });

  test('matmul: every transpose, batch broadcast, odd sizes, forward and backward', async () => {
    const cases: [number[], number[]][] = [[[1, 1], [1, 1]], [[3, 5], [5, 7]], [[17, 33], [33, 31]], [[32, 784], [784, 128]],
      [[65, 127], [127, 257]], [[2, 1, 9, 10], [5, 10, 11]], [[4, 16, 8], [8, 16]], [[300, 200], [200, 300]], [[0, 4], [4, 3]], [[3, 0], [0, 4]]];
    for (const [k, [sa, sb]] of cases.entries()) {
      const a = values(sa, 40 + k, 1);
      const b = values(sb, 50 + k, 1);
      await compare(`matmul [${sa}] x [${sb}]`, ([x, y]) => x.matmul(y), [a, b], GEMM);
      // the gradients run the transposed kernels: dA = G B^T, dB = A^T G
      await compareGrads(`matmul [${sa}] x [${sb}]`, ([x, y]) => x.matmul(y), [a, b], GEMM);
    }
    const a = values([37, 19], 60, 1);
    const b = values([23, 37], 61, 1);
    await compare('matmul A^T B^T', ([x, y]) => x.transpose().matmul(y.transpose()), [a, b], GEMM);
  });

  test('attention: [B,H,T,D] and packed layouts, causal or not, forward and backward; the cached decoding step', async () => {
    const TOL = { atol: 1e-5, rtol: 1e-4 };
    for (const [tq, tk, causal] of [[5, 5, false], [7, 7, true], [3, 8, true], [6, 4, false]] as const) {
      const q = values([2, 3, tq, 8], 100 + tq, 1);
      const k = values([2, 3, tk, 8], 200 + tk, 1);
      const v = values([2, 3, tk, 8], 300 + tk, 1);
      const f = ([a, b, c]: lt.Tensor[]) => lt.scaledDotProductAttention(a, b, c, { causal });
      await compare(`attention tq ${tq} tk ${tk} causal ${causal}`, f, [q, k, v], TOL);
      await compareGrads(`attention tq ${tq} tk ${tk} causal ${causal}`, f, [q, k, v], TOL);
    }
    for (const causal of [false, true]) {
      const qkv = values([2, 9, 3 * 12], 400, 1);
      const f = ([x]: lt.Tensor[]) => lt.packedSelfAttention(x, 3, { causal });
      await compare(`packed attention causal ${causal}`, f, [qkv], TOL);
      await compareGrads(`packed attention causal ${causal}`, f, [qkv], TOL);
    }
    // a decoding step, kernel to kernel: 2 new tokens after 3 cached rows of a 6-row cache
    const [B, heads, d, capacity, length, t] = [2, 3, 4, 6, 3, 2];
    const qkv = values([B, t, 3 * heads * d], 500, 1);
    const cacheInit = values([B * heads * capacity * d], 501, 1);
    const step = async (side: 'js' | 'gpu') => {
      const backend = side === 'js' ? lt.getBackend('js') : gpu!;
      const kc = cacheInit[side].clone().buf;
      const vc = cacheInit[side].mul(2).buf;
      const out = backend.attentionCached(qkv[side], kc, vc, length, capacity, heads, 1 / Math.sqrt(d)).out;
      const read = (buf: unknown, shape: number[]) => new lt.Tensor(shape, 'float32', buf, backend);
      return Promise.all([read(out, [B, t, heads * d]), read(kc, [B * heads * capacity * d]), read(vc, [B * heads * capacity * d])].map((x) => (side === 'gpu' ? toJs(x) : x)));
    };
    const want = await step('js');
    const got = await step('gpu');
    ['out', 'kCache', 'vCache'].forEach((name, i) => assertClose(got[i], want[i], TOL, `attentionCached ${name}`));
  });

  test('relu lets NaN through, as js, in each kernel that applies it (so the NaN guard sees NaN data)', async () => {
    const edge = [Number.NaN, -1, 0, -0, 2, Infinity, -Infinity];
    const x = lt.tensor(edge, { shape: [1, 1, 1, 7], backend: 'js' });
    const one = lt.ones([1, 1, 1, 1], { backend: 'js' });
    const cases: [string, (t: lt.Tensor[]) => lt.Tensor, lt.Tensor[]][] = [
      ['relu', ([t]) => t.relu(), [x]],
      ['biasActivation relu', ([t, b]) => lt.biasActivation(t, b, 'relu'), [x.reshape([1, 7]), lt.zeros([7], { backend: 'js' })]],
      ['conv2d relu', ([t, w]) => lt.conv2d(t, w, null, { activation: 'relu' }), [x, one]],
    ];
    for (const [op, f, inputs] of cases) {
      const want = Array.from(f(inputs).dataSync());
      const got = Array.from(await f(inputs.map((t) => t.to('webgpu'))).data());
      assert.ok(Number.isNaN(want[0]), `${op}: js passes NaN`);
      assert.deepEqual(got, want, `${op} on ${JSON.stringify(edge.map(String))}`);
    }
  });

  test('conv2d and pooling, forward and backward', async () => {
    const cases: [number[], number[], lt.Conv2dOptions][] = [
      [[3, 3, 13, 11], [5, 3, 3, 3], { padding: 1 }],
      [[2, 4, 9, 10], [6, 2, 3, 2], { stride: [2, 1], padding: [1, 0], dilation: [1, 2], groups: 2 }],
      [[4, 1, 28, 28], [8, 1, 5, 5], {}],
    ];
    for (const [k, [xs, ws, options]] of cases.entries()) {
      const [x, w, b] = [values(xs, 110 + k, 1), values(ws, 120 + k, 1), values([ws[0]], 130 + k, 1)];
      await compare(`conv2d case ${k}`, ([t, u, v]) => lt.conv2d(t, u, v, options), [x, w, b], SUM);
      await compareGrads(`conv2d case ${k}`, ([t, u, v]) => lt.conv2d(t, u, v, options), [x, w, b], { atol: 1e-3, rtol: 1e-4 });
      const pool = (t: lt.Tensor) => lt.maxPool2d(t, 2, { stride: 1 }).add(lt.avgPool2d(t, [2, 1], { padding: [1, 0] }).mean());
      await compare(`pooling case ${k}`, ([t]) => pool(t), [x], SUM);
      await compareGrads(`pooling case ${k}`, ([t]) => pool(t), [x], SUM);
      await compareGrads(`maxPool2d 3x3 stride 2 padding 1 case ${k}`, ([t]) => lt.maxPool2d(t, 3, { stride: 2, padding: 1 }), [x], EXACT);
    }
  });

  test('fused kernels: bias+activation, scale+shift, softmax cross-entropy, Adam', async () => {
    const x = values([33, 70], 70);
    const bias = values([70], 71);
    for (const act of ['linear', 'relu', 'sigmoid', 'tanh'] as const) {
      await compare(`biasActivation ${act}`, ([t, b]) => lt.biasActivation(t, b, act), [x, bias], TRANSCENDENTAL);
      await compareGrads(`biasActivation ${act}`, ([t, b]) => lt.biasActivation(t, b, act), [x, bias], SUM);
    }
    const pixels = pair(lt.tensor(Uint8Array.from({ length: 300 }, (_, k) => (k * 37) % 256), { dtype: 'uint8', backend: 'js' }));
    const rescale = (b: 'js' | 'webgpu') => new lt.Tensor([300], 'float32', lt.getBackend(b).scaleShift(b === 'js' ? pixels.js : pixels.gpu, 1 / 255, -0.5, 'float32'), lt.getBackend(b));
    assertClose(await toJs(rescale('webgpu')), rescale('js'), ARITH, 'scaleShift');

    const logits = values([37, 10], 72);
    const labels = pair(lt.tensor(Int32Array.from({ length: 37 }, (_, k) => (k * 7) % 10), { backend: 'js' }));
    for (const reduction of ['mean', 'none'] as const) {
      await compare(`softmaxCrossEntropy ${reduction}`, ([l, y]) => lt.softmaxCrossEntropy(l, y, { reduction }), [logits, labels], TRANSCENDENTAL);
    }
    await compareGrads('softmaxCrossEntropy', ([l]) => lt.softmaxCrossEntropy(l, labels.js.backend === l.backend ? labels.js : labels.gpu, { reduction: 'none' }), [logits], TRANSCENDENTAL);

    for (const shape of [[5, 7], [3, 4, 300], [1, 64]]) {
      const c = shape[shape.length - 1];
      const [xs, gamma, beta] = [values(shape, 80), values([c], 81), values([c], 82)];
      await compare(`layerNorm ${shape}`, ([t, g, b]) => lt.layerNorm(t, g, b), [xs, gamma, beta], { atol: 1e-5, rtol: 1e-5 });
      await compareGrads(`layerNorm ${shape}`, ([t, g, b]) => lt.layerNorm(t, g, b), [xs, gamma, beta], SUM);
      await compareGrads(`layerNorm without affine ${shape}`, ([t]) => lt.layerNorm(t), [xs], SUM);
    }

    for (const decoupled of [false, true]) {
      const run = async (side: 'js' | 'gpu') => {
        const p = values([129, 7], 73)[side].detach().requireGrad();
        const opt = new lt.Adam([p], { lr: 0.01, weightDecay: 0.1, decoupled });
        for (let step = 0; step < 3; step++) {
          opt.zeroGrad();
          p.mul(p).mul(values([129, 7], 74 + step)[side]).sum().backward();
          opt.step();
        }
        return side === 'gpu' ? toJs(p) : p;
      };
      assertClose(await run('gpu'), await run('js'), TRANSCENDENTAL, `adam decoupled=${decoupled}`);
    }
  });
});

describe('webgpu backend: coverage, memory and errors', { skip }, () => {
  test('an MLP trains step for step as on the js backend', async () => {
    // 20 -> 32 (relu) -> 4 softmax, Adam, full batch of 64: matmul, biasActivation, the fused
    // loss and Adam, forward and backward. Losses may drift apart by float32 rounding only.
    const g = new lt.Generator(5);
    const x = lt.randn([64, 20], { generator: g, backend: 'js' });
    const labels = x.matmul(lt.randn([20, 4], { generator: g, backend: 'js' })).argmax(1);
    const init = [lt.randn([20, 32], { generator: g, std: 0.3, backend: 'js' }), lt.zeros([32], { backend: 'js' }),
      lt.randn([32, 4], { generator: g, std: 0.3, backend: 'js' }), lt.zeros([4], { backend: 'js' })];
    const train = async (backend: 'js' | 'webgpu') => {
      const [w1, b1, w2, b2] = init.map((p) => p.to(backend).clone().requireGrad());
      const [xs, ys] = [x.to(backend), labels.to(backend)];
      const opt = new lt.Adam([w1, b1, w2, b2], { lr: 0.01 });
      const losses: number[] = [];
      for (let step = 0; step < 15; step++) {
        opt.zeroGrad();
        const hidden = lt.biasActivation(xs.matmul(w1), b1, 'relu');
        const loss = lt.softmaxCrossEntropy(lt.biasActivation(hidden.matmul(w2), b2), ys);
        loss.backward();
        opt.step();
        losses.push((await loss.data())[0]);
      }
      return losses;
    };
    const want = await train('js');
    const got = await train('webgpu');
    assertClose(got, want, { atol: 1e-5, rtol: 1e-4 }, 'loss per step');
    assert.ok(got[14] < 0.7 * got[0], `the loss fell: ${got[0]} -> ${got[14]}`);
  });

  test('a small GPT trains step for step as on the js backend', async () => {
    // embeddings (indexSelect), layerNorm, packed causal attention, gelu, the tied LM head, Adam
    const config = { vocabSize: 17, blockSize: 8, nLayer: 2, nHead: 2, nEmbd: 16, dropout: 0, seed: 3 };
    const tokens = Int32Array.from({ length: 16 }, (_, i) => (i * 5) % 17);
    const targets = Int32Array.from({ length: 16 }, (_, i) => (i * 3 + 1) % 17);
    const previous = lt.getBackend().name;
    const train = async (backend: string) => {
      lt.setBackend(backend); // the model's weights are created on the current backend
      try {
        const model = lt.gpt(config);
        const [x, y] = [tokens, targets].map((t) => lt.tensor(t, { shape: [2, 8] }));
        const opt = new lt.Adam(model.parameters(), { lr: 0.01 });
        const losses: number[] = [];
        for (let step = 0; step < 3; step++) {
          opt.zeroGrad();
          const loss = lt.nextTokenLoss(model.forward(x), y);
          loss.backward();
          opt.step();
          losses.push((await loss.data())[0]);
        }
        return losses;
      } finally {
        lt.setBackend(previous);
      }
    };
    const want = await train('js');
    assertClose(await train('webgpu'), want, { atol: 1e-5, rtol: 1e-5 }, 'GPT loss per step');
  });

  test('lists the Backend methods it lacks (the required ones: none; optional ones are named)', async () => {
    const { WEBGPU_MISSING } = await import('../../src/backends/webgpu/index.js');
    const js = lt.getBackend('js') as unknown as Record<string, unknown>;
    const webgpu = gpu as unknown as Record<string, (...args: unknown[]) => unknown>;
    const kernels = Object.keys(js).filter((k) => typeof js[k] === 'function');
    const stubs = kernels.filter((k) => (WEBGPU_MISSING as readonly string[]).includes(k));
    const absent = kernels.filter((k) => typeof webgpu[k] !== 'function'); // optional methods of the interface
    console.log(`webgpu backend: ${kernels.length - stubs.length - absent.length} of ${kernels.length} js kernels; missing: ${[...stubs, ...absent].join(', ')}`);
    assert.deepEqual(stubs, [...WEBGPU_MISSING], 'every listed stub is a Backend method');
    assert.deepEqual([...WEBGPU_MISSING], []);
    // each stub is an error naming it, never a quiet CPU run
    for (const name of WEBGPU_MISSING) {
      assert.throws(() => webgpu[name](), (e: Error) => e instanceof lt.LatheError && e.message.startsWith(`${name}: the webgpu backend has no kernel`), name);
    }
    assert.throws(() => lt.ones([2], { dtype: 'float64', backend: 'webgpu' }), /float64/);
  });

  test('reading a computed tensor synchronously says to await data()', async () => {
    const y = lt.ones([2, 3], { backend: 'webgpu' }).add(1);
    assert.throws(() => y.dataSync(), /await t\.data\(\)/);
    assert.throws(() => y.toArray(), /\[2,3\] float32.*await t\.data\(\)/);
    // uploaded integer tensors stay readable on the host (the op layer's index checks need it)
    const labels = lt.tensor(new Int32Array([4, 5, 6]), { backend: 'webgpu' });
    assert.deepEqual(Array.from(labels.dataSync()), [4, 5, 6]);
    // and so do integer picks of them by uploaded indices (a training batch's labels)
    const batch = labels.indexSelect(0, lt.tensor(new Int32Array([2, 0]), { backend: 'webgpu' }));
    assert.deepEqual(Array.from(batch.dataSync()), [6, 4]);
    assert.deepEqual(Array.from(await batch.data()), [6, 4], 'the GPU result agrees');
    assert.throws(() => labels.add(1).dataSync(), /await t\.data\(\)/);
  });

  test('buffers are pooled: a repeated training step allocates nothing new once warm', async () => {
    // The pool gets a dropped tensor's buffer back when the collector finalizes it: collect on purpose.
    (await import('node:v8')).setFlagsFromString('--expose-gc');
    const gc = (await import('node:vm')).runInNewContext('gc') as () => void;
    const collect = async () => {
      gc();
      await new Promise((r) => setTimeout(r, 10)); // finalizers run after the collection
    };
    const w = lt.randn([64, 64], { backend: 'js' }).to('webgpu').requireGrad();
    const step = async () => {
      w.zeroGrad();
      const loss = w.matmul(w).relu().sum();
      loss.backward();
      await loss.data();
    };
    // Warm up at the cadence measured below: the pool must hold what 10 steps drop between collections.
    for (let i = 0; i < 20; i++) {
      await step();
      if (i % 10 === 9) await collect();
    }
    const warm = gpu!.memory();
    for (let i = 0; i < 30; i++) {
      await step();
      if (i % 10 === 9) await collect();
    }
    const after = gpu!.memory();
    assert.ok(after.buffersReused > warm.buffersReused + 30, 'buffers came from the pool');
    assert.equal(after.allocatedBytes, warm.allocatedBytes, `GPU memory stayed flat over 30 steps: ${warm.allocatedBytes} -> ${after.allocatedBytes} bytes`);
  });

  test('a kernel that does not compile fails with an error naming the op and shapes, not a hang', async () => {
    const { GpuContext } = await import('../../src/backends/webgpu/device.js');
    const ctx = await GpuContext.create();
    const x = ctx.alloc(4, 'float32');
    ctx.launch('myOp [2,2]', { name: 'broken', code: 'fn main( {' }, [x], [4], [1]);
    await assert.rejects(ctx.sync(), (e: Error) => e instanceof lt.LatheError && /myOp \[2,2\]: kernel "broken" did not compile/.test(e.message));
    ctx.destroy();
  });

  test('a lost device fails the next op with an error naming it and its shapes', async () => {
    const { createWebGPUBackend } = await import('../../src/backends/webgpu/index.js');
    const doomed = await createWebGPUBackend();
    const a = lt.ones([3, 4], { backend: 'js' }).to(doomed);
    const pending = a.add(1);
    doomed.destroy(); // WebGPU's way to lose a device on purpose
    await new Promise((r) => setTimeout(r, 20));
    assert.throws(() => a.mul(a), (e: Error) => e instanceof lt.LatheError && /^mul \[3,4\] \[3,4\] float32: webgpu device lost/.test(e.message));
    await assert.rejects(pending.data(), (e: Error) => e instanceof lt.LatheError && /data \[3,4\] float32.*device lost/.test(e.message));
  });
});
