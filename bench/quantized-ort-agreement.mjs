// Issue 10, point 3, on saved int8 models (`lathe quantize` output folders): each model's
// predictions on the MNIST test set against its QDQ export's in ONNX Runtime, both at batch 32
// (dynamic quantization's range is per batch) with uint8 pixels in; prints one JSON line per
// model: the share of examples whose predicted classes agree, and both accuracies.
//   LATHE_DATA=../shared/data node bench/quantized-ort-agreement.mjs DIR [DIR ...]
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
const lt = await import('../dist/src/index.js');
const { exportOnnx } = await import('../dist/src/io/onnx/export.js');
const { mnist } = await import('../dist/src/data/datasets/index.js');
const { test } = await mnist.load({ dir: path.join(process.env.LATHE_DATA, 'mnist') });
const n = test.images.shape[0];
const labels = test.labels.dataSync();
const argmax = (v, rows, c) => Array.from({ length: rows }, (_, r) => { let k = 0; for (let j = 1; j < c; j++) if (v[r * c + j] > v[r * c + k]) k = j; return k; });
for (const dir of process.argv.slice(2)) {
  const loaded = lt.load(dir);
  const q = loaded.model ?? loaded;
  const x = test.images.reshape([n, ...q.inputShape]);
  const lathe = argmax(q.predict(x, { batchSize: 32 }).dataSync(), n, 10);
  const session = await ort.InferenceSession.create(exportOnnx(q, { inputType: 'uint8' }), { graphOptimizationLevel: 'all' });
  const px = x.dataSync();
  const ortPred = [];
  for (let s = 0; s < n; s += 32) {
    const rows = Math.min(32, n - s);
    const out = await session.run({ input: new ort.Tensor('uint8', px.slice(s * 784, (s + rows) * 784), [rows, ...q.inputShape]) });
    ortPred.push(...argmax(out[session.outputNames[0]].data, rows, 10));
  }
  const agree = ortPred.filter((p, i) => p === lathe[i]).length / n;
  const acc = (p) => p.filter((v, i) => v === labels[i]).length / n;
  console.log(JSON.stringify({ dir, agree, lathe_accuracy: acc(lathe), ort_accuracy: acc(ortPred) }));
}
