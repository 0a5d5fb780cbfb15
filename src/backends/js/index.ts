// The js backend: every kernel in plain TypeScript over typed arrays. It is the readable
// reference that other backends are tested against, and the fallback where they cannot load.
import type { Backend, TensorInfo } from '../backend.js';
import { type DType, type TypedArray, castArray } from '../../tensor/dtype.js';
import { biasActivation, binary, cast, scaleShift, unary, where } from './elementwise.js';
import { fill, readView, writeView } from './layout.js';
import { argReduce, reduce, softmax } from './reduce.js';
import { matmul } from './matmul.js';
import { gather, indexAdd, indexSelect, scatterAdd } from './indexing.js';
import { adamUpdate } from './optim.js';
import { softmaxCrossEntropy } from './loss.js';
import { attention, attentionCached, attentionGrad, attentionPacked, attentionPackedGrad } from './attention.js';
import { layerNorm, layerNormGrad } from './norm.js';
import { geluGrad } from './gelu.js';
import { packInt8, quantizedConv2d, quantizedLinear } from './quantized.js';
import { avgPool2d, avgPool2dGrad, conv2d, conv2dGradInput, conv2dGradWeight, maxPool2d, maxPool2dGrad } from './conv.js';

export const jsBackend: Backend = {
  name: 'js',
  upload: (data: TypedArray, dtype: DType) => castArray(data, dtype),
  download: (x: TensorInfo) => (x.buf as TypedArray).slice(),
  fill,
  cast,
  readView,
  writeView,
  unary,
  binary,
  where,
  reduce,
  argReduce,
  softmax,
  matmul,
  gather,
  scatterAdd,
  indexSelect,
  indexAdd,
  conv2d,
  conv2dGradInput,
  conv2dGradWeight,
  maxPool2d,
  maxPool2dGrad,
  avgPool2d,
  avgPool2dGrad,
  biasActivation,
  scaleShift,
  softmaxCrossEntropy,
  attention,
  attentionGrad,
  attentionPacked,
  attentionPackedGrad,
  attentionCached,
  layerNorm,
  layerNormGrad,
  geluGrad,
  adamUpdate,
  packInt8,
  quantizedLinear,
  quantizedConv2d,
};
