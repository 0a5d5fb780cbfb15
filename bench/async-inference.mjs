// The event loop's worst stall while 8 concurrent forward passes of a 784-1024-1024-10 MLP at
// batch 256 run through the async path (issue 3: at most 5 ms), beside the same passes run
// synchronously, which block the loop for their whole duration. One JSON line.
import * as lt from '../dist/src/index.js';

async function worstDelay(work) {
  // Every millisecond, queue a setImmediate callback and note how long it waits to run. (A
  // chain of setImmediate calls would measure the same, but busy-loop a core doing it.)
  let worst = 0;
  let running = true;
  const probe = () => {
    if (!running) return;
    const queued = performance.now();
    setImmediate(() => {
      worst = Math.max(worst, performance.now() - queued);
      setTimeout(probe, 1);
    });
  };
  probe();
  const t0 = performance.now();
  await work();
  const total = performance.now() - t0;
  running = false;
  await new Promise((resolve) => setTimeout(resolve, 5)); // let a pending probe finish
  return { worst, total };
}

const g = new lt.Generator(2);
const w = [[784, 1024], [1024, 1024], [1024, 10]].map((s) => lt.randn(s, { generator: g, std: 0.03 }));
const b = [1024, 1024, 10].map((n) => lt.zeros([n]));
const x = lt.rand([256, 784], { generator: g });

async function forwardAsync() {
  let h = x;
  for (let i = 0; i < 3; i++) {
    h = (await lt.matmulAsync(h, w[i])).add(b[i]);
    if (i < 2) h = h.relu();
  }
  return h;
}

function forwardSync() {
  return lt.noGrad(() => x.matmul(w[0]).add(b[0]).relu().matmul(w[1]).add(b[1]).relu().matmul(w[2]).add(b[2]));
}

const rounds = 5;
const asyncRuns = [];
const syncRuns = [];
await forwardAsync();
for (let r = 0; r < rounds; r++) {
  asyncRuns.push(await worstDelay(() => Promise.all(Array.from({ length: 8 }, forwardAsync))));
  syncRuns.push(await worstDelay(async () => { for (let i = 0; i < 8; i++) forwardSync(); }));
}
const median = (xs) => [...xs].sort((p, q) => p - q)[xs.length >> 1];
console.log(JSON.stringify({
  bench: 'async-inference', model: '784-1024-1024-10', batch: 256, concurrent: 8, backend: lt.getBackend().name, threads: lt.getNumThreads(),
  async_worst_delay_ms: +median(asyncRuns.map((r) => r.worst)).toFixed(2),
  async_max_worst_delay_ms: +Math.max(...asyncRuns.map((r) => r.worst)).toFixed(2),
  async_total_ms: +median(asyncRuns.map((r) => r.total)).toFixed(1),
  sync_worst_delay_ms: +median(syncRuns.map((r) => r.worst)).toFixed(2),
  sync_total_ms: +median(syncRuns.map((r) => r.total)).toFixed(1),
}));
