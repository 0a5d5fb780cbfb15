// Layout and indexing ops: reshape, flatten, squeeze, unsqueeze, permute, transpose, expand /
// broadcastTo, slice, narrow, split, concat, stack, pad, gather, indexSelect. Forward values are
// checked against hand-written expectations or index loops written here; gradients against
// central differences; and the argument errors against their messages.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as lt from '../../src/index.js';
import { assertClose, assertThrowsLathe, gradcheck, onEachBackend, rand64 } from '../helpers.js';
import { product, ravel, unravel } from '../reference.js';

// ---- tolerances ------------------------------------------------------------------------------------------
// Layout ops only move values: forward results must be bit-exact, so they are compared with 0 tolerance.
const EXACT = { atol: 0, rtol: 0 };
// Gradients: float64 central differences with eps 1e-6 (truncation O(eps^2), rounding ~1e-10); these ops
// are linear, so the differences are near-exact and 1e-6 absolute + 1e-4 relative is generous.
const GRAD = { eps: 1e-6, atol: 1e-6, rtol: 1e-4 };

// ---- independent reference helpers (plain index arithmetic, no library code) ---------------------------------

/** out of `outShape` with out[o] = data[source(o)], source mapping an output multi-index to an input one. */
function refMap(data: ArrayLike<number>, inShape: readonly number[], outShape: readonly number[], source: (o: number[]) => number[]): Float64Array {
  const out = new Float64Array(product(outShape));
  for (let i = 0; i < out.length; i++) out[i] = data[ravel(source(unravel(i, outShape)), inShape)];
  return out;
}

/** 0, 1, 2, ... as float64 of `shape`, so each value names its own flat position. */
function iota(shape: number[]): lt.Tensor {
  return lt.tensor(Float64Array.from({ length: product(shape) }, (_, i) => i), { shape, dtype: 'float64' });
}

function assertExact(actual: lt.Tensor, shape: number[], data: ArrayLike<number>, msg = '') {
  assert.deepEqual([...actual.shape], shape, `${msg} shape`);
  assertClose(actual, Float64Array.from(data), EXACT, msg);
}

const values = (t: lt.Tensor) => Array.from(t.dataSync());

