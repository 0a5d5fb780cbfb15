// Language-model training: the run config's "text"/"gpt"/iterations reader, the text data, the loop.
export { isLanguageModelConfig, readLanguageModelConfig, type LanguageModelFitSpec, type LanguageModelRunConfig, type TextDatasetSpec } from './config.js';
export { loadTextData, type TextData } from './text-data.js';
export { estimateLoss, trainLanguageModel, type LanguageModelResult, type LanguageModelTraining } from './loop.js';
