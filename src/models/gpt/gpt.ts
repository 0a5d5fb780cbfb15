// A GPT-2-style decoder-only language model (Radford et al. 2019; Karpathy's nanoGPT): token and
// learned position embeddings, nLayer pre-LayerNorm transformer blocks, a final LayerNorm, and an
// LM head that is the token embedding's own table (weight tying: one parameter, not two).
// forward(tokens int32 [B, T]) gives logits [B, T, vocabSize].
import { noGrad } from '../../autograd/engine.js';
import { fail, fmtShape } from '../../errors.js';
import { ConfigReader, type Json } from '../../nn/config.js';
import { Dropout } from '../../nn/layers/dropout.js';
import { Embedding } from '../../nn/layers/embedding.js';
import { LayerNormalization } from '../../nn/layers/normalization.js';
import { PositionEmbedding } from '../../nn/layers/position-embedding.js';
import { type Projection, type WithProjections, quantizedConfigs, restoreQuantized } from '../../nn/layers/projections.js';
import { TransformerBlock } from '../../nn/layers/transformer.js';
import { matmulT, narrow, reshape, softmaxCrossEntropy } from '../../ops/functions.js';
import { Generator, defaultGenerator } from '../../tensor/random.js';
import type { Tensor } from '../../tensor/tensor.js';
import { Model } from '../../train/model.js';
import { KVCache } from './kv-cache.js';

export interface GPTConfig {
  vocabSize: number;
  /** The context: the most tokens the model sees at once. */
  blockSize: number;
  nLayer: number;
  nHead: number;
  nEmbd: number;
  /** Dropout after the embeddings and on every residual branch (GPT-2's 0.1; 0 for small data). */
  dropout?: number;
  /** Biases in the projections and LayerNorms' beta (nanoGPT's `bias`); default true, as GPT-2. */
  bias?: boolean;
  /** Seeds the initial weights; by default they are drawn from the default generator. */
  seed?: number;
}

const FIELDS = ['vocabSize', 'blockSize', 'nLayer', 'nHead', 'nEmbd', 'dropout', 'bias', 'seed'] as const;

/** GPT-2's initialisation: N(0, 0.02) for every weight matrix and table. */
const INIT_STD = 0.02;

export class GPT extends Model implements WithProjections {
  readonly config: Readonly<Required<Omit<GPTConfig, 'seed'>> & { seed?: number }>;
  readonly tokenEmbedding: Embedding;
  readonly positionEmbedding: PositionEmbedding;
  readonly embeddingDropout: Dropout;
  readonly blocks: TransformerBlock[];
  readonly finalNorm: LayerNormalization;

  constructor(config: GPTConfig) {
    super();
    const c = checkConfig(config, 'gpt');
    this.config = c;
    const { vocabSize, blockSize, nLayer, nHead, nEmbd, dropout, bias } = c;
    // Built with zero weights, then initialised below from one generator, so a seed fixes them all.
    this.tokenEmbedding = new Embedding(vocabSize, nEmbd, { name: 'wte', embeddingsInitializer: 'zeros' });
    this.positionEmbedding = new PositionEmbedding(blockSize, nEmbd, { name: 'wpe', embeddingsInitializer: 'zeros' });
    this.embeddingDropout = new Dropout(dropout, { name: 'drop' });
    this.blocks = Array.from({ length: nLayer }, (_, i) => new TransformerBlock(nHead, nEmbd, { name: `h${i}`, dropout, useBias: bias, kernelInitializer: 'zeros' }));
    this.finalNorm = new LayerNormalization({ name: 'ln_f', numFeatures: nEmbd, epsilon: 1e-5, center: bias });
    this.initWeights(c.seed === undefined ? defaultGenerator : new Generator(c.seed));
  }

  static fromConfig(raw: unknown, where = 'gpt'): GPT {
    const r = new ConfigReader(where, raw as Record<string, unknown>);
    r.rejectUnknown(['type', 'quantized', ...FIELDS]);
    if (r.has('type')) r.oneOf('type', ['gpt']);
    const model = new GPT({
      vocabSize: r.positiveInt('vocabSize'),
      blockSize: r.positiveInt('blockSize'),
      nLayer: r.positiveInt('nLayer'),
      nHead: r.positiveInt('nHead'),
      nEmbd: r.positiveInt('nEmbd'),
      dropout: r.number('dropout', 0, [0, 1]),
      bias: r.bool('bias', true),
      ...(r.has('seed') ? { seed: r.int('seed', 0) } : {}),
    });
    restoreQuantized(model, r);
    return model;
  }

  /** Every block's projections (attention's qkv and proj, the MLP's fc and mlpProj), as 'h0.attn.qkv'. */
  projections(): [string, Projection][] {
    return this.blocks.flatMap((b) => b.projections().map(([p, l]): [string, Projection] => [`${b.name}.${p}`, l]));
  }

  setProjection(path: string, layer: Projection): void {
    const dot = path.indexOf('.');
    const block = this.blocks.find((b) => b.name === path.slice(0, dot));
    if (dot < 0 || !block) fail('gpt', `no projection "${path}" (blocks ${this.blocks.map((b) => b.name).join(', ')})`);
    block.setProjection(path.slice(dot + 1), layer);
  }

  getConfig(): Record<string, Json> & { type: 'gpt' } {
    const { seed, ...rest } = this.config;
    return { type: 'gpt', ...rest, ...(seed !== undefined ? { seed } : {}), ...quantizedConfigs(this) };
  }

  /** Fresh caches for generation: one K/V pair per block. */
  newCache(): KVCache {
    return new KVCache(this.config.nLayer, this.config.blockSize);
  }

