// The model server in-process on port 0 (issue 7): status, metadata, predict, classify and infer
// through both APIs equal in-process predictions; labels and version policies pick the right
// version; a broken version is reported without stopping the others; a close drains in-flight requests.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as lt from '../../src/index.js';
import { parseModelConfig } from '../../src/serve/repository.js';
import { type RunningServer, startServer } from '../../src/serve/http/server.js';
import { CLASS_NAMES, type Fixture, buildRepository, pixels } from './repository-fixture.js';

let fx: Fixture;
let srv: RunningServer;
before(async () => {
  fx = await buildRepository();
  srv = await startServer({ repository: fx.root, port: 0 });
});
after(async () => {
  await srv?.close();
  fs.rmSync(fx.root, { recursive: true, force: true });
});

async function call(method: string, url: string, body?: unknown): Promise<{ status: number; json: any }> {
  const r = await fetch(srv.url + url, { method, ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body), headers: { 'content-type': 'application/json' } } : {}) });
  return { status: r.status, json: await r.json() };
}

/** The largest absolute difference between nested arrays of numbers. */
function maxDiff(a: unknown, b: unknown): number {
  const fa = (a as unknown[]).flat(Infinity) as number[];
  const fb = (b as unknown[]).flat(Infinity) as number[];
  assert.equal(fa.length, fb.length);
  return fa.reduce((m, v, i) => Math.max(m, Math.abs(v - fb[i])), 0);
}

const N = 20;
const x = () => pixels(N, 77);
const rows = () => x().toArray() as number[][];
const expected = (m: lt.Sequential) => m.predict(x()).toArray() as number[][];

describe('TF Serving REST', () => {
  test('status lists every served version; a broken one is END with its error and the others serve', async () => {
    const mlp = await call('GET', '/v1/models/mlp');
    assert.equal(mlp.status, 200);
    assert.deepEqual(mlp.json, { model_version_status: ['2', '1'].map((version) => ({ version, state: 'AVAILABLE', status: { error_code: 'OK', error_message: '' } })) });
    const broken = (await call('GET', '/v1/models/broken')).json.model_version_status;
    assert.deepEqual(broken.map((s: any) => [s.version, s.state]), [['2', 'AVAILABLE'], ['1', 'END']]);
    assert.equal(broken[1].status.error_code, 'UNKNOWN');
    assert.match(broken[1].status.error_message, /model\.json/);
    assert.deepEqual((await call('GET', '/v1/models/old')).json.model_version_status.map((s: any) => s.version), ['7']);
    assert.deepEqual((await call('GET', '/v1/models/mlp/labels/stable')).json.model_version_status.map((s: any) => s.version), ['1']);
    assert.deepEqual((await call('GET', '/v1/models/mlp/versions/2')).json.model_version_status.map((s: any) => s.version), ['2']);
    assert.deepEqual(srv.repository.warnings.map((w) => w.split(':')[0]), ['bad name']);
  });

  test('predict (row form) equals in-process predictions, for the default, a version and a label', async () => {
    for (const [url, model] of [['/v1/models/mlp:predict', fx.v2], ['/v1/models/mlp/versions/1:predict', fx.v1], ['/v1/models/mlp/labels/stable:predict', fx.v1], ['/v1/models/mlp/labels/canary:predict', fx.v2], ['/v1/models/mlp-onnx:predict', fx.v2]] as const) {
      const r = await call('POST', url, { instances: rows() });
      assert.equal(r.status, 200, JSON.stringify(r.json));
      assert.ok(maxDiff(r.json.predictions, expected(model)) <= 1e-6, url);
    }
    assert.ok(maxDiff(expected(fx.v1), expected(fx.v2)) > 1e-3, 'the two versions differ, so picking the wrong one would fail');
  });

  test('predict with named instances, and the columnar form answering "outputs"', async () => {
    const named = await call('POST', '/v1/models/mlp:predict', { signature_name: 'serving_default', instances: rows().map((r) => ({ input: r })) });
    assert.ok(maxDiff(named.json.predictions, expected(fx.v2)) <= 1e-6);
    for (const inputs of [rows(), { input: rows() }]) {
      const r = await call('POST', '/v1/models/mlp:predict', { inputs });
      assert.equal(r.status, 200);
      assert.deepEqual(Object.keys(r.json), ['outputs']);
      assert.ok(maxDiff(r.json.outputs, expected(fx.v2)) <= 1e-6);
    }
  });

  test('classify answers [label, score] for every class; a model without class names gets a 400', async () => {
    const r = await call('POST', '/v1/models/mlp:classify', { examples: rows().slice(0, 3) });
    assert.equal(r.status, 200);
    const want = expected(fx.v2).slice(0, 3);
    r.json.results.forEach((res: [string, number][], i: number) => {
      assert.deepEqual(res.map((p) => p[0]), CLASS_NAMES);
      assert.ok(maxDiff(res.map((p) => p[1]), want[i]) <= 1e-6);
    });
    const noNames = await call('POST', '/v1/models/old:classify', { examples: rows().slice(0, 1) });
    assert.equal(noNames.status, 400);
    assert.match(noNames.json.error, /no class names/);
  });

  test('metadata gives the signature with -1 for the batch axis', async () => {
    const r = await call('GET', '/v1/models/mlp/versions/1/metadata');
    assert.equal(r.status, 200);
    assert.deepEqual(r.json.model_spec, { name: 'mlp', signature_name: '', version: '1' });
    const sig = r.json.metadata.signature_def.signature_def.serving_default;
    assert.equal(sig.inputs.input.dtype, 'DT_FLOAT');
    assert.deepEqual(sig.inputs.input.tensor_shape.dim.map((d: any) => d.size), ['-1', '784']);
    assert.deepEqual(sig.outputs.output.tensor_shape.dim.map((d: any) => d.size), ['-1', '10']);
  });
});

