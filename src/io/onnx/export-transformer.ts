// The transformer layers as ONNX nodes (opset 13+): PositionEmbedding, RMSNormalization,
// MultiHeadAttention and TransformerBlock, written from the same primitives their forward uses, so ONNX Runtime's
// outputs match Lathe's (test/io/onnx-export.test.ts). Sub-layers (the projections, the norms,
// the MLP) go through the ordinary layer mappings under their state-dict prefix. In a Sequential
// the time axis is the model's input shape, so shapes and the causal mask are constants.
import type { Layer } from '../../nn/layer.js';
import type { MultiHeadAttention } from '../../nn/layers/attention.js';
import type { PositionEmbedding } from '../../nn/layers/position-embedding.js';
import type { RMSNormalization } from '../../nn/layers/rms-norm.js';
import type { TransformerBlock } from '../../nn/layers/transformer.js';
import { narrow } from '../../ops/functions.js';
import { type ExportContext, attr } from './export-layers.js';

type Emit = (ctx: ExportContext, layer: Layer) => void;

/** `emit` writes one layer (the table in export-layers.ts); the transformer layers reuse it for their parts. */
export function transformerExports(emit: Emit): Record<string, Emit> {
  /** Runs `layer` on `value` under `prefix`, returns the output's name. */
  const part = (ctx: ExportContext, layer: Layer, name: string, value: string): string => {
    const sub: ExportContext = { ...ctx, value, prefix: `${ctx.prefix}.${name}` };
    emit(sub, layer);
    return sub.value;
  };

  const attention = (ctx: ExportContext, l: MultiHeadAttention, prefix: string, x: string): string => {
    const g = ctx.g;
    const [T, C] = ctx.shape;
    const H = l.numHeads;
    const D = C / H;
    const sub = { ...ctx, prefix };
    // qkv [B, T, 3C] -> [B, T, 3, H, D] -> [3, B, H, T, D], as MultiHeadAttention.attend splits it.
    const qkv = g.node('Transpose', [g.node('Reshape', [part(sub, l.qkv, 'qkv', x), g.int64s(g.fresh(`${prefix}.heads`), [0, T, 3, H, D])])], [attr.ints('perm', [2, 0, 3, 1, 4])]);
    const pick = (i: number) => g.node('Gather', [qkv, g.int64s(g.fresh(`${prefix}.index`), [i], [])], [attr.int('axis', 0)]);
    const [q, k, v] = [pick(0), pick(1), pick(2)];
    let scores = g.node('Mul', [g.node('MatMul', [q, g.node('Transpose', [k], [attr.ints('perm', [0, 1, 3, 2])])]), g.scalar(`${prefix}.scale`, 1 / Math.sqrt(D))]);
    if (l.causal) {
      // Key j is hidden from query i when j > i: -inf there, so softmax gives it exactly 0.
      const mask = new Float32Array(T * T);
      for (let i = 0; i < T; i++) for (let j = i + 1; j < T; j++) mask[i * T + j] = -Infinity;
      scores = g.node('Add', [scores, g.floats(g.fresh(`${prefix}.causal_mask`), mask, [T, T])]);
    }
    const heads = g.node('MatMul', [g.node('Softmax', [scores], [attr.int('axis', -1)]), v]);
    const merged = g.node('Reshape', [g.node('Transpose', [heads], [attr.ints('perm', [0, 2, 1, 3])]), g.int64s(g.fresh(`${prefix}.merge`), [0, T, C])]);
    return part(sub, l.proj, 'proj', merged); // dropout: the identity at inference
  };

  return {
    positionembedding: (ctx, layer) => {
      const l = layer as PositionEmbedding;
      const T = ctx.shape[0];
      const rows = T === l.sequenceLength ? l.embeddings : narrow(l.embeddings, 0, 0, T);
      ctx.value = ctx.g.node('Add', [ctx.value, ctx.g.tensor(`${ctx.prefix}.embeddings`, rows)]);
    },
    // x / sqrt(mean(x^2) + eps) * gamma, as RMSNormalization.forward.
    rmsnormalization: (ctx, layer) => {
      const l = layer as RMSNormalization;
      const g = ctx.g;
      const x = ctx.value;
      const meanSquare = g.node('ReduceMean', [g.node('Mul', [x, x])], [attr.ints('axes', [-1]), attr.int('keepdims', 1)]);
      let y = g.node('Div', [x, g.node('Sqrt', [g.node('Add', [meanSquare, g.scalar(`${ctx.prefix}.epsilon`, l.epsilon)])])]);
      if (l.gamma) y = g.node('Mul', [y, g.tensor(`${ctx.prefix}.gamma`, l.gamma)]);
      ctx.value = y;
    },
    multiheadattention: (ctx, layer) => {
      ctx.value = attention(ctx, layer as MultiHeadAttention, ctx.prefix, ctx.value);
    },
    // Pre-LayerNorm: h = x + attn(ln1(x)); y = h + mlpProj(fc(ln2(h))), as TransformerBlock.step.
    transformerblock: (ctx, layer) => {
      const l = layer as TransformerBlock;
      const g = ctx.g;
      const x = ctx.value;
      const h = g.node('Add', [x, attention(ctx, l.attn, `${ctx.prefix}.attn`, part(ctx, l.ln1, 'ln1', x))]);
      const mlp = part(ctx, l.mlpProj, 'mlpProj', part(ctx, l.fc, 'fc', part(ctx, l.ln2, 'ln2', h)));
      ctx.value = g.node('Add', [h, mlp]);
    },
  };
}
