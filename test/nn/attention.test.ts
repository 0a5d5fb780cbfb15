// MultiHeadAttention, PositionEmbedding and TransformerBlock: forward against a float64 loop
// reference, the causal mask, gradients by finite differences, KV-cached steps against the full
// forward, and the config round trip model.json relies on.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as lt from '../../src/index.js';
import { MultiHeadAttention, PositionEmbedding, TransformerBlock } from '../../src/nn/layers/index.js';
import { KVCacheEntry } from '../../src/nn/layers/index.js';
import { assertClose, assertThrowsLathe, gradcheck, onEachBackend, rand64 } from '../helpers.js';
import { roundTrip } from './layers/layer-checks.js';

/** Fills every weight of `m` from a seeded uniform draw, so biases are not zero. */
function randomize(m: lt.nn.Module, seed: number): void {
  lt.noGrad(() => m.parameters().forEach((p, i) => p.assign(rand64([...p.shape], seed + i, -0.5, 0.5).cast(p.dtype))));
}

/** Causal multi-head self-attention in plain float64 loops: x [T, C], GPT-2's layout. */
function referenceAttention(x: number[][], wqkv: Float64Array, bqkv: Float64Array, wo: Float64Array, bo: Float64Array, H: number): number[][] {
  const T = x.length;
  const C = x[0].length;
  const D = C / H;
  const qkv = x.map((row) => Array.from({ length: 3 * C }, (_, j) => row.reduce((s, v, i) => s + v * wqkv[i * 3 * C + j], bqkv[j])));
  const merged = Array.from({ length: T }, () => new Array<number>(C).fill(0));
  for (let h = 0; h < H; h++) {
    for (let i = 0; i < T; i++) {
      const scores: number[] = [];
      for (let j = 0; j <= i; j++) {
        let s = 0;
        for (let d = 0; d < D; d++) s += qkv[i][h * D + d] * qkv[j][C + h * D + d];
        scores.push(s / Math.sqrt(D));
      }
      const m = Math.max(...scores);
      const e = scores.map((s) => Math.exp(s - m));
      const z = e.reduce((a, b) => a + b, 0);
      for (let d = 0; d < D; d++) merged[i][h * D + d] = e.reduce((s, p, j) => s + (p / z) * qkv[j][2 * C + h * D + d], 0);
    }
  }
  return merged.map((row) => Array.from({ length: C }, (_, j) => row.reduce((s, v, i) => s + v * wo[i * C + j], bo[j])));
}

onEachBackend('MultiHeadAttention', () => {
  test('forward matches a float64 loop reference (causal, 2 heads)', () => {
    const mha = new MultiHeadAttention(2, 8, { dtype: 'float64' });
    randomize(mha, 10);
    const x = rand64([2, 5, 8], 3);
    const y = mha.forward(x);
    assert.deepEqual(y.shape, [2, 5, 8]);
    const rows = x.toArray() as number[][][];
    const w = (t: lt.Tensor) => t.dataSync() as Float64Array;
    const expected = rows.map((r) => referenceAttention(r, w(mha.qkv.kernel), w(mha.qkv.bias!), w(mha.proj.kernel), w(mha.proj.bias!), 2));
    assertClose(y, expected, { atol: 1e-12, rtol: 1e-10 });
  });
});

test('MultiHeadAttention: the causal mask holds (changing later positions leaves earlier outputs as they were)', () => {
  const mha = new MultiHeadAttention(4, 16, { dtype: 'float64' });
  randomize(mha, 20);
  const x = rand64([1, 6, 16], 4);
  const base = mha.forward(x).toArray() as number[][][];
  const changed = x.toArray() as number[][][];
  for (let t = 3; t < 6; t++) changed[0][t] = changed[0][t].map((v) => v * -2 + 1);
  const after = mha.forward(lt.tensor(changed, { dtype: 'float64' })).toArray() as number[][][];
  for (let t = 0; t < 3; t++) assert.deepEqual(after[0][t], base[0][t], `position ${t} changed`);
  assert.notDeepEqual(after[0][3], base[0][3]);
  // without the mask the first position sees the later ones
  const full = new MultiHeadAttention(4, 16, { dtype: 'float64', causal: false });
  lt.noGrad(() => full.parameters().forEach((p, i) => p.assign(mha.parameters()[i])));
  assert.notDeepEqual((full.forward(lt.tensor(changed, { dtype: 'float64' })).toArray() as number[][][])[0][0], (full.forward(x).toArray() as number[][][])[0][0]);
});

