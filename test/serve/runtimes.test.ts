// config.json "runtime": model.onnx on onnxruntime-node (an optional peer dependency, imported
// lazily) or on Lathe's importer. Served predictions equal an in-process ORT session of our own
// (<= 1e-6); "lathe" still works; without the package, "onnxruntime" fails that version's load with
// a clear error while the rest serves, and "auto" falls back to Lathe's importer.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import * as lt from '../../src/index.js';
import { startServer } from '../../src/serve/http/server.js';
import { buildRepository, pixels, type Fixture } from './repository-fixture.js';

const cntkFile = path.join(process.env.LATHE_DATA ?? '/nonexistent', '..', 'models', 'onnx', 'mnist-cntk.onnx');
const ort = await import('onnxruntime-node').catch(() => undefined);
const needs = !fs.existsSync(cntkFile) ? 'needs $LATHE_DATA/../models/onnx/mnist-cntk.onnx' : !ort ? 'needs onnxruntime-node' : false;

let fx: Fixture;
before(async () => {
  fx = await buildRepository();
  const model = (name: string, config: unknown, file?: string) => {
    fs.mkdirSync(path.join(fx.root, name, '1'), { recursive: true });
    if (file) fs.copyFileSync(file, path.join(fx.root, name, '1', 'model.onnx'));
    fs.writeFileSync(path.join(fx.root, name, 'config.json'), JSON.stringify(config));
  };
  if (fs.existsSync(cntkFile)) {
    model('cntk-ort', { runtime: 'onnxruntime' }, cntkFile);
    model('cntk-ort-batched', { runtime: 'onnxruntime', batching: { maxBatchSize: 8, maxQueueDelayMicroseconds: 5000 } }, cntkFile);
    model('cntk-lathe', { runtime: 'lathe' }, cntkFile);
  }
  const mlpOnnx = path.join(fx.root, 'mlp-onnx', '3', 'model.onnx');
  model('needs-ort', { runtime: 'onnxruntime' }, mlpOnnx);
  model('ort-on-lathe', { runtime: 'onnxruntime' });
  lt.save(fx.v1, path.join(fx.root, 'ort-on-lathe', '1'));
});
after(() => fs.rmSync(fx.root, { recursive: true, force: true }));

const post = async (url: string, body: unknown) => {
  const r = await fetch(url, { method: 'POST', body: JSON.stringify(body) });
  const json = (await r.json()) as any;
  assert.equal(r.status, 200, JSON.stringify(json));
  return json;
};
const maxDiff = (a: number[], b: ArrayLike<number>) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);

test('mnist-cntk.onnx on runtime onnxruntime answers what an in-process ORT session does, through both APIs, batched or not', { skip: needs }, async () => {
  const lines: Record<string, unknown>[] = [];
  const s = await startServer({ repository: fx.root, port: 0, log: (l) => lines.push(l) });
  try {
    const n = 12;
    const images = Float32Array.from(pixels(n, 8).dataSync());
    const session = await ort!.InferenceSession.create(cntkFile);
    const want = new Float32Array(n * 10);
    for (let i = 0; i < n; i++) {
      const r = await session.run({ [session.inputNames[0]]: new ort!.Tensor('float32', images.slice(i * 784, (i + 1) * 784), [1, 1, 28, 28]) });
      want.set(r[session.outputNames[0]].data as Float32Array, i * 10);
    }
    await session.release();
    const name = session.inputNames[0];
    const meta = await (await fetch(`${s.url}/v2/models/cntk-ort`)).json();
    assert.equal(meta.runtime, 'onnxruntime');
    assert.deepEqual(meta.inputs, [{ name, datatype: 'FP32', shape: [1, 1, 28, 28] }]);
    assert.ok(lines.some((l) => l.event === 'load' && l.model === 'cntk-ort' && l.runtime === 'onnxruntime' && l.state === 'AVAILABLE'), 'the load log names the runtime');

    const nested = Array.from({ length: n }, (_, i) => [Array.from({ length: 28 }, (_, y) => Array.from(images.subarray(i * 784 + y * 28, i * 784 + y * 28 + 28)))]);
    // TF Serving: 12 instances in one request, run in chunks of the graph's fixed batch of 1.
    const tf = await post(`${s.url}/v1/models/cntk-ort:predict`, { instances: nested });
    assert.ok(maxDiff(tf.predictions.flat(3), want) <= 1e-6);
    // KServe: one image a request, concurrently, unbatched and through the dynamic batcher.
    for (const model of ['cntk-ort', 'cntk-ort-batched']) {
      const outs = await Promise.all(Array.from({ length: n }, (_, i) =>
        post(`${s.url}/v2/models/${model}/infer`, { inputs: [{ name, shape: [1, 1, 28, 28], datatype: 'FP32', data: Array.from(images.subarray(i * 784, (i + 1) * 784)) }] }).then((b) => b.outputs[0].data as number[])));
      assert.ok(maxDiff(outs.flat(), want) <= 1e-6, model);
    }
    const batcher = s.repository.model('cntk-ort-batched')!.versions.get(1)!.batcher!;
    assert.equal(batcher.stats().completed, n);
  } finally {
    await s.close();
  }
});

