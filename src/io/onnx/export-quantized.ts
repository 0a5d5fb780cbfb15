// QuantizedDense and QuantizedConv2D in ONNX's QDQ form, the pattern ONNX Runtime fuses into its
// int8 kernels: the input through QuantizeLinear -> DequantizeLinear (static: the calibrated scale
// and zero point) or DynamicQuantizeLinear -> DequantizeLinear (dynamic), the int8 kernel through a
// per-output-channel DequantizeLinear, then the float MatMul/Conv, bias and activation. That is the
// layer's own arithmetic, act(sum_k (q_k - zp) kernel[k,n] (scale kernelScale[n]) + bias[n]), up
// to float32 summation order. Per-axis DequantizeLinear needs opset 13, the exporter's lowest.
import type { Layer } from '../../nn/layer.js';
import type { QuantizedConv2D, QuantizedDense } from '../../nn/layers/quantized.js';
import type { Tensor } from '../../tensor/tensor.js';
import { type ExportContext, activate, attr, spatialPads, toFloat } from './export-layers.js';
import { ONNX_DTYPE } from './schema.js';

type QuantizedLayer = QuantizedDense | QuantizedConv2D;

/** A uint8 or int8 initializer: raw_data holds one byte per value. */
function byteInitializer(ctx: ExportContext, name: string, dataType: number, values: Uint8Array, dims: readonly number[]): string {
  ctx.g.initializers.push({ name, dataType, dims: [...dims], rawData: new Uint8Array(values.buffer, values.byteOffset, values.byteLength) });
  return name;
}

/**
 * The input as the layer quantizes it, dequantized again. Dynamic mode's zero range (an all-zero
 * input) gives scale 1 and zero point 0 in Lathe and in ONNX Runtime; the spec's 0/0 would be NaN,
 * but either way every dequantized value is 0.
 */
function quantizedInput(ctx: ExportContext, l: QuantizedLayer): string {
  const g = ctx.g;
  const q = l.inputQuantization;
  if (q.mode === 'static') {
    const scale = g.floats(`${ctx.prefix}.inputScale`, [q.scale], []);
    const zeroPoint = byteInitializer(ctx, `${ctx.prefix}.inputZeroPoint`, ONNX_DTYPE.UINT8, Uint8Array.of(q.zeroPoint), []);
    return g.node('DequantizeLinear', [g.node('QuantizeLinear', [ctx.value, scale, zeroPoint]), scale, zeroPoint]);
  }
  // DynamicQuantizeLinear has three outputs (y, y_scale, y_zero_point); GraphBuilder.node makes one.
  const [y, scale, zeroPoint] = [g.fresh(`${ctx.prefix}.input_q`), g.fresh(`${ctx.prefix}.input_scale`), g.fresh(`${ctx.prefix}.input_zero_point`)];
  g.nodes.push({ opType: 'DynamicQuantizeLinear', input: [ctx.value], output: [y, scale, zeroPoint], name: `DynamicQuantizeLinear_${g.nodes.length}`, attribute: [] });
  return g.node('DequantizeLinear', [y, scale, zeroPoint]);
}

/**
 * The int8 kernel dequantized along its output-channel axis (1 for Dense's [in, units], 0 for
 * Conv's [filters, ...]); a zero channel has scale 1, never 0. By default it is written as uint8
 * with zero point 128 (w + 128 - 128 = w, the same values): ONNX Runtime's uint8 x int8 kernels on
 * x86 without VNNI (AVX2, AVX-512 before Cascade Lake) multiply with vpmaddubsw, whose int16 pair
 * sums saturate (255 * 127 * 2 > 32767), so an int8 kernel there gives wrong outputs (classes
 * differed on 0.8% of MNIST); its uint8 x uint8 kernels are exact on every CPU, as ONNX Runtime's
 * docs advise. weightType 'int8' writes the int8 values with zero point 0, for VNNI targets.
 */
function dequantizedKernel(ctx: ExportContext, l: QuantizedLayer, axis: number): string {
  const n = l.kernelScale.size;
  const int8 = l.kernel.dataSync() as Int8Array;
  const [type, values, zero] = ctx.weightType === 'int8'
    ? [ONNX_DTYPE.INT8, new Uint8Array(int8.buffer, int8.byteOffset, int8.length), 0]
    : [ONNX_DTYPE.UINT8, Uint8Array.from(int8, (v) => v + 128), 128];
  const kernel = byteInitializer(ctx, `${ctx.prefix}.kernel`, type, values, l.kernel.shape);
  const zeroPoint = byteInitializer(ctx, `${ctx.prefix}.kernelZeroPoint`, type, new Uint8Array(n).fill(zero), [n]);
  return ctx.g.node('DequantizeLinear', [kernel, ctx.g.tensor(`${ctx.prefix}.kernelScale`, l.kernelScale), zeroPoint], [attr.int('axis', axis)]);
}

const biasOf = (ctx: ExportContext, bias: Tensor | null): string[] => (bias ? [ctx.g.tensor(`${ctx.prefix}.bias`, bias)] : []);

export const QUANTIZED_EXPORTS: Record<string, (ctx: ExportContext, layer: Layer) => void> = {
  // MatMul + Add (not Gemm) on any rank: the DQ -> MatMul pattern ONNX Runtime's QDQ fusions look for.
  quantizeddense: (ctx, layer) => {
    const l = layer as QuantizedDense;
    toFloat(ctx);
    const x = quantizedInput(ctx, l);
    const y = ctx.g.node('MatMul', [x, dequantizedKernel(ctx, l, 1)]);
    const bias = biasOf(ctx, l.bias);
    ctx.value = bias.length ? ctx.g.node('Add', [y, bias[0]]) : y;
    activate(ctx, l.activation);
  },
  // Zero padding of the dequantized input is the layer's padding with the zero point.
  quantizedconv2d: (ctx, layer) => {
    const l = layer as QuantizedConv2D;
    toFloat(ctx);
    const inputs = [quantizedInput(ctx, l), dequantizedKernel(ctx, l, 0), ...biasOf(ctx, l.bias)];
    ctx.value = ctx.g.node('Conv', inputs, [
      attr.ints('kernel_shape', l.kernelSize),
      attr.ints('strides', l.strides),
      attr.ints('dilations', l.dilationRate),
      attr.int('group', 1),
      attr.ints('pads', spatialPads(ctx.shape, l.kernelSize, l.strides, l.dilationRate, l.padding)),
    ]);
    activate(ctx, l.activation);
  },
};
