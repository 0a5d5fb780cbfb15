// Multi-head self-attention as GPT-2 lays it out: one fused QKV projection [C, 3C], heads split
// to [B, H, T, D], scaledDotProductAttention (causal by default), an output projection [C, C]
// and dropout on its output. attend() takes an optional KV cache, so that a decoding step
// feeds only its new tokens and attends to the keys and values of every earlier one.
import { fail, fmtShape } from '../../errors.js';
import { concat, narrow, permute, reshape, scaledDotProductAttention, transpose } from '../../ops/functions.js';
import type { Tensor } from '../../tensor/tensor.js';
import type { ConfigReader, Json } from '../config.js';
import { Layer, type LayerOptions } from '../layer.js';
import { Dense } from './dense.js';
import { Dropout } from './dropout.js';
import { readLayerOptions } from './layer-config.js';

/** One attention layer's cached keys and values, [B, H, Tcache, D] each; null before the first step. */
export interface KVCacheEntry {
  k: Tensor | null;
  v: Tensor | null;
}

export interface MultiHeadAttentionOptions extends LayerOptions {
  /** Dropout on the attention's output projection (GPT-2's resid_pdrop). */
  dropout?: number;
  /** Mask later keys (a decoder); default true. */
  causal?: boolean;
  useBias?: boolean;
  /** For both projections' kernels; a model builder that initialises them itself passes 'zeros'. */
  kernelInitializer?: string;
}

export function checkHeads(where: string, numHeads: unknown, embedDim: unknown): void {
  for (const [k, v] of [['numHeads', numHeads], ['embedDim', embedDim]] as const) {
    if (!Number.isInteger(v) || (v as number) < 1) fail(where, `${k} must be a positive integer, got ${JSON.stringify(v)}`);
  }
  if ((embedDim as number) % (numHeads as number) !== 0) fail(where, `embedDim ${embedDim} must be divisible by numHeads ${numHeads}`);
}

export class MultiHeadAttention extends Layer {
  readonly type = 'multiheadattention';
  readonly numHeads: number;
  readonly embedDim: number;
  readonly dropoutRate: number;
  readonly causal: boolean;
  readonly useBias: boolean;
  readonly qkv: Dense;
  readonly proj: Dense;
  readonly outputDropout: Dropout;

  constructor(numHeads: number, embedDim: number, options: MultiHeadAttentionOptions = {}) {
    super(options);
    checkHeads(this.name, numHeads, embedDim);
    this.numHeads = numHeads;
    this.embedDim = embedDim;
    this.dropoutRate = options.dropout ?? 0;
    this.causal = options.causal ?? true;
    this.useBias = options.useBias ?? true;
    // The weights depend only on embedDim, so they exist from the start (as Embedding's table).
    const dense = { inputShape: [embedDim], useBias: this.useBias, dtype: this.dtype, ...(options.kernelInitializer ? { kernelInitializer: options.kernelInitializer } : {}) };
    this.qkv = new Dense(3 * embedDim, { ...dense, name: `${this.name}.qkv` });
    this.proj = new Dense(embedDim, { ...dense, name: `${this.name}.proj` });
    this.outputDropout = new Dropout(this.dropoutRate, { name: `${this.name}.dropout` });
    this.built = true;
  }

  static fromConfig(r: ConfigReader): MultiHeadAttention {
    const base = readLayerOptions(r, ['numHeads', 'embedDim', 'dropout', 'causal', 'useBias']);
    return new MultiHeadAttention(r.positiveInt('numHeads'), r.positiveInt('embedDim'), {
      ...base,
      dropout: r.number('dropout', 0, [0, 1]),
      causal: r.bool('causal', true),
      useBias: r.bool('useBias', true),
    });
  }

  /** Per example [T, C] to [T, C]; T may vary from batch to batch. */
  computeOutputShape(inputShape: readonly number[]): number[] {
    if (inputShape.length !== 2 || inputShape[1] !== this.embedDim) this.shapeError(inputShape, `[time, ${this.embedDim}]`);
    return [...inputShape];
  }

  override build(inputShape: readonly number[]): void {
    this.computeOutputShape(inputShape);
    this.built = true; // weights exist already; T is not part of the layer
  }

  forward(x: Tensor): Tensor {
    return this.attend(x);
  }

  /**
   * x [B, T, C] to [B, T, C]. With a cache, x holds only the new tokens: their keys and values
   * are appended to the cache's and the queries attend to all of them (the causal mask is
   * aligned bottom-right, so query i of T sees the Tcache + i + 1 first keys).
   */
  attend(x: Tensor, cache?: KVCacheEntry): Tensor {
    const C = this.embedDim;
    if (x.rank !== 3 || x.shape[2] !== C) fail(this.name, `expected input [batch, time, ${C}], got ${fmtShape(x.shape)}`);
    const [B, T] = x.shape;
    const H = this.numHeads;
    const D = C / H;
    // [B,T,3C] -> [B,T,3,H,D] -> [3,B,H,T,D]: one copy puts q, k and v each contiguous per head.
    const heads = permute(reshape(this.qkv.forward(x), [B, T, 3, H, D]), [2, 0, 3, 1, 4]);
    const part = (i: number) => reshape(narrow(heads, 0, i, 1), [B, H, T, D]);
    const q = part(0);
    let k = part(1);
    let v = part(2);
    if (cache) {
      if (cache.k && cache.v) {
        k = concat([cache.k, k], 2);
        v = concat([cache.v, v], 2);
      }
      cache.k = k;
      cache.v = v;
    }
    const y = scaledDotProductAttention(q, k, v, { causal: this.causal });
    const merged = reshape(transpose(y, 1, 2), [B, T, C]);
    return this.outputDropout.forward(this.proj.forward(merged));
  }

  override getConfig(): Record<string, Json> {
    return { ...super.getConfig(), numHeads: this.numHeads, embedDim: this.embedDim, dropout: this.dropoutRate, causal: this.causal, useBias: this.useBias };
  }
}
