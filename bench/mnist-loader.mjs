// MNIST loading: the time from nothing to the first training batch, i.e. read and gunzip the four
// IDX files (checksums verified), then gather 32 images and scale them to float32 / 255. Each
// round runs in a fresh process, so cold costs count. Peer: numpy doing Keras' load_data()
// (gzip + frombuffer) and the same batch. Issue 5's bar: under 1 s.
//   node bench/mnist-loader.mjs [--data DIR] [--rounds 5]
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const args = Object.fromEntries(process.argv.slice(2).reduce((acc, a, i, all) => (a.startsWith('--') ? [...acc, [a.slice(2), all[i + 1]]] : acc), []));
const dir = path.resolve(args.data ?? path.join(process.env.LATHE_DATA ?? path.join(root, '../shared/data'), 'mnist'));

if (args.once !== undefined) {
  // One measured round, in this child process: module loading is outside the timed part.
  const lt = await import(path.join(root, 'dist/src/index.js'));
  const t0 = performance.now();
  const { train } = await lt.data.datasets.mnist.load({ dir, checksum: 'error' });
  const batch = lt.indexSelect(train.images, 0, Array.from({ length: 32 }, (_, i) => i)).cast('float32').mul(1 / 255);
  const sum = batch.sum().item();
  const ms = performance.now() - t0;
  console.log(JSON.stringify({ ms, shape: batch.shape, dtype: batch.dtype, sum, rss_mb: process.memoryUsage().rss / 2 ** 20 }));
  process.exit(0);
}

const PEER = `
import gzip, sys, time, json
import numpy as np
d = sys.argv[1]
t0 = time.perf_counter()
def idx(name, offset):
    with gzip.open(f"{d}/{name}.gz", "rb") as f:
        return np.frombuffer(f.read(), np.uint8, offset=offset)
x = idx("train-images-idx3-ubyte", 16).reshape(-1, 28, 28)
y = idx("train-labels-idx1-ubyte", 8)
xt = idx("t10k-images-idx3-ubyte", 16).reshape(-1, 28, 28)
yt = idx("t10k-labels-idx1-ubyte", 8)
batch = x[:32].astype(np.float32) / 255
print(json.dumps({"ms": (time.perf_counter() - t0) * 1000, "sum": float(batch.sum())}))
`;

const rounds = Number(args.rounds ?? 5);
const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const ours = [];
const theirs = [];
let last;
let peerSum = null;
for (let r = 0; r < rounds; r++) {
  last = JSON.parse(execFileSync(process.execPath, [fileURLToPath(import.meta.url), '--once', '1', '--data', dir], { encoding: 'utf8' }).trim());
  ours.push(last.ms);
  try {
    const peer = JSON.parse(execFileSync('/usr/bin/python3', ['-c', PEER, dir], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim());
    theirs.push(peer.ms);
    peerSum = peer.sum;
  } catch {
    // numpy is optional
  }
}
const l = median(ours);
const p = theirs.length ? median(theirs) : null;
console.log(JSON.stringify({
  bench: 'mnist-loader', what: 'read+gunzip+sha256 4 IDX files, first batch of 32 as float32/255', rounds,
  lathe_median_ms: +l.toFixed(1), lathe_first_ms: +ours[0].toFixed(1), batch_shape: last.shape, batch_dtype: last.dtype, rss_mb: +last.rss_mb.toFixed(0),
  peer: p === null ? null : 'numpy-gzip (keras load_data)', peer_median_ms: p === null ? null : +p.toFixed(1), ratio: p === null ? null : +(p / l).toFixed(2),
  // the same batch on both sides: its float32 sums agree to rounding
  batch_matches_peer: peerSum === null ? null : Math.abs(last.sum - peerSum) <= 1e-4 * Math.abs(peerSum),
  under_1s: l < 1000,
}));
