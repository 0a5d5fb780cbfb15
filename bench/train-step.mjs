// One forward+backward+Adam step of the brief's MLP (784-128-10, batch 32): Lathe beside
// PyTorch, alternating in one run. Prints one JSON line with the ratio.
//   node bench/train-step.mjs [--rounds 3] [--steps 2000] [--threads 2]
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const args = Object.fromEntries(process.argv.slice(2).reduce((acc, a, i, all) => (a.startsWith('--') ? [...acc, [a.slice(2), all[i + 1]]] : acc), []));
const rounds = Number(args.rounds ?? 3);
const steps = String(args.steps ?? 2000);
const threads = String(args.threads ?? 2);
const run = (cmd, argv) => JSON.parse(execFileSync(cmd, argv, { encoding: 'utf8' }).trim());
const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

const ours = [];
const theirs = [];
for (let r = 0; r < rounds; r++) {
  ours.push(run(process.execPath, [`${root}bin/lathe.js`, 'bench', 'train-step', '--steps', steps, '--threads', threads]).median_us);
  try {
    theirs.push(run('/usr/bin/python3', [`${root}bench/peers/torch_train_step.py`, steps, threads]).median_us);
  } catch {
    // PyTorch is optional: apt-get install python3-torch
  }
}
const l = median(ours);
const p = theirs.length ? median(theirs) : null;
console.log(JSON.stringify({ bench: 'train-step', model: '784-128-10 relu, adam, batch 32', threads: Number(threads), steps: Number(steps), lathe_median_us: l, peer: p === null ? null : 'pytorch-1.13', peer_median_us: p, ratio: p === null ? null : +(p / l).toFixed(2) }));
