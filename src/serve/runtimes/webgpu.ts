// The "webgpu" runtime (config.json "runtime": "webgpu"): a Lathe saved model loaded onto the GPU
// (WebGPU: Dawn from the \`webgpu\` package, as \`lathe train --backend webgpu\` uses). Requests are
// parsed and preprocessed on the CPU as for "lathe" (and :explain runs there, on a host copy of
// the model, as "lathe-worker" keeps one); each batch goes up, runs the model's ops on the GPU,
// and comes back in one async read-back, so the event loop never waits for the GPU and batches
// of concurrent requests overlap there. Unloading a version gives its GPU memory back at once.
import type { Backend } from '../../backends/backend.js';
import { getBackend, initWebGPU, withBackend } from '../../backends/registry.js';
import { fail } from '../../errors.js';
import { loadForInference } from '../../io/inference.js';
import { full, tensor } from '../../ops/functions.js';
import type { Tensor } from '../../tensor/tensor.js';
import { signatureOf } from './lathe.js';
import type { ServingRuntime } from './runtime.js';

/** Loads the saved model at \`source\` onto the GPU; fails, saying why, where WebGPU has no adapter. */
export async function loadWebGPURuntime(source: string): Promise<ServingRuntime> {
  if (source.toLowerCase().endsWith('.onnx')) fail(source, 'runtime "webgpu" serves Lathe saved models; a model.onnx runs on "lathe" or "onnxruntime"');
  const gpu = (await initWebGPU()) as Backend & { trim(): void };
  const host = getBackend().name;
  const loaded = loadForInference(source); // for request parsing and :explain
  const { model } = withBackend(gpu.name, () => loadForInference(source)); // the weights are created on the current backend
  let closed = false;
  const run = async (x: Tensor): Promise<Tensor> => {
    if (closed) fail('webgpu runtime', 'the runtime is closed');
    const y = model.predict(x); // the batch goes up inside (an explicit transfer)
    const values = await y.data();
    y.dispose();
    return tensor(values, { shape: [...y.shape], dtype: y.dtype, backend: host });
  };
  return {
    name: 'webgpu',
    signature: signatureOf(loaded),
    inference: loaded,
    run,
    async warmUp() {
      const shape = model.inputShape;
      if (!shape || loaded.preprocessor) return; // a dynamic shape or raw records: nothing fixed to warm up with
      await run(full([1, ...shape], 0)); // compiles the pipelines the model's kernels use
    },
    async close() {
      closed = true;
      for (const t of Object.values((model as { stateDict?: () => Record<string, Tensor> }).stateDict?.() ?? {})) t.dispose();
      gpu.trim(); // the pool's buffers back to the device
    },
  };
}
