// Creating tensors, dtypes, reading data back, and the seedable generator.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import * as lt from '../../src/index.js';
import { assertClose, assertThrowsLathe, onEachBackend } from '../helpers.js';

onEachBackend('creation', () => {
  test('nested arrays: shape and dtype are inferred', () => {
    const t = lt.tensor([[1, 2, 3], [4, 5, 6]]);
    assert.deepEqual(t.shape, [2, 3]);
    assert.equal(t.dtype, 'float32');
    assert.deepEqual(t.toArray(), [[1, 2, 3], [4, 5, 6]]);
    const b = lt.tensor([true, false]);
    assert.equal(b.dtype, 'bool');
    assert.deepEqual(b.toArray(), [true, false]);
    const s = lt.tensor(3.5);
    assert.deepEqual(s.shape, []);
    assert.equal(s.item(), 3.5);
  });

  test('typed arrays keep their dtype and can take a shape', () => {
    const t = lt.tensor(new Int32Array([1, 2, 3, 4]), { shape: [2, 2] });
    assert.equal(t.dtype, 'int32');
    assert.deepEqual(t.toArray(), [[1, 2], [3, 4]]);
    assert.equal(lt.tensor(new Float64Array(2)).dtype, 'float64');
    assert.equal(lt.tensor(new Uint8Array(2)).dtype, 'uint8');
  });

  test('int8 stores quantized values: creation, casts both ways, promotion and sums that do not wrap', () => {
    const q = lt.tensor(new Int8Array([-128, -1, 0, 127]));
    assert.equal(q.dtype, 'int8');
    assert.deepEqual(q.toArray(), [-128, -1, 0, 127]);
    assert.deepEqual(q.cast('float32').toArray(), [-128, -1, 0, 127]);
    assert.deepEqual(lt.tensor([-2.7, 2.7, 100]).cast('int8').toArray(), [-2, 2, 100]);
    assert.equal(q.add(lt.tensor(new Uint8Array([1, 1, 1, 1]))).dtype, 'int32'); // neither 8-bit type holds the other
    assert.deepEqual(q.add(1).toArray(), [-127, 0, 1, 128].map((v) => ((v + 128) % 256) - 128)); // int8 + small scalar stays int8, wrapping like PyTorch
    assert.equal(q.sum().item(), -2);
    assert.equal(q.sum().dtype, 'int32');
  });

  test('ragged, wrong-size and unrepresentable data are named', () => {
    assertThrowsLathe(() => lt.tensor([[1, 2], [3]]), /tensor: ragged nested array: element data\[1\] has length 1, expected 2/);
    assertThrowsLathe(() => lt.tensor(new Float32Array(5), { shape: [2, 2] }), /tensor: 5 values do not fill shape \[2,2\] \(4 elements\)/);
    assertThrowsLathe(() => lt.tensor([1, NaN], { dtype: 'int32' }), /tensor: NaN at flat index 1 cannot be stored as int32/);
    assertThrowsLathe(() => lt.zeros([2, -1]), /shape dimensions must be non-negative integers/);
    assertThrowsLathe(() => lt.tensor([1], { dtype: 'int64' as lt.DType }), /unknown dtype "int64"/);
  });

  test('zeros, ones, full, eye, linspace', () => {
    assert.deepEqual(lt.zeros([2]).toArray(), [0, 0]);
    assert.deepEqual(lt.ones([1, 2], { dtype: 'int32' }).toArray(), [[1, 1]]);
    assert.deepEqual(lt.full([2], 7).toArray(), [7, 7]);
    assert.deepEqual(lt.eye(2, 3).toArray(), [[1, 0, 0], [0, 1, 0]]);
    assertClose(lt.linspace(0, 1, 5), [0, 0.25, 0.5, 0.75, 1]);
    assert.deepEqual(lt.zerosLike(lt.ones([2], { dtype: 'float64' })).dtype, 'float64');
  });

  test('arange follows numpy: integer arguments give int32, fractions float32', () => {
    const a = lt.arange(5);
    assert.equal(a.dtype, 'int32');
    assert.deepEqual(a.toArray(), [0, 1, 2, 3, 4]);
    assert.deepEqual(lt.arange(5, 0, -2).toArray(), [5, 3, 1]);
    const f = lt.arange(0, 1, 0.25);
    assert.equal(f.dtype, 'float32');
    assert.deepEqual(f.toArray(), [0, 0.25, 0.5, 0.75]);
    assertThrowsLathe(() => lt.arange(0, 1, 0), /arange: step must not be zero/);
    assertThrowsLathe(() => lt.arange(0, Infinity), /arange: end must be a finite number, got Infinity/);
  });

  test('dataSync returns a copy; item needs one element', () => {
    const t = lt.tensor([1, 2]);
    const d = t.dataSync();
    d[0] = 99;
    assert.equal(t.dataSync()[0], 1);
    assertThrowsLathe(() => t.item(), /item: expected a tensor with one element, got shape \[2\]/);
  });

  test('dispose releases the storage and later use says so', () => {
    const t = lt.ones([3]);
    t.dispose();
    assert.equal(t.isDisposed, true);
    assertThrowsLathe(() => t.dataSync(), /dataSync: tensor of shape \[3\] was disposed/);
  });
});

