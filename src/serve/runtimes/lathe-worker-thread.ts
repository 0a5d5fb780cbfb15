// The worker_threads side of the "lathe-worker" runtime (lathe-worker.ts): loads one saved model
// (or model.onnx through Lathe's importer) and runs the batches the main thread posts, one at a
// time, handing inputs and outputs over as transferred ArrayBuffers (no copy across threads).
// It uses the native backend's default thread pool, which is process-wide: the main thread
// does no compute for this model, so the two threads never both fill the pool for it.
import { parentPort, workerData } from 'node:worker_threads';
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
export type WorkerRequest = { id: number; x: WireTensor };
export type WorkerReply = { id: number; y: WireTensor } | { id: number; error: string; lathe: boolean } | { ready: true } | { loadError: string };

const port = parentPort!;
try {
  const loaded = loadForInference((workerData as { source: string }).source);
  port.on('message', ({ id, x }: WorkerRequest) => {
    try {
      const Ctor = arrayType(x.dtype);
      const y = loaded.model.predict(fromArray(new Ctor(x.buffer), x.shape, { dtype: x.dtype }, 'lathe-worker', true));
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
