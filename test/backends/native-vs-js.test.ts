// Each native kernel against the js reference, llm.c style: random shapes including odd sizes,
// edge values (NaN, infinities, huge magnitudes), and sizes large enough that the kernels
// split work over the thread pool. Forward and backward are compared through whole ops.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import * as lt from '../../src/index.js';
import { assertClose } from '../helpers.js';

const hasNative = lt.listBackends().includes('native');
const EDGE = [0, -0, 1, -1, 1e-30, -1e30, 88.5, -88.5, 700, -700, Infinity, -Infinity, NaN];

/** Random values with some edge values sprinkled in, the same on both backends. */
function values(shape: number[], seed: number, dtype: 'float32' | 'float64', edges = true): { js: lt.Tensor; native: lt.Tensor } {
  const g = new lt.Generator(seed);
  const t = lt.randn(shape, { generator: g, dtype, std: 3, backend: 'js' });
  const data = t.dataSync();
  if (edges) for (let i = 0; i < Math.min(EDGE.length, data.length); i++) data[(i * 7919) % data.length] = EDGE[i];
  const js = lt.tensor(data, { shape, dtype, backend: 'js' });
  return { js, native: js.to('native') };
}

// Float32 kernels may differ from js (which rounds once from float64) by a few ulps;
// transcendental functions from libm by a few more. float64 must agree closely.
const TOL = { float32: { atol: 1e-6, rtol: 2e-6 }, float64: { atol: 1e-12, rtol: 1e-12 } } as const;

function compare(op: string, f: (x: lt.Tensor[]) => lt.Tensor, inputs: { js: lt.Tensor; native: lt.Tensor }[], dtype: 'float32' | 'float64', tol?: { atol: number; rtol: number }): void {
  const want = f(inputs.map((i) => i.js));
  const got = f(inputs.map((i) => i.native));
  assert.equal(got.backend.name, 'native', `${op} ran on native`);
  assert.deepEqual(got.shape, want.shape, `${op} shape`);
  assert.equal(got.dtype, want.dtype, `${op} dtype`);
  assertClose(got.to('js'), want, tol ?? TOL[dtype], `${op} (${dtype})`);
}

