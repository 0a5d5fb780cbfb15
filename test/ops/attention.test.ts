// scaledDotProductAttention, the fused op: against hand-worked values and the same function
// composed from matmul, a mask and softmax, gradients by central differences in float64, the
// causal mask (future keys change nothing earlier), native against js, and argument errors.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as lt from '../../src/index.js';
import { attentionComposed } from '../../src/ops/attention.js';
import { assertClose, assertThrowsLathe, gradcheck, onEachBackend, rand64 } from '../helpers.js';

// float64: the fused kernel and the composition sum the same <= 64 terms in different orders.
const TOL64 = { atol: 1e-12, rtol: 1e-10 };
// float32: scores, exponentials and sums rounded in float32 (the js kernel in float64), values ~1.
const TOL32 = { atol: 2e-5, rtol: 1e-4 };
const EXACT = { atol: 0, rtol: 0 };

type Shape4 = [number, number, number, number];

/** q [B,H,Tq,D], k and v [B,H,Tk,D], uniform in [-1.5, 1.5) so softmax rows are far from uniform. */
function qkv(b: number, h: number, tq: number, tk: number, d: number, seed: number, dtype: 'float32' | 'float64' = 'float64'): lt.Tensor[] {
  const shapes: Shape4[] = [[b, h, tq, d], [b, h, tk, d], [b, h, tk, d]];
  return shapes.map((s, i) => rand64(s, seed + i, -1.5, 1.5).cast(dtype));
}

/** Output and the gradients of sum(out * w) w.r.t. q, k and v. */
function run(f: typeof attentionComposed, inputs: lt.Tensor[], options: lt.AttentionOptions): lt.Tensor[] {
  const leaves = inputs.map((x) => x.detach().requireGrad());
  const y = f(leaves[0], leaves[1], leaves[2], options);
  const w = rand64([...y.shape], 99).cast(y.dtype).to(y.backend);
  y.mul(w).sum().backward();
  return [y, ...leaves.map((x) => x.grad!)];
}

// Odd shapes: Tq != Tk, D not a multiple of 16, several 32-row query blocks (the native
// kernel's), B*H above the thread count, a single query at the end of a KV cache.
const SHAPES: [number, number, number, number, number][] = [
  [2, 3, 5, 9, 7],
  [1, 2, 37, 45, 20],
  [3, 4, 33, 33, 17],
  [2, 2, 1, 13, 5],
  [1, 1, 70, 70, 3],
];

