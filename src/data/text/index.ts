// lt.data.text: tokenizers (character-level and byte-level BPE) and token windows for language models.
export { CharTokenizer, type CharTokenizerJSON, type CharTokenizerOptions } from './char-tokenizer.js';
export {
  BPETokenizer,
  GPT2_SPLIT_PATTERN,
  GPT4_SPLIT_PATTERN,
  type BPEOptions,
  type BPETokenizerJSON,
  type EncodeOptions,
} from './bpe.js';
export { TokenSplit, TokenWindows, type TextTokenizer, type TokenArray, type TokenBatch, type TokenWindowsOptions } from './windows.js';
