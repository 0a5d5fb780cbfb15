// The native backend's quantized kernels (native/quantized_binding.cc): int8 weights packed once
// into the int8 GEMM's layout, held by the addon (the garbage collector frees them).
import { type Backend, type Conv2dGeometry, FUSED_ACTIVATIONS, type PackedInt8, type Pool2dGeometry } from '../backend.js';
import type { DType, TypedArray } from '../../tensor/dtype.js';
import { sizeOf } from '../../tensor/shape.js';
import type { NativeAddon } from './addon.js';

type QuantizedKernels = Required<Pick<Backend, 'packInt8' | 'quantizedLinear' | 'rescaledQuantizedLinear' | 'quantizedConv2d' | 'quantizedConv2dMaxPool' | 'quantizedConvBlocks'>>;

const NO_BIAS = new Float32Array(0);

// One image's pooling geometry (Pool2dShape's fields): the kernels pool image by image.
const pooling = (convShape: readonly number[], pool: Pool2dGeometry, outShape: readonly number[]) =>
  Float64Array.of(convShape[1], convShape[2], convShape[3], outShape[2], outShape[3], ...pool.kernel, ...pool.stride, ...pool.padding);

export function nativeQuantizedKernels(
  addon: NativeAddon,
  alloc: (dtype: DType, size: number) => TypedArray,
  convGeometry: (x: readonly number[], w: readonly number[], y: readonly number[], g: Conv2dGeometry) => Float64Array,
): QuantizedKernels {
  const handle = (w: PackedInt8, layout: 'dense' | 'conv'): unknown => {
    if (w.backend !== 'native' || w.layout !== layout) throw new Error(`lathe: int8 weights packed for ${w.backend} (${w.layout}) reached the native ${layout} kernel`);
    return w.handle;
  };
  return {
    packInt8(w, layout) {
      const data = w.buf as Int8Array;
      const handle = layout === 'dense'
        ? addon.qPackWeights(data, w.shape[0], w.shape[1], false)
        : addon.qPackConvWeights(data, w.shape[0], w.shape[1], w.shape[2], w.shape[3]);
      return { backend: 'native', layout, shape: w.shape, handle };
    },
    quantizedLinear(x, w, wScale, bias, activation, input) {
      const [K, N] = w.shape;
      const M = sizeOf(x.shape) / K;
      const out = alloc('float32', M * N) as Float32Array;
      addon.qLinear(x.buf as Float32Array, M, K, handle(w, 'dense'), wScale.buf as Float32Array, (bias?.buf ?? NO_BIAS) as Float32Array,
        FUSED_ACTIVATIONS.indexOf(activation), input?.scale ?? 0, input?.zeroPoint ?? 0, out);
      return out;
    },
    rescaledQuantizedLinear(x, scale, offset, w, wScale, bias, activation, input) {
      const [K, N] = w.shape;
      const M = sizeOf(x.shape) / K;
      const out = alloc('float32', M * N) as Float32Array;
      addon.qLinear(x.buf as Uint8Array, M, K, handle(w, 'dense'), wScale.buf as Float32Array, (bias?.buf ?? NO_BIAS) as Float32Array,
        FUSED_ACTIVATIONS.indexOf(activation), input?.scale ?? 0, input?.zeroPoint ?? 0, out, scale, offset);
      return out;
    },
    quantizedConv2d(x, w, wScale, bias, activation, input, g, outShape) {
      const out = alloc('float32', sizeOf(outShape)) as Float32Array;
      addon.qConv2d(x.buf as Float32Array, convGeometry(x.shape, w.shape, outShape, g), handle(w, 'conv'), wScale.buf as Float32Array,
        (bias?.buf ?? NO_BIAS) as Float32Array, FUSED_ACTIVATIONS.indexOf(activation), input?.scale ?? 0, input?.zeroPoint ?? 0, out);
      return out;
    },
    quantizedConv2dMaxPool(x, w, wScale, bias, activation, input, g, convShape, pool, outShape) {
      const out = alloc('float32', sizeOf(outShape)) as Float32Array;
      addon.qConv2d(x.buf as Float32Array, convGeometry(x.shape, w.shape, convShape, g), handle(w, 'conv'), wScale.buf as Float32Array,
        (bias?.buf ?? NO_BIAS) as Float32Array, FUSED_ACTIVATIONS.indexOf(activation), input?.scale ?? 0, input?.zeroPoint ?? 0, out, pooling(convShape, pool, outShape));
      return out;
    },
    quantizedConvBlocks(x, blocks, outShape, rescale) {
      const out = alloc('float32', sizeOf(outShape)) as Float32Array;
      addon.qConvBlocks(x.buf as Float32Array | Uint8Array, x.shape[0], out, rescale?.scale ?? 0, rescale?.offset ?? 0, ...blocks.flatMap((b) => [
        convGeometry(b.inShape, b.w.shape, b.convShape, b), handle(b.w, 'conv'), b.wScale.buf as Float32Array, (b.bias?.buf ?? NO_BIAS) as Float32Array,
        FUSED_ACTIVATIONS.indexOf(b.activation), b.input?.scale ?? 0, b.input?.zeroPoint ?? 0, pooling(b.convShape, b.pool, b.shape),
      ]));
      return out;
    },
  };
}
