// The "lathe" runtime: a Lathe saved model, or a model.onnx through Lathe's ONNX importer, run by
// Lathe's own ops. predict() is synchronous on the event loop's thread (a batch of the brief's MLP
// takes tens of microseconds, less than a hop to a worker would cost).
import { fail } from '../../errors.js';
import { type InferenceModel, loadForInference } from '../../io/inference.js';
import { OnnxModel } from '../../io/onnx/import/model.js';
import { full } from '../../ops/functions.js';
import type { ServingRuntime, Signature, TensorSpec } from './runtime.js';

/** The signature of a loaded model: model.json's for Lathe, the graph's for ONNX. */
export function signatureOf(loaded: InferenceModel): Signature {
  const m = loaded.model;
  if (m instanceof OnnxModel) {
    const spec = (v: OnnxModel['inputs'][number]): TensorSpec => ({ name: v.name, dtype: v.dtype, shape: v.shape ?? [null] });
    return { inputs: m.inputs.map(spec), outputs: m.outputs.map(spec) };
  }
  const sig = (loaded as { json: { signature?: Signature } }).json.signature;
  if (!sig?.inputs?.length || !sig.outputs?.length) fail('serve', 'model.json has no signature');
  return { inputs: sig.inputs, outputs: sig.outputs };
}

/** Loads `source`: a saved-model folder or a model.onnx file. */
export function loadLatheRuntime(source: string): ServingRuntime {
  const loaded = loadForInference(source);
  const signature = signatureOf(loaded);
  return {
    name: 'lathe',
    signature,
    inference: loaded,
    run: (x) => loaded.model.predict(x),
    async warmUp() {
      const shape = loaded.model.inputShape;
      if (!shape || loaded.preprocessor) return; // a dynamic shape or raw records: nothing fixed to warm up with
      loaded.model.predict(full([1, ...shape], 0)).dataSync();
    },
    async close() {}, // all on the JS heap: the garbage collector frees it
  };
}
