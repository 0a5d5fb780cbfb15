// `lathe serve` under load (issue 7, acceptance 4): autocannon against the brief's MLP (784-128-10)
// with batching off and on, at concurrency 1, 16 and 64, beside a bare node:http server that
// parses the same JSON into a Float32Array and answers a constant: the ceiling. Each server is
// its own process; autocannon runs in this one. One JSON line per case.
// --only worker-ab instead compares the "lathe-worker" runtime with the in-process "lathe" at
// concurrency 1, request by request, interleaved so the shared machine's drift hits both alike.
//   node bench/serve.mjs [--seconds 5] [--only worker-ab [--pairs 3000]]
import autocannon from 'autocannon';
import { spawn } from 'node:child_process';
import * as http from 'node:http';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as lt from '../dist/src/index.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const args = Object.fromEntries(process.argv.slice(2).reduce((acc, a, i, all) => (a.startsWith('--') ? [...acc, [a.slice(2), all[i + 1]]] : acc), []));
const seconds = Number(args.seconds ?? 5);

// The brief's model (untrained weights serve as well for timing), saved twice: batching off and on.
const repo = fs.mkdtempSync(path.join(os.tmpdir(), 'lathe-serve-bench-'));
lt.manualSeed(0);
const model = new lt.Sequential([new lt.layers.Dense(128, { activation: 'relu', inputShape: [784] }), new lt.layers.Dense(10, { activation: 'softmax' })]);
lt.save(model, path.join(repo, 'mlp', '1'));
lt.save(model, path.join(repo, 'mlp-batched', '1'));
fs.writeFileSync(path.join(repo, 'mlp-batched', 'config.json'), JSON.stringify({ batching: { maxBatchSize: 32, maxQueueDelayMicroseconds: 500, maxQueueSize: 1024 } }));
lt.save(model, path.join(repo, 'mlp-worker', '1'));
fs.writeFileSync(path.join(repo, 'mlp-worker', 'config.json'), JSON.stringify({ runtime: 'lathe-worker' }));
const instance = Array.from({ length: 784 }, (_, i) => (i % 255) / 255);
const body = JSON.stringify({ instances: [instance] });
const x = lt.tensor(Float32Array.from(instance), { shape: [1, 784] });
for (let i = 0; i < 200; i++) model.predict(x);
const t0 = performance.now();
for (let i = 0; i < 2000; i++) model.predict(x);
const inProcessUs = ((performance.now() - t0) * 1000) / 2000;

const BARE = `
const http = require('node:http');
http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c)).on('end', () => {
    const rows = JSON.parse(Buffer.concat(chunks).toString('utf8')).instances;
    const x = Float32Array.from(rows.flat());
    const out = JSON.stringify({ predictions: [[x.length]] });
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(out) });
    res.end(out);
  });
}).listen(0, '127.0.0.1', function () { console.log(JSON.stringify({ listening: 'http://127.0.0.1:' + this.address().port })); });`;

function start(argv) {
  const child = spawn(process.execPath, argv, { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve) => {
    child.stdout.once('data', (d) => resolve({ child, url: JSON.parse(String(d).split('\n')[0]).listening }));
  });
}

async function load(url, connections) {
  const r = await autocannon({ url, method: 'POST', body, headers: { 'content-type': 'application/json' }, connections, duration: seconds });
  return { requests: r.requests.sent, rps: Math.round(r.requests.average), mean_ms: +r.latency.average.toFixed(3), p50_ms: r.latency.p50, p99_ms: r.latency.p99, non2xx: r.non2xx, errors: r.errors };
}

/** One POST on a kept-alive connection; resolves with its round-trip time in microseconds. */
function timedPost(agent, url) {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const req = http.request(url, { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
      res.resume();
      res.once('end', () => (res.statusCode === 200 ? resolve(Number(process.hrtime.bigint() - t0) / 1000) : reject(new Error(`status ${res.statusCode}`))));
    });
    req.once('error', reject);
    req.end(body);
  });
}

const median = (v) => [...v].sort((p, q) => p - q)[Math.floor(v.length / 2)];

/**
 * mlp (in-process "lathe") against mlp-worker ("lathe-worker") at concurrency 1, request by
 * request: A and B alternate (the order flips every pair), so load from elsewhere on the machine
 * hits both alike; the figure is the median of the paired differences.
 */
async function workerAB(url) {
  const pairs = Number(args.pairs ?? 3000);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const a = `${url}/v1/models/mlp:predict`;
  const b = `${url}/v1/models/mlp-worker:predict`;
  for (let i = 0; i < 300; i++) await timedPost(agent, i % 2 ? a : b); // warm both paths and the connection
  const usA = [];
  const usB = [];
  const diffs = [];
  for (let i = 0; i < pairs; i++) {
    const [first, second] = i % 2 ? [a, b] : [b, a];
    const t1 = await timedPost(agent, first);
    const t2 = await timedPost(agent, second);
    const [ta, tb] = first === a ? [t1, t2] : [t2, t1];
    usA.push(ta);
    usB.push(tb);
    diffs.push(tb - ta);
  }
  agent.destroy();
  console.log(JSON.stringify({
    bench: 'serve-worker-ab', connections: 1, pairs,
    lathe_median_us: Math.round(median(usA)), lathe_worker_median_us: Math.round(median(usB)),
    median_paired_overhead_us: Math.round(median(diffs)), in_process_inference_us: +inProcessUs.toFixed(1),
  }));
}

const sent = { mlp: 0, 'mlp-batched': 0 };
const bare = await start(['-e', BARE]);
const lathe = await start([path.join(root, 'bin', 'lathe.js'), 'serve', '--model-repository', repo, '--port', '0']);
try {
  if (args.only === 'worker-ab') {
    await workerAB(lathe.url);
  } else await mainCases();
} finally {
  bare.child.kill('SIGTERM');
  lathe.child.kill('SIGTERM');
  fs.rmSync(repo, { recursive: true, force: true });
}

async function mainCases() {
  for (const c of [1, 16, 64]) {
    const ceiling = await load(bare.url, c);
    console.log(JSON.stringify({ bench: 'serve', target: 'bare-node-http', connections: c, ...ceiling }));
    for (const name of ['mlp', 'mlp-batched']) {
      const r = await load(`${lathe.url}/v1/models/${name}:predict`, c);
      sent[name] += r.requests;
      console.log(JSON.stringify({
        bench: 'serve', target: name, connections: c, ...r,
        ratio_to_ceiling: +(r.rps / ceiling.rps).toFixed(3),
        // At concurrency 1 a request's time is 1/rps (autocannon reports latency in whole ms): what the
        // server adds beyond the bare server's HTTP and JSON work and the model's own time.
        ...(c === 1 ? { in_process_us: +inProcessUs.toFixed(1), overhead_beyond_ceiling_and_inference_us: Math.round(1e6 / r.rps - 1e6 / ceiling.rps - inProcessUs) } : {}),
      }));
    }
  }
  // Acceptance 5: the server's own counts of successful predictions against what autocannon got back.
  await new Promise((r) => setTimeout(r, 200));
  const metrics = await (await fetch(`${lathe.url}/metrics`)).text();
  const counted = (model) => metrics.split('\n').filter((l) => l.startsWith('lathe_requests_total{') && l.includes(`model="${model}"`) && l.includes('outcome="success"')).reduce((n, l) => n + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
  console.log(JSON.stringify({ bench: 'serve-metrics', sent_by_client: sent, counted_by_server: { mlp: counted('mlp'), 'mlp-batched': counted('mlp-batched') } }));
}
