// Reductions (sum, mean, max, min, argmax, argmin, logsumexp, var, std, sumTo) and softmax /
// logSoftmax: forward values against float64 reference loops written here, gradients against
// central differences, and the errors for bad axes.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import * as lt from '../../src/index.js';
import { assertClose, assertThrowsLathe, gradcheck, onEachBackend, rand64 } from '../helpers.js';
import { product, ravel, unravel } from '../reference.js';

// ---- tolerances ------------------------------------------------------------------------------------------
// float64 forward vs. the float64 reference: only summation order differs, so ~1e-15 relative.
const F64 = { atol: 1e-12, rtol: 1e-12 };
// float32 forward vs. a float64 reference: float32 has a 2^-24 ~ 6e-8 unit roundoff; a few roundings.
const F32 = { atol: 1e-6, rtol: 1e-5 };
// Gradients: float64 central differences with eps 1e-6 have truncation error O(eps^2) ~ 1e-12 and
// rounding error ~ 1e-16 |L| / eps ~ 1e-10, so 1e-6 absolute + 1e-4 relative is ample yet still
// catches any wrong rule (those are off by O(1)).
const GRAD = { eps: 1e-6, atol: 1e-6, rtol: 1e-4 };

// ---- independent float64 references (no library code) ---------------------------------------------------
type Axes = number | number[] | undefined;


function refAxes(axes: Axes, rank: number): number[] {
  const list = axes === undefined ? Array.from({ length: rank }, (_, i) => i) : typeof axes === 'number' ? [axes] : axes;
  return list.map((a) => (a < 0 ? a + rank : a));
}

/** Groups the elements of data (of `shape`) by their non-reduced coordinates and folds each group with f. */
function refReduce(data: ArrayLike<number>, shape: readonly number[], axes: Axes, keepdims: boolean, f: (v: number[]) => number) {
  const red = refAxes(axes, shape.length);
  const kept = shape.map((d, i) => (red.includes(i) ? 1 : d));
  const groups: number[][] = Array.from({ length: product(kept) }, () => []);
  for (let flat = 0; flat < data.length; flat++) {
    const idx = unravel(flat, shape).map((v, d) => (red.includes(d) ? 0 : v));
    groups[ravel(idx, kept)].push(data[flat]);
  }
  return { shape: keepdims ? kept : shape.filter((_, i) => !red.includes(i)), data: groups.map(f) };
}

const refSum = (v: number[]) => v.reduce((p, q) => p + q, 0);
const refMean = (v: number[]) => refSum(v) / v.length;
const refMax = (v: number[]) => v.reduce((p, q) => (q > p ? q : p), -Infinity);
const refMin = (v: number[]) => v.reduce((p, q) => (q < p ? q : p), Infinity);
const refLse = (v: number[]) => {
  const m = refMax(v);
  return m + Math.log(refSum(v.map((x) => Math.exp(x - m))));
};
const refVar = (c: number) => (v: number[]) => {
  const mu = refMean(v);
  return refSum(v.map((x) => (x - mu) ** 2)) / (v.length - c);
};
const refStd = (c: number) => (v: number[]) => Math.sqrt(refVar(c)(v));

/** First index of the extreme along `axis` (ties: the first), or of the flat array when axis is undefined. */
function refArg(data: ArrayLike<number>, shape: readonly number[], axis: number | undefined, better: (a: number, b: number) => boolean) {
  if (axis === undefined) {
    let best = 0;
    for (let i = 1; i < data.length; i++) if (better(data[i], data[best])) best = i;
    return [best];
  }
  const a = axis < 0 ? axis + shape.length : axis;
  const outShape = shape.filter((_, i) => i !== a);
  const out: number[] = [];
  for (let o = 0; o < product(outShape); o++) {
    const oi = unravel(o, outShape);
    let best = 0;
    for (let k = 0; k < shape[a]; k++) {
      const at = (kk: number) => data[ravel([...oi.slice(0, a), kk, ...oi.slice(a)], shape)];
      if (better(at(k), at(best))) best = k;
    }
    out.push(best);
  }
  return out;
}

