// Every layer type a config or saved model may name, with the function that reads its options.
import { LatheError, fail } from '../../errors.js';
import { ConfigReader } from '../config.js';
import type { Layer } from '../layer.js';
import { Activation, ReLU, Softmax } from './activation.js';
import { MultiHeadAttention } from './attention.js';
import { Conv2D, Conv2d } from './conv.js';
import { Dense, Linear } from './dense.js';
import { Dropout } from './dropout.js';
import { Embedding } from './embedding.js';
import { LeakyReLU } from './leaky-relu.js';
import { BatchNorm1d, BatchNorm2d, BatchNormalization, LayerNorm, LayerNormalization } from './normalization.js';
import { RMSNorm, RMSNormalization } from './rms-norm.js';
import { AvgPool2D, AvgPool2d, GlobalAveragePooling2D, GlobalMaxPooling2D, MaxPool2D, MaxPool2d } from './pooling.js';
import { Flatten, Reshape } from './reshape.js';
import { PositionEmbedding } from './position-embedding.js';
import { Rescaling } from './rescaling.js';
import { TransformerBlock } from './transformer.js';
import { QuantizedConv2D, QuantizedDense } from './quantized.js';

export { Activation, Dense, Linear, ReLU, Rescaling, Softmax };
export { Conv2D, Conv2d, Dropout, Embedding, Flatten, LeakyReLU, Reshape };
export { BatchNorm1d, BatchNorm2d, BatchNormalization, LayerNorm, LayerNormalization, RMSNorm, RMSNormalization };
export { AvgPool2D, AvgPool2d, GlobalAveragePooling2D, GlobalMaxPooling2D, MaxPool2D, MaxPool2d };
export { MultiHeadAttention, PositionEmbedding, TransformerBlock };
export { QuantizedConv2D, QuantizedDense };
export type { InputQuantizationSpec, QuantizedConv2DOptions, QuantizedDenseOptions } from './quantized.js';
/** Keras' longer names for the same classes. */
export { AvgPool2D as AveragePooling2D, Conv2D as Convolution2D, MaxPool2D as MaxPooling2D };
export type { Conv2DOptions, Conv2dLayerOptions } from './conv.js';
export type { DropoutOptions } from './dropout.js';
export type { EmbeddingOptions } from './embedding.js';
export { KVCacheEntry } from './attention.js';
export type { MultiHeadAttentionOptions } from './attention.js';
export type { PositionEmbeddingOptions } from './position-embedding.js';
export type { TransformerBlockOptions } from './transformer.js';
export type { BatchNormalizationOptions, BatchNormOptions, LayerNormalizationOptions } from './normalization.js';
export type { GlobalPooling2DOptions, Pooling2DOptions } from './pooling.js';
export type { Padding } from './padding.js';

export const LAYER_TYPES: Record<string, (r: ConfigReader) => Layer> = {
  dense: Dense.fromConfig,
  activation: Activation.fromConfig,
  rescaling: Rescaling.fromConfig,
  conv2d: Conv2D.fromConfig,
  maxpool2d: MaxPool2D.fromConfig,
  avgpool2d: AvgPool2D.fromConfig,
  globalaveragepooling2d: GlobalAveragePooling2D.fromConfig,
  globalmaxpooling2d: GlobalMaxPooling2D.fromConfig,
  flatten: Flatten.fromConfig,
  reshape: Reshape.fromConfig,
  dropout: Dropout.fromConfig,
  batchnormalization: BatchNormalization.fromConfig,
  layernormalization: LayerNormalization.fromConfig,
  rmsnormalization: RMSNormalization.fromConfig,
  embedding: Embedding.fromConfig,
  leakyrelu: LeakyReLU.fromConfig,
  multiheadattention: MultiHeadAttention.fromConfig,
  positionembedding: PositionEmbedding.fromConfig,
  transformerblock: TransformerBlock.fromConfig,
  quantizeddense: QuantizedDense.fromConfig,
  quantizedconv2d: QuantizedConv2D.fromConfig,
};

/** Builds one layer from its config; `where` names it in errors: config.model.layers[1]. */
export function layerFromConfig(config: unknown, where: string): Layer {
  const r = new ConfigReader(where, config as Record<string, unknown>);
  const type = r.string('type');
  const make = Object.hasOwn(LAYER_TYPES, type) ? LAYER_TYPES[type] : undefined;
  if (!make) fail(where, `unknown layer type ${JSON.stringify(type)} (expected one of ${Object.keys(LAYER_TYPES).join(', ')})`);
  try {
    return make(new ConfigReader(`${where} (${type})`, r.obj));
  } catch (e) {
    // A constructor's own checks name the layer by its generated name (dense_3), which is not in
    // the config; name the config entry instead.
    if (!(e instanceof LatheError) || e.message.startsWith(`${where} (`)) throw e;
    fail(`${where} (${type})`, e.message.replace(/^[^:]*: /, ''));
  }
}