// ---- reshape family ------------------------------------------------------------------------------------------
onEachBackend('reshape / flatten / squeeze / unsqueeze', () => {
  test('reshape keeps row-major order; -1 is inferred', () => {
    const x = iota([24]);
    const y = x.reshape([2, 3, 4]);
    assert.deepEqual(y.toArray(), [
      [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11]],
      [[12, 13, 14, 15], [16, 17, 18, 19], [20, 21, 22, 23]],
    ]);
    assertExact(y.reshape([-1, 4]), [6, 4], values(x));
    assertExact(y.reshape([4, -1, 2]), [4, 3, 2], values(x));
    assertExact(y.reshape([-1]), [24], values(x));
    assertExact(y.reshape([1, 24, 1]), [1, 24, 1], values(x));
    assertExact(lt.tensor([5]).reshape([]), [], [5]);
    assertExact(lt.tensor(5).reshape([1, 1]), [1, 1], [5]);
    assertExact(lt.zeros([0, 3]).reshape([-1, 3]), [0, 3], []);
  });

  test('flatten merges startAxis..endAxis', () => {
    const x = iota([2, 3, 4]);
    assertExact(x.flatten(), [24], values(x));
    assertExact(x.flatten(1), [2, 12], values(x));
    assertExact(x.flatten(0, 1), [6, 4], values(x));
    assertExact(x.flatten(-2, -1), [2, 12], values(x));
    assertExact(x.flatten(1, 1), [2, 3, 4], values(x));
    assertExact(lt.tensor(3).flatten(), [1], [3]);
  });

  test('squeeze removes given or all size-1 axes; unsqueeze inserts one', () => {
    const x = iota([1, 3, 1, 2]);
    assertExact(x.squeeze(), [3, 2], values(x));
    assertExact(x.squeeze(0), [3, 1, 2], values(x));
    assertExact(x.squeeze(-2), [1, 3, 2], values(x));
    assertExact(x.squeeze([0, 2]), [3, 2], values(x));
    assertExact(x.squeeze([-4]), [3, 1, 2], values(x));
    assertExact(lt.ones([1, 1]).squeeze(), [], [1]);
    const y = iota([3, 2]);
    assertExact(y.unsqueeze(0), [1, 3, 2], values(y));
    assertExact(y.unsqueeze(1), [3, 1, 2], values(y));
    assertExact(y.unsqueeze(2), [3, 2, 1], values(y));
    assertExact(y.unsqueeze(-1), [3, 2, 1], values(y));
    assertExact(y.unsqueeze(-3), [1, 3, 2], values(y));
    assertExact(lt.tensor(4).unsqueeze(0), [1], [4]);
  });

  test('gradients', () => {
    const x = rand64([2, 3, 4], 1);
    gradcheck((t) => t.reshape([4, -1]), [x], GRAD);
    gradcheck((t) => t.reshape([24]).mul(t.reshape([24])), [x], GRAD); // both paths reshape back
    gradcheck((t) => t.flatten(1), [x], GRAD);
    gradcheck((t) => t.flatten(0, 1), [x], GRAD);
    const y = rand64([1, 3, 1, 2], 2);
    gradcheck((t) => t.squeeze(), [y], GRAD);
    gradcheck((t) => t.squeeze(2), [y], GRAD);
    gradcheck((t) => t.unsqueeze(-1), [rand64([3, 2], 3)], GRAD);
    gradcheck((t) => t.unsqueeze(1), [rand64([3, 2], 4)], GRAD);
  });

  test('errors', () => {
    const x = lt.zeros([2, 3]);
    assertThrowsLathe(() => x.reshape([4, 2]), /^reshape: cannot reshape \[2,3\] \(6 elements\) into \[4,2\] \(8 elements\)/);
    assertThrowsLathe(() => x.reshape([5]), /reshape: cannot reshape \[2,3\] \(6 elements\) into \[5\]/);
    assertThrowsLathe(() => x.reshape([-1, 4]), /^reshape: cannot reshape \[2,3\] \(6 elements\) into \[-1,4\]/);
    assertThrowsLathe(() => x.reshape([-1, -1]), /^reshape: only one dimension can be -1, got \[-1,-1\]/);
    assertThrowsLathe(() => x.reshape([-2, -3]), /^reshape: invalid dimension -2 in \[-2,-3\]/);
    assertThrowsLathe(() => x.reshape([2.5, 2]), /^reshape: invalid dimension 2.5/);
    assertThrowsLathe(() => lt.zeros([2, 3, 4]).flatten(2, 1), /^flatten: startAxis 2 comes after endAxis 1/);
    assertThrowsLathe(() => x.flatten(2), /^flatten: axis 2 is out of range for a tensor of rank 2/);
    assertThrowsLathe(() => x.squeeze(1), /^squeeze: axis 1 has size 3, not 1, in \[2,3\]/);
    assertThrowsLathe(() => x.squeeze(2), /^squeeze: axis 2 is out of range for a tensor of rank 2/);
    assertThrowsLathe(() => x.unsqueeze(3), /^unsqueeze: axis 3 is out of range for a tensor of rank 3/);
    assertThrowsLathe(() => x.unsqueeze(-4), /^unsqueeze: axis -4 is out of range for a tensor of rank 3/);
  });
});