/** softmax (or log-softmax) along `axis`, in float64 from the definition exp(x_k - m) / sum_j exp(x_j - m). */
function refSoftmax(data: ArrayLike<number>, shape: readonly number[], axis: number, log: boolean): Float64Array {
  const a = axis < 0 ? axis + shape.length : axis;
  const out = new Float64Array(data.length);
  const restShape = shape.filter((_, i) => i !== a);
  for (let o = 0; o < product(restShape); o++) {
    const oi = unravel(o, restShape);
    const pos = Array.from({ length: shape[a] }, (_, k) => ravel([...oi.slice(0, a), k, ...oi.slice(a)], shape));
    const vals = pos.map((p) => data[p]);
    const lse = refLse(vals);
    pos.forEach((p, k) => {
      out[p] = log ? vals[k] - lse : Math.exp(vals[k] - lse);
    });
  }
  return out;
}

/** float64 values all at least 0.05 apart, shuffled (seeded LCG): no ties, even after a 1e-6 probe. */
function distinct64(shape: number[], seed: number): lt.Tensor {
  const n = product(shape);
  const v = Array.from({ length: n }, (_, i) => (i - n / 2) * 0.05 + 0.001 * Math.sin(i));
  let s = seed >>> 0;
  for (let i = n - 1; i > 0; i--) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    const j = s % (i + 1);
    [v[i], v[j]] = [v[j], v[i]];
  }
  return lt.tensor(Float64Array.from(v), { shape, dtype: 'float64' });
}

function assertMatches(actual: lt.Tensor, ref: { shape: number[]; data: number[] }, tol: { atol: number; rtol: number }, msg: string) {
  assert.deepEqual([...actual.shape], ref.shape, `${msg}: shape`);
  assertClose(actual, Float64Array.from(ref.data), tol, msg); // flat: the shape is compared above
}

// ---- the reductions with a float output, each with its reference ---------------------------------------------
interface Reduction {
  name: string;
  run: (x: lt.Tensor, axes: Axes, keepdims: boolean) => lt.Tensor;
  ref: (v: number[]) => number;
}

const REDUCTIONS: Reduction[] = [
  { name: 'sum', run: (x, a, k) => x.sum(a, k), ref: refSum },
  { name: 'mean', run: (x, a, k) => x.mean(a, k), ref: refMean },
  { name: 'max', run: (x, a, k) => x.max(a, k), ref: refMax },
  { name: 'min', run: (x, a, k) => x.min(a, k), ref: refMin },
  { name: 'logsumexp', run: (x, a, k) => x.logsumexp(a, k), ref: refLse },
  { name: 'var (default correction 1)', run: (x, a, k) => x.var(a, { keepdims: k }), ref: refVar(1) },
  { name: 'var correction 0', run: (x, a, k) => x.var(a, { keepdims: k, correction: 0 }), ref: refVar(0) },
  { name: 'std (default correction 1)', run: (x, a, k) => x.std(a, { keepdims: k }), ref: refStd(1) },
  { name: 'std correction 0', run: (x, a, k) => x.std(a, { keepdims: k, correction: 0 }), ref: refStd(0) },
];

// Single axes (positive and negative), several axes (in any order, mixing signs), and all axes.
const AXES_CASES: Axes[] = [undefined, 0, 1, 2, -1, -3, [0, 2], [2, 0], [-1, 1], [0, 1], [1, 2], [0, 1, 2], [-3, -2, -1]];

