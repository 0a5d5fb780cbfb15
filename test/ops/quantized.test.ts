// The int8 kernels: the exact integer GEMM against an int32 reference loop (every kernel the CPU
// can run, saturation edges, odd shapes), quantized Dense/Conv2D on native against the js
// reference, quantization round-trip bounds, and the zero and non-finite cases.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import * as lt from '../../src/index.js';
import { dynamicQuantParams, quantizeValue, roundHalfEven } from '../../src/backends/js/quantized.js';
import { nativeAddon } from '../../src/backends/registry.js';
import { rescaledQuantizedLinear } from '../../src/ops/quantized.js';
import { assertClose, assertThrowsLathe } from '../helpers.js';

const hasNative = lt.listBackends().includes('native');

/** The int8 kernels this CPU runs (forcing one that it cannot throws). */
function runnableKernels(): string[] {
  if (!hasNative) return [];
  return ['avx512vnni', 'avx2', 'portable'].filter((k) => {
    try {
      nativeAddon!.qgemmKernel(k);
      return true;
    } catch {
      return false;
    } finally {
      nativeAddon!.qgemmKernel('');
    }
  });
}

/** Deterministic pseudo-random integers in [lo, hi], with the ends forced in every few values. */
function ints(n: number, lo: number, hi: number, seed: number): number[] {
  let s = seed >>> 0;
  return Array.from({ length: n }, (_, i) => {
    if (i % 7 === 0) return lo;
    if (i % 11 === 0) return hi;
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return lo + (s % (hi - lo + 1));
  });
}

describe('quantization arithmetic', () => {
  test('round half to even, as rint and ONNX QuantizeLinear', () => {
    assert.deepEqual([0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 2.4999, 2.5001].map(roundHalfEven), [0, 2, 2, -0, -2, -2, 2, 3]);
  });

  test('per-channel int8 weights reconstruct within half a step, each channel with its own scale', () => {
    const w = lt.randn([37, 5], { generator: new lt.Generator(3) }).mul(lt.tensor([0.01, 1, 100, 0, 3]));
    const qw = lt.quant.quantizePerChannel(w, 1);
    assert.equal(qw.q.dtype, 'int8');
    const scale = qw.scale.dataSync();
    assert.equal(scale[3], 1, 'a zero channel gets scale 1, never 0');
    const back = lt.quant.dequantizePerChannel(qw, 1).dataSync();
    const orig = w.dataSync();
    const q = qw.q.dataSync();
    for (let i = 0; i < orig.length; i++) {
      assert.ok(Math.abs(orig[i] - back[i]) <= scale[i % 5] / 2 + 1e-7 * Math.abs(orig[i]), `w[${i}] = ${orig[i]} came back as ${back[i]}`);
      assert.ok(q[i] >= -127 && q[i] <= 127, 'symmetric: -128 unused');
    }
    assert.ok(Array.from(q).some((v) => Math.abs(v) === 127), 'each channel reaches the ends');
  });

  test('uint8 activations reconstruct within half a step over the calibrated range; zero is exact', () => {
    const x = Array.from({ length: 1000 }, (_, i) => -3 + (i * 9.7) / 1000);
    const p = lt.quant.uint8Params(Math.min(...x), Math.max(...x));
    for (const v of [...x, 0]) {
      const back = (quantizeValue(v, p) - p.zeroPoint) * p.scale;
      assert.ok(Math.abs(back - v) <= p.scale / 2 + 1e-6, `${v} came back as ${back}`);
    }
    assert.equal((quantizeValue(0, p) - p.zeroPoint) * p.scale, 0);
    assert.deepEqual(lt.quant.uint8Params(0, 0), { scale: 1, zeroPoint: 0 }, 'an all-zero range divides by nothing');
    assert.deepEqual(dynamicQuantParams([0, 0, 0]), { scale: 1, zeroPoint: 0 });
    assert.deepEqual(dynamicQuantParams([NaN, Infinity, 2, -1]), lt.quant.uint8Params(-1, 2), 'non-finite values stay out of the range');
    assert.equal(quantizeValue(1e9, p), 255, 'saturates high');
    assert.equal(quantizeValue(-1e9, p), 0, 'saturates low');
  });

  test('the percentile range drops outliers that min-max keeps', () => {
    const values = Float32Array.from({ length: 100_000 }, (_, i) => Math.sin(i));
    values[5] = 1000;
    const minmax = new lt.quant.RangeObserver('minmax');
    const pct = new lt.quant.RangeObserver('percentile', 99.9);
    for (const o of [minmax, pct]) o.observe(values);
    assert.equal(minmax.range()[1], 1000);
    assert.ok(pct.range()[1] < 1.01 && pct.range()[0] > -1.01, `percentile range ${pct.range()}`);
    assertThrowsLathe(() => new lt.quant.RangeObserver('minmax').range(), /no finite input values/);
  });
});