// ---- permute / transpose / expand -----------------------------------------------------------------------------------
onEachBackend('permute / transpose / expand', () => {
  test('permute matches an index loop for every permutation of a rank-3 tensor', () => {
    const shape = [2, 3, 4];
    const x = rand64(shape, 5);
    const data = x.dataSync();
    const perms = [[0, 1, 2], [0, 2, 1], [1, 0, 2], [1, 2, 0], [2, 0, 1], [2, 1, 0], [-1, 0, -2], [2, -3, 1]];
    for (const p of perms) {
      const axes = p.map((a) => (a < 0 ? a + 3 : a));
      const outShape = axes.map((a) => shape[a]);
      // out[o] = x[i] with i[axes[d]] = o[d]
      const ref = refMap(data, shape, outShape, (o) => {
        const i = new Array<number>(3);
        axes.forEach((a, d) => (i[a] = o[d]));
        return i;
      });
      assertExact(x.permute(p), outShape, ref, `permute ${p}`);
    }
  });

  test('transpose swaps two axes (the last two by default)', () => {
    const m = lt.tensor([[1, 2, 3], [4, 5, 6]], { dtype: 'float64' });
    assertExact(m.transpose(), [3, 2], [1, 4, 2, 5, 3, 6]);
    assertExact(m.transpose(1, 0), [3, 2], [1, 4, 2, 5, 3, 6]);
    assertExact(m.transpose(0, 0), [2, 3], [1, 2, 3, 4, 5, 6]);
    const shape = [2, 3, 4];
    const x = rand64(shape, 6);
    const data = x.dataSync();
    assertExact(x.transpose(), [2, 4, 3], refMap(data, shape, [2, 4, 3], ([a, b, c]) => [a, c, b]));
    assertExact(x.transpose(0, 2), [4, 3, 2], refMap(data, shape, [4, 3, 2], ([a, b, c]) => [c, b, a]));
    assertExact(x.transpose(-1, 0), [4, 3, 2], refMap(data, shape, [4, 3, 2], ([a, b, c]) => [c, b, a]));
    assertExact(x.transpose(0, 1), [3, 2, 4], refMap(data, shape, [3, 2, 4], ([a, b, c]) => [b, a, c]));
  });

  test('expand / broadcastTo repeat size-1 and new leading axes', () => {
    const x = lt.tensor([[1], [2], [3]], { dtype: 'float64' });
    assertExact(x.expand([3, 2]), [3, 2], [1, 1, 2, 2, 3, 3]);
    assertExact(x.expand([-1, 2]), [3, 2], [1, 1, 2, 2, 3, 3]);
    assertExact(x.expand([3, 1]), [3, 1], [1, 2, 3]);
    assertExact(x.expand([2, 3, 4]), [2, 3, 4], refMap([1, 2, 3], [3, 1], [2, 3, 4], ([, j]) => [j, 0]));
    assertExact(x.expand([2, -1, 4]), [2, 3, 4], refMap([1, 2, 3], [3, 1], [2, 3, 4], ([, j]) => [j, 0]));
    const v = lt.tensor([1, 2, 3, 4], { dtype: 'float64' });
    assertExact(v.broadcastTo([2, 4]), [2, 4], [1, 2, 3, 4, 1, 2, 3, 4]);
    assertExact(lt.tensor(7, { dtype: 'float64' }).broadcastTo([2, 2]), [2, 2], [7, 7, 7, 7]);
    assertExact(lt.ones([1, 3]).expand([0, 3]), [0, 3], []);
  });

  test('gradients', () => {
    const x = rand64([2, 3, 4], 7);
    for (const p of [[2, 0, 1], [1, 2, 0], [0, 2, 1], [-1, -3, -2]]) gradcheck((t) => t.permute(p), [x], GRAD);
    gradcheck((t) => t.transpose(), [x], GRAD);
    gradcheck((t) => t.transpose(0, 2), [x], GRAD);
    gradcheck((t) => t.transpose(-3, 1), [x], GRAD);
    gradcheck((t) => t.expand([2, 3, 4]), [rand64([3, 1], 8)], GRAD); // summed over the repeats
    gradcheck((t) => t.broadcastTo([3, 4]), [rand64([4], 9)], GRAD);
    gradcheck((t) => t.expand([2, 2, 3]), [rand64([1, 1, 3], 10)], GRAD);
  });

  test('expand gradient sums over the repeats (hand-computed)', () => {
    const x = lt.tensor([[1], [2]], { dtype: 'float64', requiresGrad: true });
    x.expand([3, 2, 4]).sum().backward();
    assertClose(x.grad!, [[12], [12]]);
  });

  test('errors', () => {
    const x = lt.zeros([2, 3, 4]);
    assertThrowsLathe(() => x.permute([0, 0, 1]), /^permute: axes \[0,0,1\] repeat an axis/);
    assertThrowsLathe(() => x.permute([0, -3, 1]), /^permute: axes \[0,-3,1\] repeat an axis/);
    assertThrowsLathe(() => x.permute([0, 1]), /^permute: expected 3 axes for shape \[2,3,4\], got \[0,1\]/);
    assertThrowsLathe(() => x.permute([0, 1, 3]), /^permute: axis 3 is out of range for a tensor of rank 3/);
    assertThrowsLathe(() => x.transpose(0, 3), /^transpose: axis 3 is out of range for a tensor of rank 3/);
    assertThrowsLathe(() => lt.zeros([3]).expand([4]), /^expand: cannot expand \[3\] to \[4\]: dimension 0 is 3/);
    assertThrowsLathe(() => lt.zeros([2, 3]).expand([3, 3]), /^expand: cannot expand \[2,3\] to \[3,3\]: dimension 0 is 2/);
    assertThrowsLathe(() => x.expand([3, 4]), /^expand: cannot expand \[2,3,4\] to fewer dimensions \[3,4\]/);
    // -1 only means "keep" for an existing dimension; a new leading one needs a size
    assertThrowsLathe(() => lt.zeros([3]).expand([-1, 3]), /^expand: invalid size -1 for dimension 0 of \[-1,3\]/);
    assertThrowsLathe(() => lt.zeros([1]).expand([-2]), /^expand: invalid size -2 for dimension 0 of \[-2\]/);
  });
});