onEachBackend('reductions: forward', () => {
  test('hand-computed values on [[1, 2, 3], [4, 5, 6]]', () => {
    const x = lt.tensor([[1, 2, 3], [4, 5, 6]], { dtype: 'float64' });
    assertClose(x.sum(), 21);
    assert.deepEqual([...x.sum().shape], []);
    assertClose(x.sum(0), [5, 7, 9]);
    assertClose(x.sum(1), [6, 15]);
    assertClose(x.sum(-1, true), [[6], [15]]);
    assertClose(x.sum([0, 1], true), [[21]]);
    assertClose(x.mean(), 3.5);
    assertClose(x.mean(0), [2.5, 3.5, 4.5]);
    assertClose(x.mean(-1, true), [[2], [5]]);
    assertClose(x.max(1), [3, 6]);
    assertClose(x.max(0, true), [[4, 5, 6]]);
    assertClose(x.max(), 6);
    assertClose(x.min(0), [1, 2, 3]);
    assertClose(x.min(-1, true), [[1], [4]]);
    assertClose(x.min([0, 1]), 1);
    // var: rows have mean 2 and 5, squared deviations 1 + 0 + 1 = 2
    assertClose(x.var(1), [1, 1]);
    assertClose(x.var(1, { correction: 0 }), [2 / 3, 2 / 3], F64);
    assertClose(x.var(0), [4.5, 4.5, 4.5]);
    // all six: mean 3.5, squared deviations sum to 17.5
    assertClose(x.var(), 3.5, F64);
    assertClose(x.var(undefined, { correction: 0 }), 17.5 / 6, F64);
    assertClose(x.std(), Math.sqrt(3.5), F64);
    assertClose(x.std(0, { keepdims: true, correction: 0 }), [[1.5, 1.5, 1.5]], F64);
    // logsumexp of [1,2,3] = 3 + log(1 + e^-1 + e^-2)
    assertClose(x.logsumexp(1), [3.40760596444438, 6.40760596444438], F64);
    assertClose(x.logsumexp(0, true), [[4.048587351573742, 5.048587351573742, 6.048587351573742]], F64);
  });

  for (const r of REDUCTIONS) {
    test(`${r.name} on [2,3,4] float64 over every axis set, keepdims both ways, matches the reference`, () => {
      const shape = [2, 3, 4];
      const x = rand64(shape, 7, -3, 3);
      const data = x.dataSync();
      for (const axes of AXES_CASES) {
        for (const keepdims of [false, true]) {
          const y = r.run(x, axes, keepdims);
          assert.equal(y.dtype, 'float64', `${r.name} keeps float64`);
          assertMatches(y, refReduce(data, shape, axes, keepdims, r.ref), F64, `${r.name} axes ${JSON.stringify(axes)} keepdims ${keepdims}`);
        }
      }
    });

    test(`${r.name} on float32 [3,1,5] matches the reference, stays float32`, () => {
      const shape = [3, 1, 5];
      const x = lt.uniform(shape, -2, 2, { generator: new lt.Generator(11) });
      const data = x.dataSync();
      for (const axes of [undefined, 0, -1, [0, 2], 1]) {
        for (const keepdims of [false, true]) {
          if (r.name.startsWith('var') || r.name.startsWith('std')) {
            if (axes === 1) continue; // one element per reduction: covered by the error tests
          }
          const y = r.run(x, axes, keepdims);
          assert.equal(y.dtype, 'float32');
          assertMatches(y, refReduce(data, shape, axes, keepdims, r.ref), F32, `${r.name} axes ${JSON.stringify(axes)} keepdims ${keepdims}`);
        }
      }
    });
  }

  test('rank-0 input: reducing over all (no) axes gives the value back', () => {
    const s = lt.tensor(2.5, { dtype: 'float64' });
    for (const y of [s.sum(), s.mean(), s.max(), s.min(), s.logsumexp(), s.sum(undefined, true)]) {
      assert.deepEqual([...y.shape], []);
      assertClose(y, 2.5, F64);
    }
  });

  test('sum of bool and uint8 counts in int32 without wrapping; mean of ints is float32', () => {
    const b = lt.full([300], true);
    const sb = b.sum();
    assert.equal(sb.dtype, 'int32');
    assert.equal(sb.item(), 300);
    const u = lt.full([2, 200], 200, { dtype: 'uint8' });
    const su = u.sum(1);
    assert.equal(su.dtype, 'int32');
    assert.deepEqual(Array.from(su.dataSync()), [40000, 40000]);
    const i = lt.tensor([[1, 2], [3, 6]], { dtype: 'int32' });
    assert.equal(i.sum(0).dtype, 'int32');
    assert.deepEqual(Array.from(i.sum(0).dataSync()), [4, 8]);
    const m = i.mean(1);
    assert.equal(m.dtype, 'float32');
    assertClose(m, [1.5, 4.5]);
    assert.equal(i.max().dtype, 'int32');
    assert.equal(i.max().item(), 6);
    assert.equal(i.min(0).dtype, 'int32');
    assert.deepEqual(Array.from(i.min(0).dataSync()), [1, 2]);
  });

  test('max and min propagate NaN; sum of an empty axis is 0', () => {
    const x = lt.tensor([[1, NaN, 3], [4, 5, 6]], { dtype: 'float64' });
    assertClose(x.max(1), [NaN, 6]);
    assertClose(x.min(1), [NaN, 4]);
    assertClose(x.max(0), [4, NaN, 6]);
    const e = lt.zeros([2, 0], { dtype: 'float64' });
    assertClose(e.sum(1), [0, 0]);
    assert.deepEqual([...e.sum(0).shape], [0]);
  });
});

