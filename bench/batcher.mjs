// The dynamic batcher alone (issue 7): a simulated model costing A + B*batch microseconds of
// busy work on the JS thread, driven by closed-loop clients at concurrency 1/16/64, batching on
// (maxBatchSize 32, delay 500 us) and off (maxBatchSize 1). One JSON line per case.
//   node bench/batcher.mjs [--a 200] [--b 10] [--seconds 1.5]
import { DynamicBatcher } from '../dist/src/serve/batcher.js';

const arg = (name, def) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const A = arg('a', 200); // fixed cost per call (kernel launch, framework overhead), microseconds
const B = arg('b', 10); // cost per example, microseconds
const SECONDS = arg('seconds', 1.5);

// Busy-wait, not a timer: Node's timers count whole milliseconds, and a synchronous kernel
// blocks the event loop just like this, which is the harder case for the batcher.
function model(items) {
  const until = performance.now() + (A + B * items.length) / 1000;
  while (performance.now() < until);
  return items.map((x) => x + 1);
}

async function runCase(batching, concurrency) {
  const batcher = new DynamicBatcher({
    maxBatchSize: batching ? 32 : 1,
    maxQueueDelayMicroseconds: batching ? 500 : 0,
    maxQueueSize: 1024,
    run: model,
  });
  const latencies = [];
  let queueSum = 0;
  let computeSum = 0;
  const end = performance.now() + SECONDS * 1000;
  const client = async () => {
    while (performance.now() < end) {
      const t0 = performance.now();
      const r = await batcher.submit([latencies.length]);
      latencies.push((performance.now() - t0) * 1000);
      queueSum += r.queueMicros;
      computeSum += r.computeMicros;
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: concurrency }, client));
  const elapsed = (performance.now() - t0) / 1000;
  await batcher.drain();
  latencies.sort((x, y) => x - y);
  const q = (p) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))];
  const s = batcher.stats();
  const batches = Object.entries(s.batchSizeCounts);
  const meanBatch = batches.reduce((acc, [k, n]) => acc + Number(k) * n, 0) / s.batchesRun;
  return {
    bench: 'batcher',
    batching: batching ? 'on' : 'off',
    concurrency,
    model_us: `${A}+${B}*batch`,
    requests: latencies.length,
    rps: Math.round(latencies.length / elapsed),
    p50_us: Math.round(q(0.5)),
    p99_us: Math.round(q(0.99)),
    mean_queue_us: Math.round(queueSum / latencies.length),
    mean_compute_us: Math.round(computeSum / latencies.length),
    mean_batch: +meanBatch.toFixed(2),
  };
}

for (const concurrency of [1, 16, 64]) {
  // Alternate on and off at each concurrency so machine noise hits both alike.
  for (const batching of [false, true]) console.log(JSON.stringify(await runCase(batching, concurrency)));
}
