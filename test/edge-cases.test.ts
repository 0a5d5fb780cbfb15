// Edge cases a review turned up, each checked on every backend so they stay fixed.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as lt from '../src/index.js';
import { assertClose, assertThrowsLathe, onEachBackend } from './helpers.js';

onEachBackend('edge cases', (backend) => {
  test('integer scalars outside the dtype widen instead of wrapping', () => {
    assert.deepEqual(lt.tensor([100, 200], { dtype: 'uint8' }).lt(300).toArray(), [true, true]);
    assert.deepEqual(lt.tensor([100, 200], { dtype: 'uint8' }).gt(-1).toArray(), [true, true]);
    assert.deepEqual(lt.tensor([100, 200], { dtype: 'uint8' }).add(300).toArray(), [400, 500]);
    assert.deepEqual(lt.tensor([5], { dtype: 'int32' }).lt(2 ** 31).toArray(), [true]);
  });

  test('bool storage holds only 0 and 1', () => {
    assert.deepEqual(lt.full([2], 2, { dtype: 'bool' }).eq(true).toArray(), [true, true]);
    assert.equal(lt.tensor(new Uint8Array([2, 0]), { dtype: 'bool' }).sum().item(), 1);
    assert.equal(lt.arange(3, undefined, 1, { dtype: 'bool' }).sum().item(), 2);
  });

  test('tensors never share storage with the caller\'s typed array', () => {
    const data = new Float32Array([1, 2]);
    const t = lt.tensor(data);
    data[0] = 99;
    assert.deepEqual(t.toArray(), [1, 2]);
    const a = lt.zeros([2]).requireGrad();
    const b = lt.zeros([2]).requireGrad();
    const shared = new Float32Array([1, 2]);
    a.assign(shared);
    b.assign(shared);
    a.sum().backward();
    new lt.Adam([a], { lr: 0.5 }).step();
    assert.deepEqual(b.toArray(), [1, 2]);
    assert.deepEqual(Array.from(shared), [1, 2]);
  });

  test('an index changed after its tensor was made cannot reach the kernels', () => {
    const ia = new Int32Array([0, 1, 2]);
    const x = lt.ones([3, 2]).requireGrad();
    const y = x.indexSelect(0, lt.tensor(ia));
    ia[1] = 4;
    y.sum().backward();
    assert.deepEqual(x.grad!.toArray(), [[1, 1], [1, 1], [1, 1]]);
  });

  test('assign to a computed tensor is refused', () => {
    const x = lt.tensor([1], { requiresGrad: true });
    assertThrowsLathe(() => x.exp().assign(lt.zeros([1])), /^assign: cannot assign to a computed tensor/);
  });

  test('Adam refuses a gradient of the wrong shape and repeated parameters', () => {
    const p = lt.zeros([4]).requireGrad();
    p.grad = lt.ones([2]);
    assertThrowsLathe(() => new lt.Adam([p]).step(), /Adam.step: a parameter of shape \[4\] has a gradient of shape \[2\]/);
    assertThrowsLathe(() => new lt.Adam([p, p]), /params\[1\] repeats params\[0\]/);
  });

  test('gradients at the edges: 0^0 and clip at its bounds', () => {
    const x = lt.tensor([0, 2], { requiresGrad: true });
    x.pow(0).sum().backward();
    assert.deepEqual(x.grad!.toArray(), [0, 0]);
    const c = lt.tensor([0, 1, 0.5, -1, 2], { requiresGrad: true });
    c.clip(0, 1).sum().backward();
    assert.deepEqual(c.grad!.toArray(), [1, 1, 1, 0, 0]);
  });

  test('float32 uniform stays below high even where rounding would reach it', () => {
    const u = lt.uniform([200000], 1000, 1001, { generator: new lt.Generator(1) }).dataSync();
    let top = -Infinity;
    for (const v of u) top = Math.max(top, v);
    assert.ok(top < 1001, `max ${top}`);
  });

  test('argument ranges: randint, uniform, randn, conv kernels', () => {
    assertThrowsLathe(() => lt.randint(0, 2 ** 33, [4]), /randint: expected integers low < high within the int32 range/);
    assertThrowsLathe(() => lt.uniform([2], 1, 0), /uniform: expected low < high, got 1 and 0/);
    assertThrowsLathe(() => lt.randn([2], { std: -1 }), /randn: std must be non-negative, got -1/);
    assertThrowsLathe(() => lt.conv2d(lt.ones([1, 1, 3, 3]), lt.ones([2, 1, 0, 1])), /conv2d: weight dimensions must be at least 1, got \[2,1,0,1\]/);
  });

  test('changing the thread count while an async kernel runs', { skip: backend !== 'native' && 'native only' }, async () => {
    const g = new lt.Generator(4);
    const a = lt.randn([300, 300], { generator: g });
    const b = lt.randn([300, 300], { generator: g });
    const want = a.matmul(b);
    const pending = lt.matmulAsync(a, b);
    const threads = lt.getNumThreads();
    lt.setNumThreads(3);
    lt.setNumThreads(threads);
    assertClose(await pending, want, { atol: 1e-4, rtol: 1e-5 });
  });
});

onEachBackend('in-place updates and graphs', (backend) => {
  test('backward through a graph whose weights an optimizer step changed is refused', () => {
    const p = lt.tensor([2], { requiresGrad: true });
    const x = lt.tensor([3], { requiresGrad: true });
    const loss = p.mul(x).sum();
    loss.backward(undefined, { retainGraph: true });
    assert.deepEqual(x.grad!.toArray(), [2]);
    new lt.Adam([p]).step();
    assertThrowsLathe(() => loss.backward(), /^backward: an input of mul \[1\] was changed in place \(an optimizer step\) after the graph was built/);
    // a fresh forward pass is fine
    p.mul(x).sum().backward();
  });

  test('an optimizer step while an async kernel reads the weights is refused', { skip: backend !== 'native' && 'native only' }, async () => {
    const w = lt.randn([400, 400]).requireGrad();
    const x = lt.randn([400, 400]);
    w.grad = lt.onesLike(w);
    const opt = new lt.Adam([w]);
    const pending = lt.matmulAsync(x, w);
    assertThrowsLathe(() => opt.step(), /Adam.step: a parameter is being read by an async kernel/);
    await pending;
    opt.step(); // and allowed once it is done
  });
});
