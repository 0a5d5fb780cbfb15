// `lathe serve --ui` (issue 8, the serving view): the dashboard mounted in the model server.
// GET /api/serving lists the repository's models with their states and labels, and after some
// predicts a nonzero request rate with latency percentiles measured by the server itself;
// without --ui, /ui and /api stay 404 like any unknown path. One test runs the real CLI.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type RunningServer, startServer } from '../../src/serve/http/server.js';
import { startListening } from '../cli-process.js';
import { buildRepository, type Fixture, pixels } from '../serve/repository-fixture.js';


let fx: Fixture;
before(async () => (fx = await buildRepository()));
after(() => fs.rmSync(fx.root, { recursive: true, force: true }));

const predictBody = JSON.stringify({ instances: pixels(1, 5).toArray() });
const predict = (url: string, model = 'mlp') => fetch(`${url}/v1/models/${model}:predict`, { method: 'POST', body: predictBody }).then((r) => r.arrayBuffer().then(() => r.status));

interface Snapshot {
  models: Array<{ name: string; versions: Array<{ version: string; state: string; ready: boolean; labels?: string[]; error?: string }>; requestRate: number; latencyMs: { p50: number | null; p99: number | null }; meanBatchSize: number | null }>;
}

describe('startServer with ui', () => {
  let srv: RunningServer;
  before(async () => {
    fs.mkdirSync(path.join(fx.root, 'batched', '1'), { recursive: true });
    fs.cpSync(path.join(fx.root, 'mlp', '2'), path.join(fx.root, 'batched', '1'), { recursive: true });
    fs.writeFileSync(path.join(fx.root, 'batched', 'config.json'), JSON.stringify({ batching: { maxBatchSize: 8, maxQueueDelayMicroseconds: 20000 } }));
    srv = await startServer({ repository: fx.root, port: 0, ui: {} });
  });
  after(async () => {
    await srv?.close();
    fs.rmSync(path.join(fx.root, 'batched'), { recursive: true, force: true });
  });

  test('/api/serving shows every model, its versions\' states and labels, and no traffic yet', async () => {
    const r = await fetch(`${srv.url}/api/serving`);
    assert.equal(r.status, 200);
    const s = (await r.json()) as Snapshot;
    assert.deepEqual(s.models.map((m) => m.name), ['batched', 'broken', 'mlp', 'mlp-onnx', 'old']);
    const mlp = s.models.find((m) => m.name === 'mlp')!;
    assert.deepEqual(mlp.versions.map((v) => [v.version, v.state, v.ready, v.labels]), [['2', 'AVAILABLE', true, ['canary']], ['1', 'AVAILABLE', true, ['stable']]]);
    const broken = s.models.find((m) => m.name === 'broken')!;
    assert.deepEqual(broken.versions.map((v) => [v.version, v.state, v.ready]), [['2', 'AVAILABLE', true], ['1', 'END', false]]);
    assert.match(broken.versions[1].error!, /model\.json/);
    assert.deepEqual([mlp.requestRate, mlp.latencyMs, mlp.meanBatchSize], [0, { p50: null, p99: null }, null]);
    const info = await (await fetch(`${srv.url}/api/info`)).json();
    assert.deepEqual([info.serving, info.runs], [true, false]);
  });

  test('after predicts: a request rate that counts them, latency percentiles in order, and batch sizes for a batched model', async () => {
    const t0 = performance.now();
    for (let i = 0; i < 12; i++) assert.equal(await predict(srv.url), 200);
    assert.equal((await fetch(`${srv.url}/v1/models/mlp:predict`, { method: 'POST', body: '{"instances": [[1]]}' })).status, 400);
    // Eight requests at once against a batcher that waits up to 20 ms for eight: batches of more than one.
    assert.deepEqual(await Promise.all(Array.from({ length: 8 }, () => predict(srv.url, 'batched'))), Array(8).fill(200));
    const elapsed = (performance.now() - t0) / 1000;
    const s = (await (await fetch(`${srv.url}/api/serving`)).json()) as Snapshot;
    const mlp = s.models.find((m) => m.name === 'mlp')!;
    // 13 requests (the 400 included), all inside the 10 s window, divided by at most 10 s.
    assert.ok(elapsed < 9 && mlp.requestRate >= 13 / 10, `rate ${mlp.requestRate} after 13 requests in ${elapsed.toFixed(2)} s`);
    const { p50, p99 } = mlp.latencyMs;
    assert.ok(p50 !== null && p99 !== null && p50 > 0 && p50 <= p99 && p99 < elapsed * 1000, `p50 ${p50} p99 ${p99}`);
    assert.equal(mlp.meanBatchSize, null, 'unbatched: no batch sizes');
    const batched = s.models.find((m) => m.name === 'batched')!;
    assert.ok(batched.meanBatchSize !== null && batched.meanBatchSize > 1 && batched.meanBatchSize <= 8, `mean batch ${batched.meanBatchSize}`);
    assert.equal(s.models.find((m) => m.name === 'old')!.requestRate, 0);
  });

  test('the page and its API are read-only; the model APIs still answer', async () => {
    const page = await fetch(`${srv.url}/ui/`);
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type')!, /text\/html/);
    assert.equal((await fetch(`${srv.url}/api/serving`, { method: 'POST' })).status, 405);
    assert.equal((await fetch(`${srv.url}/api/runs/x`)).status, 404);
    assert.equal((await fetch(`${srv.url}/v2/health/ready`)).status, 200);
  });
});

test('without ui, /ui and /api are 404 like any unknown path', async () => {
  const srv = await startServer({ repository: fx.root, port: 0 });
  try {
    for (const p of ['/ui/', '/ui', '/api/serving', '/api/info']) {
      const r = await fetch(`${srv.url}${p}`);
      assert.equal(r.status, 404, p);
      assert.match(((await r.json()) as { error: string }).error, /no route/);
    }
  } finally {
    await srv.close();
  }
});

test('lathe serve --ui prints the page\'s URL and serves /api/serving with the traffic it saw', async () => {
  const { child, info, exited, stderr } = await startListening(['serve', '--model-repository', fx.root, '--port', '0', '--ui']);
  try {
    const { listening, ui } = info;
    assert.equal(ui, `${listening}/ui/`);
    for (let i = 0; i < 5; i++) assert.equal(await predict(listening), 200);
    const s = (await (await fetch(`${listening}/api/serving`)).json()) as Snapshot;
    const mlp = s.models.find((m) => m.name === 'mlp')!;
    assert.equal(mlp.versions[0].state, 'AVAILABLE');
    assert.equal(mlp.versions[0].ready, true);
    assert.ok(mlp.requestRate >= 5 / 10, `rate ${mlp.requestRate}`);
  } finally {
    child.kill('SIGTERM');
  }
  assert.equal(await exited, 0, stderr());
});
