// A pre-LayerNorm transformer block (GPT-2's): x + attn(ln1(x)), then x + mlp(ln2(x)), where the
// MLP is Dense(4C, GELU) then Dense(C) and dropout. step() passes a KV cache to the attention.
import { fail } from '../../errors.js';
import type { Tensor } from '../../tensor/tensor.js';
import type { ConfigReader, Json } from '../config.js';
import { Layer, type LayerOptions } from '../layer.js';
import { type KVCacheEntry, MultiHeadAttention, checkHeads } from './attention.js';
import { Dense } from './dense.js';
import { Dropout } from './dropout.js';
import { readLayerOptions } from './layer-config.js';
import { type Projection, type WithProjections, checkedProjection, quantizedConfigs, restoreQuantized } from './projections.js';
import { LayerNormalization } from './normalization.js';

export interface TransformerBlockOptions extends LayerOptions {
  /** Dropout on the attention's and the MLP's outputs, before each residual add. */
  dropout?: number;
  /** The MLP's hidden width over the embedding's; 4 in GPT-2. */
  mlpRatio?: number;
  /** LayerNorm's epsilon; PyTorch's 1e-5, as GPT-2. */
  epsilon?: number;
  useBias?: boolean;
  causal?: boolean;
  /** For every projection's kernel; a model builder that initialises them itself passes 'zeros'. */
  kernelInitializer?: string;
}

export class TransformerBlock extends Layer implements WithProjections {
  readonly type = 'transformerblock';
  readonly numHeads: number;
  readonly embedDim: number;
  readonly dropoutRate: number;
  readonly mlpRatio: number;
  readonly epsilon: number;
  readonly useBias: boolean;
  readonly causal: boolean;
  readonly ln1: LayerNormalization;
  readonly attn: MultiHeadAttention;
  readonly ln2: LayerNormalization;
  fc: Projection;
  /** The MLP's output projection: with attn.proj, the residual projections GPT-2 scales at init. */
  mlpProj: Projection;
  readonly mlpDropout: Dropout;

  constructor(numHeads: number, embedDim: number, options: TransformerBlockOptions = {}) {
    super(options);
    checkHeads(this.name, numHeads, embedDim);
    const { dropout = 0, mlpRatio = 4, epsilon = 1e-5, useBias = true, causal = true } = options;
    if (!Number.isInteger(mlpRatio) || mlpRatio < 1) fail(this.name, `mlpRatio must be a positive integer, got ${JSON.stringify(mlpRatio)}`);
    this.numHeads = numHeads;
    this.embedDim = embedDim;
    this.dropoutRate = dropout;
    this.mlpRatio = mlpRatio;
    this.epsilon = epsilon;
    this.useBias = useBias;
    this.causal = causal;
    const shared = { dtype: this.dtype };
    const dense = { ...shared, useBias, ...(options.kernelInitializer ? { kernelInitializer: options.kernelInitializer } : {}) };
    this.ln1 = new LayerNormalization({ ...shared, name: `${this.name}.ln1`, numFeatures: embedDim, epsilon });
    this.attn = new MultiHeadAttention(numHeads, embedDim, { ...dense, name: `${this.name}.attn`, dropout, causal });
    this.ln2 = new LayerNormalization({ ...shared, name: `${this.name}.ln2`, numFeatures: embedDim, epsilon });
    this.fc = new Dense(mlpRatio * embedDim, { ...dense, name: `${this.name}.fc`, inputShape: [embedDim], activation: 'gelu' });
    this.mlpProj = new Dense(embedDim, { ...dense, name: `${this.name}.mlpProj`, inputShape: [mlpRatio * embedDim] });
    this.mlpDropout = new Dropout(dropout, { name: `${this.name}.dropout` });
    this.built = true;
  }

  static fromConfig(r: ConfigReader): TransformerBlock {
    const base = readLayerOptions(r, ['numHeads', 'embedDim', 'dropout', 'mlpRatio', 'epsilon', 'useBias', 'causal', 'quantized']);
    const block = new TransformerBlock(r.positiveInt('numHeads'), r.positiveInt('embedDim'), {
      ...base,
      dropout: r.number('dropout', 0, [0, 1]),
      mlpRatio: r.positiveInt('mlpRatio', 4),
      epsilon: r.number('epsilon', 1e-5, [Number.MIN_VALUE, Infinity]),
      useBias: r.bool('useBias', true),
      causal: r.bool('causal', true),
    });
    restoreQuantized(block, r);
    return block;
  }

  /** Attention's two projections, then the MLP's. */
  projections(): [string, Projection][] {
    return [...this.attn.projections().map(([p, l]): [string, Projection] => [`attn.${p}`, l]), ['fc', this.fc], ['mlpProj', this.mlpProj]];
  }

  setProjection(path: string, layer: Projection): void {
    if (path.startsWith('attn.')) this.attn.setProjection(path.slice(5), layer);
    else if (path === 'fc') this.fc = checkedProjection(this.name, path, this.fc, layer);
    else if (path === 'mlpProj') this.mlpProj = checkedProjection(this.name, path, this.mlpProj, layer);
    else fail(this.name, `no projection "${path}" (attn.qkv, attn.proj, fc, mlpProj)`);
  }

  computeOutputShape(inputShape: readonly number[]): number[] {
    return this.attn.computeOutputShape(inputShape);
  }

  override build(inputShape: readonly number[]): void {
    this.computeOutputShape(inputShape);
    this.built = true;
  }

  forward(x: Tensor): Tensor {
    return this.step(x);
  }

  /** x [B, T, C] to [B, T, C]; with a cache, x holds only the new tokens (see MultiHeadAttention.attend). */
  step(x: Tensor, cache?: KVCacheEntry): Tensor {
    const h = x.add(this.attn.attend(this.ln1.forward(x), cache));
    return h.add(this.mlpDropout.forward(this.mlpProj.forward(this.fc.forward(this.ln2.forward(h)))));
  }

  override getConfig(): Record<string, Json> {
    return {
      ...super.getConfig(),
      numHeads: this.numHeads,
      embedDim: this.embedDim,
      dropout: this.dropoutRate,
      mlpRatio: this.mlpRatio,
      epsilon: this.epsilon,
      useBias: this.useBias,
      causal: this.causal,
      ...quantizedConfigs(this),
    };
  }
}
