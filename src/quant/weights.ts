// Symmetric per-channel int8 weights: each output channel's values map to -127..127 with its
// own scale, max |w| / 127, so one large channel does not cost the others their precision
// (ONNX Runtime's and PyTorch's default for weights). A channel of zeros gets scale 1: nothing
// divides by zero, and it dequantizes to zeros.
import { roundHalfEven } from '../backends/js/quantized.js';
import { fail, fmtShape } from '../errors.js';
import { tensor } from '../ops/functions.js';
import type { Tensor } from '../tensor/tensor.js';

export interface QuantizedWeights {
  /** int8, w's shape. */
  q: Tensor;
  /** float32 [channels]: w ~ q * scale along `axis`. */
  scale: Tensor;
}

/** Quantizes w per channel along `axis` (Dense's [in, out]: 1; Conv2D's [out, in, kH, kW]: 0). */
export function quantizePerChannel(w: Tensor, axis: number): QuantizedWeights {
  if (w.dtype !== 'float32' && w.dtype !== 'float64') fail('quantizePerChannel', `expected float weights, got ${w.dtype}`);
  if (!Number.isInteger(axis) || axis < 0 || axis >= w.rank) fail('quantizePerChannel', `axis ${axis} is out of range for ${fmtShape(w.shape)}`);
  const data = w.dataSync();
  const channels = w.shape[axis];
  const inner = w.shape.slice(axis + 1).reduce((a, b) => a * b, 1);
  const channelOf = (i: number) => Math.floor(i / inner) % channels;
  const maxAbs = new Float64Array(channels);
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (!Number.isFinite(v)) fail('quantizePerChannel', `weight ${fmtShape(w.shape)} holds ${v} at flat index ${i}; cannot quantize a non-finite weight`);
    const c = channelOf(i);
    maxAbs[c] = Math.max(maxAbs[c], Math.abs(v));
  }
  const scale = Float32Array.from(maxAbs, (m) => (m > 0 ? Math.fround(m / 127) : 1));
  const q = new Int8Array(data.length);
  for (let i = 0; i < data.length; i++) {
    const r = roundHalfEven(Math.fround(data[i] / scale[channelOf(i)]));
    q[i] = Math.max(-127, Math.min(127, r));
  }
  return { q: tensor(q, { shape: w.shape, backend: w.backend }), scale: tensor(scale, { backend: w.backend }) };
}

/** q * scale along `axis`, as float32: what the int8 weights stand for. */
export function dequantizePerChannel({ q, scale }: QuantizedWeights, axis: number): Tensor {
  const shape = q.shape.map((d, i) => (i === axis ? d : 1));
  return q.cast('float32').mul(scale.reshape(shape));
}