  /** Logits [B, T, vocabSize] for tokens int32 [B, T]. */
  forward(tokens: Tensor): Tensor {
    return this.head(this.hidden(tokens));
  }

  /**
   * The final hidden states [B, T, C] (after ln_f). With a cache, `tokens` are the ones that follow
   * the cached ones: they take positions cache.length.. and are appended to it.
   */
  hidden(tokens: Tensor, cache?: KVCache): Tensor {
    if (tokens.rank !== 2) fail('gpt', `expected int32 tokens [batch, time], got ${tokens.dtype} ${fmtShape(tokens.shape)}`);
    const offset = cache?.length ?? 0;
    const T = tokens.shape[1];
    if (offset + T > this.config.blockSize) {
      fail('gpt', `${offset ? `${offset} cached + ` : ''}${T} tokens exceed the context of ${this.config.blockSize} (blockSize)`);
    }
    let x = this.embeddingDropout.forward(this.positionEmbedding.addAt(this.tokenEmbedding.forward(tokens), offset));
    this.blocks.forEach((block, i) => {
      x = block.step(x, cache?.layers[i]);
    });
    if (cache) cache.length += T;
    return this.finalNorm.forward(x);
  }

  /** The LM head: hidden [B, T, C] times the token table transposed, [B, T, vocabSize]. */
  head(h: Tensor): Tensor {
    const [B, T, C] = h.shape;
    const logits = matmulT(reshape(h, [B * T, C]), this.tokenEmbedding.embeddings, false, true);
    return reshape(logits, [B, T, this.config.vocabSize]);
  }

  /** Logits [B, vocabSize] at the last position only: what a decoding step needs. */
  lastLogits(tokens: Tensor, cache?: KVCache): Tensor {
    const h = this.hidden(tokens, cache);
    const last = h.shape[1] === 1 ? h : narrow(h, 1, h.shape[1] - 1, 1); // a decoding step's h is its last row already
    return reshape(this.head(last), [h.shape[0], this.config.vocabSize]);
  }

  /** The GPT-2 initialisation; residual projections get std 0.02/sqrt(2 nLayer) (GPT-2 section 2.3). */
  private initWeights(g: Generator): void {
    const residual = new Set<Tensor>(this.blocks.flatMap((b) => [b.attn.proj.kernel, b.mlpProj.kernel]));
    const residualStd = INIT_STD / Math.sqrt(2 * this.config.nLayer);
    noGrad(() => {
      for (const [name, p] of this.namedParameters()) {
        // biases, LayerNorms' beta and gamma keep their zeros and ones
        if (!/(\.kernel|\.embeddings)$/.test(name)) continue;
        const values = new Float32Array(p.size);
        g.fillNormal(values, 0, residual.has(p) ? residualStd : INIT_STD);
        p.assign(values);
      }
    });
  }
}

/** Builds a GPT: gpt({vocabSize, blockSize, nLayer, nHead, nEmbd, dropout, seed}). */
export function gpt(config: GPTConfig): GPT {
  return new GPT(config);
}

/**
 * Next-token cross-entropy: logits [B, T, V] against targets int32 [B, T], averaged over the
 * B*T positions, through the fused sparse softmax cross-entropy on [B*T, V].
 */
export function nextTokenLoss(logits: Tensor, targets: Tensor): Tensor {
  if (logits.rank !== 3 || targets.rank !== 2 || logits.shape[0] !== targets.shape[0] || logits.shape[1] !== targets.shape[1]) {
    fail('nextTokenLoss', `expected logits [B, T, vocab] and targets [B, T], got ${fmtShape(logits.shape)} and ${fmtShape(targets.shape)}`);
  }
  const [B, T, V] = logits.shape;
  return softmaxCrossEntropy(reshape(logits, [B * T, V]), reshape(targets, [B * T]));
}

function checkConfig(config: GPTConfig, where: string): GPT['config'] {
  if (typeof config !== 'object' || config === null) fail(where, `expected a config {vocabSize, blockSize, nLayer, nHead, nEmbd}, got ${JSON.stringify(config)}`);
  for (const k of ['vocabSize', 'blockSize', 'nLayer', 'nHead', 'nEmbd'] as const) {
    const v = config[k];
    if (!Number.isInteger(v) || v < 1) fail(where, `${k} must be a positive integer, got ${JSON.stringify(v)}`);
  }
  if (config.nEmbd % config.nHead !== 0) fail(where, `nEmbd ${config.nEmbd} must be divisible by nHead ${config.nHead}`);
  const dropout = config.dropout ?? 0;
  if (typeof dropout !== 'number' || !(dropout >= 0 && dropout < 1)) fail(where, `dropout must be a number in [0, 1), got ${JSON.stringify(dropout)}`);
  const bias = config.bias ?? true;
  if (typeof bias !== 'boolean') fail(where, `bias must be a boolean, got ${JSON.stringify(bias)}`);
  if (config.seed !== undefined && (!Number.isSafeInteger(config.seed) || config.seed < 0)) fail(where, `seed must be a non-negative integer, got ${JSON.stringify(config.seed)}`);
  const unknown = Object.keys(config).filter((k) => !(FIELDS as readonly string[]).includes(k));
  if (unknown.length) fail(where, `unknown option${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')} (expected ${FIELDS.join(', ')})`);
  return { vocabSize: config.vocabSize, blockSize: config.blockSize, nLayer: config.nLayer, nHead: config.nHead, nEmbd: config.nEmbd, dropout, bias, ...(config.seed !== undefined ? { seed: config.seed } : {}) };
}