describe('random', () => {
  test('the same seed gives the same values; another seed does not', () => {
    const a = lt.randn([100], { generator: new lt.Generator(42) }).dataSync();
    const b = lt.randn([100], { generator: new lt.Generator(42) }).dataSync();
    const c = lt.randn([100], { generator: new lt.Generator(43) }).dataSync();
    assert.deepEqual(a, b);
    assert.notDeepEqual(a, c);
    lt.manualSeed(7);
    const d = lt.rand([10]).dataSync();
    lt.manualSeed(7);
    assert.deepEqual(lt.rand([10]).dataSync(), d);
  });

  test('generator state round-trips, so a resumed run draws the same numbers', () => {
    const g = new lt.Generator(5);
    g.nextUint32();
    const state = g.getState();
    const next = [g.nextUint32(), g.nextUint32()];
    const h = new lt.Generator(0);
    h.setState(state);
    assert.deepEqual([h.nextUint32(), h.nextUint32()], next);
  });

  test('uniform stays in range and normal has the right moments', () => {
    const g = new lt.Generator(1);
    const u = lt.uniform([100000], -2, 3, { generator: g }).dataSync();
    let lo = Infinity, hi = -Infinity;
    for (const v of u) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
    assert.ok(lo >= -2 && hi < 3 && lo < -1.99 && hi > 2.99, `range ${lo}..${hi}`);
    const n = lt.randn([100000], { generator: g, dtype: 'float64' });
    const mean = n.mean().item();
    const std = n.std().item();
    // standard error of the mean is 1/sqrt(1e5) = 0.0032; allow 5 of them
    assert.ok(Math.abs(mean) < 0.016, `mean ${mean}`);
    assert.ok(Math.abs(std - 1) < 0.01, `std ${std}`);
  });

  test('float32 uniform never rounds up to the upper bound', () => {
    const u = lt.rand([200000], { generator: new lt.Generator(3) }).dataSync();
    for (const v of u) assert.ok(v >= 0 && v < 1);
  });

  test('randint covers [low, high) and nothing else', () => {
    const r = lt.randint(-2, 3, [5000], { generator: new lt.Generator(9) });
    assert.equal(r.dtype, 'int32');
    assert.deepEqual([...new Set(r.dataSync())].sort(), [-1, -2, 0, 1, 2].sort());
  });
});

test('Generator.shuffle: a seeded Fisher-Yates permutation, one nextInt per swap from the end', () => {
  const a = new lt.Generator(7).shuffle(Int32Array.from({ length: 50 }, (_, i) => i));
  assert.deepEqual([...a].sort((p, q) => p - q), Array.from({ length: 50 }, (_, i) => i), 'a permutation');
  assert.deepEqual([...new lt.Generator(7).shuffle(Int32Array.from({ length: 50 }, (_, i) => i))], [...a], 'the same for the same seed');
  const g = new lt.Generator(7);
  const ref = Array.from({ length: 50 }, (_, i) => i);
  for (let i = 49; i > 0; i--) {
    const j = g.nextInt(i + 1);
    [ref[i], ref[j]] = [ref[j], ref[i]];
  }
  assert.deepEqual([...a], ref);
  assert.notDeepEqual([...new lt.Generator(8).shuffle(Int32Array.from({ length: 50 }, (_, i) => i))], [...a]);
});
