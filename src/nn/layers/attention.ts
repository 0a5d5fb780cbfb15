// Multi-head self-attention as GPT-2 lays it out: one fused QKV projection [C, 3C], attention
// read straight from it head by head (packedSelfAttention, causal by default), an output projection [C, C]
// and dropout on its output. attend() takes an optional KV cache, so that a decoding step
// feeds only its new tokens and attends to the keys and values of every earlier one.
import { fail, fmtShape } from '../../errors.js';
import type { Backend } from '../../backends/backend.js';
import { type KVBuffers, cachedSelfAttention, narrow, packedSelfAttention, permute, reshape, transpose } from '../../ops/functions.js';
import { attentionComposed } from '../../ops/attention.js';
import { type DType, type TypedArray, allocArray } from '../../tensor/dtype.js';
import { Tensor } from '../../tensor/tensor.js';
import type { ConfigReader, Json } from '../config.js';
import { Layer, type LayerOptions } from '../layer.js';
import { Dense } from './dense.js';
import { Dropout } from './dropout.js';
import { readLayerOptions } from './layer-config.js';
import { type Projection, type WithProjections, checkedProjection, quantizedConfigs, restoreQuantized } from './projections.js';

/**
 * One attention layer's cached keys and values, preallocated to `capacity` rows at the first
 * step: [B, H, capacity, D] each, of which rows 0..length-1 hold tokens. A step writes its new
 * rows in place, so it costs no copy of the earlier ones. `k` and `v` give the filled rows as
 * tensors [B, H, length, D] (copies, for inspection and serving's host cache); null when empty.
 */
export class KVCacheEntry {
  private kBuf: TypedArray | null = null;
  private vBuf: TypedArray | null = null;
  /** Tokens cached in this layer. */
  length = 0;
  private layout: { batch: number; heads: number; headDim: number; dtype: DType; backend: Backend } | null = null;

  constructor(
    /** Rows per head: the most tokens the cache holds (a GPT's blockSize). */
    readonly capacity: number,
  ) {
    if (!Number.isInteger(capacity) || capacity < 1) fail('KVCacheEntry', `capacity must be a positive integer, got ${JSON.stringify(capacity)}`);
  }

  get k(): Tensor | null {
    return this.rows(this.kBuf);
  }

  get v(): Tensor | null {
    return this.rows(this.vBuf);
  }

  /** Readies the buffers for `t` more tokens of this layout (allocating them when empty); fails past capacity. */
  reserve(where: string, batch: number, heads: number, headDim: number, t: number, dtype: DType, backend: Backend): KVBuffers {
    const l = this.layout;
    if (!l || l.batch !== batch || l.heads !== heads || l.headDim !== headDim || l.dtype !== dtype) {
      if (this.length > 0) fail(where, `the KV cache holds [${l!.batch}, ${l!.heads}, ${this.length}, ${l!.headDim}] ${l!.dtype}; got a step of batch ${batch}, ${heads} heads of ${headDim}, ${dtype}`);
      this.layout = { batch, heads, headDim, dtype, backend };
      this.kBuf = allocArray(dtype, batch * heads * this.capacity * headDim);
      this.vBuf = allocArray(dtype, batch * heads * this.capacity * headDim);
    }
    if (this.length + t > this.capacity) fail(where, `${this.length} cached + ${t} tokens exceed the KV cache's ${this.capacity} rows`);
    return { k: this.kBuf!, v: this.vBuf!, length: this.length, capacity: this.capacity };
  }

  /** Forgets every cached token (the buffers stay, for the next prefill). */
  reset(): void {
    this.length = 0;
  }

  private rows(buf: TypedArray | null): Tensor | null {
    const l = this.layout;
    if (!buf || !l || this.length === 0) return null;
    const { batch, heads, headDim: D } = l;
    const out = allocArray(l.dtype, batch * heads * this.length * D);
    for (let bh = 0; bh < batch * heads; bh++) out.set(buf.subarray(bh * this.capacity * D, (bh * this.capacity + this.length) * D), bh * this.length * D);
    return new Tensor([batch, heads, this.length, D], l.dtype, l.backend.upload(out, l.dtype), l.backend);
  }
}

