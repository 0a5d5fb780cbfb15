// int8 post-training quantization: per-channel weights, calibrated or dynamic inputs, and the
// measured cost (src/quant/report.ts).
export { quantizeModel, type LayerQuantization, type QuantizationMode, type QuantizeOptions, type QuantizedModel } from './quantize-model.js';
export { dequantizePerChannel, quantizePerChannel, type QuantizedWeights } from './weights.js';
export { RangeObserver, uint8Params, type CalibrationMethod } from './calibrate.js';
