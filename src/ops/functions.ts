// Every op as a plain function (lt.add(a, b)); Tensor's methods call these.
export * from './elementwise.js';
export * from './reduce.js';
export * from './layout.js';
export * from './linalg.js';
export * from './nn.js';
export * from '../tensor/create.js';
export { cachedSelfAttention, packedSelfAttention, scaledDotProductAttention, type AttentionOptions, type KVBuffers } from './attention.js';
export { layerNorm, type LayerNormOptions } from './norm.js';
export * from './quantized.js';
