// Choosing the next token from a row of logits, in float64 on the host: temperature, then top-k,
// then top-p (nucleus, Holtzman et al. 2020), in the order Hugging Face's samplers apply them.
// Temperature 0 is greedy (argmax, the first on ties), and draws nothing from the generator.
import { fail } from '../../errors.js';
import type { Generator } from '../../tensor/random.js';

export interface SamplingOptions {
  /** Divides the logits; 0 picks the most likely token. Default 1. */
  temperature?: number;
  /** Keep only the k most likely tokens (ties with the k-th kept too). */
  topK?: number;
  /** Keep the most likely tokens whose probabilities first sum to at least p, in (0, 1]. */
  topP?: number;
}

/** Checks the options once, before generation starts; `where` names the caller. */
export function checkSampling(options: SamplingOptions, where: string): Required<SamplingOptions> {
  const { temperature = 1, topK = 0, topP = 1 } = options;
  if (typeof temperature !== 'number' || !(temperature >= 0 && Number.isFinite(temperature))) fail(where, `temperature must be a number >= 0, got ${JSON.stringify(temperature)}`);
  if (!Number.isInteger(topK) || topK < 0) fail(where, `topK must be a positive integer (0 for no limit), got ${JSON.stringify(topK)}`);
  if (typeof topP !== 'number' || !(topP > 0 && topP <= 1)) fail(where, `topP must be a number in (0, 1], got ${JSON.stringify(topP)}`);
  return { temperature, topK, topP };
}

/** The index of the token drawn from `logits` (one row, any float array). */
export function sampleToken(logits: ArrayLike<number>, options: Required<SamplingOptions>, rng: Generator): number {
  const n = logits.length;
  if (options.temperature === 0 || options.topK === 1) return argmax(logits);
  const scaled = new Float64Array(n);
  for (let i = 0; i < n; i++) scaled[i] = logits[i] / options.temperature;
  if (options.topK > 0 && options.topK < n) {
    const kth = [...scaled].sort((a, b) => b - a)[options.topK - 1];
    for (let i = 0; i < n; i++) if (scaled[i] < kth) scaled[i] = -Infinity;
  }
  let max = -Infinity;
  for (let i = 0; i < n; i++) max = Math.max(max, scaled[i]);
  let total = 0;
  const p = new Float64Array(n);
  for (let i = 0; i < n; i++) total += p[i] = Math.exp(scaled[i] - max);
  for (let i = 0; i < n; i++) p[i] /= total;
  if (options.topP < 1) {
    // Most likely first; cut after the token that brings the sum to topP (always keep one).
    const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => p[b] - p[a] || a - b);
    let sum = 0;
    let keep = 0;
    while (keep < n && sum < options.topP) sum += p[order[keep++]];
    for (let j = keep; j < n; j++) p[order[j]] = 0;
    for (let i = 0; i < n; i++) p[i] /= sum;
  }
  const u = rng.nextFloat64();
  let acc = 0;
  let last = 0;
  for (let i = 0; i < n; i++) {
    if (p[i] === 0) continue;
    acc += p[i];
    last = i;
    if (u < acc) return i;
  }
  return last; // u within rounding of 1
}

function argmax(x: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < x.length; i++) if (x[i] > x[best]) best = i;
  return best;
}
