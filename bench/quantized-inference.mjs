// int8 against float32 inference, side by side in one process: the brief's MLP 784-128-10 and
// the CNN of examples/mnist-cnn.json (each with its Rescaling: uint8 pixels in), quantized by
// lt.quant.quantizeModel (static, calibrated on 256 random images; dynamic with --mode dynamic),
// at batch 1, 32 and 256. Float and int8 predict() alternate sample by sample so machine noise
// hits both; ratio = float time / int8 time (above 1: int8 faster), of the medians; ratio_min of
// the fastest samples, which moves less on a shared machine. Samples are short (75 of 5 ms each
// way), so that the host's bursts on the other vCPU fall on both models: in a busy hour, eight
// runs of each alternating, the static MLP at batch 32 gave 1.86-2.27 with 15 samples of 25 ms
// and 1.96-2.20 with these. With --ort, the exported QDQ model runs in onnxruntime-node too
// (its own int8 kernels where it fuses them).
//   node bench/quantized-inference.mjs [--mode static|dynamic] [--samples 75] [--sample-ms 5] [--ort]
import * as os from 'node:os';
import * as lt from '../dist/src/index.js';
import { exportOnnx } from '../dist/src/io/onnx/export.js';
import { cnn, mlp } from './mnist-models.mjs';
import { callsPerSampleSync, median, sample, sampleSync } from './timing.mjs';

const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : dflt;
};
const SAMPLES = Number(arg('samples', 75));
const SAMPLE_MS = Number(arg('sample-ms', 5));
const MODE = arg('mode', 'static');
const WITH_ORT = process.argv.includes('--ort');
const ort = WITH_ORT ? await import('onnxruntime-node') : null;

lt.manualSeed(0);
for (const [name, model] of [['mlp', mlp()], ['cnn', cnn()]]) {
  const calibration = lt.randint(0, 256, [256, ...model.inputShape], { generator: new lt.Generator(7) }).cast('float32');
  const { model: q, layers } = lt.quant.quantizeModel(model, { mode: MODE, sample: calibration });
  const session = ort && await ort.InferenceSession.create(exportOnnx(q, { inputType: 'uint8' }), {
    intraOpNumThreads: lt.getNumThreads(), interOpNumThreads: 1, graphOptimizationLevel: 'all',
    extra: { session: { intra_op: { allow_spinning: '0' } } }, // no spinning threads to steal Lathe's samples' CPU
  });
  for (const batch of [1, 32, 256]) {
    const x = lt.randint(0, 256, [batch, ...model.inputShape], { generator: new lt.Generator(batch) }).cast('uint8');
    const float = () => model.predict(x, { batchSize: batch }).dataSync();
    const int8 = () => q.predict(x, { batchSize: batch }).dataSync();
    const a = float();
    const b = int8();
    let agree = 0;
    const classes = a.length / batch;
    for (let r = 0; r < batch; r++) {
      const top = (v) => { let k = 0; for (let c = 1; c < classes; c++) if (v[r * classes + c] > v[r * classes + k]) k = c; return k; };
      if (top(a) === top(b)) agree++;
    }
    const floatUs = [];
    const int8Us = [];
    const ortUs = [];
    const cf = callsPerSampleSync(float, SAMPLE_MS);
    const cq = callsPerSampleSync(int8, SAMPLE_MS);
    const feeds = session && { input: new ort.Tensor('uint8', x.dataSync(), [...x.shape]) };
    const onnx = session && (async () => (await session.run(feeds)).output.data);
    const co = session ? Math.max(1, Math.round(cq / 2)) : 0;
    for (let s = 0; s < SAMPLES; s++) {
      floatUs.push(sampleSync(float, cf));
      int8Us.push(sampleSync(int8, cq));
      if (onnx) ortUs.push(await sample(onnx, co));
    }
    const f = median(floatUs);
    const i = median(int8Us);
    console.log(JSON.stringify({
      bench: 'quantized-inference', model: name, mode: MODE, batch,
      float_us: +f.toFixed(1), int8_us: +i.toFixed(1), ratio: +(f / i).toFixed(3),
      ratio_min: +(Math.min(...floatUs) / Math.min(...int8Us)).toFixed(3),
      ...(session ? { ort_int8_us: +median(ortUs).toFixed(1), ort_over_lathe_int8: +(median(ortUs) / i).toFixed(3) } : {}),
      top1_agreement: +(agree / batch).toFixed(4),
      int8_layers: layers.filter((l) => l.quantizedType !== l.type).map((l) => l.name),
      threads: lt.getNumThreads(), qgemm_kernel: lt.nativeInfo?.()?.qgemmKernel ?? null, load_average: +os.loadavg()[0].toFixed(2),
    }));
  }
}
