// The int8 GEMM (u8 x s8 -> int32; VNNI, AVX2 or portable) beside Lathe's float32 GEMM and ONNX
// Runtime's int8 MatMul (a one-node MatMulInteger model: uint8 A input, int8 B initializer, uint8
// A zero point, int32 output) at the same shapes, in one process, the methods alternating sample
// by sample (the order rotating each round) so that this shared machine's noise hits all alike.
// Issue 10, acceptance point 2: int8 >= 2x float32 at 1024 and 2048, and >= 1.3x ORT's int8.
//
// Timed, per case (M x N x K):
//   float       addon.matmul into a preallocated Float32Array (the kernel, as qGemmInt32 is)
//   float_api   lt.matmul on float32 tensors (allocates its output)
//   int8        addon.qGemmInt32 into a preallocated Int32Array; the weights packed once, outside
//               the timing (a layer packs them once when it loads)
//   int8_fused  lt.quantizedLinear: float in, the input quantized dynamically (min/max scan and
//               rounding), int8 GEMM, dequantized float out; what a quantized Dense costs
//   ort         ORT session.run, intraOpNumThreads = lt.getNumThreads(), ORT's default spinning
//   ort_nospin  the same with allow_spinning 0 (bench/onnx-inference.mjs's ORT_SPIN=0)
// Before timing, each case checks 256 sampled elements of Lathe's int32 output against a JS loop
// (a difference throws, exit status 1) and counts where ORT's outputs differ from it: none with
// VNNI; without it ORT's u8 x s8 kernel saturates (ort_mismatches in the JSON line).
// Throughput is 2*M*N*K / seconds (GFLOP/s for float, GOP/s for int8); ratios above 1: the first
// named is faster. ratio_int8_vs_ort uses the faster of ORT's two configurations.
//   LATHE_NUM_THREADS=1 node bench/int8-gemm.mjs [--cases 512,1024,2048,32x128x784] [--samples 7] [--sample-ms 60]
// A case is a square size N or MxNxK (32x128x784: the brief's MLP's first layer at batch 32).
import * as os from 'node:os';
import * as ort from 'onnxruntime-node';
import * as lt from '../dist/src/index.js';
import { nativeAddon as addon } from '../dist/src/backends/registry.js';
import { ModelProto } from '../dist/src/io/onnx/schema.js';
import { callsPerSample, median, sample } from './timing.mjs';

const argStr = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : dflt;
};
const SAMPLES = Number(argStr('samples', 7));
const SAMPLE_MS = Number(argStr('sample-ms', 60));
const CASES = argStr('cases', '512,1024,2048,32x128x784').split(',').map((c) => {
  const d = c.split('x').map(Number);
  const [M, N, K] = d.length === 1 ? [d[0], d[0], d[0]] : d;
  if (![M, N, K].every((v) => Number.isInteger(v) && v > 0)) throw new Error(`bad case ${c}: a size N or MxNxK`);
  return { M, N, K };
});

if (!addon) throw new Error('int8-gemm: the native addon is not loaded (build it first); this bench measures its kernels');
const THREADS = lt.getNumThreads();
const { gemmKernel } = addon.info();
const qgemmKernel = addon.qgemmKernel();

const pause = (ms) => new Promise((r) => setTimeout(r, ms));
const load = () => os.loadavg().map((v) => +v.toFixed(2));


/** A one-node MatMulInteger model: y[M,N] int32 = (a[M,K] uint8 - aZero) x b[K,N] int8 (initializer). */
function matMulIntegerModel(M, N, K, b, aZero) {
  const raw = (t) => new Uint8Array(t.buffer, t.byteOffset, t.byteLength);
  const vi = (name, elemType, dims) => ({ name, type: { tensorType: { elemType, shape: { dim: dims.map((d) => ({ dimValue: d })) } } } });
  const msg = ModelProto.fromObject({
    irVersion: 8,
    opsetImport: [{ domain: '', version: 13 }],
    graph: {
      name: 'int8_gemm',
      node: [{ opType: 'MatMulInteger', input: ['a', 'b', 'a_zero'], output: ['y'] }],
      input: [vi('a', 2, [M, K])],
      output: [vi('y', 6, [M, N])],
      initializer: [
        { name: 'b', dataType: 3, dims: [K, N], rawData: raw(b) },
        { name: 'a_zero', dataType: 2, dims: [], rawData: Uint8Array.of(aZero) },
      ],
    },
  });
  return ModelProto.encode(msg).finish();
}

function ortSession(bytes, spin) {
  return ort.InferenceSession.create(bytes, {
    intraOpNumThreads: THREADS,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
    ...(spin ? {} : { extra: { session: { intra_op: { allow_spinning: '0' } } } }),
  });
}

// How many of ORT's int32 outputs differ from Lathe's. None on a CPU with VNNI; without it ORT's
// uint8 x int8 kernel sums products pairwise in int16 (vpmaddubsw) and saturates, so some do, and
// the JSON line says so (ort_mismatches) instead of stopping: Lathe's own exactness is checked
// against the JS loop below, which throws.
function mismatches(what, got, expected) {
  if (got.length !== expected.length) throw new Error(`int8-gemm: ${what}: ${got.length} elements against ${expected.length}`);
  let n = 0;
  for (let i = 0; i < got.length; i++) n += got[i] !== expected[i] ? 1 : 0;
  return n;
}

