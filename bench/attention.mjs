// Scaled dot-product attention, forward + backward, at the GPT example's shapes (B=12, H=4,
// T=64, D=32, float32): the fused op beside the same function composed from matmul, a mask
// and softmax, alternating round by round in one run. One JSON line per backend and mask.
//   node bench/attention.mjs [--iters 200] [--rounds 5]
import * as lt from '../dist/src/index.js';
import { attentionComposed } from '../dist/src/ops/attention.js';

const args = Object.fromEntries(process.argv.slice(2).reduce((acc, a, i, all) => (a.startsWith('--') ? [...acc, [a.slice(2), all[i + 1]]] : acc), []));
const iters = Number(args.iters ?? 200);
const rounds = Number(args.rounds ?? 5);
const [B, H, T, D] = [12, 4, 64, 32];
const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

function step(f, [q, k, v, w], causal) {
  const leaves = [q, k, v].map((x) => x.detach().requireGrad());
  f(leaves[0], leaves[1], leaves[2], { causal }).mul(w).sum().backward();
  return leaves[0].grad.dataSync()[0];
}

/** Mean milliseconds per forward + backward over n steps. */
function time(f, inputs, causal, n) {
  const t0 = performance.now();
  for (let i = 0; i < n; i++) step(f, inputs, causal);
  return (performance.now() - t0) / n;
}

for (const backend of lt.listBackends()) {
  lt.setBackend(backend);
  const g = new lt.Generator(1);
  const inputs = [0, 1, 2, 3].map(() => lt.randn([B, H, T, D], { generator: g }));
  const n = backend === 'js' ? Math.max(1, iters >> 4) : iters; // the js reference is slow: fewer steps
  for (const causal of [true, false]) {
    const fused = [];
    const composed = [];
    for (const f of [lt.scaledDotProductAttention, attentionComposed]) for (let i = 0; i < 3; i++) step(f, inputs, causal); // warm-up
    for (let r = 0; r < rounds; r++) {
      fused.push(time(lt.scaledDotProductAttention, inputs, causal, n));
      composed.push(time(attentionComposed, inputs, causal, n));
    }
    const [fm, cm] = [median(fused), median(composed)];
    console.log(JSON.stringify({
      bench: 'attention', backend, dtype: 'float32', B, H, T, D, causal, steps: n * rounds,
      fused_fwd_bwd_ms: +fm.toFixed(3), composed_fwd_bwd_ms: +cm.toFixed(3), speedup: +(cm / fm).toFixed(2),
    }));
  }
}
