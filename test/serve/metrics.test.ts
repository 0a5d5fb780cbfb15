// GET /metrics (issue 7, acceptance 5): Prometheus text whose request counts equal the requests
// sent, by API, model, version and outcome; invented model names are counted under model "".
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import * as lt from '../../src/index.js';
import { startServer } from '../../src/serve/http/server.js';
import { buildRepository, pixels, type Fixture } from './repository-fixture.js';

let fx: Fixture;
before(async () => {
  fx = await buildRepository();
  lt.save(fx.v2, path.join(fx.root, 'batched', '1'));
  fs.writeFileSync(path.join(fx.root, 'batched', 'config.json'), JSON.stringify({ batching: { maxBatchSize: 4, maxQueueDelayMicroseconds: 1000 } }));
});
after(() => fs.rmSync(fx.root, { recursive: true, force: true }));

/** The value of one sample line: name{labels} value. */
function sample(text: string, name: string, labels: Record<string, string>): number {
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && want.every((w) => l.includes(w)));
  return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : 0;
}

test('/metrics counts every request by outcome, and the batch, queue and compute series fill', async () => {
  const server = await startServer({ repository: fx.root, port: 0 });
  try {
    const row = (pixels(1, 3).toArray() as number[][])[0];
    const post = (url: string, body: string) => fetch(`${server.url}${url}`, { method: 'POST', body }).then((r) => r.arrayBuffer().then(() => r.status));
    const ok = JSON.stringify({ instances: [row] });
    const statuses = await Promise.all([
      ...Array.from({ length: 7 }, () => post('/v1/models/mlp/versions/2:predict', ok)),
      ...Array.from({ length: 3 }, () => post('/v1/models/mlp/versions/2:predict', '{"instances": [[1, 2]]}')),
      ...Array.from({ length: 5 }, () => post('/v1/models/batched:predict', ok)),
      ...Array.from({ length: 4 }, () => post('/v2/models/nope/infer', '{}')),
      post('/v2/models/batched/infer', JSON.stringify({ inputs: [{ name: 'input', shape: [1, 784], datatype: 'FP32', data: row }] })),
    ]);
    assert.deepEqual(statuses.filter((s) => s === 200).length, 13);
    const res = await fetch(`${server.url}/metrics`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /text\/plain/);
    const text = await res.text();
    assert.equal(sample(text, 'lathe_requests_total', { api: 'tfserving', model: 'mlp', version: '2', outcome: 'success' }), 7);
    assert.equal(sample(text, 'lathe_requests_total', { api: 'tfserving', model: 'mlp', version: '2', outcome: 'client_error', code: '400' }), 3);
    assert.equal(sample(text, 'lathe_requests_total', { api: 'tfserving', model: 'batched', version: '1', outcome: 'success' }), 5);
    assert.equal(sample(text, 'lathe_requests_total', { api: 'kserve', model: 'batched', version: '1', outcome: 'success' }), 1);
    assert.equal(sample(text, 'lathe_requests_total', { api: 'kserve', model: '', outcome: 'client_error', code: '404' }), 4, 'unknown names are counted under model ""');
    assert.ok(!text.includes('model="nope"'));
    assert.equal(sample(text, 'lathe_queue_duration_seconds_count', { model: 'batched', version: '1' }), 6);
    assert.equal(sample(text, 'lathe_compute_duration_seconds_count', { model: 'batched', version: '1' }), 6);
    assert.equal(sample(text, 'lathe_batch_size_count', { model: 'batched', version: '1' }), 6);
    assert.ok(sample(text, 'lathe_request_duration_seconds_count', { api: 'tfserving', model: 'mlp' }) === 10);
    assert.match(text, /^lathe_models_loaded \d+$/m);
    assert.match(text, /^lathe_queue_depth\{model="batched",version="1"\} 0$/m);
    assert.match(text, /^lathe_process_resident_memory_bytes \d+/m);
    assert.equal((await fetch(`${server.url}/metrics`, { method: 'POST' })).status, 405);
  } finally {
    await server.close();
  }
});
