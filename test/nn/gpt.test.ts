// The GPT model: weight tying, GPT-2's initialisation, the causal property end to end, training on
// a pattern it must learn, generation (cached = uncached for a seed, sliding past the context,
// stop sequences, sampling), and the saved-model round trip with its tokenizer.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import * as lt from '../../src/index.js';
import { CharTokenizer } from '../../src/data/text/index.js';
import { GPT, generate, gpt, loadGPT, nextTokenLoss, sampleToken, saveGPT } from '../../src/models/gpt/index.js';
import { assertClose, assertThrowsLathe } from '../helpers.js';

const tiny = (over: Partial<lt.GPTConfig> = {}) => gpt({ vocabSize: 11, blockSize: 8, nLayer: 2, nHead: 2, nEmbd: 16, seed: 1, ...over });
const ids = (a: number[][]) => lt.tensor(a, { dtype: 'int32' });

function std(t: lt.Tensor): number {
  const d = t.dataSync();
  let s = 0;
  for (const v of d) s += v * v;
  return Math.sqrt(s / d.length);
}

test('gpt: one tied table for embedding and head, GPT-2 parameter count and initialisation', () => {
  const m = gpt({ vocabSize: 65, blockSize: 64, nLayer: 4, nHead: 4, nEmbd: 128, seed: 0 });
  const C = 128;
  const perBlock = 2 * 2 * C + (C * 3 * C + 3 * C) + (C * C + C) + (C * 4 * C + 4 * C) + (4 * C * C + C);
  assert.equal(m.countParameters(), 65 * C + 64 * C + 4 * perBlock + 2 * C); // nanoGPT's 0.80M, head tied
  const names = Object.keys(m.stateDict());
  assert.equal(names.filter((n) => n.includes('tokenEmbedding')).length, 1);
  assert.ok(!names.some((n) => /head|lm/i.test(n)), `no separate head weight: ${names.join(', ')}`);
  assert.ok(Math.abs(std(m.tokenEmbedding.embeddings) - 0.02) < 0.001);
  assert.ok(Math.abs(std(m.blocks[0].fc.kernel) - 0.02) < 0.001);
  const residual = 0.02 / Math.sqrt(2 * 4);
  assert.ok(Math.abs(std(m.blocks[3].attn.proj.kernel) - residual) < 0.0005);
  assert.ok(Math.abs(std(m.blocks[1].mlpProj.kernel) - residual) < 0.0005);
  assert.equal(std(m.blocks[0].attn.qkv.bias!), 0);
  // a seed fixes every weight
  const again = gpt({ vocabSize: 65, blockSize: 64, nLayer: 4, nHead: 4, nEmbd: 128, seed: 0 });
  assert.deepEqual(again.blocks[2].attn.qkv.kernel.dataSync(), m.blocks[2].attn.qkv.kernel.dataSync());
});

test('gpt: the head reuses the embedding table, so its gradient holds both uses', () => {
  const m = tiny();
  const x = ids([[1, 2, 3]]);
  const y = ids([[2, 3, 4]]);
  nextTokenLoss(m.forward(x), y).backward();
  const g = m.tokenEmbedding.embeddings.grad!.toArray() as number[][];
  // token 9 is never an input, so only the head's use gives its row a gradient
  assert.ok(g[9].some((v) => v !== 0));
  // the logits are exactly h @ wte^T
  const h = m.hidden(x);
  assertClose(m.forward(x), lt.matmul(h, lt.transpose(m.tokenEmbedding.embeddings)), { atol: 1e-6, rtol: 1e-5 });
});

test('gpt: forward gives [B, T, vocab]; logits for a prefix do not change when later tokens change', () => {
  const m = tiny();
  const a = m.forward(ids([[1, 2, 3, 4, 5, 6], [6, 5, 4, 3, 2, 1]]));
  const b = m.forward(ids([[1, 2, 3, 9, 9, 9], [6, 5, 4, 0, 7, 10]]));
  assert.deepEqual(a.shape, [2, 6, 11]);
  const prefix = (t: lt.Tensor) => lt.narrow(t, 1, 0, 3).dataSync();
  assert.deepEqual(prefix(b), prefix(a));
  assert.notDeepEqual(lt.narrow(b, 1, 3, 1).dataSync(), lt.narrow(a, 1, 3, 1).dataSync());
  assertThrowsLathe(() => m.forward(ids([[1, 2, 3, 4, 5, 6, 7, 8, 9]])), /9 tokens exceed the context of 8/);
  assertThrowsLathe(() => m.forward(ids([[1, 11]])), /index 11 .* out of range \[0, 11\)/);
  assertThrowsLathe(() => gpt({ vocabSize: 10, blockSize: 8, nLayer: 1, nHead: 3, nEmbd: 16 }), /nEmbd 16 must be divisible by nHead 3/);
});