for (const { M, N, K } of CASES) {
  const loadBefore = load();
  const gen = (seed) => ({ generator: new lt.Generator(seed) });
  // Float operands, and the int8 problem made from them as a quantized layer would: the input
  // quantized dynamically to uint8 (a zero point near 128), the weights full-range int8 (both
  // extremes present, the kernels' saturation edges).
  const xF = lt.uniform([M, K], -1, 1, gen(1));
  const wF = lt.uniform([K, N], -1, 1, gen(2));
  const wQ = lt.randint(-128, 128, [K, N], gen(3)).cast('int8');
  const wScale = lt.uniform([N], 0.001, 0.01, gen(4));
  const a = new Uint8Array(M * K);
  const [, aZero] = addon.quantizeU8(xF.dataSync(), a, 0, 0);
  const b = wQ.dataSync();
  b[0] = -128;
  b[b.length - 1] = 127;
  a[0] = 255;
  a[a.length - 1] = 0;

  const packed = addon.qPackWeights(b, K, N, false);
  const packedPublic = lt.packInt8(wQ, 'dense');
  const outI = new Int32Array(M * N);
  const outF = new Float32Array(M * N);
  const [fa, fb] = [xF.dataSync(), wF.dataSync()];
  const off0 = new Float64Array(1);
  const model = matMulIntegerModel(M, N, K, b, aZero);
  const sessions = { ort: await ortSession(model, true), ort_nospin: await ortSession(model, false) };
  const feeds = { a: new ort.Tensor('uint8', a, [M, K]) };

  // Exactness, once per case: Lathe's int32 against each ORT session, all elements, and against
  // a plain JS loop on sampled elements (so the two cannot agree on a common mistake).
  addon.qGemmInt32(a, M, aZero, packed, outI);
  let ortMismatches = 0;
  for (const [name, s] of Object.entries(sessions)) ortMismatches = Math.max(ortMismatches, mismatches(`${M}x${N}x${K} against ${name}`, outI, (await s.run(feeds)).y.data));
  const rng = new lt.Generator(5);
  const picks = lt.randint(0, M * N, [256], { generator: rng }).dataSync();
  for (const p of picks) {
    const [i, j] = [Math.floor(p / N), p % N];
    let s = 0;
    for (let k = 0; k < K; k++) s += (a[i * K + k] - aZero) * b[k * N + j];
    if (s !== outI[p]) throw new Error(`int8-gemm: ${M}x${N}x${K}: element [${i}, ${j}] is ${outI[p]}, the reference loop ${s}`);
  }

  const methods = {
    float: () => addon.matmul(fa, fb, outF, off0, off0, M, N, K, false, false),
    float_api: () => lt.matmul(xF, wF).dispose(),
    int8: () => addon.qGemmInt32(a, M, aZero, packed, outI),
    int8_fused: () => lt.quantizedLinear(xF, packedPublic, wScale, null).dispose(),
    ort: async () => (await sessions.ort.run(feeds)).y.data,
    ort_nospin: async () => (await sessions.ort_nospin.run(feeds)).y.data,
  };
  const names = Object.keys(methods);
  const calls = {};
  for (const n of names) {
    await methods[n](); // warm: first-touch of outputs, ORT's arena
    calls[n] = await callsPerSample(methods[n], SAMPLE_MS);
    await pause(100);
  }
  const us = Object.fromEntries(names.map((n) => [n, []]));
  for (let s = 0; s < SAMPLES; s++) {
    for (let r = 0; r < names.length; r++) {
      const n = names[(r + s) % names.length];
      us[n].push(await sample(methods[n], calls[n]));
      // ORT's idle threads keep spinning (about 40 ms of CPU) after a run; 100 ms lets them stop
      // before the next method's sample. The same pause after every method keeps it even.
      await pause(100);
    }
  }
  const med = Object.fromEntries(names.map((n) => [n, median(us[n])]));
  const ops = 2 * M * N * K;
  const rate = (n) => +(ops / med[n] / 1e3).toFixed(1); // ops per us / 1e3 = G per s
  const ortBest = Math.min(med.ort, med.ort_nospin);
  console.log(JSON.stringify({
    bench: 'int8-gemm', M, N, K,
    lathe_float_gflops: rate('float'), lathe_float_api_gflops: rate('float_api'),
    lathe_int8_gops: rate('int8'), lathe_int8_fused_gops: rate('int8_fused'),
    ort_int8_gops: rate('ort'), ort_int8_nospin_gops: rate('ort_nospin'),
    ratio_int8_vs_float: +(med.float / med.int8).toFixed(3),
    ratio_int8_fused_vs_float_api: +(med.float_api / med.int8_fused).toFixed(3),
    ratio_int8_vs_ort: +(ortBest / med.int8).toFixed(3),
    ratio_int8_vs_ort_spin: +(med.ort / med.int8).toFixed(3),
    ratio_int8_vs_ort_nospin: +(med.ort_nospin / med.int8).toFixed(3),
    ratio_int8_fused_vs_ort: +(ortBest / med.int8_fused).toFixed(3),
    median_us: Object.fromEntries(names.map((n) => [n, +med[n].toFixed(1)])),
    exact_vs_ort: ortMismatches === 0, ort_mismatches: ortMismatches, a_zero_point: aZero,
    lathe_threads: THREADS, ort_intra_op_threads: THREADS, gemm_kernel: gemmKernel, qgemm_kernel: qgemmKernel,
    peer: `onnxruntime-node ${ort.env.versions?.common ?? ''}`.trim(),
    samples: SAMPLES, loadavg_before: loadBefore, loadavg_after: load(),
  }));
  for (const s of Object.values(sessions)) await s.release();
}
