// Issue 7, acceptance 1: a model trained by `lathe train examples/mnist-mlp.json` and the shared
// mnist-cntk.onnx, served from one repository, answer 1000 MNIST test images over both HTTP APIs
// with the numbers of in-process predictions (max abs diff <= 1e-6). Needs the real data.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import * as lt from '../../src/index.js';
import { startServer } from '../../src/serve/http/server.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const data = process.env.LATHE_DATA ? path.resolve(process.env.LATHE_DATA) : '';
const cntk = data ? path.join(data, '..', 'models', 'onnx', 'mnist-cntk.onnx') : '';
const ready = data !== '' && fs.existsSync(path.join(data, 'mnist')) && fs.existsSync(cntk);

test('the CLI-trained MLP and mnist-cntk.onnx over TF Serving and KServe equal in-process predictions on 1000 test images', { skip: ready ? false : 'needs $LATHE_DATA/mnist and $LATHE_DATA/../models/onnx/mnist-cntk.onnx' }, async () => {
  const repo = fs.mkdtempSync(path.join(os.tmpdir(), 'lathe-accept-'));
  try {
    const r = spawnSync(process.execPath, [path.join(root, 'bin', 'lathe.js'), 'train', path.join(root, 'examples', 'mnist-mlp.json'), '--epochs', '1', '--out', path.join(repo, 'run'), '--save-to', path.join(repo, 'models', 'mnist', '1'), '--json'], { encoding: 'utf8', env: { ...process.env, LATHE_DATA: data } });
    assert.equal(r.status, 0, r.stderr);
    fs.mkdirSync(path.join(repo, 'models', 'cntk', '1'), { recursive: true });
    fs.copyFileSync(cntk, path.join(repo, 'models', 'cntk', '1', 'model.onnx'));

    const { test: split } = await lt.data.datasets.mnist.load({ dir: path.join(data, 'mnist') });
    const images = split.images.narrow(0, 0, 1000);
    const mlp = lt.load(path.join(repo, 'models', 'mnist', '1')).model;
    const onnx = lt.loadOnnx(path.join(repo, 'models', 'cntk', '1', 'model.onnx'));
    const flat = images.reshape([1000, 784]).cast('float32');
    const wantMlp = mlp.predict(flat).dataSync();
    // The server runs .onnx on onnxruntime-node when it is installed (config.json "runtime": "auto"):
    // compare with an ORT session of our own then, else with Lathe's importer.
    const ort = await import('onnxruntime-node').catch(() => undefined);
    let wantCntk: ArrayLike<number>;
    if (ort) {
      const session = await ort.InferenceSession.create(path.join(repo, 'models', 'cntk', '1', 'model.onnx'));
      const px = images.reshape([1000, 784]).cast('float32').dataSync() as Float32Array;
      const all = new Float32Array(10000);
      for (let i = 0; i < 1000; i++) {
        const r = await session.run({ [session.inputNames[0]]: new ort.Tensor('float32', px.slice(i * 784, i * 784 + 784), [1, 1, 28, 28]) });
        all.set(r[session.outputNames[0]].data as Float32Array, i * 10);
      }
      await session.release();
      wantCntk = all;
    } else wantCntk = onnx.predict(images.reshape([1000, 1, 28, 28]).cast('float32')).dataSync();

    const server = await startServer({ repository: path.join(repo, 'models'), port: 0 });
    try {
      const rows = flat.toArray() as number[][];
      const post = async (url: string, body: unknown) => {
        const res = await fetch(`${server.url}${url}`, { method: 'POST', body: JSON.stringify(body) });
        assert.equal(res.status, 200, await res.clone().text());
        return res.json() as Promise<Record<string, any>>;
      };
      const maxDiff = (got: number[], want: ArrayLike<number>, offset: number) => got.reduce((m, v, k) => Math.max(m, Math.abs(v - want[offset + k])), 0);
      // TF Serving: the MLP in one request of 1000 instances; the CNTK model in requests of 50 (its graph fixes batch 1).
      const tf = await post('/v1/models/mnist:predict', { instances: rows });
      let worst = Math.max(...tf.predictions.map((p: number[], i: number) => maxDiff(p, wantMlp, i * 10)));
      for (let start = 0; start < 1000; start += 50) {
        const c = await post('/v1/models/cntk:predict', { instances: rows.slice(start, start + 50).map((row) => [Array.from({ length: 28 }, (_, y) => row.slice(y * 28, y * 28 + 28))]) });
        worst = Math.max(worst, ...c.predictions.map((p: number[], i: number) => maxDiff(p.flat(), wantCntk, (start + i) * 10)));
      }
      // KServe v2: one image a request, 50 at a time concurrently.
      for (let start = 0; start < 1000; start += 50) {
        const batch = await Promise.all(rows.slice(start, start + 50).flatMap((row, i) => [
          post('/v2/models/mnist/infer', { inputs: [{ name: 'input', shape: [1, 784], datatype: 'FP32', data: row }] }).then((b) => maxDiff(b.outputs[0].data, wantMlp, (start + i) * 10)),
          post('/v2/models/cntk/infer', { inputs: [{ name: onnx.inputs[0].name, shape: [1, 1, 28, 28], datatype: 'FP32', data: row }] }).then((b) => maxDiff(b.outputs[0].data, wantCntk, (start + i) * 10)),
        ]));
        worst = Math.max(worst, ...batch);
      }
      assert.ok(worst <= 1e-6, `max abs diff ${worst}`);
    } finally {
      await server.close();
    }
  } finally {
    fs.rmSync(repo, { recursive: true, force: true });
  }
});
