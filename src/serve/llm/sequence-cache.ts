// One sequence's keys and values for every transformer block, on the host, preallocated to the
// model's context: [H, blockSize, D] per block for K and for V. A decoding step appends one row
// in place, where the model's own KVCache concatenates a new tensor each step; with each sequence
// owning its rows, sequences of different lengths can share one batched step (batched-decode.ts).
import type { KVCache } from '../../models/gpt/kv-cache.js';

export class SequenceCache {
  readonly k: Float32Array[];
  readonly v: Float32Array[];
  /** Tokens cached: the position the next token takes. */
  length = 0;

  constructor(
    nLayer: number,
    readonly heads: number,
    readonly headDim: number,
    /** The model's context (blockSize): rows per head. */
    readonly capacity: number,
  ) {
    const size = heads * capacity * headDim;
    this.k = Array.from({ length: nLayer }, () => new Float32Array(size));
    this.v = Array.from({ length: nLayer }, () => new Float32Array(size));
  }

  /** Copies a prefill's cache ([1, H, T, D] per block) into rows 0..T-1. */
  loadFrom(cache: KVCache): void {
    const { heads: H, headDim: D, capacity } = this;
    cache.layers.forEach((entry, l) => {
      if (!entry.k || !entry.v) throw new Error('SequenceCache.loadFrom: the prefill left a block without keys');
      const T = entry.k.shape[2];
      const k = entry.k.dataSync() as Float32Array;
      const v = entry.v.dataSync() as Float32Array;
      for (let h = 0; h < H; h++) {
        this.k[l].set(k.subarray(h * T * D, (h + 1) * T * D), h * capacity * D);
        this.v[l].set(v.subarray(h * T * D, (h + 1) * T * D), h * capacity * D);
      }
    });
    this.length = cache.length;
  }
}
