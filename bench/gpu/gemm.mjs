// float32 GEMM on the webgpu backend: GFLOP/s per square size, with the adapter's description,
// beside the CPU (the native backend, else js) in the same process. One JSON line per size.
//   node bench/gpu/gemm.mjs [--sizes 256,512,1024] [--rounds 3] [--cpu-max 1024]
import * as lt from '../../dist/src/index.js';

function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
}
const sizes = arg('sizes', '256,512,1024').split(',').map(Number);
const rounds = Number(arg('rounds', '3'));
const cpuMax = Number(arg('cpu-max', '1024'));

const gpu = await lt.initWebGPU();
const cpu = lt.listBackends().includes('native') ? 'native' : 'js';

/** Best seconds per product over `rounds`, each round queueing `reps` products before one wait. */
async function timeGpu(a, b, reps) {
  await a.matmul(b).data(); // compiles the kernel and warms the pool
  let best = Infinity;
  for (let r = 0; r < rounds; r++) {
    const t0 = performance.now();
    for (let i = 0; i < reps; i++) a.matmul(b);
    await gpu.sync();
    best = Math.min(best, (performance.now() - t0) / 1000 / reps);
  }
  return best;
}

function timeCpu(a, b) {
  a.matmul(b);
  let best = Infinity;
  for (let r = 0; r < rounds; r++) {
    const t0 = performance.now();
    a.matmul(b);
    best = Math.min(best, (performance.now() - t0) / 1000);
  }
  return best;
}

for (const n of sizes) {
  const g = new lt.Generator(n);
  const a = lt.randn([n, n], { generator: g, backend: 'js' });
  const b = lt.randn([n, n], { generator: g, backend: 'js' });
  const [ga, gb] = [a.to('webgpu'), b.to('webgpu')];
  const flops = 2 * n ** 3;
  const reps = Math.max(1, Math.round(2e9 / flops)); // ~2 GFLOP per timed round
  const seconds = await timeGpu(ga, gb, reps);
  // Check the product against the CPU on the first rows (a full CPU product is slow at large n).
  const rows = Math.min(n, 8);
  const want = a.slice([0, 0], [rows, n]).to(cpu).matmul(b.to(cpu)).to('js').dataSync();
  const got = (await ga.matmul(gb).data()).subarray(0, rows * n);
  let maxErr = 0;
  for (let i = 0; i < want.length; i++) maxErr = Math.max(maxErr, Math.abs(got[i] - want[i]));
  const line = { bench: 'gpu-gemm', n, adapter: gpu.adapter.description, gflops: +(flops / seconds / 1e9).toFixed(2), ms: +(seconds * 1000).toFixed(3), max_abs_err_first_rows: +maxErr.toExponential(2) };
  if (n <= cpuMax) {
    const cpuSeconds = timeCpu(a.to(cpu), b.to(cpu));
    Object.assign(line, { peer: `lathe-${cpu}-cpu`, peer_gflops: +(flops / cpuSeconds / 1e9).toFixed(2), ratio: +(cpuSeconds / seconds).toFixed(3) });
  }
  console.log(JSON.stringify(line));
}