// ---- slice / narrow / split ---------------------------------------------------------------------------------
// x = [0, 1, ..., 9]; expectations are Python's x[begin:end:step], written out by hand.
const SLICES_1D: [number | null, number | null, number | undefined, number[]][] = [
  [2, 7, undefined, [2, 3, 4, 5, 6]],
  [-3, null, undefined, [7, 8, 9]],
  [null, -7, undefined, [0, 1, 2]],
  [-100, 100, undefined, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]],
  [-11, null, undefined, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]],
  [5, 2, undefined, []],
  [3, 3, undefined, []],
  [null, null, 2, [0, 2, 4, 6, 8]],
  [1, 100, 4, [1, 5, 9]],
  [0, 10, 20, [0]],
  [null, null, -1, [9, 8, 7, 6, 5, 4, 3, 2, 1, 0]],
  [8, 2, -2, [8, 6, 4]],
  [-1, -4, -1, [9, 8, 7]],
  [100, -100, -3, [9, 6, 3, 0]],
  [null, null, -3, [9, 6, 3, 0]],
  [2, null, -1, [2, 1, 0]],
  [-100, 5, -1, []],
  [9, -11, -4, [9, 5, 1]],
  [5, -1, -1, []],
  [-2, null, -2, [8, 6, 4, 2, 0]],
  [null, -12, -1, [9, 8, 7, 6, 5, 4, 3, 2, 1, 0]],
];