describe('native kernels match the js reference', { skip: !hasNative && 'native backend not built' }, () => {
  test('layout and indexing kernels move every dtype exactly', () => {
    for (const dtype of ['float32', 'float64', 'int32', 'uint8', 'bool'] as const) {
      const base = lt.arange(2 * 3 * 40 * 7, undefined, 1, { backend: 'js' }).sin().mul(100).round().cast(dtype);
      const x = { js: base.reshape([2, 3, 40, 7]), native: base.reshape([2, 3, 40, 7]).to('native') };
      const cases: [string, (t: lt.Tensor) => lt.Tensor][] = [
        ['permute', (t) => t.permute([3, 1, 0, 2])],
        ['slice with steps', (t) => lt.slice(t, [1, null, 35, null], [null, null, 2, null], [1, 2, -3, 2])],
        ['expand', (t) => t.slice([0, 0, 0, 0], [1, 3, 40, 1]).expand([4, 3, 40, 5])],
        ['pad', (t) => t.pad([[0, 1], [2, 0], [1, 1], [0, 3]], 1)],
        ['concat', (t) => lt.concat([t, t.slice([0, 0, 0, 0], [2, 3, 40, 2])], 3)],
        ['gather', (t) => t.gather(2, lt.tensor(Int32Array.from({ length: 2 * 3 * 9 * 7 }, (_, i) => (i * 7) % 40), { shape: [2, 3, 9, 7], backend: t.backend }))],
        ['indexSelect', (t) => t.indexSelect(2, lt.tensor(new Int32Array([39, 0, 5, 5, 17]), { backend: t.backend }))],
      ];
      for (const [name, f] of cases) {
        const want = f(x.js);
        const got = f(x.native);
        assert.equal(got.dtype, dtype);
        assert.deepEqual(got.to('js').toArray(), want.toArray(), `${name} (${dtype})`);
      }
    }
  });

  for (const dtype of ['float32', 'float64'] as const) {
    const UNARY = ['neg', 'exp', 'log', 'sqrt', 'rsqrt', 'abs', 'square', 'reciprocal', 'tanh', 'sigmoid', 'relu', 'erf',
      'sin', 'cos', 'log1p', 'expm1', 'softplus'] as const;
    for (const shape of [[7], [3, 33], [300, 257]]) {
      test(`unary ops ${dtype} [${shape}]`, () => {
        const x = values(shape, 1, dtype);
        for (const op of UNARY) compare(op, ([t]) => t[op](), [x], dtype, { atol: 1e-6, rtol: dtype === 'float32' ? 4e-6 : 1e-14 });
        compare('gelu', ([t]) => t.gelu(), [x], dtype, { atol: 1e-6, rtol: dtype === 'float32' ? 4e-6 : 1e-13 });
        compare('geluTanh', ([t]) => t.gelu({ approximate: 'tanh' }), [x], dtype, { atol: 1e-6, rtol: dtype === 'float32' ? 4e-6 : 1e-13 });
        compare('leakyRelu', ([t]) => t.leakyRelu(0.2), [x], dtype);
        compare('elu', ([t]) => t.elu(0.7), [x], dtype, { atol: 1e-6, rtol: 4e-6 });
      });
    }

    const PAIRS: [number[], number[]][] = [[[5], [5]], [[4, 3], [3]], [[4, 1], [1, 5]], [[2, 3, 4], [3, 1]], [[]as number[], [6]],
      [[257, 129], [257, 129]], [[300, 200], [200]], [[1, 300], [250, 1]], [[2, 3, 5, 7], [3, 1, 7]]];
    test(`binary ops with broadcasting ${dtype}`, () => {
      PAIRS.forEach(([sa, sb], i) => {
        const a = values(sa, 10 + i, dtype);
        const b = values(sb, 20 + i, dtype);
        for (const op of ['add', 'sub', 'mul', 'div', 'pow', 'maximum', 'minimum', 'eq', 'ne', 'lt', 'le', 'gt', 'ge'] as const) {
          compare(`${op} [${sa}] [${sb}]`, ([x, y]) => x[op](y), [a, b], dtype, op === 'pow' ? { atol: 1e-6, rtol: 4e-6 } : undefined);
        }
        compare(`where [${sa}] [${sb}]`, ([x, y]) => lt.where(x.gt(0), x, y), [a, b], dtype);
      });
    });

    test(`reductions and softmax over every axis block ${dtype}`, () => {
      for (const shape of [[6], [5, 7], [3, 4, 5], [2, 3, 4, 5], [40, 900], [900, 40]]) {
        const x = values(shape, 30 + shape.length, dtype, false);
        const rank = shape.length;
        for (let a0 = 0; a0 < rank; a0++) {
          for (let a1 = a0; a1 < rank; a1++) {
            const axes = Array.from({ length: a1 - a0 + 1 }, (_, k) => a0 + k);
            for (const op of ['sum', 'max', 'min', 'mean'] as const) {
              compare(`${op} [${shape}] axes [${axes}]`, ([t]) => t[op](axes), [x], dtype, { atol: 1e-5, rtol: 1e-6 });
            }
          }
          compare(`softmax [${shape}] axis ${a0}`, ([t]) => t.softmax(a0), [x], dtype);
          compare(`logSoftmax [${shape}] axis ${a0}`, ([t]) => t.logSoftmax(a0), [x], dtype, { atol: 1e-5, rtol: 1e-6 });
          compare(`argmax [${shape}] axis ${a0}`, ([t]) => t.argmax(a0), [x], dtype);
          compare(`argmin [${shape}] axis ${a0}`, ([t]) => t.argmin(a0), [x], dtype);
        }
      }
      const withNaN = values([4, 13], 3, dtype);
      compare('max with NaN and inf', ([t]) => t.max(1), [withNaN], dtype);
      compare('softmax with NaN and inf', ([t]) => t.softmax(1), [withNaN], dtype);
      // Rows long enough for the float kernel's lanes, with NaN, infinities and a row of -inf only.
      const long = values([3, 150], 4, dtype);
      const masked = lt.concat([long.js, lt.full([1, 150], -Infinity, { dtype, backend: 'js' })], 0);
      compare('softmax of long rows with NaN, inf and an all -inf row', ([t]) => t.softmax(1), [{ js: masked, native: masked.to('native') }], dtype);
    });

    test(`matmul: every transpose, batch broadcast, odd and threaded sizes ${dtype}`, () => {
      const cases: [number[], number[]][] = [[[1, 1], [1, 1]], [[3, 5], [5, 7]], [[17, 33], [33, 31]], [[32, 784], [784, 128]],
        [[65, 127], [127, 257]], [[2, 1, 9, 10], [5, 10, 11]], [[4, 16, 8], [8, 16]], [[300, 200], [200, 300]], [[0, 4], [4, 3]], [[3, 0], [0, 4]]];
      cases.forEach(([sa, sb], i) => {
        const a = values(sa, 40 + i, dtype, false);
        const b = values(sb, 50 + i, dtype, false);
        const tol = dtype === 'float32' ? { atol: 2e-4, rtol: 2e-5 } : { atol: 1e-10, rtol: 1e-12 };
        compare(`matmul [${sa}] x [${sb}]`, ([x, y]) => x.matmul(y), [a, b], dtype, tol);
        // the gradients run the transposed kernels: dA = G B^T, dB = A^T G
        const grads = (backend: 'js' | 'native') => {
          const [x, y] = [a, b].map((v) => v[backend].detach().requireGrad());
          const out = x.matmul(y);
          out.mul(lt.arange(out.size, undefined, 1, { dtype, backend }).reshape([...out.shape]).sin()).sum().backward();
          return [x.grad!, y.grad!];
        };
        const want = grads('js');
        grads('native').forEach((g, k) => assertClose(g.to('js'), want[k], tol, `matmul grad ${k} [${sa}] x [${sb}]`));
      });
    });

    test(`conv2d and pooling, forward and backward, batch spread over threads ${dtype}`, () => {
      const tol = dtype === 'float32' ? { atol: 1e-4, rtol: 1e-4 } : { atol: 1e-10, rtol: 1e-10 };
      const cases: [number[], number[], lt.Conv2dOptions][] = [
        [[8, 3, 13, 11], [5, 3, 3, 3], { padding: 1 }],
        [[5, 4, 9, 10], [6, 2, 3, 2], { stride: [2, 1], padding: [1, 0], dilation: [1, 2], groups: 2 }],
        [[32, 1, 28, 28], [8, 1, 5, 5], {}],
      ];
      cases.forEach(([xs, ws, options], i) => {
        const x = values(xs, 70 + i, dtype, false);
        const w = values(ws, 80 + i, dtype, false);
        const run = (backend: 'js' | 'native') => {
          const [xx, ww] = [x, w].map((v) => v[backend].detach().requireGrad());
          const y = lt.conv2d(xx, ww, null, options);
          const pooled = lt.maxPool2d(y, 2, { stride: 1 }).add(lt.avgPool2d(y, [2, 1], { padding: [1, 0] }).mean());
          pooled.mul(pooled).sum().backward();
          return [y, pooled, xx.grad!, ww.grad!];
        };
        const want = run('js');
        // Gradients here are sums of large terms that cancel, so float32 error scales with the
        // largest magnitude in the tensor, not with each element.
        run('native').forEach((t, k) => {
          const scale = want[k].abs().max().item();
          assertClose(t.to('js'), want[k], { atol: tol.atol * Math.max(1, scale), rtol: tol.rtol }, `conv case ${i} output ${k}`);
        });
      });
    });

    // Shapes for native/conv_direct (float32, stride 1 along the width, reduction <= 64),
    // native/conv_channels (longer reductions, AVX-512) and the ones both decline (im2col + GEMM),
    // each with a bias and a fused activation; batches of 1 split one image over the threads.
    // LATHE_CONV_KERNEL=avx2|portable|im2col|channels runs them through the other paths.
    test(`conv2d with bias and fused activation on the direct paths ${dtype}`, () => {
      const tol = dtype === 'float32' ? { atol: 1e-5, rtol: 1e-5 } : { atol: 1e-12, rtol: 1e-12 };
      const cases: [number[], number[], lt.Conv2dOptions, boolean][] = [
        [[32, 1, 28, 28], [32, 1, 3, 3], { activation: 'relu' }, false], // MNIST's first conv: direct
        [[3, 1, 28, 28], [32, 1, 5, 5], { activation: 'relu' }, true], // 5x5, NaN and infinities in x
        [[1, 1, 28, 28], [32, 1, 3, 3], { activation: 'relu' }, false], // one image: channel blocks split
        [[3, 1, 7, 5], [5, 1, 3, 3], { padding: 1, activation: 'sigmoid' }, false], // 5 wide: 4 rows per vector
        [[2, 2, 9, 3], [4, 2, 1, 3], { activation: 'tanh' }, false], // 1 wide: too many rows, declined
        [[4, 2, 11, 17], [7, 2, 3, 3], { stride: [2, 1], padding: [2, 1], dilation: [2, 2], activation: 'tanh' }, false],
        [[3, 3, 9, 10], [4, 3, 2, 2], { stride: [1, 2], activation: 'relu' }, false], // stride 2 along the width
        [[5, 4, 12, 13], [16, 4, 3, 3], { padding: 1, activation: 'relu' }, false], // C_in 4, reduction 36
        [[4, 32, 13, 13], [64, 32, 3, 3], { activation: 'relu' }, false], // MNIST's second conv: channels
        [[1, 32, 13, 13], [64, 32, 3, 3], { activation: 'linear' }, false], // one image: positions split
        [[3, 8, 10, 9], [40, 8, 3, 3], { stride: 2, padding: 1, activation: 'sigmoid' }, false], // 40 channels
        [[2, 3, 6, 33], [17, 3, 3, 3], { padding: [0, 2], activation: 'relu' }, false], // 35 wide, 17 channels
      ];
      cases.forEach(([xs, ws, options, edges], i) => {
        const x = values(xs, 170 + i, dtype, edges);
        const w = values(ws, 180 + i, dtype, false);
        const b = values([ws[0]], 190 + i, dtype, false);
        const want = lt.conv2d(x.js, w.js, b.js, options);
        const got = lt.conv2d(x.native, w.native, b.native, options);
        assert.equal(got.backend.name, 'native');
        // Sums of up to 288 terms that cancel: float32 error scales with the largest output.
        const scale = Array.from(want.dataSync() as Float32Array | Float64Array).reduce((m, v) => (Number.isFinite(v) ? Math.max(m, Math.abs(v)) : m), 0);
        assertClose(got.to('js'), want, { atol: tol.atol * Math.max(1, scale), rtol: tol.rtol }, `direct conv case ${i} [${xs}] * [${ws}] ${JSON.stringify(options)}`);
      });
    });

    // Winograd F(2x2, 3x3) (native/conv_winograd): 3x3 stride-1 convs with 16+ channels in and
    // out, any batch (one image large enough spreads its products over the threads). Odd output sizes cut the
    // last 2x2 blocks; channel counts that are not whole vectors, wide rows, padding, no bias and
    // each activation.
    test(`Winograd 3x3 convolutions ${dtype}`, () => {
      const cases: [number[], number[], lt.Conv2dOptions, boolean][] = [
        [[3, 24, 9, 10], [20, 24, 3, 3], { padding: 1, activation: 'relu' }, true],
        [[2, 16, 7, 37], [17, 16, 3, 3], { activation: 'tanh' }, true],
        [[5, 33, 6, 5], [16, 33, 3, 3], { padding: [2, 1], activation: 'sigmoid' }, false],
        [[4, 16, 3, 3], [32, 16, 3, 3], { activation: 'linear' }, true], // one output per image
        [[1, 32, 13, 13], [64, 32, 3, 3], { activation: 'relu' }, true], // one image, its products too small to spread
        [[1, 256, 8, 8], [256, 256, 3, 3], { padding: 1, activation: 'relu' }, true], // one image, 256 channels: its 16 products spread over the threads
      ];
      cases.forEach(([xs, ws, options, withBias], i) => {
        const x = values(xs, 400 + i, dtype, false);
        const w = values(ws, 410 + i, dtype, false);
        const b = values([ws[0]], 420 + i, dtype, false);
        const want = lt.conv2d(x.js, w.js, withBias ? b.js : null, options);
        const got = lt.noGrad(() => lt.conv2d(x.native, w.native, withBias ? b.native : null, options));
        // Rounding error scales with the sums before the activation (tanh of a sum of 144 terms ~ 100).
        const sums = lt.conv2d(x.js, w.js, withBias ? b.js : null, { ...options, activation: 'linear' });
        const scale = Array.from(sums.dataSync() as Float32Array | Float64Array).reduce((m, v) => Math.max(m, Math.abs(v)), 0);
        const tol = dtype === 'float32' ? { atol: 1e-6 * Math.max(1, scale), rtol: 1e-5 } : { atol: 1e-12 * Math.max(1, scale), rtol: 1e-12 };
        assertClose(got.to('js'), want, tol, `Winograd case ${i} [${xs}] * [${ws}] ${JSON.stringify(options)}`);
      });
    });

    // Winograd keeps each conv's transformed weights per thread, beside a copy of the weights,
    // and reuses them only while the weights are byte for byte the same: weights that Adam's
    // fused step changes in place (the same storage) give the new conv, not the old one.
    test(`Winograd's kept transformed weights follow weights changed in place ${dtype}`, () => {
      const x = values([2, 16, 8, 8], 430, dtype, false);
      const w = values([16, 16, 3, 3], 431, dtype, false).native.detach().requireGrad();
      const conv = () => lt.noGrad(() => lt.conv2d(x.native, w, null, { activation: 'relu' }));
      const want = () => lt.conv2d(x.js, w.to('js').detach(), null, { activation: 'relu' });
      const tol = dtype === 'float32' ? { atol: 1e-4, rtol: 1e-5 } : { atol: 1e-12, rtol: 1e-12 };
      const before = conv();
      assertClose(before.to('js'), want(), tol, 'first call');
      assertClose(conv().to('js'), want(), tol, 'second call, the same weights');
      lt.conv2d(x.native, w, null, {}).square().sum().backward();
      const storage = w.buf;
      new lt.Adam([w], { lr: 0.5 }).step();
      assert.equal(w.buf, storage, 'Adam updated the weights in place');
      const after = conv();
      assertClose(after.to('js'), want(), tol, 'after the update');
      assert.ok(Math.max(...Array.from(after.sub(before).abs().dataSync() as Float32Array)) > 0.1, 'the update changed the output');
    });

    // Without gradients max pooling keeps no argmax: 2x2 windows take a whole-plane path (two
    // output rows per vector up to 8 wide, an odd last row alone; one or more vectors a row
    // beyond).
    test(`2x2 max pooling at inference, NaN and infinities included ${dtype}`, () => {
      for (const [i, shape] of [[32, 8, 26, 26], [16, 8, 11, 11], [4, 3, 8, 12], [3, 2, 9, 40], [2, 3, 7, 67]].entries()) {
        const x = values(shape, 200 + i, dtype, true);
        const want = lt.noGrad(() => lt.maxPool2d(x.js, 2));
        const got = lt.noGrad(() => lt.maxPool2d(x.native, 2));
        assert.equal(got.backend.name, 'native');
        assertClose(got.to('js'), want, { atol: 0, rtol: 0 }, `maxPool2d 2x2 [${shape}]`);
      }
    });

    // Inference's fused conv + max pooling (each image pooled while in cache) on every conv path,
    // one image (split over the threads) and general windows: the same values as the two native
    // ops bit for bit (the same conv kernels, and max is exact), and as js within the conv's tolerance.
    test(`conv2d then max pooling in one kernel at inference ${dtype}`, () => {
      const cases: [number[], number[], lt.Conv2dOptions, number, lt.Pool2dOptions][] = [
        [[32, 1, 28, 28], [32, 1, 3, 3], { activation: 'relu' }, 2, {}], // MNIST's first conv: direct
        [[4, 32, 13, 13], [64, 32, 3, 3], { activation: 'relu' }, 2, {}], // MNIST's second: Winograd, pooled inside its 2x2 blocks
        [[1, 32, 13, 13], [64, 32, 3, 3], { activation: 'tanh' }, 2, {}], // one image: Winograd on the calling thread
        [[3, 4, 9, 6], [4, 2, 2, 3], { groups: 2, activation: 'linear' }, 2, { stride: 1 }], // groups: im2col + GEMM
        [[5, 3, 12, 11], [6, 3, 3, 3], { padding: 1, activation: 'relu' }, 3, { stride: 2, padding: 1 }],
        // Winograd pooled in its blocks: NaN and infinities in, an odd output (7 wide: the last
        // block column is not pooled), no activation, channels that are not whole vectors.
        [[3, 17, 10, 9], [20, 17, 3, 3], { activation: 'linear' }, 2, {}],
        [[2, 16, 8, 8], [16, 16, 3, 3], { padding: 1, activation: 'sigmoid' }, 2, {}], // pooled after the transform
        [[2, 16, 9, 9], [16, 16, 3, 3], { padding: 1, activation: 'relu' }, 3, { stride: 2 }], // 3x3 windows: pooled after
        // Short reductions with 2x2 pooling (native/conv_pooled, AVX-512 or AVX2; LATHE_CONV_KERNEL=avx2
        // forces the AVX2 one): one image (its pooled rows split), an odd output (27 wide: the last column is not pooled),
        // 40 channels (a partial block), RGB (reduction 27), padding, stride and dilation.
        [[1, 1, 28, 28], [32, 1, 3, 3], { activation: 'relu' }, 2, {}],
        [[3, 1, 29, 29], [40, 1, 3, 3], { activation: 'linear' }, 2, {}],
        [[4, 3, 16, 15], [24, 3, 3, 3], { padding: 1, activation: 'relu' }, 2, {}],
        [[2, 2, 17, 19], [8, 2, 2, 3], { stride: [2, 1], dilation: [1, 2], padding: [1, 0], activation: 'relu' }, 2, {}],
        [[1, 32, 13, 13], [64, 32, 3, 3], { activation: 'relu' }, 2, {}], // one image, Winograd pooled inside its 2x2 blocks
        [[1, 256, 8, 8], [256, 256, 3, 3], { padding: 1, activation: 'relu' }, 2, {}], // one image, 256 channels: Winograd's products spread
        [[1, 3, 64, 64], [32, 3, 3, 3], { activation: 'relu' }, 2, {}], // one RGB image large enough that its pooled rows split
      ];
      cases.forEach(([xs, ws, options, k, poolOptions], i) => {
        const x = values(xs, 300 + i, dtype, i === 0 || i === 5 || i === 9);
        const w = values(ws, 310 + i, dtype, false);
        const b = values([ws[0]], 320 + i, dtype, false);
        const what = `conv2dMaxPool case ${i} [${xs}] * [${ws}]`;
        const got = lt.noGrad(() => lt.conv2dMaxPool(x.native, w.native, b.native, options, k, poolOptions));
        const twoOps = lt.noGrad(() => lt.maxPool2d(lt.conv2d(x.native, w.native, b.native, options), k, poolOptions));
        const want = lt.maxPool2d(lt.conv2d(x.js, w.js, b.js, options), k, poolOptions);
        assert.deepEqual(got.shape, want.shape, what);
        assertClose(got, twoOps, { atol: 0, rtol: 0 }, `${what}: fused against the two native ops`);
        // Rounding error scales with the sums before the activation (Winograd's most: see below).
        const sums = lt.conv2d(x.js, w.js, b.js, { ...options, activation: 'linear' });
        const scale = Array.from(sums.dataSync() as Float32Array | Float64Array).reduce((m, v) => (Number.isFinite(v) ? Math.max(m, Math.abs(v)) : m), 0);
        assertClose(got.to('js'), want, { atol: (dtype === 'float32' ? 2e-6 : 1e-12) * Math.max(1, scale), rtol: dtype === 'float32' ? 1e-5 : 1e-12 }, what);
      });
    });

    test(`biasActivation, rows spread over threads ${dtype}`, () => {
      const x = values([600, 130], 95, dtype);
      const b = values([130], 96, dtype, false);
      for (const act of ['linear', 'relu', 'sigmoid', 'tanh'] as const) {
        compare(`biasActivation ${act}`, ([t, bb]) => lt.biasActivation(t, bb, act), [x, b], dtype, { atol: 1e-6, rtol: 4e-6 });
      }
    });

    test(`softmaxCrossEntropy, rows spread over threads ${dtype}`, () => {
      const x = values([5000, 10], 90, dtype, false);
      const labels = lt.tensor(Int32Array.from({ length: 5000 }, (_, i) => (i * 7) % 10), { backend: 'js' });
      const run = (backend: 'js' | 'native') => {
        const xx = x[backend].detach().requireGrad();
        const l = lt.softmaxCrossEntropy(xx, labels.to(backend), { reduction: 'none' });
        l.sum().backward();
        return [l, xx.grad!];
      };
      const want = run('js');
      run('native').forEach((t, k) => assertClose(t.to('js'), want[k], TOL[dtype], `softmaxCrossEntropy output ${k}`));
    });

    test(`backward through native kernels matches js ${dtype}`, () => {
      const x = values([16, 30], 60, dtype, false);
      const w = values([30, 20], 61, dtype, false);
      const b = values([20], 62, dtype, false);
      const grads = (backend: 'js' | 'native') => {
        const [xx, ww, bb] = [x, w, b].map((v) => v[backend].detach().requireGrad());
        xx.matmul(ww).add(bb).tanh().logSoftmax(1).max(1).sum().backward();
        return [xx.grad!, ww.grad!, bb.grad!];
      };
      const want = grads('js');
      grads('native').forEach((g, i) => assertClose(g.to('js'), want[i], dtype === 'float32' ? { atol: 1e-5, rtol: 1e-4 } : { atol: 1e-12, rtol: 1e-10 }, `grad ${i}`));
    });
  }
});
