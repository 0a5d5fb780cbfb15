// What serves one model version: Lathe's own ops, or onnxruntime-node for model.onnx. The
// repository, batcher and HTTP handlers see only this interface, so a runtime is one file here.
import type { InferenceModel } from '../../io/inference.js';
import type { Tensor } from '../../tensor/tensor.js';

export interface TensorSpec {
  name: string;
  /** A Lathe dtype name (float32, int32, ...). */
  dtype: string;
  /** The full shape, batch axis first; null where dynamic. */
  shape: (number | null)[];
}
export interface Signature {
  inputs: TensorSpec[];
  outputs: TensorSpec[];
}

/** The runtimes a version's status names; config.json's "runtime" picks among them. */
export type RuntimeName = 'lathe' | 'lathe-worker' | 'onnxruntime' | 'webgpu';

export interface ServingRuntime {
  readonly name: RuntimeName;
  readonly signature: Signature;
  /**
   * What turning a request body into a batch needs: the per-example input shape, fitted
   * preprocessing and class names (src/io/inference.ts). Its predict() is not for serving: use run().
   */
  readonly inference: InferenceModel;
  /** Runs one batch (batch axis first) and gives the first output, batch axis first. */
  run(x: Tensor): Tensor | Promise<Tensor>;
  /** One run on zeros of the signature, so the first request pays no first-call costs. */
  warmUp(): Promise<void>;
  /** Frees what the runtime holds outside the JS heap (an ORT session); called once, after draining. */
  close(): Promise<void>;
}

/** The per-example shape of a signature's input when every dimension after the batch is fixed. */
export function perExampleShape(spec: TensorSpec): number[] | undefined {
  const rest = spec.shape.slice(1);
  return spec.shape.length >= 1 && rest.every((d) => d !== null) ? (rest as number[]) : undefined;
}
