// One training step of the Shakespeare char-GPT (examples/shakespeare-char.json's model: 4
// layers, 4 heads, 128 wide, block 64, batch 12, AdamW) on the webgpu backend and on the CPU in
// the same process: ms per step with the loss read back once per `--log` steps, as the training
// loop logs it. Random tokens: the step's cost does not depend on the text. One JSON line per
// backend, with the adapter's description. For issue 11's "a char-GPT step faster than on this
// 2-core CPU": the CPU line there is the machine it runs on; bench/README.md has the 2-core figure.
//   node bench/gpu/gpt-step.mjs [--steps 30] [--log 10] [--cpu 0|1]
import * as lt from '../../dist/src/index.js';

function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return Number(i >= 0 ? process.argv[i + 1] : fallback);
}
const steps = arg('steps', 30);
const logEvery = arg('log', 10);
const withCpu = arg('cpu', 1) !== 0;
const config = { vocabSize: 65, blockSize: 64, nLayer: 4, nHead: 4, nEmbd: 128, dropout: 0, seed: 1 };
const batch = 12;

const gpu = await lt.initWebGPU();
const g = new lt.Generator(0);
const tokens = lt.randint(0, config.vocabSize, [batch, config.blockSize + 1], { generator: g, backend: 'js' });

async function run(backend) {
  const previous = lt.getBackend().name;
  lt.setBackend(backend); // the model's weights are created on the current backend
  try {
    const model = lt.gpt(config);
    const x = tokens.slice([0, 0], [batch, config.blockSize]).to(backend);
    const y = tokens.slice([0, 1], [batch, config.blockSize + 1]).to(backend);
    const opt = new lt.AdamW(model.parameters(), { lr: 1e-3 });
    const step = () => {
      opt.zeroGrad();
      const loss = lt.nextTokenLoss(model.forward(x), y);
      loss.backward();
      opt.step();
      return loss;
    };
    for (let i = 0; i < 3; i++) await step().data(); // compile the kernels, warm the pool
    let loss = 0;
    const t0 = performance.now();
    for (let i = 1; i <= steps; i++) {
      const l = step();
      if (i % logEvery === 0) loss = (await l.data())[0];
    }
    if (backend === 'webgpu') await gpu.sync();
    const ms = (performance.now() - t0) / steps;
    const line = { bench: 'gpu-gpt-step', backend, ...config, batch, steps, ms_per_step: +ms.toFixed(2), last_logged_loss: +loss.toFixed(4) };
    if (backend === 'webgpu') Object.assign(line, { adapter: gpu.adapter.description, gpu_allocated_bytes: gpu.memory().allocatedBytes });
    console.log(JSON.stringify(line));
  } finally {
    lt.setBackend(previous);
  }
}

await run('webgpu');
if (withCpu) await run(lt.listBackends().includes('native') ? 'native' : 'js');
