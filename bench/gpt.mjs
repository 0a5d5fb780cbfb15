// The Shakespeare GPT (examples/shakespeare-char.json: 4 layers, 4 heads, 128 embedding, block
// 64, batch 12, vocabulary 65) in one run: milliseconds per training iteration (forward, backward,
// clipping and the AdamW step; median), model FLOPs utilisation against numpy/OpenBLAS sgemm
// measured in the same run, generation tokens/s at batch 1 with and without the KV cache, and the
// same model and step in PyTorch (bench/peers/torch_gpt.py) when python3 has torch. Random tokens:
// the time of a step does not depend on the text. One JSON line per measurement.
//   node bench/gpt.mjs [--iters 40] [--rounds 3] [--tokens 256] [--threads 2] [--torch-iters 8] [--dist dist]
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const args = Object.fromEntries(process.argv.slice(2).reduce((acc, a, i, all) => (a.startsWith('--') ? [...acc, [a.slice(2), all[i + 1]]] : acc), []));
const iters = Number(args.iters ?? 40);
const rounds = Number(args.rounds ?? 3);
const genTokens = Number(args.tokens ?? 256);
const threads = String(args.threads ?? 2);
const dist = args.dist ?? 'dist';
// Debian's torch takes 1-4 s an iteration here, so it runs once, for few iterations; 0 skips it.
const torchIters = Number(args['torch-iters'] ?? 8);
const lt = await import(`${root}${dist}/src/index.js`);
const { optimizerFromConfig } = await import(`${root}${dist}/src/optim/index.js`);

const CONFIG = { nLayer: 4, nHead: 4, nEmbd: 128, dropout: 0, vocabSize: 65, blockSize: 64 };
const BATCH = 12;
const OPTIMIZER = { type: 'adamw', lr: 1e-3, beta2: 0.99, weightDecay: 0.1, globalClipNorm: 1.0 };
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return (s[(s.length - 1) >> 1] + s[s.length >> 1]) / 2; };

lt.setNumThreads(Number(threads));
const model = lt.GPT.fromConfig({ ...CONFIG, seed: 1337 });
const params = model.parameters().reduce((n, p) => n + p.size, 0);
const optimizer = optimizerFromConfig(OPTIMIZER, 'bench');
optimizer.attach(model.parameters());
const rng = new lt.Generator(1);
function batch() {
  const draw = () => lt.tensor(Int32Array.from({ length: BATCH * CONFIG.blockSize }, () => rng.nextUint32() % CONFIG.vocabSize), { shape: [BATCH, CONFIG.blockSize], dtype: 'int32' });
  return [draw(), draw()];
}
function trainIterations(n) {
  const times = [];
  for (let i = 0; i < n; i++) {
    const [x, y] = batch();
    const t0 = performance.now();
    optimizer.zeroGrad();
    const loss = lt.nextTokenLoss(model.forward(x), y);
    loss.backward();
    optimizer.step();
    loss.item();
    times.push(performance.now() - t0);
  }
  return times;
}

// numpy/OpenBLAS sgemm peak, 2048^3, with its AVX-512 kernels (the machine's settings pin
// OpenBLAS to Haswell otherwise; bench/gemm.mjs does the same).
const numpyEnv = { ...process.env, OPENBLAS_NUM_THREADS: threads };
delete numpyEnv.OPENBLAS_CORETYPE;
delete numpyEnv.OPENBLAS_L2_SIZE;
const sgemmPeak = () => JSON.parse(execFileSync('python3', [`${root}bench/peers/numpy_gemm.py`, '2048', '2048', '2048', '0', '0', '2'], { encoding: 'utf8', env: numpyEnv })).gflops;

// PyTorch peer: the same model and step, 2 threads. Debian's 1.13 build (apt-get install
// python3-torch) lives in the system python, not numpy's; without torch the column is skipped.
const torchPython = process.env.LATHE_TORCH_PYTHON ?? '/usr/bin/python3';
function torchIteration() {
  try {
    const out = execFileSync(torchPython, [`${root}bench/peers/torch_gpt.py`, String(torchIters), threads], { encoding: 'utf8', env: { ...process.env, OMP_NUM_THREADS: threads }, stdio: ['ignore', 'pipe', 'pipe'] });
    return JSON.parse(out).ms_per_iter;
  } catch (e) {
    return { skipped: String(e.stderr ?? e.message).trim().split('\n').pop() };
  }
}

trainIterations(5); // warm-up: the first iterations fill the allocator's pools
const lathe = [];
const peaks = [];
const torch = [];
for (let r = 0; r < rounds; r++) {
  lathe.push(...trainIterations(iters));
  peaks.push(sgemmPeak());
}
if (torchIters > 0) torch.push(torchIteration());
const ms = median(lathe);
const tokens = BATCH * CONFIG.blockSize;
const gflops = (6 * params * tokens) / (ms / 1e3) / 1e9;
const peak = median(peaks);
const torchMs = torch.length > 0 && torch.every((t) => typeof t === 'number') ? +median(torch).toFixed(1) : null;
console.log(JSON.stringify({
  bench: 'gpt-train', config: { ...CONFIG, batch: BATCH }, params, tokens_per_iter: tokens, threads: Number(threads), iterations: lathe.length,
  lathe_ms_per_iter: +ms.toFixed(1), model_gflops: +gflops.toFixed(1), sgemm_peak_gflops: peak, mfu: +(gflops / peak).toFixed(3),
  peer: 'pytorch-1.13', peer_ms_per_iter: torchMs, ...(torchMs === null ? { peer_skipped: torch.length ? torch[0].skipped : 'torch-iters 0' } : { ratio: +(torchMs / ms).toFixed(2) }),
}));

// Generation at batch 1: a prompt of one token, genTokens sampled, with and without the KV cache.
model.eval();
function tokensPerSecond(cache) {
  const t0 = performance.now();
  let n = 0;
  for (const _ of lt.generate(model, [0], { maxTokens: genTokens, temperature: 1, seed: 7, cache })) n++;
  return n / ((performance.now() - t0) / 1e3);
}
const cached = [];
const uncached = [];
for (let r = 0; r < rounds; r++) {
  cached.push(tokensPerSecond(true));
  uncached.push(tokensPerSecond(false));
}
const withCache = median(cached);
const without = median(uncached);
console.log(JSON.stringify({ bench: 'gpt-generate', batch: 1, tokens: genTokens, block: CONFIG.blockSize, kv_cache_tokens_per_s: +withCache.toFixed(1), no_cache_tokens_per_s: +without.toFixed(1), speedup: +(withCache / without).toFixed(2) }));