test('gpt: nextTokenLoss equals the mean cross-entropy computed from log-softmax', () => {
  const m = tiny();
  const logits = m.forward(ids([[1, 2, 3], [4, 5, 6]]));
  const y = [[2, 3, 4], [5, 6, 7]];
  const logp = lt.logSoftmax(logits, -1).toArray() as number[][][];
  const expected = -y.flatMap((row, b) => row.map((t, i) => logp[b][i][t])).reduce((s, v) => s + v, 0) / 6;
  assert.ok(Math.abs(nextTokenLoss(logits, ids(y)).item() - expected) < 1e-5);
});

test('gpt: learns a repeating sequence with compile/fit and greedy generation continues it', async () => {
  const m = gpt({ vocabSize: 6, blockSize: 8, nLayer: 1, nHead: 2, nEmbd: 16, seed: 2 });
  const pattern = (s: number) => Array.from({ length: 9 }, (_, i) => (s + i) % 6);
  const rows = Array.from({ length: 6 }, (_, s) => pattern(s));
  const x = ids(rows.map((r) => r.slice(0, 8)));
  const y = ids(rows.map((r) => r.slice(1)));
  m.compile({ optimizer: new lt.AdamW({ lr: 3e-2, weightDecay: 0 }), loss: { type: 'sparseCategoricalCrossentropy', fromLogits: true } });
  const history = await m.fit(x, y, { epochs: 60, batchSize: 6, verbose: 0, seed: 0 });
  const losses = history.history.loss;
  assert.ok(losses[losses.length - 1] < 0.05, `final loss ${losses[losses.length - 1]}`);
  assert.deepEqual([...generate(m, [3, 4], { maxTokens: 10, temperature: 0 })], [5, 0, 1, 2, 3, 4, 5, 0, 1, 2]);
});

test('generate: cached and uncached give the same tokens for a seed, also past the context', () => {
  const m = tiny();
  for (const options of [{ maxTokens: 5 }, { maxTokens: 30, topK: 5 }, { maxTokens: 25, topP: 0.9, temperature: 0.8 }]) {
    const cached = [...generate(m, [1, 2, 3], { ...options, seed: 7 })];
    const uncached = [...generate(m, [1, 2, 3], { ...options, seed: 7, cache: false })];
    assert.equal(cached.length, options.maxTokens);
    assert.deepEqual(cached, uncached, JSON.stringify(options));
    assert.deepEqual([...generate(m, [1, 2, 3], { ...options, seed: 7 })], cached, 'a seed repeats');
  }
  // a prompt longer than the context is cut to its last blockSize tokens
  const long = Array.from({ length: 12 }, (_, i) => i % 11);
  assert.deepEqual([...generate(m, long, { maxTokens: 4, temperature: 0 })], [...generate(m, long.slice(-8), { maxTokens: 4, temperature: 0 })]);
  // the model goes back to training mode afterwards, and a check fails at the call
  assert.equal(m.training, true);
  assertThrowsLathe(() => generate(m, [], {}), /prompt must be a non-empty array/);
  assertThrowsLathe(() => generate(m, [1, 11]), /prompt\[1\] = 11 is not a token id in \[0, 11\)/);
  assertThrowsLathe(() => generate(m, [1], { topP: 0 }), /topP must be a number in \(0, 1\]/);
  assertThrowsLathe(() => generate(m, [1], { temperature: -1 }), /temperature must be a number >= 0/);
});

test('generate: a cached step feeds one token (the cache grows by one per step)', () => {
  const m = tiny();
  const cache = m.newCache();
  lt.noGrad(() => {
    const full = m.forward(ids([[4, 5, 6, 7]]));
    const first = m.lastLogits(ids([[4, 5, 6]]), cache);
    assert.equal(cache.length, 3);
    const step = m.lastLogits(ids([[7]]), cache);
    assert.equal(cache.length, 4);
    assertClose(first, lt.narrow(full, 1, 2, 1).reshape([1, 11]), { atol: 1e-5, rtol: 1e-4 });
    assertClose(step, lt.narrow(full, 1, 3, 1).reshape([1, 11]), { atol: 1e-5, rtol: 1e-4 });
  });
});

