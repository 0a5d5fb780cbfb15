// The keys and values a decoder has computed so far, one pair per transformer block, so that a
// decoding step computes attention for its new token only (no recomputation of the prefix).
// Each layer's buffers are preallocated to the context, and a step writes its rows in place.
import { KVCacheEntry } from '../../nn/layers/attention.js';

export class KVCache {
  readonly layers: KVCacheEntry[];
  /** Tokens cached: the position the next token takes. */
  length = 0;

  constructor(
    nLayer: number,
    /** The model's context; length never exceeds it. */
    readonly capacity: number,
  ) {
    this.layers = Array.from({ length: nLayer }, () => new KVCacheEntry(capacity));
  }

  /** Forgets every cached token. */
  reset(): void {
    for (const l of this.layers) l.reset(); // the buffers stay allocated for the next prefill
    this.length = 0;
  }
}
