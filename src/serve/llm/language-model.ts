// A GPT version as the repository serves it: the saved model and its tokenizer (loadGPT), a decode
// engine (engine.ts) with the model's config.json limits, and a ServingRuntime face so the
// repository loads, lists and unloads it like any version. Its tensor run() refuses: TF Serving's
// and KServe's predict are for fixed-shape models; a language model answers the OpenAI routes.
import { fail } from '../../errors.js';
import { CharTokenizer } from '../../data/text/char-tokenizer.js';
import { type GPTTokenizer, isSavedGPT, loadGPT } from '../../models/gpt/saved.js';
import type { GPT } from '../../models/gpt/gpt.js';
import { type GenerationConfig, GENERATION_DEFAULTS } from '../model-config.js';
import type { ServingRuntime } from '../runtimes/runtime.js';
import { DecodeEngine } from './engine.js';

export { isSavedGPT };

export const NOT_A_TENSOR_MODEL = 'is a language model (GPT): it answers POST /v1/completions and /v1/chat/completions, not tensor predict';

export interface LanguageModel {
  model: GPT;
  tokenizer: GPTTokenizer;
  engine: DecodeEngine;
  /** The context: prompt plus generated tokens fit in it. */
  contextLength: number;
  /** Unix seconds the version loaded (OpenAI's model "created"). */
  created: number;
  /** Prompt text longer than this many UTF-16 units cannot fit the context, so it is refused before tokenizing. */
  maxPromptChars: number;
}

/** A loaded GPT version's runtime; `languageModel` is what the OpenAI routes use. */
export interface LanguageModelRuntime extends ServingRuntime {
  languageModel: LanguageModel;
}

export function loadLanguageModelRuntime(dir: string, config: GenerationConfig = GENERATION_DEFAULTS): LanguageModelRuntime {
  const { model, tokenizer, json } = loadGPT(dir);
  if (!tokenizer) fail(dir, 'a GPT is served with its tokenizer: save it with saveGPT(model, dir, { tokenizer })');
  const engine = new DecodeEngine(model, { maxSequences: config.maxSequences, maxQueueSize: config.maxQueueSize });
  const contextLength = model.config.blockSize;
  const languageModel: LanguageModel = { model, tokenizer, engine, contextLength, created: Math.floor(Date.now() / 1000), maxPromptChars: contextLength * longestTokenChars(tokenizer) };
  const refuse = (): never => fail('predict', `this model ${NOT_A_TENSOR_MODEL}`);
  return {
    name: 'lathe',
    signature: { inputs: json.signature.inputs, outputs: json.signature.outputs },
    inference: { model: { predict: refuse }, json: {} },
    run: refuse,
    languageModel,
    async warmUp() {
      // One short sequence through prefill and a batched step, so the first request pays no first-call costs.
      await new Promise<void>((resolve, reject) => {
        engine.submit({ prompt: Int32Array.of(0), maxTokens: Math.min(2, contextLength), sampling: { temperature: 0, topK: 0, topP: 1 } }, {
          token: () => {},
          end: (reason, error) => (reason === 'error' ? reject(error) : resolve()),
        });
      });
    },
    close: () => engine.close(),
  };
}

/** The most UTF-16 units one token can stand for: 2 for a character, the longest vocabulary entry's bytes for BPE. */
function longestTokenChars(tokenizer: GPTTokenizer): number {
  if (tokenizer instanceof CharTokenizer) return Math.max(2, tokenizer.unk?.length ?? 0);
  let longest = 1;
  for (let id = 0; id < tokenizer.vocabSize; id++) longest = Math.max(longest, tokenizer.tokenBytes(id).length);
  return longest;
}
