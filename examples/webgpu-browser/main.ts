// The brief's MNIST MLP (784-128 relu, 10 softmax, Adam, sparse categorical cross-entropy,
// batch 32) trained in the browser on WebGPU (navigator.gpu): the same library code as in Node,
// bundled by ./build.mjs. The data stays on the CPU and goes up a batch at a time; losses come
// back once per log interval. Query parameters: ?train=6000&test=1000&epochs=1 (synthetic digits;
// ?mnist=URL_DIR reads the four MNIST .gz files from a folder the server holds instead, all of
// them unless train or test limit the examples).
// Modules, not the package index: the index also pulls in file formats, servers and the CLI.
import { initWebGPU, setBackend } from '../../src/backends/registry.js';
import { tensor } from '../../src/tensor/create.js';
import { manualSeed } from '../../src/tensor/random.js';
import type { Tensor } from '../../src/tensor/tensor.js';
import { Dense } from '../../src/nn/layers/dense.js';
import { Adam } from '../../src/optim/index.js';
import { Sequential } from '../../src/train/sequential.js';
import { Callback, type Logs } from '../../src/train/callbacks/callback.js';

/** The few DOM members this page uses (the repo's tsconfig compiles for Node, without the DOM library). */
interface Page {
  location: { search: string };
  document: { getElementById(id: string): { textContent: string | null } | null };
  latheResult?: Promise<PageResult>;
}
export interface PageResult {
  adapter: string;
  backend: string;
  trainExamples: number;
  epochs: number;
  msPerStep: number;
  history: Record<string, number[]>;
  testAccuracy: number;
}

const page = globalThis as unknown as Page;
const params = new URLSearchParams(page.location.search);
const log = (line: string) => {
  const el = page.document.getElementById('log');
  if (el) el.textContent += `${line}\n`;
  console.log(line);
};

/** mulberry32, as test/train/synthetic-mnist.ts: the digits need no download. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** n 28x28 images whose label is the cell of a 4x3 grid holding a bright block, on noise. */
function syntheticDigits(n: number, seed: number): { images: Uint8Array; labels: Uint8Array } {
  const rnd = mulberry32(seed);
  const images = new Uint8Array(n * 784);
  const labels = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const label = i % 10;
    labels[i] = label;
    const [r0, c0] = [7 * Math.floor(label / 4), 7 * (label % 4)];
    for (let r = 0; r < 28; r++) {
      for (let c = 0; c < 28; c++) {
        const inBlock = r >= r0 && r < r0 + 7 && c >= c0 && c < c0 + 7;
        images[i * 784 + r * 28 + c] = inBlock ? 160 + Math.floor(rnd() * 96) : Math.floor(rnd() * 80);
      }
    }
  }
  return { images, labels };
}

/** An IDX file's payload (after its header of 4 + 4 * rank bytes), gunzipped by the browser. */
async function fetchIdx(url: string): Promise<Uint8Array> {
  const res = await fetch(url);
  if (!res.ok || !res.body) throw new Error(`${url}: HTTP ${res.status}`);
  const bytes = new Uint8Array(await new Response(res.body.pipeThrough(new DecompressionStream('gzip'))).arrayBuffer());
  return bytes.subarray(4 + 4 * (bytes[3] ?? 0));
}

/** The first `limit` examples (all by default) of an MNIST split. */
async function mnistSplit(dir: string, prefix: 'train' | 't10k', limit: number | null): Promise<{ images: Uint8Array; labels: Uint8Array }> {
  const [images, labels] = await Promise.all([fetchIdx(`${dir}/${prefix}-images-idx3-ubyte.gz`), fetchIdx(`${dir}/${prefix}-labels-idx1-ubyte.gz`)]);
  const n = Math.min(labels.length, limit ?? Infinity);
  return { images: images.subarray(0, n * 784), labels: labels.subarray(0, n) };
}

/** x float32 [n, 784] in [0, 1] and y int32 [n], on the CPU (js) backend. */
function tensors(d: { images: Uint8Array; labels: Uint8Array }): [Tensor, Tensor] {
  const n = d.labels.length;
  return [
    tensor(Float32Array.from(d.images, (v) => v / 255), { shape: [n, 784], backend: 'js' }),
    tensor(Int32Array.from(d.labels), { dtype: 'int32', backend: 'js' }),
  ];
}

async function run(): Promise<PageResult> {
  const gpu = await initWebGPU();
  const adapter = (gpu as unknown as { adapter: { description: string; vendor: string; architecture: string } }).adapter;
  log(`WebGPU adapter: ${adapter.description || `${adapter.vendor} ${adapter.architecture}`}`);
  const mnist = params.get('mnist');
  const epochs = Number(params.get('epochs') ?? 1);
  const count = (key: string) => (params.has(key) ? Number(params.get(key)) : null);
  const [train, test] = mnist
    ? [tensors(await mnistSplit(mnist, 'train', count('train'))), tensors(await mnistSplit(mnist, 't10k', count('test')))]
    : [tensors(syntheticDigits(count('train') ?? 6000, 1)), tensors(syntheticDigits(count('test') ?? 1000, 1001))];
  log(`${mnist ? 'MNIST' : 'synthetic digits'}: ${train[0].shape[0]} training, ${test[0].shape[0]} test examples`);

  setBackend('webgpu'); // the model's weights, and what fit creates, live on the GPU
  manualSeed(0);
  const model = new Sequential([new Dense(128, { activation: 'relu', inputShape: [784] }), new Dense(10, { activation: 'softmax' })]);
  model.compile({ optimizer: new Adam(), loss: 'sparse_categorical_crossentropy', metrics: ['accuracy'] });
  const steps = Math.ceil(train[0].shape[0] / 32) * epochs;
  const started = performance.now();
  const epochLog = new (class extends Callback {
    override onEpochEnd(epoch: number, logs: Logs): void {
      log(`epoch ${epoch + 1}/${epochs}: ${Object.entries(logs).map(([k, v]) => `${k} ${v.toFixed(4)}`).join(', ')}`);
    }
  })();
  const history = await model.fit(train[0], train[1], { epochs, batchSize: 32, verbose: 0, seed: 0, validationData: test, callbacks: [epochLog] });
  const msPerStep = (performance.now() - started) / steps;
  const { accuracy } = await model.evaluate(test[0], test[1]);
  log(`test accuracy ${accuracy.toFixed(4)}; ${msPerStep.toFixed(2)} ms/step (validation included)`);
  return { adapter: adapter.description || `${adapter.vendor} ${adapter.architecture}`, backend: model.parameters()[0].backend.name, trainExamples: train[0].shape[0], epochs, msPerStep, history: history.history, testAccuracy: accuracy };
}

page.latheResult = run();
page.latheResult.catch((e: Error) => log(`failed: ${e.message}`));