test('runtime lathe serves the same model.onnx on Lathe\'s importer', { skip: fs.existsSync(cntkFile) ? false : 'needs mnist-cntk.onnx' }, async () => {
  const s = await startServer({ repository: fx.root, port: 0 });
  try {
    const sv = s.repository.model('cntk-lathe')!.versions.get(1)!;
    assert.equal(sv.runtime, 'lathe');
    assert.equal((await (await fetch(`${s.url}/v2/models/cntk-lathe`)).json()).runtime, 'lathe');
    const x = lt.tensor(Float32Array.from(pixels(4, 3).dataSync()), { shape: [4, 1, 28, 28] });
    const want = lt.loadOnnx(cntkFile).predict(x).dataSync();
    const tf = await post(`${s.url}/v1/models/cntk-lathe:predict`, { instances: x.toArray() });
    assert.ok(maxDiff(tf.predictions.flat(), want) <= 1e-6);
  } finally {
    await s.close();
  }
});

test('without onnxruntime-node: "onnxruntime" fails that version with a clear error, "auto" falls back to Lathe, the rest serves', async () => {
  const lines: Record<string, unknown>[] = [];
  let imports = 0;
  const importOnnxRuntime = () => {
    imports++;
    return Promise.reject(Object.assign(new Error("Cannot find package 'onnxruntime-node' imported from /app/dist/src/serve/runtimes/onnxruntime.js"), { code: 'ERR_MODULE_NOT_FOUND' }));
  };
  const s = await startServer({ repository: fx.root, port: 0, log: (l) => lines.push(l), importOnnxRuntime });
  try {
    assert.ok(imports >= 1, 'the importer was asked');
    const sv = s.repository.model('needs-ort')!.versions.get(1)!;
    assert.equal(sv.state, 'END');
    assert.match(sv.error!, /runtime onnxruntime needs the optional package onnxruntime-node: npm install onnxruntime-node \(importing it failed: Cannot find package 'onnxruntime-node'/);
    const status = await (await fetch(`${s.url}/v1/models/needs-ort`)).json();
    assert.equal(status.model_version_status[0].state, 'END');
    assert.match(status.model_version_status[0].status.error_message, /npm install onnxruntime-node/);
    const r = await fetch(`${s.url}/v1/models/needs-ort:predict`, { method: 'POST', body: JSON.stringify({ instances: pixels(1, 1).toArray() }) });
    assert.equal(r.status, 404);
    assert.match(((await r.json()) as { error: string }).error, /npm install onnxruntime-node/);
    // "auto" (mlp-onnx has no config.json) runs on Lathe's importer, said once in the log.
    assert.equal(s.repository.model('mlp-onnx')!.versions.get(3)!.runtime, 'lathe');
    assert.equal(lines.filter((l) => l.event === 'warning' && /onnxruntime-node cannot be imported/.test(String(l.message))).length, 1);
    const x = pixels(2, 2);
    const got = (await post(`${s.url}/v1/models/mlp-onnx:predict`, { instances: x.toArray() })).predictions.flat();
    assert.ok(maxDiff(got, fx.v2.predict(x).dataSync()) <= 1e-6);
    assert.equal((await fetch(`${s.url}/v1/models/mlp:predict`, { method: 'POST', body: JSON.stringify({ instances: x.toArray() }) })).status, 200);
  } finally {
    await s.close();
  }
});

test('runtime onnxruntime on a Lathe saved model fails that version, naming the fix; auto picks ORT for model.onnx when installed', async () => {
  const s = await startServer({ repository: fx.root, port: 0 });
  try {
    const sv = s.repository.model('ort-on-lathe')!.versions.get(1)!;
    assert.equal(sv.state, 'END');
    assert.match(sv.error!, /runtime "onnxruntime" serves model\.onnx files; this version is a Lathe saved model \(set "runtime" to "auto", "lathe", "lathe-worker" or "webgpu"\)/);
    assert.equal(s.repository.model('mlp-onnx')!.versions.get(3)!.runtime, ort ? 'onnxruntime' : 'lathe');
    assert.equal(s.repository.model('mlp')!.versions.get(2)!.runtime, 'lathe');
  } finally {
    await s.close();
  }
});