onEachBackend('logsumexp / softmax / logSoftmax: numerical stability', () => {
  // lse([1000, 1000.5, -1000]) = 1000.5 + log(1 + e^-0.5 + e^-2000.5) = 1000.5 + log1p(e^-0.5)
  const c = Math.log1p(Math.exp(-0.5));
  const lse = 1000.5 + c;

  for (const dtype of ['float32', 'float64'] as const) {
    // float32 has ~6e-5 spacing near 1000, so results there are compared with 1e-4 absolute.
    const tol = dtype === 'float64' ? F64 : { atol: 1e-4, rtol: 1e-6 };
    test(`${dtype}: huge inputs stay finite and exact`, () => {
      const x = lt.tensor([1000, 1000.5, -1000], { dtype });
      assertClose(x.logsumexp(), lse, tol);
      assertClose(x.neg().logsumexp(), 1000, tol); // [-1000, -1000.5, 1000]: 1000 + log(1 + e^-2000 + e^-2000.5)
      const p = x.softmax();
      assertClose(p, [1 / (1 + Math.exp(0.5)), 1 / (1 + Math.exp(-0.5)), 0], { atol: 1e-7, rtol: 1e-6 });
      const lp = x.logSoftmax();
      assertClose(lp, [-0.5 - c, -c, -2000.5 - c], tol);
      for (const v of [...p.dataSync(), ...lp.dataSync()]) assert.ok(Number.isFinite(v), `finite, got ${v}`);
      // A batch of such rows along axis 0 as well.
      const m = lt.tensor([[1000, -1000], [1000.5, -1000.5], [-1000, -999]], { dtype });
      assertClose(m.logsumexp(0), [lse, -999 + Math.log1p(Math.exp(-1) + Math.exp(-1.5))], tol);
      assertClose(m.softmax(0).sum(0), [1, 1], { atol: 1e-6, rtol: 0 });
    });
  }

  test('a slice of all -inf: logsumexp is -inf, not NaN', () => {
    const x = lt.tensor([[-Infinity, -Infinity], [0, 0]], { dtype: 'float64' });
    assertClose(x.logsumexp(1), [-Infinity, Math.LN2], F64);
  });

  test('softmax rows sum to 1, along any axis', () => {
    const x = rand64([3, 4, 5], 3, -20, 20);
    for (const axis of [0, 1, 2, -1, -2]) {
      const s = x.softmax(axis).sum(axis);
      assertClose(s, new Float64Array(s.size).fill(1), { atol: 1e-12, rtol: 0 }, `axis ${axis}`);
      for (const v of x.softmax(axis).dataSync()) assert.ok(v >= 0 && v <= 1);
    }
  });
});

onEachBackend('softmax / logSoftmax: forward', () => {
  test('hand-computed values', () => {
    const x = lt.tensor([[0, Math.LN2], [1, 1]], { dtype: 'float64' });
    assertClose(x.softmax(), [[1 / 3, 2 / 3], [0.5, 0.5]], F64);
    assertClose(x.logSoftmax(), [[Math.log(1 / 3), Math.log(2 / 3)], [-Math.LN2, -Math.LN2]], F64);
    // along axis 0: column 0 is [0, 1], column 1 is [ln2, 1]
    const e = Math.E;
    assertClose(x.softmax(0), [[1 / (1 + e), 2 / (2 + e)], [e / (1 + e), e / (2 + e)]], F64);
  });

  for (const [name, log] of [['softmax', false], ['logSoftmax', true]] as const) {
    test(`${name} over every axis of [2,3,4] matches the reference (float64 and float32)`, () => {
      const shape = [2, 3, 4];
      const x = rand64(shape, 5, -4, 4);
      const xf = x.cast('float32');
      for (const axis of [0, 1, 2, -1, -2, -3]) {
        const y = log ? x.logSoftmax(axis) : x.softmax(axis);
        assert.deepEqual([...y.shape], shape);
        assertClose(y, refSoftmax(x.dataSync(), shape, axis, log), F64, `${name} axis ${axis}`);
        const yf = log ? xf.logSoftmax(axis) : xf.softmax(axis);
        assert.equal(yf.dtype, 'float32');
        assertClose(yf, refSoftmax(xf.dataSync(), shape, axis, log), F32, `${name} float32 axis ${axis}`);
      }
      // default axis is the last
      assertClose(log ? x.logSoftmax() : x.softmax(), refSoftmax(x.dataSync(), shape, -1, log), F64);
    });
  }
});