onEachBackend('scaledDotProductAttention', (backend) => {
  test('zero queries average the visible values: every key without a mask, keys 0..i with one', () => {
    const v = lt.tensor([[[[1, 10], [2, 20], [3, 30], [6, 60]]]], { dtype: 'float64' });
    const q = lt.zeros([1, 1, 4, 2], { dtype: 'float64' });
    assertClose(lt.scaledDotProductAttention(q, v, v), [[[[3, 30], [3, 30], [3, 30], [3, 30]]]], TOL64);
    assertClose(lt.scaledDotProductAttention(q, v, v, { causal: true }), [[[[1, 10], [1.5, 15], [2, 20], [3, 30]]]], TOL64);
    // Two queries at the end of a 4-key cache see keys 0..2 and 0..3.
    assertClose(lt.scaledDotProductAttention(q.narrow(2, 2, 2), v, v, { causal: true }), [[[[2, 20], [3, 30]]]], TOL64);
  });

  test('scale defaults to 1/sqrt(D) and can be set', () => {
    const [q, k, v] = qkv(1, 2, 6, 6, 5, 10);
    const byDefault = lt.scaledDotProductAttention(q, k, v);
    assertClose(byDefault, lt.scaledDotProductAttention(q, k, v, { scale: 1 / Math.sqrt(5) }), EXACT);
    const scaled = lt.scaledDotProductAttention(q, k, v, { scale: 0.9 });
    assertClose(scaled, attentionComposed(q, k, v, { scale: 0.9 }), TOL64);
    assert.ok(Math.abs(scaled.sub(byDefault).abs().max().item()) > 1e-3, 'the scale must change the result');
    assertClose(lt.scaledDotProductAttention(q, k, v, { scale: -0.7, causal: true }), attentionComposed(q, k, v, { scale: -0.7, causal: true }), TOL64);
  });

  for (const [b, h, tq, tk, d] of SHAPES) {
    for (const causal of [false, true]) {
      for (const dtype of ['float64', 'float32'] as const) {
        test(`matches the composed ops: q [${b},${h},${tq},${d}], k/v [${b},${h},${tk},${d}], ${causal ? 'causal' : 'full'}, ${dtype}`, () => {
          const inputs = qkv(b, h, tq, tk, d, 1000 * tq + tk, dtype);
          const fused = run(lt.scaledDotProductAttention, inputs, { causal });
          const composed = run(attentionComposed, inputs, { causal });
          const tol = dtype === 'float64' ? TOL64 : TOL32;
          ['out', 'dq', 'dk', 'dv'].forEach((name, i) => {
            assert.equal(fused[i].dtype, dtype, name);
            assertClose(fused[i], composed[i], tol, name);
          });
        });
      }
    }
  }

  for (const causal of [false, true]) {
    test(`gradients of q, k and v match central differences in float64 (${causal ? 'causal' : 'full'})`, () => {
      gradcheck((q, k, v) => lt.scaledDotProductAttention(q, k, v, { causal }), qkv(2, 1, 3, 5, 4, 7));
      gradcheck((q, k, v) => lt.scaledDotProductAttention(q, k, v, { causal, scale: 0.8 }), qkv(1, 2, 4, 4, 3, 8));
    });
  }

  test('gradients match central differences across two query blocks (causal, Tq = Tk = 35)', () => {
    gradcheck((q, k, v) => lt.scaledDotProductAttention(q, k, v, { causal: true }), qkv(1, 1, 35, 35, 2, 9));
  });

  for (const [tq, tk] of [[40, 40], [25, 51]]) {
    test(`causal mask: keys and values after position t change neither earlier outputs nor their gradients (Tq ${tq}, Tk ${tk})`, () => {
      const shift = tk - tq;
      const t = shift + 20; // the last key the first 21 queries see
      const rows = t - shift + 1;
      const [q, k, v] = qkv(2, 2, tq, tk, 6, 31);
      const future = (x: lt.Tensor, seed: number) => {
        const changed = rand64([...x.shape], seed, -5, 5);
        const keep = lt.arange(tk, undefined, 1, { backend }).le(t).reshape([1, 1, tk, 1]);
        return lt.where(keep, x, changed);
      };
      const k2 = future(k, 41);
      const v2 = future(v, 42);
      assert.ok(k2.sub(k).abs().max().item() > 1, 'the future keys must really change');
      // The loss reads only the first `rows` queries, whose keys are 0..t.
      const w = rand64([2, 2, rows, 6], 5);
      const grads = (kk: lt.Tensor, vv: lt.Tensor) => {
        const leaves = [q, kk, vv].map((x) => x.detach().requireGrad());
        const y = lt.scaledDotProductAttention(leaves[0], leaves[1], leaves[2], { causal: true });
        const early = y.narrow(2, 0, rows);
        early.mul(w).sum().backward();
        return { early, dq: leaves[0].grad!, dk: leaves[1].grad!, dv: leaves[2].grad! };
      };
      const a = grads(k, v);
      const b = grads(k2, v2);
      assertClose(b.early, a.early, EXACT, 'earlier outputs');
      assertClose(b.dq, a.dq, EXACT, 'dq');
      const past = (x: lt.Tensor) => x.narrow(2, 0, t + 1);
      const after = (x: lt.Tensor) => x.narrow(2, t + 1, tk - t - 1);
      assertClose(past(b.dk), past(a.dk), EXACT, 'dk of earlier keys');
      assertClose(past(b.dv), past(a.dv), EXACT, 'dv of earlier values');
      assertClose(after(b.dk), lt.zeros([2, 2, tk - t - 1, 6], { dtype: 'float64' }), EXACT, 'dk of future keys');
      assertClose(after(b.dv), lt.zeros([2, 2, tk - t - 1, 6], { dtype: 'float64' }), EXACT, 'dv of future values');
      // And without the mask the same change does reach the early outputs.
      const unmasked = lt.scaledDotProductAttention(q, k2, v2).narrow(2, 0, rows);
      assert.ok(unmasked.sub(lt.scaledDotProductAttention(q, k, v).narrow(2, 0, rows)).abs().max().item() > 1e-3);
    });
  }

  test('the last query of a causal block at the end of a cache sees every key', () => {
    const [q, k, v] = qkv(1, 3, 4, 11, 5, 77);
    const last = (y: lt.Tensor) => y.narrow(2, 3, 1);
    assertClose(last(lt.scaledDotProductAttention(q, k, v, { causal: true })), last(lt.scaledDotProductAttention(q, k, v)), TOL64);
  });

  test('no gradient is recorded under noGrad, and an empty query block gives an empty output', () => {
    const [q, k, v] = qkv(1, 1, 3, 3, 2, 3).map((x) => x.requireGrad());
    assert.equal(lt.noGrad(() => lt.scaledDotProductAttention(q, k, v)).requiresGrad, false);
    const [q0, k0, v0] = qkv(2, 2, 0, 3, 4, 3);
    assert.deepEqual(lt.scaledDotProductAttention(q0, k0, v0, { causal: true }).shape, [2, 2, 0, 4]);
  });

  test('bad arguments give errors naming the shapes', () => {
    const [q, k, v] = qkv(2, 3, 4, 6, 8, 1);
    const sdpa = lt.scaledDotProductAttention;
    assertThrowsLathe(() => sdpa(q.reshape([6, 4, 8]), k, v), /scaledDotProductAttention: q, k and v must be 4-D .*got q float64 \[6,4,8\], k float64 \[2,3,6,8\]/);
    assertThrowsLathe(() => sdpa(q, k.narrow(3, 0, 5), v), /k must be \[2,3,Tk,8\] to match q, got q float64 \[2,3,4,8\], k float64 \[2,3,6,5\]/);
    assertThrowsLathe(() => sdpa(q, k.narrow(0, 0, 1), v), /k must be \[2,3,Tk,8\] to match q.*k float64 \[1,3,6,8\]/);
    assertThrowsLathe(() => sdpa(q, k, v.narrow(2, 0, 5)), /v must have k's shape \[2,3,6,8\], got .*v float64 \[2,3,5,8\]/);
    assertThrowsLathe(() => sdpa(q, k.cast('float32'), v), /one dtype, got q float64 \[2,3,4,8\], k float32/);
    assertThrowsLathe(() => sdpa(q.cast('int32'), k.cast('int32'), v.cast('int32')), /must be float tensors/);
    assertThrowsLathe(() => sdpa(k, q, q, { causal: true }), /causal attention needs no more queries than keys, got q float64 \[2,3,6,8\], k float64 \[2,3,4,8\]/);
    assertThrowsLathe(() => sdpa(q, k, v, { scale: NaN }), /scale must be a finite number/);
    assertThrowsLathe(() => sdpa(q, k, v, { causal: 'yes' as unknown as boolean }), /causal must be a boolean/);
    assertThrowsLathe(() => sdpa(q, k.narrow(2, 0, 0), v.narrow(2, 0, 0)), /headDim and key length must be at least 1/);
  });
});

test('native attention matches the js reference: forward and gradients, float32 and float64', { skip: !lt.listBackends().includes('native') }, () => {
  for (const dtype of ['float32', 'float64'] as const) {
    for (const causal of [false, true]) {
      const inputs = qkv(3, 5, 67, 67, 24, 500, dtype);
      const onBackend = (name: string) => run(lt.scaledDotProductAttention, inputs.map((x) => x.to(name)), { causal });
      const native = onBackend('native');
      const js = onBackend('js');
      const tol = dtype === 'float64' ? TOL64 : TOL32;
      ['out', 'dq', 'dk', 'dv'].forEach((name, i) => {
        assert.equal(native[i].backend.name, 'native');
        assertClose(native[i], js[i], tol, `${dtype} ${causal ? 'causal' : 'full'} ${name}`);
      });
    }
  }
});

// ---- the packed form: q, k, v read in place from qkv [B, T, 3C], output [B, T, C] ----------------------

/** The head split packedSelfAttention replaces: qkv [B,T,3C] -> q, k, v [B,H,T,D], attention, heads merged back to [B,T,C]. */
function splitHeads(qkv: lt.Tensor, heads: number, options: lt.AttentionOptions): lt.Tensor {
  const [b, t, c3] = qkv.shape;
  const c = c3 / 3;
  const parts = lt.permute(lt.reshape(qkv, [b, t, 3, heads, c / heads]), [2, 0, 3, 1, 4]);
  const part = (i: number) => lt.reshape(lt.narrow(parts, 0, i, 1), [b, heads, t, c / heads]);
  return lt.reshape(lt.transpose(lt.scaledDotProductAttention(part(0), part(1), part(2), options), 1, 2), [b, t, c]);
}

/** Output and the gradient of sum(out * w) w.r.t. qkv. */
function runPacked(f: (qkv: lt.Tensor) => lt.Tensor, qkv: lt.Tensor): lt.Tensor[] {
  const leaf = qkv.detach().requireGrad();
  const y = f(leaf);
  y.mul(rand64([...y.shape], 98).cast(y.dtype).to(y.backend)).sum().backward();
  return [y, leaf.grad!];
}

// [B, T, H, D]: odd head widths, several 32-row query blocks, a single token.
const PACKED: [number, number, number, number][] = [[2, 5, 3, 7], [1, 37, 2, 20], [3, 33, 4, 5], [2, 1, 2, 3], [1, 70, 1, 3]];

onEachBackend('packedSelfAttention', () => {
  for (const [b, t, h, d] of PACKED) {
    for (const causal of [false, true]) {
      for (const dtype of ['float64', 'float32'] as const) {
        test(`equals the split heads: qkv [${b},${t},${3 * h * d}], ${h} heads, ${causal ? 'causal' : 'full'}, ${dtype}`, () => {
          const qkv = rand64([b, t, 3 * h * d], 7 * t + h, -1.5, 1.5).cast(dtype);
          const packed = runPacked((x) => lt.packedSelfAttention(x, h, { causal }), qkv);
          const split = runPacked((x) => splitHeads(x, h, { causal }), qkv);
          const tol = dtype === 'float64' ? TOL64 : TOL32;
          assert.deepEqual(packed[0].shape, [b, t, h * d]);
          assert.equal(packed[1].dtype, dtype);
          assertClose(packed[0], split[0], tol, 'out');
          assertClose(packed[1], split[1], tol, 'dqkv');
        });
      }
    }
  }

  test('gradient matches central differences in float64 (causal and full, a set scale)', () => {
    gradcheck((x) => lt.packedSelfAttention(x, 2, { causal: true }), [rand64([2, 4, 18], 11, -1.5, 1.5)]);
    gradcheck((x) => lt.packedSelfAttention(x, 3, { scale: 0.7 }), [rand64([1, 5, 9], 12, -1.5, 1.5)]);
    gradcheck((x) => lt.packedSelfAttention(x, 1, { causal: true }), [rand64([1, 35, 6], 13, -1.5, 1.5)]);
  });

  test('cachedSelfAttention: steps of 3, 1 and 2 tokens equal causal attention over the whole sequence', () => {
    const [b, t, h, d] = [2, 6, 2, 5];
    const qkv = rand64([b, t, 3 * h * d], 21, -1.5, 1.5);
    const cache = { k: new Float64Array(b * h * 8 * d), v: new Float64Array(b * h * 8 * d), length: 0, capacity: 8 };
    const steps = [[0, 3], [3, 1], [4, 2]].map(([s, n]) => {
      const y = lt.cachedSelfAttention(lt.narrow(qkv, 1, s, n), h, cache);
      cache.length += n;
      return y;
    });
    assertClose(lt.concat(steps, 1), lt.packedSelfAttention(qkv, h, { causal: true }), TOL64);
    // Row j of head hh of the cache is token j's key: qkv[., j, C + hh*D ..].
    const keys = lt.permute(lt.reshape(lt.narrow(qkv, 2, h * d, h * d), [b, t, h, d]), [0, 2, 1, 3]);
    const cached = lt.narrow(lt.tensor(cache.k, { shape: [b, h, 8, d], dtype: 'float64' }), 2, 0, t);
    assertClose(cached, keys, EXACT);
  });

  test('bad arguments give errors naming the shapes', () => {
    const qkv = rand64([2, 4, 12], 1);
    assertThrowsLathe(() => lt.packedSelfAttention(qkv.reshape([8, 12]), 2), /packedSelfAttention: qkv must be a 3-D tensor \[batch, time, 3 \* embedDim\], got float64 \[8,12\]/);
    assertThrowsLathe(() => lt.packedSelfAttention(rand64([2, 4, 10], 1), 2), /got float64 \[2,4,10\]/);
    assertThrowsLathe(() => lt.packedSelfAttention(qkv, 3), /numHeads must be a positive integer dividing embedDim 4, got 3/);
    assertThrowsLathe(() => lt.packedSelfAttention(qkv.cast('int32'), 2), /must be a float tensor/);
    assertThrowsLathe(() => lt.packedSelfAttention(qkv, 2, { scale: Infinity }), /scale must be a finite number/);
  });
});

test('native packed and cached attention match the js reference, float32 and float64', { skip: !lt.listBackends().includes('native') }, () => {
  for (const dtype of ['float32', 'float64'] as const) {
    for (const causal of [false, true]) {
      const qkv = rand64([3, 67, 3 * 4 * 24], 600, -1.5, 1.5).cast(dtype);
      const native = runPacked((x) => lt.packedSelfAttention(x, 4, { causal }), qkv.to('native'));
      const js = runPacked((x) => lt.packedSelfAttention(x, 4, { causal }), qkv.to('js'));
      const tol = dtype === 'float64' ? TOL64 : TOL32;
      assert.equal(native[1].backend.name, 'native');
      assertClose(native[0], js[0], tol, `${dtype} ${causal ? 'causal' : 'full'} out`);
      assertClose(native[1], js[1], tol, `${dtype} ${causal ? 'causal' : 'full'} dqkv`);
    }
    const qkv = rand64([2, 5, 3 * 2 * 8], 601, -1.5, 1.5).cast(dtype);
    const step = (name: string) => {
      const Arr = dtype === 'float32' ? Float32Array : Float64Array;
      const cache = { k: new Arr(2 * 2 * 9 * 8), v: new Arr(2 * 2 * 9 * 8), length: 4, capacity: 9 };
      cache.k.set(rand64([2 * 2 * 9 * 8], 602).dataSync());
      cache.v.set(rand64([2 * 2 * 9 * 8], 603).dataSync());
      return [lt.cachedSelfAttention(qkv.to(name), 2, cache), cache.k, cache.v] as const;
    };
    const [yn, kn, vn] = step('native');
    const [yj, kj, vj] = step('js');
    assertClose(yn, yj, dtype === 'float64' ? TOL64 : TOL32, `${dtype} cached step`);
    assert.deepEqual([...kn], [...kj]);
    assert.deepEqual([...vn], [...vj]);
  }
});