describe('int8 GEMM is exact', { skip: !hasNative && 'native backend not built' }, () => {
  const addon = nativeAddon!;
  const kernels = runnableKernels();

  test(`against an int32 reference loop, on every kernel this CPU runs (${kernels.join(', ')})`, () => {
    assert.ok(kernels.includes('portable'));
    const shapes = [[1, 1, 1], [7, 3, 5], [5, 4, 31], [33, 65, 33], [3, 300, 64], [64, 2100, 40], [130, 17, 97]];
    for (const kernel of kernels) {
      addon.qgemmKernel(kernel);
      try {
        shapes.forEach(([M, K, N], si) => {
          for (const zero of [0, 128, 255]) {
            const a = Uint8Array.from(ints(M * K, 0, 255, si * 3 + zero));
            const b = Int8Array.from(ints(K * N, -128, 127, si * 5 + zero + 1));
            const got = new Int32Array(M * N);
            addon.qGemmInt32(a, M, zero, addon.qPackWeights(b, K, N, false), got);
            for (let m = 0; m < M; m++)
              for (let n = 0; n < N; n++) {
                let want = 0;
                for (let k = 0; k < K; k++) want += (a[m * K + k] - zero) * b[k * N + n];
                if (got[m * N + n] !== want) assert.fail(`${kernel} [${M},${K}]x[${K},${N}] zero ${zero}: C[${m},${n}] = ${got[m * N + n]}, want ${want}`);
              }
          }
        });
        // The extremes everywhere: 255 x -128 and 0 x 127 on every product.
        for (const [av, bv] of [[255, -128], [255, 127], [0, -128]]) {
          const [M, K, N] = [3, 1000, 35];
          const got = new Int32Array(M * N);
          addon.qGemmInt32(new Uint8Array(M * K).fill(av), M, 0, addon.qPackWeights(new Int8Array(K * N).fill(bv), K, N, false), got);
          assert.ok(got.every((v) => v === av * bv * K), `${kernel}: ${av} x ${bv} over K=${K}`);
        }
      } finally {
        addon.qgemmKernel('');
      }
    }
  });
});