onEachBackend('argmax / argmin', () => {
  test('int32 results matching the reference along every axis, keepdims both ways', () => {
    const shape = [3, 4, 5];
    const x = rand64(shape, 9);
    const data = x.dataSync();
    const gt = (a: number, b: number) => a > b;
    const lt_ = (a: number, b: number) => a < b;
    for (const axis of [0, 1, 2, -1, -2, -3]) {
      const a = axis < 0 ? axis + 3 : axis;
      for (const keepdims of [false, true]) {
        const outShape = keepdims ? shape.map((d, i) => (i === a ? 1 : d)) : shape.filter((_, i) => i !== a);
        const mx = x.argmax(axis, keepdims);
        const mn = x.argmin(axis, keepdims);
        assert.equal(mx.dtype, 'int32');
        assert.equal(mn.dtype, 'int32');
        assert.deepEqual([...mx.shape], outShape);
        assert.deepEqual([...mn.shape], outShape);
        assert.deepEqual(Array.from(mx.dataSync()), refArg(data, shape, axis, gt), `argmax axis ${axis}`);
        assert.deepEqual(Array.from(mn.dataSync()), refArg(data, shape, axis, lt_), `argmin axis ${axis}`);
      }
    }
    // no axis: the flat index
    const fm = x.argmax();
    assert.deepEqual([...fm.shape], []);
    assert.equal(fm.item(), refArg(data, shape, undefined, gt)[0]);
    assert.equal(x.argmin().item(), refArg(data, shape, undefined, lt_)[0]);
    const fk = x.argmin(undefined, true);
    assert.deepEqual([...fk.shape], [1, 1, 1]);
    assert.equal(fk.item(), refArg(data, shape, undefined, lt_)[0]);
  });

  test('ties resolve to the first index', () => {
    const x = lt.tensor([[1, 3, 3, 0], [2, 2, 0, 0], [5, 5, 5, 5]]);
    assert.deepEqual(Array.from(x.argmax(1).dataSync()), [1, 0, 0]);
    assert.deepEqual(Array.from(x.argmin(1).dataSync()), [3, 2, 0]);
    assert.deepEqual(Array.from(x.argmax(0).dataSync()), [2, 2, 2, 2]);
    assert.deepEqual(Array.from(x.argmin(0).dataSync()), [0, 1, 1, 0]);
    assert.equal(x.argmax().item(), 8); // the first 5, at [2][0]
    assert.equal(x.argmin().item(), 3); // the first 0, at [0][3]
    const i = lt.tensor([7, 7, 7], { dtype: 'int32' });
    assert.equal(i.argmax().item(), 0);
    assert.equal(i.argmin().item(), 0);
  });

  test('not differentiable: the result does not require grad', () => {
    const x = rand64([2, 3], 4).requireGrad();
    const a = x.argmax(1);
    assert.equal(a.requiresGrad, false);
    assert.equal(a.node, null);
    assert.equal(x.argmin().requiresGrad, false);
  });
});