test('generate: a stop sequence ends generation and is not yielded; maxTokens ends with "length"', () => {
  const m = tiny();
  const free = [...generate(m, [1, 2], { maxTokens: 12, temperature: 0 })];
  // the first place where the pair free[k], free[k+1] occurs is k
  const k = [...Array(10).keys()].find((i) => i >= 2 && !free.slice(0, i).some((t, j) => t === free[i] && free[j + 1] === free[i + 1])) ?? 2;
  const it = generate(m, [1, 2], { maxTokens: 12, temperature: 0, stop: [[free[k], free[k + 1]]] });
  const out: number[] = [];
  let r = it.next();
  while (!r.done) {
    out.push(r.value);
    r = it.next();
  }
  assert.deepEqual(out, free.slice(0, k));
  assert.equal(r.value, 'stop');
  const all = generate(m, [1, 2], { maxTokens: 3, temperature: 0 });
  assert.deepEqual([all.next().value, all.next().value, all.next().value], free.slice(0, 3));
  assert.deepEqual(all.next(), { done: true, value: 'length' });
});

test('sampleToken: greedy at temperature 0, top-k and top-p cut the support, frequencies follow softmax', () => {
  const logits = Float32Array.from([1, 3, 2, 0]);
  const rng = new lt.Generator(5);
  const opts = { temperature: 1, topK: 0, topP: 1 };
  assert.equal(sampleToken(logits, { ...opts, temperature: 0 }, rng), 1);
  const counts = (o: typeof opts, n = 4000) => {
    const c = [0, 0, 0, 0];
    for (let i = 0; i < n; i++) c[sampleToken(logits, o, rng)]++;
    return c.map((v) => v / n);
  };
  const z = [1, 3, 2, 0].map(Math.exp);
  const p = z.map((v) => v / z.reduce((a, b) => a + b));
  counts(opts).forEach((f, i) => assert.ok(Math.abs(f - p[i]) < 0.03, `token ${i}: ${f} vs ${p[i]}`));
  const top2 = counts({ ...opts, topK: 2 });
  assert.equal(top2[0] + top2[3], 0);
  assert.ok(Math.abs(top2[1] - p[1] / (p[1] + p[2])) < 0.03);
  // p = [0.087, 0.644, 0.237, 0.032]: top-p 0.7 keeps tokens 1 and 2
  const nucleus = counts({ ...opts, topP: 0.7 });
  assert.equal(nucleus[0] + nucleus[3], 0);
  assert.ok(nucleus[2] > 0.2);
});

test('saveGPT/loadGPT: same logits and tokenizer after the round trip; the tied table is stored once', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lathe-gpt-'));
  try {
    const tok = CharTokenizer.fromText('hello world');
    const m = gpt({ vocabSize: tok.vocabSize, blockSize: 8, nLayer: 1, nHead: 2, nEmbd: 8, seed: 3 });
    saveGPT(m, path.join(dir, 'm'), { tokenizer: tok });
    const json = JSON.parse(fs.readFileSync(path.join(dir, 'm', 'model.json'), 'utf8'));
    assert.equal(json.architecture.type, 'gpt');
    assert.equal(json.tokenizer, 'tokenizer.json');
    const loaded = loadGPT(path.join(dir, 'm'));
    assert.ok(loaded.model instanceof GPT);
    assert.deepEqual(loaded.tokenizer!.toJSON(), tok.toJSON());
    const x = ids([Array.from(tok.encode('hello'))]);
    assert.deepEqual(loaded.model.forward(x).dataSync(), lt.noGrad(() => m.forward(x)).dataSync());
    const decoded = lt.decodeSafetensors(fs.readFileSync(path.join(dir, 'm', 'weights.safetensors')));
    assert.equal(Object.keys(decoded.tensors).length, m.parameters().length);
    assertThrowsLathe(() => saveGPT(m, path.join(dir, 'bad'), { tokenizer: CharTokenizer.fromText('ab') }), /the tokenizer has 2 tokens, the model 8/);
    assertThrowsLathe(() => lt.load(path.join(dir, 'm')), /"architecture.type" must be "sequential", got "gpt"/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
