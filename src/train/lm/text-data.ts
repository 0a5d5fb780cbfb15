// Loads a language-model run's text: resolves the file as other datasets do (--data, then
// $LATHE_DATA, then the config's folder), builds the tokenizer from it (the characters it has,
// or BPE merges learned from it), and cuts the token windows. Checks that each split holds a
// window of blockSize + 1 tokens, so a too-short file fails here, before training.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fail } from '../../errors.js';
import { BPETokenizer, CharTokenizer, TokenWindows } from '../../data/text/index.js';
import { resolveCsvPath } from '../run-config.js';
import type { TextDatasetSpec } from './config.js';

export interface TextData {
  /** The resolved file. */
  file: string;
  tokenizer: CharTokenizer | BPETokenizer;
  windows: TokenWindows;
  /** What loading found, for the run log: sizes of the text and the splits. */
  report: string;
}

export function loadTextData(spec: TextDatasetSpec, blockSize: number, where: { data?: string; configDir?: string } = {}): TextData {
  const file = path.resolve(resolveCsvPath(spec.path, where));
  if (!fs.existsSync(file) || !fs.statSync(file).isFile()) {
    fail('config.dataset', `"path" ${JSON.stringify(spec.path)}: ${file} not found (a relative path resolves against --data DIR, then $LATHE_DATA, then the config's folder)`);
  }
  const text = fs.readFileSync(file, 'utf8');
  if (text.length === 0) fail('config.dataset', `"path": ${file} is empty`);
  // Both tokenizers learn from the whole file, as nanoGPT's prepare.py does: a character that
  // occurs only in the validation text still has an id.
  const tokenizer = spec.tokenizer === 'char' ? CharTokenizer.fromText(text) : BPETokenizer.train(text, spec.vocabSize!);
  const windows = TokenWindows.fromText(text, tokenizer, { blockSize, validationSplit: spec.validationSplit });
  const need = blockSize + 1;
  if (windows.train.tokens.length < need) {
    fail('config.dataset', `${file} gives ${windows.train.tokens.length} training tokens; a window of config.model.blockSize ${blockSize} and its shifted target need at least ${need}`);
  }
  if (spec.validationSplit > 0 && windows.val.tokens.length < need) {
    fail('config.dataset', `"validationSplit" ${spec.validationSplit} leaves ${windows.val.tokens.length} validation tokens; a window of config.model.blockSize ${blockSize} needs at least ${need} (raise it, or 0 for no validation)`);
  }
  const report = `${path.basename(file)}: ${text.length} characters, ${windows.tokens.length} tokens (${spec.tokenizer}, vocabulary ${tokenizer.vocabSize}); ${windows.train.tokens.length} for training, ${windows.val.tokens.length} for validation`;
  return { file, tokenizer, windows, report };
}
