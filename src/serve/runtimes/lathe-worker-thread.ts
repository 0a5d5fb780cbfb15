// The worker_threads side of the "lathe-worker" runtime (lathe-worker.ts): loads one saved model
// (or model.onnx through Lathe's importer) and runs the batches the main thread posts, one at a
// time: each arrives in a staging buffer shared with the main thread (copied out first), and
// its output goes back as a transferred ArrayBuffer.
// It uses the native backend's default thread pool, which is process-wide: the main thread
// does no compute for this model, so the two threads never both fill the pool for it. This
// thread computes at the pool workers' lower priority, so the main thread's event loop preempts
// it instead of waiting for the batch to end.
import { parentPort, workerData } from 'node:worker_threads';
import { nativeAddon } from '../../backends/registry.js';
import { LatheError } from '../../errors.js';
import { loadForInference } from '../../io/inference.js';
import { fromArray } from '../../tensor/create.js';
import { arrayType, type DType } from '../../tensor/dtype.js';

/** A batch as it crosses between threads: the buffer is transferred, never shared. */
export interface WireTensor {
  dtype: DType;
  shape: number[];
  buffer: ArrayBuffer;
}
/** A batch sent to the worker: its first byteLength bytes in a staging buffer the main thread reuses once answered. */
export interface StagedTensor {
  dtype: DType;
  shape: number[];
  staging: SharedArrayBuffer;
  byteLength: number;
}
export type WorkerRequest = { id: number; x: StagedTensor };
export type WorkerReply = { id: number; y: WireTensor } | { id: number; error: string; lathe: boolean } | { ready: true } | { loadError: string };

const port = parentPort!;
nativeAddon?.lowerThreadPriority();
// The batch's memory, reused from batch to batch (they run one at a time, and nothing of a batch
// outlives its reply, which is a copy): fresh memory for each would fault in anew every time.
let input = new ArrayBuffer(0);
try {
  const loaded = loadForInference((workerData as { source: string }).source);
  port.on('message', ({ id, x }: WorkerRequest) => {
    try {
      const Ctor = arrayType(x.dtype);
      // Copied out of the staging buffer before anything runs: its memory is the main thread's again once this batch is answered.
      if (input.byteLength < x.byteLength) input = new ArrayBuffer(x.byteLength);
      new Uint8Array(input, 0, x.byteLength).set(new Uint8Array(x.staging, 0, x.byteLength));
      const values = new Ctor(input, 0, x.byteLength / Ctor.BYTES_PER_ELEMENT);
      const y = loaded.model.predict(fromArray(values, x.shape, { dtype: x.dtype }, 'lathe-worker', true));
      const data = y.dataSync();
      // The output's storage may be a view or reused by the backend: send a copy this thread gives up.
      const out = data.slice();
      port.postMessage({ id, y: { dtype: y.dtype, shape: [...y.shape], buffer: out.buffer } } satisfies WorkerReply, [out.buffer as ArrayBuffer]);
    } catch (e) {
      port.postMessage({ id, error: (e as Error)?.message ?? String(e), lathe: e instanceof LatheError } satisfies WorkerReply);
    }
  });
  port.postMessage({ ready: true } satisfies WorkerReply);
} catch (e) {
  port.postMessage({ loadError: (e as Error)?.message ?? String(e) } satisfies WorkerReply);
}