export interface MultiHeadAttentionOptions extends LayerOptions {
  /** Dropout on the attention probabilities and on the output projection (GPT-2's attn_pdrop and resid_pdrop). */
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

export class MultiHeadAttention extends Layer implements WithProjections {
  readonly type = 'multiheadattention';
  readonly numHeads: number;
  readonly embedDim: number;
  readonly dropoutRate: number;
  readonly causal: boolean;
  readonly useBias: boolean;
  /** The fused query/key/value projection [C -> 3C] and the output projection [C -> C]; int8 after quantization. */
  qkv: Projection;
  proj: Projection;
  readonly outputDropout: Dropout;
  readonly attentionDropout: Dropout;

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
    this.attentionDropout = new Dropout(this.dropoutRate, { name: `${this.name}.attentionDropout` });
    this.built = true;
  }

  static fromConfig(r: ConfigReader): MultiHeadAttention {
    const base = readLayerOptions(r, ['numHeads', 'embedDim', 'dropout', 'causal', 'useBias', 'quantized']);
    const layer = new MultiHeadAttention(r.positiveInt('numHeads'), r.positiveInt('embedDim'), {
      ...base,
      dropout: r.number('dropout', 0, [0, 1]),
      causal: r.bool('causal', true),
      useBias: r.bool('useBias', true),
    });
    restoreQuantized(layer, r);
    return layer;
  }

  projections(): [string, Projection][] {
    return [['qkv', this.qkv], ['proj', this.proj]];
  }

  setProjection(path: string, layer: Projection): void {
    if (path === 'qkv') this.qkv = checkedProjection(this.name, path, this.qkv, layer);
    else if (path === 'proj') this.proj = checkedProjection(this.name, path, this.proj, layer);
    else fail(this.name, `no projection "${path}" (qkv, proj)`);
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
   * are written to the cache's next rows and the queries attend to all of them (the causal mask is
   * aligned bottom-right, so query i of T sees the Tcache + i + 1 first keys). Either way q, k and
   * v are read in place from the fused projection [B, T, 3C] (packedSelfAttention), and the
   * output comes with the heads side by side, ready for the output projection.
   */
  attend(x: Tensor, cache?: KVCacheEntry): Tensor {
    const C = this.embedDim;
    if (x.rank !== 3 || x.shape[2] !== C) fail(this.name, `expected input [batch, time, ${C}], got ${fmtShape(x.shape)}`);
    const H = this.numHeads;
    const qkv = this.qkv.forward(x);
    let y: Tensor;
    if (cache) {
      if (!this.causal) fail(this.name, 'a KV cache needs causal attention (causal: true)');
      const [B, T] = x.shape;
      y = cachedSelfAttention(qkv, H, cache.reserve(this.name, B, H, C / H, T, qkv.dtype, qkv.backend));
      cache.length += T;
    } else if (this.training && this.dropoutRate > 0) {
      // Dropout on the attention probabilities (GPT-2's attn_pdrop) needs them as a tensor, which
      // the fused op never holds: the composed path, with its head split, while training only.
      const [B, T] = x.shape;
      const D = C / H;
      const heads = permute(reshape(qkv, [B, T, 3, H, D]), [2, 0, 3, 1, 4]);
      const part = (i: number) => reshape(narrow(heads, 0, i, 1), [B, H, T, D]);
      const o = attentionComposed(part(0), part(1), part(2), { causal: this.causal, probabilities: (p) => this.attentionDropout.forward(p) });
      y = reshape(transpose(o, 1, 2), [B, T, C]);
    } else {
      y = packedSelfAttention(qkv, H, { causal: this.causal });
    }
    return this.outputDropout.forward(this.proj.forward(y));
  }

  override getConfig(): Record<string, Json> {
    return { ...super.getConfig(), numHeads: this.numHeads, embedDim: this.embedDim, dropout: this.dropoutRate, causal: this.causal, useBias: this.useBias, ...quantizedConfigs(this) };
  }
}
