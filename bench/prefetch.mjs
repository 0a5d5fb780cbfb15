// Dataset.prefetch: a pipeline whose elements come from zlib's async gunzip (libuv's thread
// pool) beside a consumer doing synchronous compute of about the same length (a float32 matmul
// on one thread, as a training step blocks the JS thread). Without prefetch the two add up;
// with it the gunzip of the next chunk runs during the step. One JSON line; ratio = time
// without / time with prefetch (2 would be perfect overlap of equal halves).
// gunzip runs with chunkSize = the chunk's size: with zlib's default 16 KiB each piece of
// output returns to the JS thread before the next starts, so a blocked thread stalls it; the
// default_chunk figures show that case (slower, and little overlap).
//   node bench/prefetch.mjs [--chunks 24] [--images 2000] [--rounds 3] [--depth 2]
import { promisify } from 'node:util';
import { gunzip, gzipSync } from 'node:zlib';
import * as lt from '../dist/src/index.js';

const args = Object.fromEntries(process.argv.slice(2).reduce((acc, a, i, all) => (a.startsWith('--') ? [...acc, [a.slice(2), all[i + 1]]] : acc), []));
const chunks = Number(args.chunks ?? 24);
const images = Number(args.images ?? 2000);
const rounds = Number(args.rounds ?? 3);
const depth = Number(args.depth ?? 2);
const gunzipAsync = promisify(gunzip);
const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

// MNIST-like chunks: 28x28 bytes per image, a dark noisy background and one bright block, so
// that gzip compresses them about as much as the real files (about 4x).
let seed = 1;
const rnd = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
const compressed = Array.from({ length: chunks }, () => {
  const bytes = new Uint8Array(images * 784);
  for (let i = 0; i < images; i++) {
    const [r0, c0] = [Math.floor(rnd() * 20), Math.floor(rnd() * 20)];
    for (let p = 0; p < 784; p++) {
      const [r, c] = [Math.floor(p / 28), p % 28];
      bytes[i * 784 + p] = r >= r0 && r < r0 + 8 && c >= c0 && c < c0 + 8 ? 128 + Math.floor(rnd() * 128) : rnd() < 0.8 ? 0 : Math.floor(rnd() * 32);
    }
  }
  return gzipSync(bytes);
});

const chunkBytes = images * 784;
const source = (options = { chunkSize: chunkBytes }) => lt.data.Dataset.fromArray(compressed).map((c) => gunzipAsync(c, options));

// The consumer: matmuls on one thread (so the other core is free for zlib), sized to take as
// long as one gunzip, the case where overlap matters most.
lt.setNumThreads(1);
const a = lt.rand([256, 256], { generator: new lt.Generator(1) });
const time = async (fn) => {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
};
const produceRuns = [];
for (let r = 0; r < 3; r++) produceRuns.push((await time(async () => { for await (const _ of source()); })) / chunks);
const produceMs = median(produceRuns);
const matmulMs = median(Array.from({ length: 5 }, () => {
  const t0 = performance.now();
  for (let i = 0; i < 10; i++) lt.matmul(a, a);
  return (performance.now() - t0) / 10;
}));
const reps = Math.max(1, Math.round(produceMs / matmulMs));
const step = (bytes) => {
  if (bytes.length !== images * 784) throw new Error('bad chunk');
  for (let i = 0; i < reps; i++) lt.matmul(a, a);
};
const consumeMs = median(Array.from({ length: 5 }, () => {
  const t0 = performance.now();
  step(new Uint8Array(images * 784));
  return performance.now() - t0;
}));

const epoch = (ds) => time(async () => { for await (const x of ds) step(x); });
const serial = [];
const overlapped = [];
const serialDefault = [];
const overlappedDefault = [];
for (let r = 0; r < rounds; r++) {
  serial.push(await epoch(source()));
  overlapped.push(await epoch(source().prefetch(depth)));
  serialDefault.push(await epoch(source({})));
  overlappedDefault.push(await epoch(source({}).prefetch(depth)));
}
const s = median(serial);
const p = median(overlapped);
const [sd, pd] = [median(serialDefault), median(overlappedDefault)];
console.log(JSON.stringify({
  bench: 'prefetch', producer: 'zlib.gunzip (async) of MNIST-like chunks', consumer: `float32 matmul 256x256 x${reps}, 1 thread`,
  chunks, chunk_mb: +((images * 784) / 2 ** 20).toFixed(2), depth,
  produce_ms: +produceMs.toFixed(2), consume_ms: +consumeMs.toFixed(2),
  serial_ms: +s.toFixed(1), prefetch_ms: +p.toFixed(1), ideal_ms: +(chunks * Math.max(produceMs, consumeMs) + Math.min(produceMs, consumeMs)).toFixed(1),
  ratio: +(s / p).toFixed(2),
  default_chunk: { serial_ms: +sd.toFixed(1), prefetch_ms: +pd.toFixed(1), ratio: +(sd / pd).toFixed(2) },
}));