describe('KServe v2', () => {
  test('health, server metadata, model metadata and readiness', async () => {
    assert.deepEqual(await call('GET', '/v2/health/live'), { status: 200, json: { live: true } });
    assert.deepEqual(await call('GET', '/v2/health/ready'), { status: 200, json: { ready: true } });
    assert.equal((await call('GET', '/v2')).json.name, 'lathe');
    const meta = await call('GET', '/v2/models/mlp');
    assert.deepEqual(meta.json, { name: 'mlp', versions: ['1', '2'], platform: 'lathe', runtime: 'lathe', inputs: [{ name: 'input', datatype: 'FP32', shape: [-1, 784] }], outputs: [{ name: 'output', datatype: 'FP32', shape: [-1, 10] }] });
    assert.equal((await call('GET', '/v2/models/mlp-onnx')).json.platform, 'onnx');
    assert.deepEqual(await call('GET', '/v2/models/mlp/versions/1/ready'), { status: 200, json: { name: 'mlp', ready: true } });
    assert.equal((await call('GET', '/v2/models/broken/versions/1/ready')).status, 400);
  });

  test('infer with flat and nested data equals in-process predictions and echoes the id', async () => {
    for (const [url, model, data] of [['/v2/models/mlp/infer', fx.v2, rows().flat()], ['/v2/models/mlp/versions/1/infer', fx.v1, rows()], ['/v2/models/mlp-onnx/infer', fx.v2, rows().flat()]] as const) {
      const r = await call('POST', url, { id: 'req-42', inputs: [{ name: 'input', shape: [N, 784], datatype: 'FP32', data }], outputs: [{ name: 'output' }] });
      assert.equal(r.status, 200, JSON.stringify(r.json));
      assert.equal(r.json.id, 'req-42');
      assert.equal(r.json.model_name, url.split('/')[3]);
      const out = r.json.outputs[0];
      assert.deepEqual([out.name, out.shape, out.datatype], ['output', [N, 10], 'FP32']);
      assert.ok(maxDiff(out.data, expected(model).flat()) <= 1e-6, url);
    }
    assert.equal((await call('POST', '/v2/models/mlp/versions/1/infer', { inputs: [{ name: 'input', shape: [1, 784], datatype: 'FP32', data: rows()[0] }] })).json.model_version, '1');
  });
});