onEachBackend('slice / narrow / split', () => {
  test('slice follows Python: negative positions, clamping, null, negative steps', () => {
    const x = iota([10]);
    for (const [b, e, s, want] of SLICES_1D) {
      const y = lt.slice(x, [b], [e], s === undefined ? [] : [s]);
      assertExact(y, [want.length], want, `x[${b}:${e}:${s}]`);
    }
  });

  test('slice on several axes; axes past the lists are kept whole', () => {
    const m = iota([4, 5]); // m[i][j] = 5i + j
    assertExact(lt.slice(m, [1, null], [3, null], [1, -2]), [2, 3], [9, 7, 5, 14, 12, 10]);
    assertExact(lt.slice(m, [-1], [null], [-1]), [4, 5], [15, 16, 17, 18, 19, 10, 11, 12, 13, 14, 5, 6, 7, 8, 9, 0, 1, 2, 3, 4]);
    assertExact(lt.slice(m, [2]), [2, 5], [10, 11, 12, 13, 14, 15, 16, 17, 18, 19]);
    assertExact(m.slice([0, 1], [4, 4], [3, 2]), [2, 2], [1, 3, 16, 18]);
    assertExact(lt.slice(m, [null, 4], [null, 100]), [4, 1], [4, 9, 14, 19]);
    assertExact(lt.slice(m, [3, 0], [1, 5]), [0, 5], []);
    const shape = [3, 4, 5];
    const x = rand64(shape, 11);
    // x[::-1, 1:-1, ::2] by an index loop: axis 0 picks 2-i, axis 1 picks 1+j, axis 2 picks 2k
    assertExact(lt.slice(x, [null, 1, null], [null, -1, null], [-1, 1, 2]), [3, 2, 3], refMap(x.dataSync(), shape, [3, 2, 3], ([i, j, k]) => [2 - i, 1 + j, 2 * k]));
  });

  test('narrow takes length elements from start', () => {
    const m = iota([3, 5]);
    assertExact(m.narrow(1, 1, 3), [3, 3], [1, 2, 3, 6, 7, 8, 11, 12, 13]);
    assertExact(m.narrow(-2, 1, 2), [2, 5], [5, 6, 7, 8, 9, 10, 11, 12, 13, 14]);
    assertExact(m.narrow(0, 3, 0), [0, 5], []);
    assertExact(m.narrow(-1, 4, 1), [3, 1], [4, 9, 14]);
  });

  test('split by a sizes list and by a section size', () => {
    const m = iota([3, 5]);
    const [a, b, c] = m.split([2, 1, 2], 1);
    assertExact(a, [3, 2], [0, 1, 5, 6, 10, 11]);
    assertExact(b, [3, 1], [2, 7, 12]);
    assertExact(c, [3, 2], [3, 4, 8, 9, 13, 14]);
    const sec = m.split(2, -1); // 5 = 2 + 2 + 1
    assert.deepEqual(sec.map((t) => [...t.shape]), [[3, 2], [3, 2], [3, 1]]);
    assertExact(sec[2], [3, 1], [4, 9, 14]);
    const rows = m.split(2); // axis 0 by default: 3 = 2 + 1
    assert.deepEqual(rows.map((t) => [...t.shape]), [[2, 5], [1, 5]]);
    assertExact(rows[1], [1, 5], [10, 11, 12, 13, 14]);
    const whole = m.split(5, 1);
    assert.equal(whole.length, 1);
    assertExact(whole[0], [3, 5], values(m));
    const withEmpty = m.split([0, 3], 0);
    assert.deepEqual(withEmpty.map((t) => [...t.shape]), [[0, 5], [3, 5]]);
    assert.equal(m.split(1, 0).length, 3);
    // an empty axis still gives one (empty) piece, as torch.split does
    const empty = lt.zeros([0, 3]).split(2);
    assert.deepEqual(empty.map((t) => [...t.shape]), [[0, 3]]);
  });

  test('gradients', () => {
    const x = rand64([4, 5], 12);
    gradcheck((t) => lt.slice(t, [1, null], [3, null], [1, -2]), [x], GRAD);
    gradcheck((t) => lt.slice(t, [-1, 4], [null, 0], [-2, -3]), [x], GRAD);
    gradcheck((t) => t.slice([1, -4], [100, -1]), [x], GRAD);
    const y = rand64([3, 4, 5], 13);
    gradcheck((t) => lt.slice(t, [null, 1, null], [null, -1, null], [-1, 1, 2]), [y], GRAD);
    gradcheck((t) => t.narrow(2, 1, 3), [y], GRAD);
    gradcheck((t) => t.narrow(-3, 1, 1), [y], GRAD);
    // every piece used, in a different order and with different weights
    gradcheck((t) => {
      const [a, b, c] = t.split([1, 2, 2], 2);
      return lt.concat([c.mul(2), a, b.mul(3)], 2);
    }, [y], GRAD);
    gradcheck((t) => {
      const [a, b] = t.split(2, 1);
      return a.mul(b);
    }, [y], GRAD);
  });

  test('slice gradient writes into the picked positions only (hand-computed)', () => {
    const x = lt.zeros([6], { dtype: 'float64', requiresGrad: true });
    lt.slice(x, [null], [null], [-2]).mul(lt.tensor([1, 2, 3], { dtype: 'float64' })).sum().backward();
    assertClose(x.grad!, [0, 3, 0, 2, 0, 1]); // x[::-2] picks 5, 3, 1
  });

  test('errors', () => {
    const m = lt.zeros([3, 5]);
    assertThrowsLathe(() => m.slice([0], [1], [0]), /^slice: step for axis 0 must be a non-zero integer, got 0/);
    assertThrowsLathe(() => m.slice([0, 0, 0]), /^slice: more positions than the 2 axes of \[3,5\]/);
    assertThrowsLathe(() => m.slice([0.5]), /^slice: positions must be integers, got 0.5 for axis 0/);
    assertThrowsLathe(() => m.narrow(1, 3, 3), /^narrow: range \[3, 6\) is outside axis 1 of size 5 in \[3,5\]/);
    assertThrowsLathe(() => m.narrow(0, -1, 1), /^narrow: range \[-1, 0\) is outside axis 0 of size 3/);
    assertThrowsLathe(() => m.narrow(2, 0, 1), /^narrow: axis 2 is out of range for a tensor of rank 2/);
    assertThrowsLathe(() => m.split([2, 2], 1), /^split: sizes \[2,2\] must be non-negative integers adding up to 5, the size of axis 1/);
    assertThrowsLathe(() => m.split([2, 2]), /^split: sizes \[2,2\] must be non-negative integers adding up to 3, the size of axis 0/);
    assertThrowsLathe(() => m.split([4, -1], 0), /^split: sizes \[4,-1\] must be non-negative integers/);
    assertThrowsLathe(() => m.split(0, 1), /^split: section size must be a positive integer, got 0/);
    assertThrowsLathe(() => m.split(2, -3), /^split: axis -3 is out of range for a tensor of rank 2/);
  });
});

