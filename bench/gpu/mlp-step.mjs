// One training step of the brief's MNIST MLP (784-128 relu, 10 softmax, Adam, sparse softmax
// cross-entropy; batch 32 by default) on the webgpu backend and on the CPU in the same process:
// ms per step with the loss read back once per `--log` steps, as a training loop logs it, and
// GPU memory (allocated minus freed) at the first and the last log. One JSON line per backend.
//   node bench/gpu/mlp-step.mjs [--batch 32] [--steps 300] [--log 50]
import * as lt from '../../dist/src/index.js';

function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return Number(i >= 0 ? process.argv[i + 1] : fallback);
}
const batch = arg('batch', 32);
const steps = arg('steps', 300);
const logEvery = arg('log', 50);

const gpu = await lt.initWebGPU();
const g = new lt.Generator(0);
const init = {
  x: lt.uniform([batch, 784], 0, 1, { generator: g, backend: 'js' }),
  y: lt.tensor(Int32Array.from({ length: batch }, (_, i) => (i * 7) % 10), { backend: 'js' }),
  w1: lt.randn([784, 128], { generator: g, std: 0.05, backend: 'js' }),
  w2: lt.randn([128, 10], { generator: g, std: 0.1, backend: 'js' }),
};

async function run(backend) {
  const [x, y] = [init.x.to(backend), init.y.to(backend)];
  const [w1, w2] = [init.w1, init.w2].map((w) => w.to(backend).clone().requireGrad());
  const [b1, b2] = [lt.zeros([128], { backend }), lt.zeros([10], { backend })].map((b) => b.requireGrad());
  const opt = new lt.Adam([w1, b1, w2, b2]);
  const step = () => {
    opt.zeroGrad();
    const hidden = lt.biasActivation(x.matmul(w1), b1, 'relu');
    const loss = lt.softmaxCrossEntropy(lt.biasActivation(hidden.matmul(w2), b2), y);
    loss.backward();
    opt.step();
    return loss;
  };
  for (let i = 0; i < 5; i++) await step().data(); // compile the kernels, warm the pool
  const memory = [];
  let loss = 0;
  const t0 = performance.now();
  for (let i = 1; i <= steps; i++) {
    const l = step();
    if (i % logEvery === 0) {
      loss = (await l.data())[0];
      if (backend === 'webgpu') memory.push(gpu.memory().allocatedBytes);
    }
  }
  if (backend === 'webgpu') await gpu.sync();
  const ms = (performance.now() - t0) / steps;
  const line = { bench: 'gpu-mlp-step', backend, batch, steps, ms_per_step: +ms.toFixed(3), last_logged_loss: +loss.toFixed(5) };
  if (backend === 'webgpu') Object.assign(line, { adapter: gpu.adapter.description, gpu_allocated_bytes_first_log: memory[0], gpu_allocated_bytes_last_log: memory.at(-1) });
  console.log(JSON.stringify(line));
}

await run('webgpu');
await run(lt.listBackends().includes('native') ? 'native' : 'js');