test('config.json errors name the field', () => {
  assert.throws(() => parseModelConfig({ versionPolicy: { latest: 0 } }, 'c.json'), /c\.json: versionPolicy\.latest: must be a positive integer, got 0/);
  assert.throws(() => parseModelConfig({ versionPolicy: { specific: [1, '2'] } }, 'c.json'), /versionPolicy\.specific\[1\]/);
  assert.throws(() => parseModelConfig({ labels: { '../x': 1 } }, 'c.json'), /labels: label "..\/x"/);
  assert.throws(() => parseModelConfig({ batching: {}, versions: 2 }, 'c.json'), /unknown field "versions" \(known: versionPolicy, labels, batching, runtime, generation\)/);
  assert.deepEqual(parseModelConfig({ versionPolicy: { specific: [3, 1, 3] } }, 'c.json').versionPolicy, { specific: [1, 3] });
});

test('close() lets an in-flight request finish, then refuses new connections', async () => {
  const s = await startServer({ repository: srv.repository, port: 0 });
  const body = JSON.stringify({ instances: rows().slice(0, 2) });
  const answer = new Promise<{ status: number; text: string }>((resolve, reject) => {
    const req = http.request(`${s.url}/v1/models/mlp:predict`, { method: 'POST', headers: { 'content-length': Buffer.byteLength(body) } }, (res) => {
      let text = '';
      res.on('data', (c) => (text += c)).on('end', () => resolve({ status: res.statusCode!, text }));
    });
    req.on('error', reject);
    req.write(body.slice(0, 100)); // half a body: the request is in flight when close() begins
    setTimeout(async () => {
      closed = s.close();
      setTimeout(() => req.end(body.slice(100)), 50);
    }, 50);
  });
  let closed: Promise<void> | undefined;
  const r = await answer;
  assert.equal(r.status, 200);
  assert.ok(maxDiff(JSON.parse(r.text).predictions, expected(fx.v2).slice(0, 2)) <= 1e-6);
  await closed;
  await assert.rejects(fetch(`${s.url}/v2/health/live`));
});

test('an ONNX model from ../shared (mnist-cntk) serves through both APIs when present', { skip: !fs.existsSync(path.join(process.env.LATHE_DATA ?? '/nonexistent', '..', 'models', 'onnx', 'mnist-cntk.onnx')) && 'no $LATHE_DATA/../models/onnx' }, async () => {
  const root = fs.mkdtempSync(path.join(fx.root, 'cntk-'));
  fs.mkdirSync(path.join(root, 'cntk', '1'), { recursive: true });
  fs.copyFileSync(path.join(process.env.LATHE_DATA!, '..', 'models', 'onnx', 'mnist-cntk.onnx'), path.join(root, 'cntk', '1', 'model.onnx'));
  const s = await startServer({ repository: root, port: 0 });
  try {
    const model = s.repository.model('cntk')!.versions.get(1)!;
    assert.equal(model.state, 'AVAILABLE', model.error);
    const input = model.signature!.inputs[0];
    const imgs = lt.tensor(Float32Array.from(pixels(3, 5).dataSync()), { shape: [3, 1, 28, 28] });
    const want = (await model.serving!.run(imgs)).toArray(); // the runtime serving it, in process (onnxruntime when installed)
    const tf = await (await fetch(`${s.url}/v1/models/cntk:predict`, { method: 'POST', body: JSON.stringify({ instances: imgs.toArray() }) })).json();
    assert.ok(maxDiff(tf.predictions, want) <= 1e-6);
    const ks = await (await fetch(`${s.url}/v2/models/cntk/infer`, { method: 'POST', body: JSON.stringify({ inputs: [{ name: input.name, shape: [3, 1, 28, 28], datatype: 'FP32', data: Array.from(imgs.dataSync()) }] }) })).json();
    assert.ok(maxDiff(ks.outputs[0].data, (want as number[][]).flat()) <= 1e-6);
  } finally {
    await s.close();
  }
});
