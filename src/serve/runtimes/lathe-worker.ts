// The "lathe-worker" runtime (config.json "runtime": "lathe-worker", opt-in): the same model as
// the "lathe" runtime, run in a worker_threads Worker so the event loop keeps parsing requests,
// answering health checks and serving /metrics while a big batch computes. The main thread also
// loads the model, for what request parsing needs (input shape, preprocessing, class names) and
// for :explain, but never runs its forward pass. The hop costs a message each way
// (bench/serve.mjs measures it), so small models on small batches are better served by "lathe".
import { Worker } from 'node:worker_threads';
import { LatheError } from '../../errors.js';
import { loadForInference } from '../../io/inference.js';
import { fromArray } from '../../tensor/create.js';
import { arrayType, type TypedArray } from '../../tensor/dtype.js';
import type { Tensor } from '../../tensor/tensor.js';
import { signatureOf } from './lathe.js';
import type { WorkerReply, WorkerRequest } from './lathe-worker-thread.js';
import type { ServingRuntime } from './runtime.js';

const THREAD_FILE = new URL('./lathe-worker-thread.js', import.meta.url);
/** Staging buffers kept for reuse once their batch is answered; more in flight are dropped after. */
const KEEP_STAGING = 4;

/** Loads `source` (a saved-model folder or a model.onnx) here for parsing and in a worker for running. */
/** A ServingRuntime whose run() is always asynchronous. */
export type LatheWorkerRuntime = Omit<ServingRuntime, 'run'> & { run(x: Tensor): Promise<Tensor> };

export async function loadLatheWorkerRuntime(source: string): Promise<LatheWorkerRuntime> {
  const where = `lathe-worker: ${source}`;
  const loaded = loadForInference(source);
  const signature = signatureOf(loaded);
  const worker = new Worker(THREAD_FILE, { workerData: { source } });
  const pending = new Map<number, { resolve: (t: Tensor) => void; reject: (e: Error) => void; staging: SharedArrayBuffer }>();
  // Batches reach the worker through shared staging buffers reused from batch to batch, not
  // through a fresh copy transferred: a fresh page can cost ~10 us to fault in (a 2-vCPU Zen 5
  // VM: 390 MB/s), and copying a 4096 x 784 float batch into new memory held the event loop for
  // 35 ms; into a buffer faulted in before, about 1 ms. The worker copies the batch out first
  // (its page faults, off the loop), and the buffer is free again when the batch is answered.
  const free: SharedArrayBuffer[] = [];
  const release = (staging: SharedArrayBuffer) => {
    if (free.length < KEEP_STAGING) free.push(staging);
  };
  const stagingFor = (bytes: number): SharedArrayBuffer => {
    const i = free.findIndex((b) => b.byteLength >= bytes);
    return i >= 0 ? free.splice(i, 1)[0] : new SharedArrayBuffer(Math.max(bytes, 64));
  };
  let nextId = 1;
  let dead: string | undefined;

  // Ready, or the worker's own load error.
  await new Promise<void>((resolve, reject) => {
    const onExit = (code: number) => reject(new Error(`${where}: the worker exited (code ${code}) before loading the model`));
    worker.once('error', reject);
    worker.once('exit', onExit);
    worker.once('message', (m: WorkerReply) => {
      worker.off('error', reject);
      worker.off('exit', onExit);
      if ('loadError' in m) reject(new LatheError(`${where}: ${m.loadError}`));
      else resolve();
    });
  }).catch(async (e) => {
    await worker.terminate();
    throw e;
  });
  worker.unref(); // referenced only while a batch is out, so an idle runtime never keeps the process alive

  const failAll = (message: string) => {
    dead ??= message; // the first cause stays: a close's terminate() also ends in 'exit'
    for (const p of pending.values()) p.reject(new Error(message)); // their staging buffers go with the worker
    pending.clear();
  };
  worker.on('message', (m: WorkerReply) => {
    if (!('id' in m)) return;
    const p = pending.get(m.id);
    if (!p) return;
    pending.delete(m.id);
    release(p.staging);
    if (pending.size === 0) worker.unref();
    if ('error' in m) p.reject(m.lathe ? new LatheError(m.error) : new Error(m.error));
    else p.resolve(fromArray(new (arrayType(m.y.dtype))(m.y.buffer), m.y.shape, { dtype: m.y.dtype }, 'lathe-worker', true));
  });
  worker.on('error', (e) => failAll(`${where}: the worker failed: ${e.message}`));
  worker.on('exit', (code) => failAll(`${where}: the worker exited (code ${code})`));

  const run = (x: Tensor): Promise<Tensor> => {
    if (dead) return Promise.reject(new Error(dead));
    // A copy of the batch's values in a staging buffer: the tensor's own storage may be shared or a
    // view. A CPU tensor's storage is read in place (dataSync would copy it into fresh memory first).
    const cpu = ArrayBuffer.isView(x.buf) && (x.buf as TypedArray).length === x.size;
    const data = cpu ? (x.buf as TypedArray) : x.dataSync();
    const staging = stagingFor(data.byteLength);
    new Uint8Array(staging, 0, data.byteLength).set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    const id = nextId++;
    return new Promise<Tensor>((resolve, reject) => {
      pending.set(id, { resolve, reject, staging });
      if (pending.size === 1) worker.ref();
      worker.postMessage({ id, x: { dtype: x.dtype, shape: [...x.shape], staging, byteLength: data.byteLength } } satisfies WorkerRequest);
    });
  };

  return {
    name: 'lathe-worker',
    signature,
    inference: loaded,
    run,
    async warmUp() {
      const shape = loaded.model.inputShape;
      if (!shape || loaded.preprocessor) return;
      const zeros = new Float32Array(shape.reduce((a, b) => a * b, 1));
      await run(fromArray(zeros, [1, ...shape], {}, 'lathe-worker', true));
    },
    async close() {
      failAll(`${where}: the runtime is closed`);
      await worker.terminate();
    },
  };
}