onEachBackend('sumTo', () => {
  test('hand-computed values', () => {
    const x = lt.tensor([[1, 2, 3], [4, 5, 6]], { dtype: 'float64' });
    assertClose(x.sumTo([3]), [5, 7, 9]);
    assertClose(x.sumTo([2, 1]), [[6], [15]]);
    assertClose(x.sumTo([1, 3]), [[5, 7, 9]]);
    assertClose(x.sumTo([1, 1]), [[21]]);
    assertClose(x.sumTo([1]), [21]);
    const s = x.sumTo([]);
    assert.deepEqual([...s.shape], []);
    assertClose(s, 21);
    assert.equal(x.sumTo([2, 3]), x, 'same shape: returned as is');
  });

  test('rank 4 down to several broadcast-compatible shapes matches the reference', () => {
    const shape = [2, 3, 1, 4];
    const x = rand64(shape, 21);
    const data = x.dataSync();
    // target shape -> the axes of x that are summed (then reshaped to the target)
    const cases: [number[], number[]][] = [
      [[3, 1, 4], [0]],
      [[4], [0, 1, 2]],
      [[1, 1, 1], [0, 1, 3]],
      [[3, 1, 1], [0, 3]],
      [[2, 1, 1, 4], [1]],
      [[1, 3, 1, 1], [0, 3]],
      [[1, 4], [0, 1]],
    ];
    for (const [target, axes] of cases) {
      const y = x.sumTo(target);
      const ref = refReduce(data, shape, axes, false, refSum);
      assert.deepEqual([...y.shape], target);
      assertClose(y, Float64Array.from(ref.data), F64, `sumTo ${JSON.stringify(target)}`);
    }
  });

  test('errors: shapes that do not broadcast', () => {
    const x = lt.zeros([2, 3]);
    assertThrowsLathe(() => x.sumTo([4]), /sumTo: shape \[2,3\] does not broadcast from \[4\]/);
    assertThrowsLathe(() => x.sumTo([2, 2]), /sumTo: shape \[2,3\] does not broadcast from \[2,2\]/);
    assertThrowsLathe(() => x.sumTo([1, 2, 3, 1]), /sumTo: shape \[2,3\] does not broadcast from \[1,2,3,1\]/);
  });
});

// ---- gradients -------------------------------------------------------------------------------------------------
// Shapes and reduced axes: one axis, negative axes, several (non-adjacent) axes, all axes.
const GRAD_CASES: { shape: number[]; axes: Axes }[] = [
  { shape: [5], axes: 0 },
  { shape: [3, 4], axes: 1 },
  { shape: [3, 4], axes: -2 },
  { shape: [3, 4], axes: [0, 1] },
  { shape: [2, 3, 4], axes: [0, 2] },
  { shape: [2, 3, 4], axes: [-1, -2] },
  { shape: [2, 3, 2, 2], axes: [1, 3] },
  { shape: [2, 3, 4], axes: undefined },
];

/** A few seeded random (shape, axes) draws on top of the fixed cases. */
function randomCases(seed: number, count: number): { shape: number[]; axes: number[] }[] {
  let s = seed >>> 0;
  const next = (n: number) => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s >>> 8) % n;
  };
  return Array.from({ length: count }, () => {
    const rank = 1 + next(4);
    const shape = Array.from({ length: rank }, () => 2 + next(2));
    const axes = shape.flatMap((_, i) => (next(2) ? [i - (next(2) ? rank : 0)] : []));
    return { shape, axes: axes.length ? axes : [rank - 1] };
  });
}

onEachBackend('reductions: gradients (gradcheck, float64)', () => {
  const cases = [...GRAD_CASES, ...randomCases(11, 4)]; // seed 11 draws three multi-axis cases of rank 3-4
  for (const r of REDUCTIONS) {
    test(`${r.name}`, () => {
      cases.forEach(({ shape, axes }, i) => {
        for (const keepdims of [false, true]) {
          // max/min: distinct values, so no tie can flip under the finite-difference probe
          const x = r.name === 'max' || r.name === 'min' ? distinct64(shape, 100 + i) : rand64(shape, 100 + i);
          gradcheck((t) => r.run(t, axes, keepdims), [x], GRAD);
        }
      });
    });
  }

  test('max/min split the gradient evenly among ties (hand-computed)', () => {
    const x = lt.tensor([[1, 3, 3], [2, 0, 0]], { dtype: 'float64', requiresGrad: true });
    x.max(1).sum().backward();
    assertClose(x.grad!, [[0, 0.5, 0.5], [1, 0, 0]]);
    const y = lt.tensor([[1, 3, 3], [2, 0, 0]], { dtype: 'float64', requiresGrad: true });
    y.min([0, 1]).backward();
    assertClose(y.grad!, [[0, 0, 0], [0, 0.5, 0.5]]);
  });

  test('sum and mean gradients are constant (hand-computed)', () => {
    const x = lt.zeros([2, 3], { dtype: 'float64', requiresGrad: true });
    x.mean(0).mul(lt.tensor([1, 2, 3], { dtype: 'float64' })).sum().backward();
    assertClose(x.grad!, [[0.5, 1, 1.5], [0.5, 1, 1.5]]);
  });

  test('sumTo', () => {
    const x = rand64([2, 3, 1, 4], 31);
    for (const target of [[3, 1, 4], [4], [1, 1, 1], [2, 1, 1, 4], [1, 3, 1, 1], []]) {
      gradcheck((t) => t.sumTo(target), [x], GRAD);
    }
  });

  for (const [name, log] of [['softmax', false], ['logSoftmax', true]] as const) {
    test(name, () => {
      for (const [shape, axes] of [[[5], [0, -1]], [[3, 4], [0, 1, -1]], [[2, 3, 4], [0, 1, 2, -2]]] as [number[], number[]][]) {
        for (const axis of axes) {
          const x = rand64(shape, 40 + axis, -3, 3);
          gradcheck((t) => (log ? t.logSoftmax(axis) : t.softmax(axis)), [x], GRAD);
        }
      }
    });
  }
});

