// Lathe's public API: `import * as lt from 'lathe'`.
export { Tensor, type NestedArray } from './tensor/tensor.js';
export * from './ops/functions.js';
export { type DType, DTYPES } from './tensor/dtype.js';
export { Generator, manualSeed, defaultGenerator } from './tensor/random.js';
export { noGrad, isGradEnabled, detectAnomaly } from './autograd/engine.js';
export { grad, valueAndGrad } from './autograd/functional.js';
export { getBackend, setBackend, listBackends, registerBackend } from './backends/registry.js';
export { setNumThreads, getNumThreads, nativeInfo } from './backends/threads.js';
export type { Backend } from './backends/backend.js';
export * as nn from './nn/index.js';
export * as layers from './nn/layers/index.js';
export { Adam, AdamW, type AdamOptions } from './optim/adam.js';
export { LatheError } from './errors.js';
export { VERSION as version } from './version.js';
