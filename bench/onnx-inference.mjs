// Lathe's native inference (model.predict, synchronous) beside ONNX Runtime (onnxruntime-node,
// session.run) on the same exported model: the brief's MLP 784-128-10 and the CNN of
// examples/mnist-cnn.json, both with their Rescaling (uint8 pixels in, as `lathe export` writes
// them), at batch 1, 32 and 256. The two alternate sample by sample so machine noise hits both.
// ORT gets intraOpNumThreads 2 (this machine's 2 cores, Lathe's default pool size). One JSON
// line per case; ratio = ORT time / Lathe time (above 1: Lathe faster), of the medians. On a
// machine shared with other work two more estimates move less from run to run: ratio_min, of
// the fastest samples (the least disturbed), and ratio_paired, the median of each Lathe sample's
// ratio to the ORT sample right after it (load that lasts longer than a pair hits both).
//   node bench/onnx-inference.mjs [--samples 15] [--sample-ms 25]
import * as ort from 'onnxruntime-node';
import * as lt from '../dist/src/index.js';
import { exportOnnx } from '../dist/src/io/onnx/export.js';
import { cnn, mlp } from './mnist-models.mjs';
import { callsPerSample, median, sample } from './timing.mjs';

const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
};
const SAMPLES = arg('samples', 15);
const SAMPLE_MS = arg('sample-ms', 25);
const ORT_THREADS = 2;

lt.manualSeed(0);
for (const [name, model] of [['mlp', mlp()], ['cnn', cnn()]]) {
  const session = await ort.InferenceSession.create(exportOnnx(model, { inputType: 'uint8' }), {
    intraOpNumThreads: ORT_THREADS,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
    // ORT keeps its default of idle threads spinning after a run; the pause between samples
    // below lets that end before Lathe's sample starts. ORT_SPIN=0 turns the spinning off.
    ...(process.env.ORT_SPIN === '0' ? { extra: { session: { intra_op: { allow_spinning: '0' } } } } : {}),
  });
  for (const batch of [1, 32, 256]) {
    const x = lt.randint(0, 256, [batch, ...model.inputShape], { generator: new lt.Generator(batch) }).cast('uint8');
    const feeds = { input: new ort.Tensor('uint8', x.dataSync(), [...x.shape]) };
    // Both return the outputs as a Float32Array in host memory, so both calls include reading them.
    const lathe = () => model.predict(x, { batchSize: batch }).dataSync();
    const onnx = async () => (await session.run(feeds)).output.data;
    const a = lathe();
    const b = await onnx();
    let diff = 0;
    for (let i = 0; i < a.length; i++) diff = Math.max(diff, Math.abs(a[i] - b[i]));
    const latheCalls = await callsPerSample(lathe, SAMPLE_MS);
    const ortCalls = await callsPerSample(onnx, SAMPLE_MS);
    const latheUs = [];
    const ortUs = [];
    // ORT's idle threads keep spinning about 40 ms of CPU after a run (measured with
    // process.cpuUsage); 100 ms lets them stop before Lathe's sample, and Lathe's before ORT's.
    const pause = () => new Promise((r) => setTimeout(r, 100));
    for (let s = 0; s < SAMPLES; s++) {
      latheUs.push(await sample(lathe, latheCalls));
      await pause();
      ortUs.push(await sample(onnx, ortCalls));
      await pause();
    }
    const l = median(latheUs);
    const o = median(ortUs);
    const lMin = Math.min(...latheUs);
    const oMin = Math.min(...ortUs);
    const paired = median(latheUs.map((t, s) => ortUs[s] / t));
    console.log(JSON.stringify({
      bench: 'onnx-inference', model: name, batch,
      lathe_us: +l.toFixed(1), ort_us: +o.toFixed(1), ratio: +(o / l).toFixed(3),
      lathe_min_us: +lMin.toFixed(1), ort_min_us: +oMin.toFixed(1), ratio_min: +(oMin / lMin).toFixed(3), ratio_paired: +paired.toFixed(3),
      lathe_examples_per_s: Math.round((batch * 1e6) / l), ort_examples_per_s: Math.round((batch * 1e6) / o),
      peer: `onnxruntime-node ${ort.env.versions?.common ?? ''}`.trim(), ort_intra_op_threads: ORT_THREADS, lathe_threads: lt.getNumThreads(), backend: lt.getBackend().name,
      max_abs_diff: diff,
    }));
  }
}