// ---- concat / stack / pad -----------------------------------------------------------------------------------
onEachBackend('concat / stack / pad', () => {
  test('concat along each axis', () => {
    const a = lt.tensor([[1, 2]], { dtype: 'float64' });
    const b = lt.tensor([[3, 4], [5, 6]], { dtype: 'float64' });
    assertExact(lt.concat([a, b]), [3, 2], [1, 2, 3, 4, 5, 6]);
    assertExact(lt.concat([b, a, a], 0), [4, 2], [3, 4, 5, 6, 1, 2, 1, 2]);
    const c = lt.tensor([[7], [8]], { dtype: 'float64' });
    assertExact(lt.concat([c, b], 1), [2, 3], [7, 3, 4, 8, 5, 6]);
    assertExact(lt.concat([b, c], -1), [2, 3], [3, 4, 7, 5, 6, 8]);
    assert.equal(lt.concat([b]), b);
    // rank 3 along the middle axis, against an index loop
    const parts = [rand64([2, 1, 3], 20), rand64([2, 2, 3], 21), rand64([2, 3, 3], 22)];
    const starts = [0, 1, 3];
    const ref = Float64Array.from({ length: 2 * 6 * 3 }, (_, i) => {
      const [p, q, r] = unravel(i, [2, 6, 3]);
      const k = q >= 3 ? 2 : q >= 1 ? 1 : 0;
      return parts[k].dataSync()[ravel([p, q - starts[k], r], parts[k].shape)];
    });
    assertExact(lt.concat(parts, 1), [2, 6, 3], ref);
    assertExact(lt.concat([lt.zeros([2, 0], { dtype: 'float64' }), b], 1), [2, 2], [3, 4, 5, 6]);
  });

  test('concat promotes dtypes', () => {
    const i = lt.tensor([1, 2], { dtype: 'int32' });
    const f = lt.tensor([0.5], { dtype: 'float64' });
    const y = lt.concat([i, f]);
    assert.equal(y.dtype, 'float64');
    assertExact(y, [3], [1, 2, 0.5]);
    assert.equal(lt.concat([i, i]).dtype, 'int32');
  });

  test('stack along a new axis', () => {
    const a = lt.tensor([[1, 2, 3], [4, 5, 6]], { dtype: 'float64' });
    const b = lt.tensor([[7, 8, 9], [10, 11, 12]], { dtype: 'float64' });
    assertExact(lt.stack([a, b]), [2, 2, 3], [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    assertExact(lt.stack([a, b], 1), [2, 2, 3], [1, 2, 3, 7, 8, 9, 4, 5, 6, 10, 11, 12]);
    assertExact(lt.stack([a, b], 2), [2, 3, 2], [1, 7, 2, 8, 3, 9, 4, 10, 5, 11, 6, 12]);
    assertExact(lt.stack([a, b], -1), [2, 3, 2], [1, 7, 2, 8, 3, 9, 4, 10, 5, 11, 6, 12]);
    assertExact(lt.stack([a, b, a], -3), [3, 2, 3], [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 1, 2, 3, 4, 5, 6]);
    assertExact(lt.stack([lt.tensor(1, { dtype: 'float64' }), lt.tensor(2, { dtype: 'float64' })]), [2], [1, 2]);
  });

  test('pad with a constant, numpy pair layout', () => {
    const x = lt.tensor([[1, 2, 3], [4, 5, 6]], { dtype: 'float64' });
    assertExact(x.pad([[1, 0], [2, 1]], 7), [3, 6], [
      7, 7, 7, 7, 7, 7,
      7, 7, 1, 2, 3, 7,
      7, 7, 4, 5, 6, 7,
    ]);
    assertExact(x.pad([[0, 1], [0, 0]]), [3, 3], [1, 2, 3, 4, 5, 6, 0, 0, 0]);
    assertExact(x.pad([[0, 0], [0, 0]]), [2, 3], [1, 2, 3, 4, 5, 6]);
    const shape = [2, 3, 4];
    const y = rand64(shape, 23);
    const p: [number, number][] = [[1, 2], [0, 1], [3, 0]];
    const outShape = [5, 4, 7];
    const data = y.dataSync();
    const ref = Float64Array.from({ length: product(outShape) }, (_, i) => {
      const o = unravel(i, outShape);
      const src = o.map((v, d) => v - p[d][0]);
      return src.every((v, d) => v >= 0 && v < shape[d]) ? data[ravel(src, shape)] : -1.5;
    });
    assertExact(y.pad(p, -1.5), outShape, ref);
    const ints = lt.tensor([1, 2], { dtype: 'int32' }).pad([[1, 1]], 9);
    assert.equal(ints.dtype, 'int32');
    assert.deepEqual(values(ints), [9, 1, 2, 9]);
  });

  test('gradients', () => {
    gradcheck((a, b, c) => lt.concat([a, b, c], 1), [rand64([2, 1, 3], 30), rand64([2, 2, 3], 31), rand64([2, 3, 3], 32)], GRAD);
    gradcheck((a, b) => lt.concat([a, b], -1), [rand64([3, 2], 33), rand64([3, 4], 34)], GRAD);
    gradcheck((a, b) => lt.concat([a, b.mul(a)], 0), [rand64([2, 3], 35), rand64([2, 3], 36)], GRAD);
    for (const axis of [0, 1, 2, -1]) gradcheck((a, b) => lt.stack([a, b, a], axis), [rand64([2, 3], 37), rand64([2, 3], 38)], GRAD);
    gradcheck((t) => t.pad([[1, 2], [0, 1], [3, 0]], 4), [rand64([2, 3, 4], 39)], GRAD);
    gradcheck((t) => t.pad([[2, 2]]), [rand64([3], 40)], GRAD);
  });

  test('errors', () => {
    const a = lt.zeros([2, 3]);
    assertThrowsLathe(() => lt.concat([a, lt.zeros([2, 4])]), /^concat: tensors\[1\] has shape \[2,4\], which differs from tensors\[0\] \[2,3\] outside axis 0/);
    assertThrowsLathe(() => lt.concat([a, lt.zeros([3, 3])], 1), /^concat: tensors\[1\] has shape \[3,3\], which differs from tensors\[0\] \[2,3\] outside axis 1/);
    assertThrowsLathe(() => lt.concat([a, lt.zeros([2, 3, 1])]), /^concat: tensors\[1\] has shape \[2,3,1\], which differs/);
    assertThrowsLathe(() => lt.concat([]), /^concat: expected a non-empty array of tensors/);
    assertThrowsLathe(() => lt.concat([a, a], 2), /^concat: axis 2 is out of range for a tensor of rank 2/);
    assertThrowsLathe(() => lt.stack([a, lt.zeros([3, 2])]), /^stack: tensors\[1\] has shape \[3,2\], tensors\[0\] \[2,3\]/);
    assertThrowsLathe(() => lt.stack([a, a], 3), /^stack: axis 3 is out of range for a tensor of rank 3/);
    assertThrowsLathe(() => a.pad([[1, 1]]), /^pad: expected 2 \[before, after\] pairs for shape \[2,3\], got 1/);
    assertThrowsLathe(() => a.pad([[1, 1], [0, -1]]), /^pad: each pair must be two non-negative integers, got \[0,-1\]/);
  });
});

// ---- gather / indexSelect -----------------------------------------------------------------------------------------
onEachBackend('gather / indexSelect', () => {
  test('gather: torch.gather examples', () => {
    const t = lt.tensor([[1, 2], [3, 4]], { dtype: 'float64' });
    assertExact(t.gather(1, lt.tensor([[0, 0], [1, 0]], { dtype: 'int32' })), [2, 2], [1, 1, 4, 3]);
    const x = lt.tensor([[1, 2, 3], [4, 5, 6]], { dtype: 'float64' });
    assertExact(x.gather(0, lt.tensor([[1, 0, 1]], { dtype: 'int32' })), [1, 3], [4, 2, 6]);
    assertExact(x.gather(-1, lt.tensor([[2], [0]], { dtype: 'int32' })), [2, 1], [3, 4]);
    // index smaller than the input outside the axis, and larger along it (repeats)
    assertExact(x.gather(1, lt.tensor([[2, 2, 0, 1, 1]], { dtype: 'int32' })), [1, 5], [3, 3, 1, 2, 2]);
  });

  test('gather matches an index loop along every axis of a rank-3 tensor', () => {
    const shape = [3, 4, 5];
    const x = rand64(shape, 50);
    const data = x.dataSync();
    const g = new lt.Generator(51);
    for (const axis of [0, 1, 2, -1, -3]) {
      const a = axis < 0 ? axis + 3 : axis;
      // along the axis any length; elsewhere no larger than the input
      const idxShape = shape.map((d, i) => (i === a ? 6 : d - (i % 2)));
      const index = lt.randint(0, shape[a], idxShape, { generator: g });
      const idx = index.dataSync();
      const ref = Float64Array.from({ length: product(idxShape) }, (_, i) => {
        const o = unravel(i, idxShape);
        o[a] = idx[i];
        return data[ravel(o, shape)];
      });
      assertExact(x.gather(axis, index), idxShape, ref, `gather axis ${axis}`);
    }
  });

  test('indexSelect picks whole slices', () => {
    const x = iota([4, 3]);
    assertExact(x.indexSelect(0, [2, 0, 2]), [3, 3], [6, 7, 8, 0, 1, 2, 6, 7, 8]);
    assertExact(x.indexSelect(1, [1]), [4, 1], [1, 4, 7, 10]);
    assertExact(x.indexSelect(-1, lt.tensor([2, 0], { dtype: 'int32' })), [4, 2], [2, 0, 5, 3, 8, 6, 11, 9]);
    assertExact(x.indexSelect(0, []), [0, 3], []);
    const shape = [2, 3, 4];
    const y = rand64(shape, 52);
    const pick = [3, 3, 0, 1, 2];
    assertExact(y.indexSelect(2, pick), [2, 3, 5], refMap(y.dataSync(), shape, [2, 3, 5], ([i, j, k]) => [i, j, pick[k]]));
    assertExact(y.indexSelect(1, [2, 1]), [2, 2, 4], refMap(y.dataSync(), shape, [2, 2, 4], ([i, j, k]) => [i, [2, 1][j], k]));
  });

  test('gradients (repeated indices accumulate)', () => {
    const x = rand64([3, 4, 5], 53);
    const g = new lt.Generator(54);
    for (const axis of [0, 1, 2]) {
      const idxShape = [3, 4, 5].map((d, i) => (i === axis ? 7 : d - 1));
      const index = lt.randint(0, [3, 4, 5][axis], idxShape, { generator: g });
      gradcheck((t) => t.gather(axis, index), [x], GRAD);
    }
    gradcheck((t) => t.indexSelect(0, [2, 0, 2, 2]), [x], GRAD);
    gradcheck((t) => t.indexSelect(-1, [4, 1, 1]), [x], GRAD);
    gradcheck((t) => t.indexSelect(1, lt.tensor([3, 0, 3], { dtype: 'int32' })), [x], GRAD);
  });

  test('gradients of repeated picks add up (hand-computed)', () => {
    const x = lt.zeros([3], { dtype: 'float64', requiresGrad: true });
    x.gather(0, lt.tensor([2, 0, 2, 2], { dtype: 'int32' })).sum().backward();
    assertClose(x.grad!, [1, 0, 3]);
    const y = lt.zeros([3, 2], { dtype: 'float64', requiresGrad: true });
    y.indexSelect(0, [1, 1, 0]).sum().backward();
    assertClose(y.grad!, [[1, 1], [2, 2], [0, 0]]);
  });

  test('errors: indices out of range name the value and the axis size', () => {
    const x = lt.zeros([3, 4]);
    const i32 = (v: lt.NestedArray) => lt.tensor(v, { dtype: 'int32' });
    assertThrowsLathe(() => x.gather(1, i32([[0, 4]])), /^gather: index 4 is out of range for axis 1 of size 4 in \[3,4\]/);
    assertThrowsLathe(() => x.gather(0, i32([[-1, 0]])), /^gather: index -1 is out of range for axis 0 of size 3 in \[3,4\]/);
    assertThrowsLathe(() => x.gather(1, lt.tensor([[0, 1]], { dtype: 'float32' })), /^gather: index must be an int32 tensor, got float32/);
    assertThrowsLathe(() => x.gather(1, i32([0, 1])), /^gather: index shape \[2\] does not fit input \[3,4\]/);
    assertThrowsLathe(() => x.gather(1, i32([[0], [0], [0], [0]])), /^gather: index shape \[4,1\] does not fit input \[3,4\]/);
    assertThrowsLathe(() => x.gather(2, i32([[0]])), /^gather: axis 2 is out of range for a tensor of rank 2/);
    assertThrowsLathe(() => x.indexSelect(0, [0, 3]), /^indexSelect: index 3 is out of range for axis 0 of size 3 in \[3,4\]/);
    assertThrowsLathe(() => x.indexSelect(-1, [-1]), /^indexSelect: index -1 is out of range for axis 1 of size 4/);
    assertThrowsLathe(() => x.indexSelect(0, i32([[0]])), /^indexSelect: index must be 1-D, got shape \[1,1\]/);
    assertThrowsLathe(() => x.indexSelect(0, lt.tensor([0], { dtype: 'float64' })), /^indexSelect: index must be an int32 tensor, got float64/);
    assertThrowsLathe(() => x.indexSelect(2, [0]), /^indexSelect: axis 2 is out of range for a tensor of rank 2/);
  });
});