describe('quantized layers: native matches the js reference', { skip: !hasNative && 'native backend not built' }, () => {
  const g = new lt.Generator(7);
  const tol = { atol: 1e-5, rtol: 1e-5 };

  function operands(shape: number[], wShape: number[], outputs: number, seed: number) {
    const x = lt.randn(shape, { generator: g, backend: 'js' }).mul(2);
    const w = lt.tensor(Int8Array.from(ints(wShape.reduce((a, b) => a * b, 1), -128, 127, seed)), { shape: wShape, backend: 'js' });
    const s = lt.rand([outputs], { generator: g, backend: 'js' }).mul(0.02).add(0.001);
    const b = lt.randn([outputs], { generator: g, backend: 'js' });
    return { x, w, s, b };
  }

  // Native quantizes by a multiply with 1/scale where that rounds the same as the division,
  // and divides near every half step: values at and beside each half step, on both sides of
  // zero, with scales whose inverse is an ordinary float, subnormal or infinite.
  test('native quantization equals the division bit for bit, next to every half step', () => {
    const f = new Float32Array(1);
    const bits = new Int32Array(f.buffer);
    const neighbours = (v: number) => {
      f[0] = v;
      const b = bits[0];
      return [-2, -1, 0, 1, 2].map((d) => ((bits[0] = b + d), f[0]));
    };
    for (const scale of [0.031, 1 / 255, 0.7, 3e-3, 1e-39, 2e38].map(Math.fround)) {
      const values: number[] = [0, -0, 1e-45, NaN, Infinity, -Infinity];
      for (let k = -600; k <= 600; k++) values.push(...neighbours((k + 0.5) * scale), ...neighbours(k * scale));
      const x = Float32Array.from(values);
      for (const zeroPoint of [0, 77, 255]) {
        const got = new Uint8Array(x.length);
        nativeAddon!.quantizeU8(x, got, scale, zeroPoint);
        for (let i = 0; i < x.length; i++) {
          const want = quantizeValue(x[i], { scale, zeroPoint });
          if (got[i] !== want) assert.fail(`scale ${scale} zero point ${zeroPoint}: ${x[i]} quantized to ${got[i]}, want ${want}`);
        }
      }
    }
  });

  // relu runs in each int8 kernel's output stage, so every kernel the CPU has runs the cases.
  test(`quantizedLinear: odd shapes, dynamic and static, every fused activation, with and without bias (${runnableKernels().join(', ')})`, () => {
    for (const kernel of runnableKernels()) {
      nativeAddon!.qgemmKernel(kernel);
      try {
        for (const [M, K, N] of [[1, 1, 1], [5, 7, 3], [33, 129, 65], [300, 784, 128], [4, 3000, 10]]) {
          if (kernel === 'portable' && M * K * N > 1e6) continue;
          const { x, w, s, b } = operands([M, K], [K, N], N, M + K + N);
          for (const input of [null, { scale: 0.031, zeroPoint: 117 }, { scale: 0.01, zeroPoint: 0 }])
            for (const activation of ['linear', 'relu', 'sigmoid', 'tanh'] as const)
              for (const bias of [b, null]) {
                const want = lt.quantizedLinear(x, lt.packInt8(w, 'dense'), s, bias, { activation, input });
                const got = lt.quantizedLinear(x.to('native'), lt.packInt8(w.to('native'), 'dense'), s.to('native'), bias?.to('native') ?? null, { activation, input });
                assert.equal(got.backend.name, 'native');
                assertClose(got.to('js'), want, tol, `${kernel}: [${M},${K}]x[${K},${N}] ${input ? 'static' : 'dynamic'} ${activation} bias ${!!bias}`);
              }
        }
      } finally {
        nativeAddon!.qgemmKernel('');
      }
    }
  });

  test('rescaledQuantizedLinear reads uint8 pixels as rescale(x) would give them: bit for bit, the range found past the last 64 bytes too', () => {
    // Sizes below, at and past a multiple of the 64-byte blocks the native range scan takes; the
    // smallest and largest pixel sit only in the last byte, so a scan that stops early gets
    // another dynamic scale (and other bits).
    for (const [M, K] of [[1, 5], [1, 64], [3, 37], [4, 784]]) {
      const { w, s, b } = operands([M, K], [K, 16], 16, M * K);
      const values = ints(M * K, 60, 200, M + K).map((v) => Math.min(199, Math.max(61, v)));
      values[M * K - 1] = M % 2 ? 255 : 0;
      values[M * K - 2] = M % 2 ? 3 : 250;
      const pixels = lt.tensor(Uint8Array.from(values), { shape: [M, K], backend: 'native' });
      const packed = lt.packInt8(w.to('native'), 'dense');
      // Rescaled by 1/255 and quantized at 1/255 (statically, or dynamically where the range
      // reaches 255), the table is the identity, and the kernel reads the pixels as they are.
      for (const input of [null, { scale: 0.02, zeroPoint: 40 }, { scale: 1 / 255, zeroPoint: 0 }])
        for (const r of [{ scale: 1 / 255, offset: 0 }, { scale: 2 / 255, offset: -1 }]) {
          const want = lt.quantizedLinear(lt.rescale(pixels, r.scale, r.offset), packed, s.to('native'), b.to('native'), { activation: 'relu', input }).dataSync();
          const got = rescaledQuantizedLinear(pixels, r.scale, r.offset, packed, s.to('native'), b.to('native'), { activation: 'relu', input }).dataSync();
          const differ = want.findIndex((v, k) => !Object.is(v, got[k]));
          assert.equal(differ, -1, `[${M},${K}] ${input ? 'static' : 'dynamic'} ${JSON.stringify(r)}: element ${differ} ${got[differ]} against ${want[differ]}`);
        }
    }
  });

  test('quantizedLinear keeps the batch axes: [B, T, K] in, [B, T, N] out', () => {
    const { x, w, s, b } = operands([2, 3, 8], [8, 4], 4, 1);
    const y = lt.quantizedLinear(x.to('native'), lt.packInt8(w.to('native'), 'dense'), s.to('native'), b.to('native'));
    assert.deepEqual(y.shape, [2, 3, 4]);
    assertClose(y.reshape([6, 4]).to('js'), lt.quantizedLinear(x.reshape([6, 8]), lt.packInt8(w, 'dense'), s, b), tol);
  });

  // Native runs a stride-1 conv whose kernel rows are whole 4-byte groups (KW * C % 4 == 0) with
  // the direct tile where the int8 kernel has one (AVX-512 VNNI), by image line or over the
  // flattened rows, and every other conv through patches: each case on every kernel this CPU runs.
  const convKernels = runnableKernels();

  test(`quantizedConv2d: channels 1 to 32, stride, padding, dilation, batch below and above the thread count (${convKernels.join(', ')})`, () => {
    const cases: [number[], number, number, lt.QuantizedConv2dOptions][] = [
      [[2, 1, 28, 28], 32, 3, {}],
      [[1, 1, 9, 9], 4, 5, { padding: 2 }],
      [[3, 3, 9, 11], 5, 3, { padding: [1, 2], stride: [2, 1] }],
      [[5, 32, 13, 13], 64, 3, {}], // direct, by line
      [[1, 4, 7, 7], 6, 2, { dilation: 2, padding: 1 }],
      [[2, 2, 6, 5], 3, 1, { stride: 2 }],
      [[2, 12, 9, 10], 40, 3, { padding: 1 }], // direct with padding, a partial second panel
      [[3, 20, 7, 7], 5, 1, {}], // direct over the flattened rows, two channel blocks
      [[1, 32, 30, 30], 33, 3, { padding: [0, 1] }], // one image over the threads
    ];
    for (const kernel of convKernels) {
      nativeAddon!.qgemmKernel(kernel);
      try {
        cases.forEach(([xShape, O, k, options], i) => {
          const { x, w, s, b } = operands(xShape, [O, xShape[1], k, k], O, i);
          for (const input of [null, { scale: 0.05, zeroPoint: 100 }])
            for (const activation of ['linear', 'relu', 'tanh'] as const) {
              const want = lt.quantizedConv2d(x, lt.packInt8(w, 'conv'), s, b, { ...options, activation, input });
              const got = lt.quantizedConv2d(x.to('native'), lt.packInt8(w.to('native'), 'conv'), s.to('native'), b.to('native'), { ...options, activation, input });
              assertClose(got.to('js'), want, tol, `${kernel}: conv ${xShape} O=${O} k=${k} ${JSON.stringify(options)} ${input ? 'static' : 'dynamic'} ${activation}`);
            }
        });
      } finally {
        nativeAddon!.qgemmKernel('');
      }
    }
  });

  test(`quantizedConv2dMaxPool: 2x2 windows pooled channels-last, others after, equal to the js conv then pool (${convKernels.join(', ')})`, () => {
    const cases: [number[], number, number, lt.QuantizedConv2dOptions, number, lt.Pool2dOptions][] = [
      [[3, 32, 13, 13], 64, 3, {}, 2, {}], // MNIST's second conv: an odd last line and column unread
      [[2, 8, 10, 10], 6, 3, { padding: 1 }, 2, {}],
      [[1, 1, 28, 28], 32, 3, {}, 2, {}], // MNIST's first conv (rows of 3 bytes read as 4), one image over the threads
      [[2, 3, 11, 12], 40, 3, { padding: 1 }, 2, {}], // rows of 9 bytes read as 12, a partial second panel
      [[2, 2, 9, 9], 5, 5, { padding: 2 }, 2, {}], // rows of 10 bytes read as 12
      [[1, 1, 7, 8], 3, 2, {}, 2, {}],
      [[2, 5, 9, 9], 7, 3, {}, 3, { stride: 1 }],
    ];
    for (const kernel of convKernels) {
      nativeAddon!.qgemmKernel(kernel);
      try {
        cases.forEach(([xShape, O, k, options, pool, poolOptions], i) => {
          const { x, w, s, b } = operands(xShape, [O, xShape[1], k, k], O, 40 + i);
          const input = { scale: 0.04, zeroPoint: 90 };
          const want = lt.quantizedConv2dMaxPool(x, lt.packInt8(w, 'conv'), s, b, { ...options, activation: 'relu', input }, [pool, pool], poolOptions);
          const got = lt.quantizedConv2dMaxPool(x.to('native'), lt.packInt8(w.to('native'), 'conv'), s.to('native'), b.to('native'), { ...options, activation: 'relu', input }, [pool, pool], poolOptions);
          assertClose(got.to('js'), want, tol, `${kernel}: conv ${xShape} O=${O} k=${k} pool ${pool}`);
        });
      } finally {
        nativeAddon!.qgemmKernel('');
      }
    }
  });

  test(`quantizedConvBlocks: conv-pool blocks image by image equal the js blocks one after another (${convKernels.join(', ')})`, () => {
    // [input shape, [filters, kernel, padding] per block]; relu, then linear, in the blocks.
    const cases: [number[], [number, number, number][]][] = [
      [[3, 1, 28, 28], [[32, 3, 0], [64, 3, 0]]], // MNIST's CNN
      [[1, 1, 28, 28], [[32, 3, 0], [64, 3, 0]]], // one image: the tiles spread over the threads
      [[2, 3, 20, 21], [[8, 3, 1], [40, 3, 1], [6, 2, 0]]], // three blocks, padding, a partial panel
    ];
    for (const kernel of convKernels) {
      nativeAddon!.qgemmKernel(kernel);
      try {
        cases.forEach(([xShape, specs], i) => {
          let C = xShape[1];
          const blocks = specs.map(([O, k, padding], j) => {
            const { w, s, b } = operands([1, C, k, k], [O, C, k, k], O, 60 + 10 * i + j);
            C = O;
            const options = { activation: j === 0 ? 'relu' : 'linear', padding: [padding, padding], input: { scale: 0.03 + 0.01 * j, zeroPoint: 20 + 40 * j } } as const;
            return { w, s, b, options };
          });
          const x = operands(xShape, [1, 1, 1, 1], 1, 90 + i).x;
          // Which blocks quantize dynamically: none (image by image), the first, the second (the batch block by block).
          for (const dynamic of [-1, 0, 1]) {
            const spec = (native: boolean) => blocks.map(({ w, s, b, options }, j) => ({
              w: lt.packInt8(native ? w.to('native') : w, 'conv'), wScale: native ? s.to('native') : s, bias: native ? b.to('native') : b,
              options: { ...options, input: j === dynamic ? null : options.input }, kernelSize: 2 as const,
            }));
            const want = lt.quantizedConvBlocks(x, spec(false));
            const got = lt.quantizedConvBlocks(x.to('native'), spec(true));
            assert.deepEqual(got.shape, want.shape);
            assertClose(got.to('js'), want, tol, `${kernel}: blocks on ${xShape} ${JSON.stringify(specs)} dynamic block ${dynamic}`);
          }
        });
      } finally {
        nativeAddon!.qgemmKernel('');
      }
    }
  });

  test('quantizedConvBlocks with rescale reads uint8 pixels as rescale(x) would give them: bit for bit on native, static and dynamic', () => {
    // [input shape, [filters, kernel, padding] per block]: MNIST's CNN, three channels (the lookup
    // transposes to channels-last) with padding, one block.
    const cases: [number[], [number, number, number][]][] = [
      [[3, 1, 28, 28], [[32, 3, 0], [64, 3, 0]]],
      [[2, 3, 12, 13], [[8, 3, 1], [6, 2, 0]]],
      [[2, 1, 10, 10], [[4, 3, 0]]],
    ];
    // 1e38 rescales 255 to infinity in float32: those images come out NaN, as from rescale then the blocks.
    const rescalings = [{ scale: 1 / 255, offset: 0 }, { scale: 2 / 255, offset: -1 }, { scale: 1e38, offset: 0 }];
    cases.forEach(([xShape, specs], i) => {
      let C = xShape[1];
      const blocks = specs.map(([O, k, padding], j) => {
        const { w, s, b } = operands([1, C, k, k], [O, C, k, k], O, 160 + 10 * i + j);
        C = O;
        return { w: lt.packInt8(w.to('native'), 'conv'), wScale: s.to('native'), bias: b.to('native'), padding, activation: j === 0 ? 'relu' : 'linear' } as const;
      });
      const pixels = lt.tensor(Uint8Array.from(ints(xShape.reduce((a, b) => a * b, 1), 0, 255, 200 + i)), { shape: xShape, backend: 'native' });
      for (const dynamic of [false, true]) {
        const spec = blocks.map((b, j) => ({
          w: b.w, wScale: b.wScale, bias: b.bias, kernelSize: 2 as const,
          options: { activation: b.activation, padding: [b.padding, b.padding] as [number, number], input: dynamic && j === 0 ? null : { scale: 0.02 + 0.01 * j, zeroPoint: 30 + 40 * j } },
        }));
        for (const r of rescalings) {
          const want = lt.quantizedConvBlocks(lt.rescale(pixels, r.scale, r.offset), spec).dataSync();
          const got = lt.quantizedConvBlocks(pixels, spec, { rescale: r }).dataSync();
          const what = `${xShape} ${JSON.stringify(specs)} ${dynamic ? 'dynamic' : 'static'} ${JSON.stringify(r)}`;
          assert.equal(got.length, want.length, what);
          const differ = want.findIndex((v, k) => !Object.is(v, got[k]));
          assert.equal(differ, -1, `${what}: element ${differ} ${got[differ]} against ${want[differ]}`);
          if (r.scale === 1e38) assert.ok(Number.isNaN(got[0]), `${what}: an image with an infinite pixel is NaN`);
        }
      }
    });
  });

  test('the addon refuses a conv geometry whose output extent does not follow from it (its direct tile would read past the image)', () => {
    const addon = nativeAddon!;
    const packed = addon.qPackConvWeights(new Int8Array(4 * 8 * 3 * 3), 4, 8, 3, 3);
    const x = new Float32Array(8 * 6 * 6);
    // N, C, H, W, O, Cg, KH, KW, OH, OW, sh, sw, ph, pw, dh, dw, groups
    const geometry = (OH: number) => Float64Array.of(1, 8, 6, 6, 4, 8, 3, 3, OH, 4, 1, 1, 0, 0, 1, 1, 1);
    const run = (OH: number) => addon.qConv2d(x, geometry(OH), packed, new Float32Array(4).fill(1), new Float32Array(0), 0, 0.1, 0, new Float32Array(4 * OH * 4));
    run(4);
    assert.throws(() => run(5), /qConv2d: the output extent must follow from the input, kernel, stride, padding and dilation/);
  });

  test('the addon refuses sizes under 1, a pooled extent the windows do not give (floored, as maxPool2d), a geometry not in a Float64Array', () => {
    const addon = nativeAddon!;
    const scale = new Float32Array(1).fill(1);
    // C=4, H=3, KH=3: one conv line, so a 2x2 pool has none (a truncated (1 - 2) / 2 + 1 gave one, read past the image).
    const packed = addon.qPackConvWeights(new Int8Array(4 * 3), 1, 4, 3, 1);
    const geometry = Float64Array.of(1, 4, 3, 16, 1, 4, 3, 1, 1, 16, 1, 1, 0, 0, 1, 1, 1);
    const pooling = (PH: number) => Float64Array.of(1, 1, 16, PH, 8, 2, 2, 2, 2, 0, 0);
    const x = new Float32Array(4 * 3 * 16);
    addon.qConv2d(x, geometry, packed, scale, new Float32Array(0), 0, 1, 0, new Float32Array(0), pooling(0));
    assert.throws(() => addon.qConv2d(x, geometry, packed, scale, new Float32Array(0), 0, 1, 0, new Float32Array(8), pooling(1)), /qConv2d: the pooling must fit the conv's output/);
    assert.throws(() => addon.qConvBlocks(x, 1, new Float32Array(8), 0, 0, geometry, packed, scale, new Float32Array(0), 0, 1, 0, pooling(1)), /qConvBlocks: the pooling must fit/);
    // Negative sizes whose products still match the weights and the input (C=-4, W=-16).
    const negative = Float64Array.of(1, -4, 3, -16, 1, -4, -3, 1, 1, 16, 1, 1, 0, 0, 1, 1, 1);
    assert.throws(() => addon.qConv2d(x, negative, packed, scale, new Float32Array(0), 0, 1, 0, new Float32Array(16)), /qConv2d: the geometry does not match the packed weights \(sizes at least 1/);
    // A geometry in another typed array (its bytes read as 17 doubles would run past it), and weights that are not packed.
    assert.throws(() => addon.qConv2d(x, Uint8Array.from(geometry) as unknown as Float64Array, packed, scale, new Float32Array(0), 0, 1, 0, new Float32Array(16)), /geometry needs a Float64Array of 17 numbers/);
    assert.throws(() => addon.qConv2d(x, geometry, { packed }, scale, new Float32Array(0), 0, 1, 0, new Float32Array(16)), /argument 2 must be packed int8 weights/);
  });

  test('a negative or infinite weight scale: the fused conv and pool pool after dequantizing, as the two ops', () => {
    // The pooled tile takes the max of the int32 sums, which a negative scale turns into a min.
    const { x, w, s, b } = operands([2, 4, 10, 10], [8, 4, 3, 3], 8, 77);
    const scales = s.dataSync().slice();
    scales[1] = -scales[1];
    scales[5] = Infinity;
    const odd = lt.tensor(scales, { shape: [8], backend: 'js' });
    const options = { activation: 'linear', input: { scale: 0.05, zeroPoint: 100 } } as const;
    const want = lt.maxPool2d(lt.quantizedConv2d(x, lt.packInt8(w, 'conv'), odd, b, options), 2);
    const got = lt.quantizedConv2dMaxPool(x.to('native'), lt.packInt8(w.to('native'), 'conv'), odd.to('native'), b.to('native'), options, 2);
    const [g, e] = [got.dataSync(), want.dataSync()];
    for (let i = 0; i < e.length; i++) if (!Object.is(g[i], e[i]) && Math.abs(g[i] - e[i]) > 1e-5 * Math.abs(e[i]) + 1e-5) assert.fail(`element ${i}: ${g[i]}, want ${e[i]}`);
  });

  test('a row holding NaN or Inf comes out NaN, and leaves the other rows as they were', () => {
    const { x, w, s, b } = operands([4, 16], [16, 3], 3, 9);
    const data = x.dataSync();
    data[16 + 5] = NaN;
    data[48 + 2] = Infinity;
    for (const backend of ['js', 'native']) {
      const xb = lt.tensor(data, { shape: [4, 16], backend });
      const y = lt.quantizedLinear(xb, lt.packInt8(w.to(backend), 'dense'), s.to(backend), b.to(backend)).dataSync();
      for (let r = 0; r < 4; r++) {
        const row = Array.from(y.slice(r * 3, r * 3 + 3));
        assert.ok(r === 1 || r === 3 ? row.every(Number.isNaN) : row.every(Number.isFinite), `${backend} row ${r}: ${row}`);
      }
    }
  });

  test('an all-zero input (dynamic range 0) and an all-zero weight channel give the bias, never NaN', () => {
    const w = lt.zeros([6, 2], { dtype: 'int8' });
    for (const backend of ['js', 'native']) {
      const y = lt.quantizedLinear(lt.zeros([3, 6], { backend }), lt.packInt8(w.to(backend), 'dense'), lt.ones([2], { backend }), lt.tensor([0.5, -2], { backend }));
      assert.deepEqual(Array.from(y.dataSync()), [0.5, -2, 0.5, -2, 0.5, -2]);
    }
  });

  test('bad arguments are named', () => {
    const w = lt.packInt8(lt.zeros([4, 2], { dtype: 'int8', backend: 'js' }), 'dense');
    const s = lt.ones([2], { backend: 'js' });
    assertThrowsLathe(() => lt.quantizedLinear(lt.zeros([3, 5], { backend: 'js' }), w, s, null), /quantizedLinear: expected 4 features on the input's last axis, got \[3,5\]/);
    assertThrowsLathe(() => lt.quantizedLinear(lt.zeros([3, 4], { backend: 'js' }), w, lt.ones([3], { backend: 'js' }), null), /weight scales must be float32 \[2\]/);
    assertThrowsLathe(() => lt.quantizedLinear(lt.zeros([3, 4], { backend: 'js' }), w, s, null, { input: { scale: 0, zeroPoint: 0 } }), /scale must be a positive finite number/);
    assertThrowsLathe(() => lt.quantizedLinear(lt.zeros([3, 4], { backend: 'js' }), w, s, null, { input: { scale: 1, zeroPoint: 256 } }), /zero point must be an integer in 0..255/);
    assertThrowsLathe(() => lt.quantizedLinear(lt.zeros([3, 4], { backend: 'native' }), w, s.to('native'), null), /packed for the js backend, the input is on native/);
    assertThrowsLathe(() => lt.packInt8(lt.zeros([4, 2]), 'dense'), /packInt8: expected an int8 tensor, got float32/);
  });
});