// ---- errors --------------------------------------------------------------------------------------------------------
onEachBackend('reductions: errors', () => {
  test('axis out of range names the op and the axis', () => {
    const x = lt.zeros([2, 3]);
    const ops: [string, (a: number) => unknown][] = [
      ['sum', (a) => x.sum(a)],
      ['mean', (a) => x.mean(a)],
      ['max', (a) => x.max(a)],
      ['min', (a) => x.min(a)],
      ['argmax', (a) => x.argmax(a)],
      ['argmin', (a) => x.argmin(a)],
      ['logsumexp', (a) => x.logsumexp(a)],
      ['var', (a) => x.var(a)],
      ['std', (a) => x.std(a)],
      ['softmax', (a) => x.softmax(a)],
      ['logSoftmax', (a) => x.logSoftmax(a)],
    ];
    for (const [name, run] of ops) {
      assertThrowsLathe(() => run(3), new RegExp(`^${name}: axis 3 is out of range for a tensor of rank 2`));
      assertThrowsLathe(() => run(-3), new RegExp(`^${name}: axis -3 is out of range for a tensor of rank 2`));
    }
    // in a list of axes too
    assertThrowsLathe(() => x.sum([0, 2]), /^sum: axis 2 is out of range for a tensor of rank 2/);
    assertThrowsLathe(() => x.max([-5], true), /^max: axis -5 is out of range for a tensor of rank 2/);
    assertThrowsLathe(() => lt.tensor(1).sum(0), /^sum: axis 0 is out of range for a tensor of rank 0/);
  });

  test('repeated axes, empty reductions, too few elements for var, softmax of a scalar', () => {
    const x = lt.zeros([2, 3]);
    assertThrowsLathe(() => x.sum([1, -1]), /sum: repeated axis in \[1,-1\]/);
    assertThrowsLathe(() => x.mean([0, 0]), /mean: repeated axis/);
    const e = lt.zeros([2, 0]);
    assertThrowsLathe(() => e.max(1), /max: cannot reduce over axis 1 of size 0 in \[2,0\]/);
    assertThrowsLathe(() => e.argmin(1), /argmin: cannot reduce over axis 1 of size 0/);
    assertThrowsLathe(() => e.mean(1), /mean: cannot average over an empty selection of \[2,0\]/);
    assertThrowsLathe(() => lt.zeros([3, 1]).var(1), /var: needs more than 1 element\(s\) per reduction, got 1 in \[3,1\]/);
    assertThrowsLathe(() => lt.zeros([3, 1]).std(1), /std: needs more than 1 element\(s\) per reduction/);
    assertThrowsLathe(() => lt.tensor(1).softmax(), /softmax: expected at least a 1-D tensor, got a scalar/);
  });
});

describe('reduce test helpers', () => {
  test('the reference reducer itself (so the comparisons above can fail)', () => {
    const r = refReduce([1, 2, 3, 4, 5, 6], [2, 3], 1, false, refSum);
    assert.deepEqual(r, { shape: [2], data: [6, 15] });
    assert.deepEqual(refReduce([1, 2, 3, 4, 5, 6], [2, 3], [-2], true, refMax), { shape: [1, 3], data: [4, 5, 6] });
    assert.deepEqual(refArg([1, 3, 3, 2], [2, 2], 0, (a, b) => a > b), [1, 0]);
  });
});
