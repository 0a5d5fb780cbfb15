// The model repository API (Triton's index/load/unload): off by default (404 saying how to turn it
// on), bearer-token guarded (401 with WWW-Authenticate), loads pick up new version folders beside
// the serving one, unload drains then 404s, names never become paths, and the token is never logged.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import * as lt from '../../src/index.js';
import { startServer } from '../../src/serve/http/server.js';
import { ManagementAuth } from '../../src/serve/http/management.js';
import { buildRepository, pixels, type Fixture } from './repository-fixture.js';

const TOKEN = 'f3a9c0e1d2b4a6978877665544332211';
let fx: Fixture;
before(async () => {
  fx = await buildRepository();
  lt.save(fx.v1, path.join(fx.root, 'deploy', '1'));
  // Batched with a long delay, so a request is still in flight when unload begins.
  lt.save(fx.v1, path.join(fx.root, 'slowq', '1'));
  fs.writeFileSync(path.join(fx.root, 'slowq', 'config.json'), JSON.stringify({ batching: { maxBatchSize: 8, maxQueueDelayMicroseconds: 300_000 } }));
  fs.writeFileSync(path.join(fx.root, 'a-file'), 'not a model');
});
after(() => fs.rmSync(fx.root, { recursive: true, force: true }));

const row = () => (pixels(1, 4).toArray() as number[][])[0];
/** POSTs a raw path, unnormalized (fetch would resolve "%2e%2e" to ".." and drop it). */
function rawPost(base: string, rawPath: string, token: string): Promise<{ status: number; json: any }> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${base}${rawPath}`, { method: 'POST', path: rawPath, headers: { authorization: `Bearer ${token}`, 'content-length': 2 } }, (res) => {
      let text = '';
      res.on('data', (c) => (text += c)).on('end', () => resolve({ status: res.statusCode!, json: JSON.parse(text) }));
    });
    req.on('error', reject);
    req.end('{}');
  });
}

async function call(url: string, body?: unknown, token?: string, method = 'POST') {
  const r = await fetch(url, { method, headers: token !== undefined ? { authorization: `Bearer ${token}` } : {}, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
  return { status: r.status, headers: r.headers, json: (await r.json()) as any };
}

test('off by default: the repository routes answer 404 saying how to enable them', async () => {
  const s = await startServer({ repository: fx.root, port: 0 });
  try {
    for (const p of ['/v2/repository/index', '/v2/repository/models/mlp/load', '/v2/repository/models/mlp/unload']) {
      const r = await call(`${s.url}${p}`, {}, TOKEN);
      assert.equal(r.status, 404, p);
      assert.match(r.json.error, /model repository API .* is off; start lathe serve with --management-token-file FILE \(or the environment variable LATHE_MANAGEMENT_TOKEN\)/);
    }
    assert.deepEqual((await call(`${s.url}/v2`, undefined, undefined, 'GET')).json.extensions, []);
  } finally {
    await s.close();
  }
});

test('a missing or wrong token is 401 with WWW-Authenticate, before the body is read', async () => {
  const lines: string[] = [];
  const s = await startServer({ repository: fx.root, port: 0, managementToken: TOKEN, log: (l) => lines.push(JSON.stringify(l)) });
  try {
    const url = `${s.url}/v2/repository/index`;
    for (const [token, want] of [[undefined, /needs "Authorization: Bearer <token>"/], ['', /needs/], [TOKEN.slice(0, -1) + '0', /not valid/], ['short', /not valid/], [TOKEN + 'x', /not valid/]] as const) {
      const r = await call(url, {}, token);
      assert.equal(r.status, 401, String(token));
      assert.match(r.headers.get('www-authenticate') ?? '', /^Bearer realm="lathe"/);
      assert.match(r.json.error, want);
    }
    // Basic auth, or the token in another header, is not accepted either; a bad body behind a bad token is never parsed.
    assert.equal((await fetch(url, { method: 'POST', headers: { authorization: `Basic ${Buffer.from(`x:${TOKEN}`).toString('base64')}` } })).status, 401);
    assert.equal((await fetch(url, { method: 'POST', headers: { 'x-token': TOKEN } })).status, 401);
    assert.equal((await fetch(url, { method: 'POST', body: '{not json' })).status, 401);
    assert.equal((await fetch(url, { method: 'POST', headers: { authorization: `bearer ${TOKEN}` } })).status, 200, 'the scheme is case-insensitive, an empty body is fine');
    assert.deepEqual((await call(`${s.url}/v2`, undefined, undefined, 'GET')).json.extensions, ['model_repository']);
    assert.ok(lines.every((l) => !l.includes(TOKEN) && !l.includes(TOKEN.slice(0, -1))), 'the token never reaches the log');
  } finally {
    await s.close();
  }
  assert.throws(() => new ManagementAuth('too-short'), /at least 16 characters/);
});

test('index, load of a new version, unload (drains, then 404), load again; the token is never logged', async () => {
  const lines: string[] = [];
  const s = await startServer({ repository: fx.root, port: 0, managementToken: TOKEN, log: (l) => lines.push(JSON.stringify(l)) });
  const predict = (model: string) => fetch(`${s.url}/v1/models/${model}:predict`, { method: 'POST', body: JSON.stringify({ instances: [row()] }) });
  try {
    const index = (await call(`${s.url}/v2/repository/index`, {}, TOKEN)).json as { name: string; version?: string; state: string; reason: string; runtime?: string }[];
    assert.deepEqual(index.filter((e) => e.name === 'mlp'), [{ name: 'mlp', version: '1', state: 'READY', reason: '', runtime: 'lathe' }, { name: 'mlp', version: '2', state: 'READY', reason: '', runtime: 'lathe' }]);
    const broken = index.find((e) => e.name === 'broken' && e.version === '1')!;
    assert.equal(broken.state, 'UNAVAILABLE');
    assert.match(broken.reason, /model\.json/);
    assert.ok(!index.some((e) => e.name === 'a-file' || e.name === 'bad name'), 'only model folders with valid names');
    const ready = (await call(`${s.url}/v2/repository/index`, { ready: true }, TOKEN)).json as { state: string }[];
    assert.ok(ready.length > 0 && ready.every((e) => e.state === 'READY'));

    // A new version folder: not served until load (no polling here), then served, and the policy (latest 1) ends version 1.
    lt.save(fx.v2, path.join(fx.root, 'deploy', '2'));
    assert.equal(((await (await predict('deploy')).json()) as any).predictions.length, 1);
    assert.equal((await call(`${s.url}/v2/models/deploy`, undefined, undefined, 'GET')).json.versions.join(), '1');
    const loaded = await call(`${s.url}/v2/repository/models/deploy/load`, undefined, TOKEN);
    assert.equal(loaded.status, 200, JSON.stringify(loaded.json));
    assert.deepEqual(loaded.json.map((e: any) => [e.version, e.state]), [['1', 'UNAVAILABLE'], ['2', 'READY']]);
    const x = pixels(1, 4);
    const got = ((await (await predict('deploy')).json()) as any).predictions[0] as number[];
    const want = (fx.v2.predict(x).toArray() as number[][])[0];
    assert.ok(got.every((v, k) => Math.abs(v - want[k]) <= 1e-6), 'version 2 answers');

    // Unload while a batched request waits in the queue: it still succeeds, then the model is gone.
    const inFlight = predict('slowq');
    await new Promise((r) => setTimeout(r, 50));
    const unloaded = await call(`${s.url}/v2/repository/models/slowq/unload`, {}, TOKEN);
    assert.equal(unloaded.status, 200, JSON.stringify(unloaded.json));
    assert.deepEqual(unloaded.json, [{ name: 'slowq', state: 'UNAVAILABLE', reason: 'unloaded' }]);
    assert.equal((await inFlight).status, 200, 'the in-flight request was drained, not dropped');
    assert.equal((await predict('slowq')).status, 404);
    assert.equal((await fetch(`${s.url}/v2/models/slowq/ready`)).status, 404);
    assert.equal((await fetch(`${s.url}/v2/health/ready`)).status, 200, 'an unloaded model does not make the server unready');
    assert.equal((await call(`${s.url}/v2/repository/models/slowq/unload`, {}, TOKEN)).status, 200, 'unloading twice is fine');
    const back = await call(`${s.url}/v2/repository/models/slowq/load`, {}, TOKEN);
    assert.equal(back.status, 200, JSON.stringify(back.json));
    assert.equal((await predict('slowq')).status, 200);
    assert.equal(s.repository.model('slowq')!.versions.get(1)!.batcher!.stats().completed, 1, 'a fresh batcher after the reload');

    // A broken new version fails the load with its error and leaves the serving version serving.
    fs.mkdirSync(path.join(fx.root, 'deploy', '3'));
    fs.writeFileSync(path.join(fx.root, 'deploy', '3', 'model.json'), '{');
    const failed = await call(`${s.url}/v2/repository/models/deploy/load`, {}, TOKEN);
    assert.equal(failed.status, 400);
    assert.match(failed.json.error, /model "deploy" did not load: version 3: .*model\.json.*\(serving version 2 as before\)/);
    assert.equal((await predict('deploy')).status, 200);
    fs.rmSync(path.join(fx.root, 'deploy', '3'), { recursive: true });

    assert.ok(lines.some((l) => l.includes('"event":"unload"') && l.includes('slowq')), 'unloads are logged');
    assert.ok(lines.every((l) => !l.includes(TOKEN)), 'the token never reaches the log');
  } finally {
    await s.close();
  }
});

test('load and unload take only model folder names: traversal, unknown names, files and parameters are refused', async () => {
  const s = await startServer({ repository: fx.root, port: 0, managementToken: TOKEN });
  try {
    const cases: [string, unknown, number, RegExp][] = [
      ['/v2/repository/models/..%2Fetc/load', {}, 400, /not valid/],
      ['/v2/repository/models/nope/load', {}, 404, /"nope" is not a folder of the model repository/],
      ['/v2/repository/models/a-file/load', {}, 404, /not a folder/],
      ['/v2/repository/models/__proto__/unload', {}, 404, /not a folder/],
      ['/v2/repository/models/mlp/load', { parameters: { config: '{"backend":"python"}' } }, 400, /load takes no parameters/],
      ['/v2/repository/models/mlp/load', { parameters: { 'file:1/model.onnx': 'AAAA' } }, 400, /no parameters/],
      ['/v2/repository/models/mlp/load', [1], 400, /must be a JSON object/],
      ['/v2/repository/index', { ready: 'yes' }, 400, /"ready" must be true or false/],
      ['/v2/repository/models/mlp', {}, 404, /no route/],
    ];
    for (const [url, body, status, message] of cases) {
      const r = await call(`${s.url}${url}`, body, TOKEN);
      assert.equal(r.status, status, `${url}: ${JSON.stringify(r.json)}`);
      assert.match(r.json.error, message, url);
    }
    for (const raw of ['/v2/repository/models/%2e%2e/load', '/v2/repository/models/.%2E/unload', '/v2/repository/models/%2E/load']) {
      const r = await rawPost(s.url, raw, TOKEN);
      assert.equal(r.status, 400, raw);
      assert.match(r.json.error, /not valid/);
    }
    // A symlinked folder is not a model folder either (as at start-up).
    fs.symlinkSync(path.join(fx.root, 'mlp'), path.join(fx.root, 'linked'));
    assert.equal((await call(`${s.url}/v2/repository/models/linked/load`, {}, TOKEN)).status, 404);
    assert.equal((await call(`${s.url}/v2/repository/index`, undefined, TOKEN, 'GET')).status, 405);
    assert.equal((await call(`${s.url}/v1/models/mlp`, undefined, undefined, 'GET')).status, 200, 'still serving');
  } finally {
    await s.close();
  }
});