test('MultiHeadAttention: gradients in the input and both projections match finite differences (float64)', () => {
  const mha = new MultiHeadAttention(2, 4, { dtype: 'float64' });
  randomize(mha, 30);
  const saved = [mha.qkv.kernel, mha.qkv.bias!, mha.proj.kernel];
  const slots = (w: lt.Tensor[]) => {
    (mha.qkv as unknown as Record<string, lt.Tensor>).kernel = w[0];
    (mha.qkv as unknown as Record<string, lt.Tensor>).bias = w[1];
    (mha.proj as unknown as Record<string, lt.Tensor>).kernel = w[2];
  };
  try {
    gradcheck((x, ...w) => (slots(w), mha.forward(x)), [rand64([2, 3, 4], 5), ...saved.map((w) => w.detach())], { atol: 1e-7, rtol: 1e-5 });
  } finally {
    slots(saved);
  }
});

test('MultiHeadAttention: feeding tokens a few at a time through a KV cache gives the full forward', () => {
  const mha = new MultiHeadAttention(2, 8, { dtype: 'float64' });
  randomize(mha, 40);
  const x = rand64([2, 7, 8], 6);
  const full = mha.forward(x);
  const cache = new KVCacheEntry(8);
  assert.equal(cache.k, null);
  const parts = [[0, 3], [3, 1], [4, 1], [5, 2]].map(([s, n]) => mha.attend(lt.narrow(x, 1, s, n), cache));
  assertClose(lt.concat(parts, 1), full, { atol: 1e-12, rtol: 1e-10 });
  assert.equal(cache.length, 7);
  assert.deepEqual(cache.k!.shape, [2, 2, 7, 4]);
  // The cached keys are the projection's k columns, head h at C + h*D: [B, T, 3C] -> [B, H, T, D].
  const expectedK = lt.permute(lt.reshape(lt.narrow(mha.qkv.forward(x), 2, 8, 8), [2, 7, 2, 4]), [0, 2, 1, 3]);
  assertClose(cache.k!, expectedK, { atol: 0, rtol: 0 });
  const expectedV = lt.permute(lt.reshape(lt.narrow(mha.qkv.forward(x), 2, 16, 8), [2, 7, 2, 4]), [0, 2, 1, 3]);
  assertClose(cache.v!, expectedV, { atol: 0, rtol: 0 });
  assertThrowsLathe(() => mha.attend(lt.narrow(x, 1, 0, 2), cache), /7 cached \+ 2 tokens exceed the KV cache's 8 rows/);
  assertThrowsLathe(() => mha.attend(lt.narrow(x, 0, 0, 1).narrow(1, 0, 1), cache), /KV cache holds \[2, 2, 7, 4\] float64; got a step of batch 1/);
  // After reset the buffers are reused: the same steps give the same outputs.
  cache.reset();
  assert.equal(cache.k, null);
  const again = [[0, 4], [4, 3]].map(([s, n]) => mha.attend(lt.narrow(x, 1, s, n), cache));
  assertClose(lt.concat(again, 1), full, { atol: 1e-12, rtol: 1e-10 });
  assertThrowsLathe(() => new MultiHeadAttention(2, 8, { causal: false }).attend(rand64([1, 1, 8], 1).cast('float32'), new KVCacheEntry(4)), /a KV cache needs causal attention/);
});

onEachBackend('MultiHeadAttention (packed attention)', () => {
  // attend() reads q, k and v in place from the [B, T, 3C] projection; this is the head split it
  // replaced, written out: values and every parameter's and the input's gradient must agree.
  for (const dtype of ['float64', 'float32'] as const) {
    for (const causal of [true, false]) {
      test(`equals the split-heads composition: values and gradients, ${dtype}, ${causal ? 'causal' : 'full'}`, () => {
        const mha = new MultiHeadAttention(3, 12, { dtype, causal });
        randomize(mha, 70);
        const x = rand64([2, 37, 12], 8).cast(dtype);
        const w = rand64([2, 37, 12], 9).cast(dtype);
        const split = (input: lt.Tensor) => {
          const [B, T] = input.shape;
          const heads = lt.permute(lt.reshape(mha.qkv.forward(input), [B, T, 3, 3, 4]), [2, 0, 3, 1, 4]);
          const part = (i: number) => lt.reshape(lt.narrow(heads, 0, i, 1), [B, 3, T, 4]);
          const y = lt.scaledDotProductAttention(part(0), part(1), part(2), { causal });
          return mha.proj.forward(lt.reshape(lt.transpose(y, 1, 2), [B, T, 12]));
        };
        const grads = (f: (input: lt.Tensor) => lt.Tensor) => {
          const input = x.detach().requireGrad();
          mha.parameters().forEach((p) => p.zeroGrad());
          const y = f(input);
          y.mul(w).sum().backward();
          return [y, input.grad!, ...mha.parameters().map((p) => p.grad!)];
        };
        const packed = grads((input) => mha.attend(input));
        const reference = grads(split);
        const tol = dtype === 'float64' ? { atol: 1e-12, rtol: 1e-10 } : { atol: 2e-5, rtol: 1e-4 };
        packed.forEach((t, i) => {
          assert.equal(t.dtype, dtype);
          assertClose(t, reference[i], tol, i === 0 ? 'output' : i === 1 ? 'dx' : `d ${mha.parameters()[i - 2].shape}`);
        });
      });
    }
  }
});

test('MultiHeadAttention: errors name the layer and the shape; config round trip', () => {
  assertThrowsLathe(() => new MultiHeadAttention(3, 8), /embedDim 8 must be divisible by numHeads 3/);
  const mha = new MultiHeadAttention(2, 8, { dropout: 0.1, name: 'attn' });
  assertThrowsLathe(() => mha.forward(lt.zeros([2, 8])), /attn: expected input \[batch, time, 8\], got \[2,8\]/);
  const copy = roundTrip(mha);
  assert.equal(copy.namedParameters().length, 4);
  assert.deepEqual(copy.namedParameters().map(([n]) => n), ['qkv.kernel', 'qkv.bias', 'proj.kernel', 'proj.bias']);
});

test('PositionEmbedding: adds rows offset..offset+T-1, gradient reaches only those rows, and refuses positions past its length', () => {
  const pe = new PositionEmbedding(4, 3, { dtype: 'float64', name: 'wpe' });
  randomize(pe, 50);
  const table = pe.embeddings.toArray() as number[][];
  const x = lt.zeros([1, 2, 3], { dtype: 'float64' });
  assertClose(pe.addAt(x, 1), [[table[1], table[2]]], { atol: 0, rtol: 0 });
  pe.addAt(x, 2).sum().backward();
  assert.deepEqual(pe.embeddings.grad!.toArray(), [[0, 0, 0], [0, 0, 0], [1, 1, 1], [1, 1, 1]]);
  assertThrowsLathe(() => pe.addAt(x, 3), /wpe: positions 3\.\.4 are beyond the 4/);
  roundTrip(pe);
});

test('TransformerBlock: pre-LN residual layout, gradient in the input (float64), cached steps, config round trip', () => {
  const block = new TransformerBlock(2, 4, { dtype: 'float64' });
  randomize(block, 60);
  const x = rand64([1, 3, 4], 7);
  // The block's own composition written out: x + attn(ln1(x)), then + mlpProj(gelu(fc(ln2(.)))).
  const h = x.add(block.attn.forward(block.ln1.forward(x)));
  const expected = h.add(block.mlpProj.forward(block.fc.forward(block.ln2.forward(h))));
  assertClose(block.forward(x), expected, { atol: 0, rtol: 0 });
  gradcheck((input) => block.forward(input), [x], { atol: 1e-7, rtol: 1e-5 });
  const cache = new KVCacheEntry(3);
  const steps = [0, 1, 2].map((t) => block.step(lt.narrow(x, 1, t, 1), cache));
  assertClose(lt.concat(steps, 1), block.forward(x), { atol: 1e-12, rtol: 1e-10 });
  const copy = roundTrip(block);
  assert.equal(copy.countParameters(), block.countParameters());
  // 2 LayerNorms (2C each), qkv (C*3C + 3C), proj (C*C + C), fc (C*4C + 4C), mlpProj (4C*C + C) for C = 4
  assert.equal(block.countParameters(), 16 + 60 + 20 + 80 + 68);
});

onEachBackend('MultiHeadAttention dropout on the attention probabilities', () => {
  test('training drops attention weights (GPT-2 attn_pdrop); eval is the plain fused path; gradients flow', () => {
    lt.manualSeed(5);
    const x = rand64([2, 6, 8], 31).cast('float32');
    const withDropout = new MultiHeadAttention(2, 8, { dropout: 0.5 });
    const plain = new MultiHeadAttention(2, 8);
    plain.loadStateDict(withDropout.stateDict());
    withDropout.eval();
    plain.eval();
    assertClose(withDropout.call(x), plain.call(x), { atol: 0, rtol: 0 }, 'eval: no dropout anywhere');
    withDropout.train();
    // The output's dropout in eval mode, so only the probabilities' dropout can make training differ.
    const probsOnly = new MultiHeadAttention(2, 8, { dropout: 0.5 });
    probsOnly.loadStateDict(withDropout.stateDict());
    probsOnly.train();
    probsOnly.outputDropout.eval();
    const y = probsOnly.call(x);
    const d = y.sub(plain.call(x)).abs().max().item();
    assert.ok(d > 1e-3, `training output differs from eval (${d})`);
    assert.ok(Array.from(y.dataSync()).every(Number.isFinite));
    y.square().sum().backward();
    for (const p of probsOnly.parameters()) assert.ok(p.grad && Array.from(p.grad.dataSync()).some((v) => v !== 0), `${p.name} has a gradient`);
  });
});
