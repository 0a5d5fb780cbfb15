// The two forward passes of serving a GPT: prefill (a whole prompt, through the model's own
// cached path) and a batched decoding step: S sequences, each at its own position with its own
// cache, advance by one token in one pass. Every projection, LayerNorm and MLP runs once on the
// [S, 1, C] batch (one GEMM each, where the work is); only attention is per sequence, since each
// attends to its own keys: one query row against its L cached rows, on the host (H x L x D
// multiply-adds, microseconds, cheaper than the ~6 tensor ops per sequence it would take as ops).
// The arithmetic is GPT.hidden()'s and TransformerBlock.step()'s, in the same order.
import { noGrad } from '../../autograd/engine.js';
import type { GPT } from '../../models/gpt/gpt.js';
import { indexSelect, reshape } from '../../ops/functions.js';
import { fromArray } from '../../tensor/create.js';
import { SequenceCache } from './sequence-cache.js';

/** A fresh host cache sized for `model`. */
export function newSequenceCache(model: GPT): SequenceCache {
  const { nLayer, nHead, nEmbd, blockSize } = model.config;
  return new SequenceCache(nLayer, nHead, nEmbd / nHead, blockSize);
}

/** Runs the prompt through the model, fills `cache` with its keys and values, and gives the next token's logits [vocabSize]. */
export function prefill(model: GPT, prompt: Int32Array, cache: SequenceCache): Float32Array {
  const kv = model.newCache();
  const row = noGrad(() => model.lastLogits(fromArray(prompt, [1, prompt.length], { dtype: 'int32' }, 'prefill'), kv).dataSync());
  cache.loadFrom(kv);
  return Float32Array.from(row);
}

export interface DecodeSlot {
  /** The token to feed: the last one sampled. It takes position cache.length. */
  token: number;
  cache: SequenceCache;
}

/** One decoding step for every slot: appends each token to its cache and gives the logits [S * vocabSize], slot-major. */
export function decodeStep(model: GPT, slots: readonly DecodeSlot[]): Float32Array {
  const S = slots.length;
  const { nEmbd: C, nHead: H, blockSize } = model.config;
  const D = C / H;
  for (const s of slots) if (s.cache.length >= blockSize) throw new Error(`decodeStep: a sequence is at the context's end (${blockSize} tokens)`);
  return noGrad(() => {
    const ids = fromArray(Int32Array.from(slots, (s) => s.token), [S, 1], { dtype: 'int32' }, 'decode', true);
    const positions = fromArray(Int32Array.from(slots, (s) => s.cache.length), [S], { dtype: 'int32' }, 'decode', true);
    const rows = reshape(indexSelect(model.positionEmbedding.embeddings, 0, positions), [S, 1, C]);
    let x = model.embeddingDropout.forward(model.tokenEmbedding.forward(ids).add(rows));
    const scratch: AttentionScratch = { scores: new Float64Array(blockSize), acc: new Float64Array(D), q: new Float64Array(D) };
    model.blocks.forEach((block, l) => {
      const qkv = block.attn.qkv.forward(block.ln1.forward(x)).dataSync() as Float32Array;
      const y = new Float32Array(S * C);
      for (let i = 0; i < S; i++) attendOne(qkv, i * 3 * C, slots[i].cache, l, H, D, y, i * C, scratch);
      const attn = block.attn.outputDropout.forward(block.attn.proj.forward(fromArray(y, [S, 1, C], {}, 'decode', true)));
      const h = x.add(attn);
      x = h.add(block.mlpDropout.forward(block.mlpProj.forward(block.fc.forward(block.ln2.forward(h)))));
    });
    for (const s of slots) s.cache.length++;
    return Float32Array.from(model.head(model.finalNorm.forward(x)).dataSync());
  });
}

/**
 * Causal attention for one new token: writes its key and value (row `qkv[at + C..at + 3C)`, laid
 * out [3, H, D] as the fused projection gives them) at position L, then softmax(q K^T / sqrt(D)) V
 * over rows 0..L for each head, into out[outAt..outAt + C), heads side by side as [H, D].
 * Plain index loops over preallocated float64 scratch: this is half of a 32-sequence step's time
 * (profiled), and subarray views or per-call arrays cost as much again.
 */
function attendOne(qkv: Float32Array, at: number, cache: SequenceCache, layer: number, H: number, D: number, out: Float32Array, outAt: number, scratch: AttentionScratch): void {
  const C = H * D;
  const L = cache.length;
  const K = cache.k[layer];
  const V = cache.v[layer];
  const cap = cache.capacity;
  const scale = 1 / Math.sqrt(D);
  const { scores, acc } = scratch;
  for (let h = 0; h < H; h++) {
    const base = h * cap * D;
    const dst = base + L * D;
    const kSrc = at + C + h * D;
    const vSrc = kSrc + C;
    for (let d = 0; d < D; d++) {
      K[dst + d] = qkv[kSrc + d];
      V[dst + d] = qkv[vSrc + d];
    }
    const q = at + h * D;
    let max = -Infinity;
    const qh = scratch.q;
    for (let d = 0; d < D; d++) qh[d] = qkv[q + d];
    for (let j = 0, row = base; j <= L; j++, row += D) {
      // Four partial sums: independent chains the CPU can overlap (1.6x over one here).
      let d0 = 0, d1 = 0, d2 = 0, d3 = 0;
      let d = 0;
      for (; d + 3 < D; d += 4) {
        d0 += qh[d] * K[row + d];
        d1 += qh[d + 1] * K[row + d + 1];
        d2 += qh[d + 2] * K[row + d + 2];
        d3 += qh[d + 3] * K[row + d + 3];
      }
      for (; d < D; d++) d0 += qh[d] * K[row + d];
      const sj = (d0 + d1 + d2 + d3) * scale;
      scores[j] = sj;
      if (sj > max) max = sj;
    }
    let total = 0;
    for (let d = 0; d < D; d++) acc[d] = 0;
    for (let j = 0, row = base; j <= L; j++, row += D) {
      const p = Math.exp(scores[j] - max);
      total += p;
      for (let d = 0; d < D; d++) acc[d] += p * V[row + d];
    }
    const o = outAt + h * D;
    const inv = 1 / total;
    for (let d = 0; d < D; d++) out[o + d] = acc[d] * inv;
  }
}

interface AttentionScratch {
  /** One score per key: blockSize. */
  scores: Float64Array;
  /** One head's output: D. */
  acc: Float64Array;
  /** One head's query: D. */
  q: Float64Array;
}
