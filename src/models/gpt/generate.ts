// Autoregressive generation from a GPT, one token per step, as a generator: the caller takes
// tokens as they come and may stop at any time (return() ends it). With the KV cache (the
// default) a step feeds only the newest token; without it every step recomputes the window.
//
// The context: the model sees tokens[start..n) with at most blockSize tokens. When the sequence
// outgrows it, the window slides to its last ceil(blockSize/2) tokens and the cache is refilled
// from them (one prefill every blockSize/2 tokens). The uncached path follows the same rule, so
// both compute the same logits and, for one seed, give the same tokens.
import { noGrad } from '../../autograd/engine.js';
import { fail } from '../../errors.js';
import { fromArray } from '../../tensor/create.js';
import { Generator as RandomGenerator, defaultGenerator } from '../../tensor/random.js';
import type { GPT } from './gpt.js';
import { type SamplingOptions, checkSampling, sampleToken } from './sampling.js';

export interface GenerateOptions extends SamplingOptions {
  /** Tokens to generate at most (default 256). */
  maxTokens?: number;
  /** Seeds the sampling; by default it is drawn from the default generator. */
  seed?: number;
  /**
   * Token sequences that end generation. The matched sequence is not yielded (OpenAI's `stop`);
   * tokens that may begin one are held back until they are known not to.
   */
  stop?: readonly (readonly number[])[];
  /** Use the KV cache (default true); false recomputes the whole window each step. */
  cache?: boolean;
}

/** Why generation ended: a stop sequence, or maxTokens (OpenAI's finish_reason). */
export type FinishReason = 'stop' | 'length';

/** Yields the generated token ids one at a time; returns why it ended. Options are checked at the call. */
export function generate(model: GPT, prompt: ArrayLike<number>, options: GenerateOptions = {}): Generator<number, FinishReason, undefined> {
  const where = 'generate';
  const { vocabSize } = model.config;
  if (prompt === null || typeof prompt !== 'object' || typeof prompt.length !== 'number' || prompt.length === 0) {
    fail(where, 'the prompt must be a non-empty array of token ids');
  }
  for (let i = 0; i < prompt.length; i++) {
    if (!Number.isInteger(prompt[i]) || prompt[i] < 0 || prompt[i] >= vocabSize) fail(where, `prompt[${i}] = ${prompt[i]} is not a token id in [0, ${vocabSize})`);
  }
  const { maxTokens = 256, seed, stop = [], cache = true } = options;
  if (!Number.isInteger(maxTokens) || maxTokens < 0) fail(where, `maxTokens must be a non-negative integer, got ${JSON.stringify(maxTokens)}`);
  if (seed !== undefined && (!Number.isSafeInteger(seed) || seed < 0)) fail(where, `seed must be a non-negative integer, got ${JSON.stringify(seed)}`);
  if (!Array.isArray(stop)) fail(where, `stop must be an array of token id sequences, got ${JSON.stringify(stop)}`);
  stop.forEach((s, i) => {
    if (!Array.isArray(s) || s.length === 0 || s.some((t) => !Number.isInteger(t) || t < 0 || t >= vocabSize)) fail(where, `stop[${i}] must be a non-empty array of token ids in [0, ${vocabSize}), got ${JSON.stringify(s)}`);
  });
  const sampling = checkSampling(options, where);
  const rng = new RandomGenerator(seed ?? defaultGenerator.nextUint32());
  return run(model, Array.from(prompt), { maxTokens, stop, cache, sampling, rng });
}

interface Plan {
  maxTokens: number;
  stop: readonly (readonly number[])[];
  cache: boolean;
  sampling: Required<SamplingOptions>;
  rng: RandomGenerator;
}

function* run(model: GPT, tokens: number[], plan: Plan): Generator<number, FinishReason, undefined> {
  const { blockSize } = model.config;
  const keep = Math.ceil(blockSize / 2);
  const cache = plan.cache ? model.newCache() : null;
  let start = Math.max(0, tokens.length - blockSize);
  let cacheStart = start; // the cache holds tokens[cacheStart, cacheStart + cache.length)
  const pending: number[] = []; // generated tokens not yet yielded: they may begin a stop sequence
  const wasTraining = model.training;
  model.eval();
  try {
    for (let step = 0; step < plan.maxTokens; step++) {
      if (tokens.length - start > blockSize) start = tokens.length - keep;
      let from = start;
      if (cache) {
        if (cacheStart !== start) {
          cache.reset();
          cacheStart = start;
        }
        from = cacheStart + cache.length;
      }
      const feed = Int32Array.from(tokens.slice(from));
      const row = noGrad(() => model.lastLogits(fromArray(feed, [1, feed.length], { dtype: 'int32' }, 'generate', true), cache ?? undefined).dataSync());
      const next = sampleToken(row, plan.sampling, plan.rng);
      tokens.push(next);
      pending.push(next);
      const matched = plan.stop.find((s) => endsWith(pending, s));
      if (matched) {
        yield* pending.slice(0, pending.length - matched.length);
        return 'stop';
      }
      const held = heldBack(pending, plan.stop);
      yield* pending.splice(0, pending.length - held);
    }
    yield* pending;
    return 'length';
  } finally {
    model.train(wasTraining);
  }
}

function endsWith(a: readonly number[], suffix: readonly number[]): boolean {
  if (suffix.length > a.length) return false;
  for (let i = 1; i <= suffix.length; i++) if (a[a.length - i] !== suffix[suffix.length - i]) return false;
  return true;
}

/** The length of the longest tail of `a` that is a proper prefix of some stop sequence. */
function heldBack(a: readonly number[], stops: readonly (readonly number[])[]): number {
  let best = 0;
  for (const s of stops) {
    for (let len = Math.min(s.length - 1, a.length); len > best; len--) {
      if (endsWith(a, s.slice(0, len))) {
        best = len;
        break;
      }
    }
  }
  return best;
}
