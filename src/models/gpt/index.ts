// lt.models.gpt: a GPT-style language model, its generation with a KV cache, and its saved form.
export { GPT, gpt, nextTokenLoss, type GPTConfig } from './gpt.js';
export { KVCache } from './kv-cache.js';
export { generate, type FinishReason, type GenerateOptions } from './generate.js';
export { checkSampling, sampleToken, type SamplingOptions } from './sampling.js';
export { isSavedGPT, loadGPT, saveGPT, type GPTTokenizer, type LoadedGPT, type SavedGPTJson } from './saved.js';
