// Lathe's float32 GEMM beside numpy/OpenBLAS, in one run, alternating the two so that the
// shared machine's noise hits both alike. Prints one JSON line per case with the ratio.
//   node bench/gemm.mjs [--sizes 1024,2048,4096] [--rounds 3] [--threads 2]
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const args = Object.fromEntries(process.argv.slice(2).reduce((acc, a, i, all) => (a.startsWith('--') ? [...acc, [a.slice(2), all[i + 1]]] : acc), []));
const sizes = (args.sizes ?? '1024,2048,4096').split(',').map(Number);
const rounds = Number(args.rounds ?? 3);
const threads = String(args.threads ?? 2);

// numpy runs with OpenBLAS's AVX-512 kernels: the machine's settings pin it to Haswell otherwise.
const numpyEnv = { ...process.env, OPENBLAS_NUM_THREADS: threads };
delete numpyEnv.OPENBLAS_CORETYPE;
delete numpyEnv.OPENBLAS_L2_SIZE;

function lathe(flags) {
  const out = execFileSync(process.execPath, [`${root}bin/lathe.js`, 'bench', 'gemm', '--threads', threads, ...flags], { encoding: 'utf8' });
  return out.trim().split('\n').map((l) => JSON.parse(l));
}

function numpy(m, n, k, transA, transB, budget) {
  const out = execFileSync('python3', [`${root}bench/peers/numpy_gemm.py`, m, n, k, transA ? '1' : '0', transB ? '1' : '0', budget].map(String), { encoding: 'utf8', env: numpyEnv });
  return JSON.parse(out);
}

const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

function report(label, latheRuns, numpyRuns) {
  const l = median(latheRuns.map((r) => r.us));
  const p = median(numpyRuns.map((r) => r.us));
  const { m, n, k, transA, transB } = latheRuns[0];
  console.log(JSON.stringify({ bench: 'gemm', case: label, m, n, k, transA, transB, threads: Number(threads), kernel: latheRuns[0].kernel,
    lathe_us: l, lathe_gflops: +((2 * m * n * k) / l / 1e3).toFixed(1), peer: 'numpy-openblas', peer_us: p, peer_gflops: +((2 * m * n * k) / p / 1e3).toFixed(1), ratio: +(p / l).toFixed(3) }));
}

for (const size of sizes) {
  const ours = [];
  const theirs = [];
  for (let r = 0; r < rounds; r++) {
    ours.push(...lathe(['--size', String(size)]));
    theirs.push(numpy(size, size, size, false, false, 2));
  }
  report(`square-${size}`, ours, theirs);
}

const shapes = [['forward', 32, 128, 784, false, false], ['grad-weight', 784, 128, 32, true, false], ['grad-input', 32, 784, 128, false, true]];
const ours = Object.fromEntries(shapes.map(([name]) => [name, []]));
const theirs = Object.fromEntries(shapes.map(([name]) => [name, []]));
for (let r = 0; r < rounds; r++) {
  for (const row of lathe(['--training-shapes'])) ours[row.shape].push(row);
  for (const [name, m, n, k, ta, tb] of shapes) theirs[name].push(numpy(m, n, k, ta, tb, 1));
}
for (const [name] of shapes) report(name, ours[name], theirs[name]);
