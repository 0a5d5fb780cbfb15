// `lathe bench <name>`: micro-benchmarks that print one JSON line per case. Peers are compared
// side by side by the scripts in bench/, which call these.
import * as lt from '../index.js';
import { fail } from '../errors.js';
import { parseArgs } from './args.js';

/** Median time of fn in microseconds over enough repetitions to fill ~`budgetMs`. */
export function medianMicros(fn: () => void, budgetMs = 500, minReps = 5): number {
  for (let i = 0; i < 3; i++) fn();
  const times: number[] = [];
  const start = performance.now();
  while (times.length < minReps || (performance.now() - start < budgetMs && times.length < 100000)) {
    const t = performance.now();
    fn();
    times.push((performance.now() - t) * 1000);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

/** The brief's MLP shapes: forward x[32,784] W[784,128], and the two backward products. */
export const TRAINING_SHAPES = [
  { name: 'forward', m: 32, k: 784, n: 128, transA: false, transB: false },
  { name: 'grad-weight', m: 784, k: 32, n: 128, transA: true, transB: false },
  { name: 'grad-input', m: 32, k: 128, n: 784, transA: false, transB: true },
] as const;

function gemmCase(m: number, n: number, k: number, transA: boolean, transB: boolean, budgetMs: number) {
  const g = new lt.Generator(0);
  const a = lt.randn(transA ? [k, m] : [m, k], { generator: g });
  const b = lt.randn(transB ? [n, k] : [k, n], { generator: g });
  const x = transA ? a.transpose() : a; // the transposes are outside the timed region
  const y = transB ? b.transpose() : b;
  const run = transA || transB ? () => lt.matmulT(a, b, transA, transB) : () => lt.matmul(x, y);
  const us = lt.noGrad(() => medianMicros(run, budgetMs));
  return { op: 'gemm', m, n, k, transA, transB, threads: lt.getNumThreads(), backend: lt.getBackend().name, kernel: lt.nativeInfo()?.gemmKernel ?? 'js', gflops: +((2 * m * n * k) / us / 1e3).toFixed(2), ms: +(us / 1000).toFixed(4), us: +us.toFixed(2) };
}

function trainStep(steps: number) {
  const g = new lt.Generator(0);
  const x = lt.rand([32, 784], { generator: g });
  const y = lt.randint(0, 10, [32], { generator: g });
  const w1 = lt.randn([784, 128], { generator: g, std: 0.05 }).requireGrad();
  const b1 = lt.zeros([128]).requireGrad();
  const w2 = lt.randn([128, 10], { generator: g, std: 0.1 }).requireGrad();
  const b2 = lt.zeros([10]).requireGrad();
  const opt = new lt.Adam([w1, b1, w2, b2]);
  const step = () => {
    opt.zeroGrad();
    const logits = lt.biasActivation(lt.biasActivation(x.matmul(w1), b1, 'relu').matmul(w2), b2); // Dense layers' fused bias+activation
    lt.softmaxCrossEntropy(logits, y).backward(); // fused, as PyTorch's CrossEntropyLoss and Keras' loss are
    opt.step();
  };
  for (let i = 0; i < 50; i++) step();
  const times: number[] = [];
  for (let i = 0; i < steps; i++) {
    const t = performance.now();
    step();
    times.push((performance.now() - t) * 1000);
  }
  times.sort((a, b) => a - b);
  return { op: 'train-step', model: '784-128-10 relu, adam, batch 32', steps, backend: lt.getBackend().name, threads: lt.getNumThreads(), median_us: +times[steps >> 1].toFixed(1), p90_us: +times[Math.floor(steps * 0.9)].toFixed(1) };
}

const USAGE = `Usage:
  lathe bench gemm --size N [--threads T] [--json]     square float32 GEMM
  lathe bench gemm --training-shapes [--threads T]     the brief's MLP shapes (forward and backward)
  lathe bench train-step [--steps N] [--threads T]     one forward+backward+Adam step of the brief's MLP`;

export async function benchCommand(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  const { flags: args } = parseArgs('bench', rest, { size: 'int', threads: 'int', steps: 'int', json: 'flag', 'training-shapes': 'flag', backend: 'string' });
  if (args.backend !== undefined) lt.setBackend(args.backend as string);
  if (args.threads !== undefined) lt.setNumThreads(args.threads as number);
  const print = (o: object) => console.log(JSON.stringify(o));
  if (name === 'gemm') {
    if (args['training-shapes']) {
      for (const s of TRAINING_SHAPES) print({ shape: s.name, ...gemmCase(s.m, s.n, s.k, s.transA, s.transB, 1000) });
      return 0;
    }
    const n = (args.size as number | undefined) ?? fail('bench gemm', 'needs --size N or --training-shapes');
    print(gemmCase(n, n, n, false, false, 2000));
    return 0;
  }
  if (name === 'train-step') {
    print(trainStep((args.steps as number | undefined) ?? 2000));
    return 0;
  }
  console.error(USAGE);
  return 2;
}
