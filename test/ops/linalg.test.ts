// matmul: forward against hand-computed values and a naive triple-loop reference written here
// (numpy broadcasting of batch dims, 1-D promotion), gradients by central differences, the
// internal transposed form matmulT, and the error messages.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as lt from '../../src/index.js';
import { matmulT } from '../../src/ops/linalg.js';
import { assertClose, assertThrowsLathe, gradcheck, onEachBackend, rand64 } from '../helpers.js';

// float64: the reference loop and the kernel may sum in different orders; a few ulps of a sum of
// at most ~10 terms of size <= 1 is far below 1e-12.
const TOL64 = { atol: 1e-12, rtol: 1e-12 };
// float32: the result is rounded to float32 once (rel. 6e-8) or, for a kernel that accumulates in
// float32, K roundings; 1e-5 covers both for K <= 16 with entries in [-1, 1).
const TOL32 = { atol: 1e-5, rtol: 1e-5 };
// Gradients: matmul is bilinear, so central differences have no truncation error; what is left is
// rounding, about 1e-16 |L| / eps = 1e-9 for the losses here.
const GRAD = { atol: 1e-6, rtol: 1e-5 };

// ---- independent reference ----------------------------------------------------------------------

interface Ref {
  shape: number[];
  data: number[];
}

const sizeOf = (shape: readonly number[]) => shape.reduce((p, d) => p * d, 1);

/** numpy.matmul by loops: 1-D operands promoted, batch dims broadcast right-aligned. */
function refMatmul(a: Ref, b: Ref): Ref {
  const as = a.shape.length === 1 ? [1, a.shape[0]] : a.shape;
  const bs = b.shape.length === 1 ? [b.shape[0], 1] : b.shape;
  const M = as[as.length - 2];
  const K = as[as.length - 1];
  const N = bs[bs.length - 1];
  assert.equal(bs[bs.length - 2], K, 'reference: inner dims');
  const ba = as.slice(0, -2);
  const bb = bs.slice(0, -2);
  const r = Math.max(ba.length, bb.length);
  const pa = [...Array(r - ba.length).fill(1), ...ba];
  const pb = [...Array(r - bb.length).fill(1), ...bb];
  const batch = pa.map((d, i) => Math.max(d, pb[i]));
  const out: number[] = [];
  const nb = sizeOf(batch);
  for (let flat = 0; flat < nb; flat++) {
    // multi-index of this batch element, then each operand's matrix number (size-1 dims repeat)
    const idx: number[] = [];
    for (let i = r - 1, rest = flat; i >= 0; i--) {
      idx[i] = rest % batch[i];
      rest = Math.floor(rest / batch[i]);
    }
    let ma = 0;
    let mb = 0;
    for (let i = 0; i < r; i++) {
      ma = ma * pa[i] + (pa[i] === 1 ? 0 : idx[i]);
      mb = mb * pb[i] + (pb[i] === 1 ? 0 : idx[i]);
    }
    for (let i = 0; i < M; i++)
      for (let j = 0; j < N; j++) {
        let s = 0;
        for (let k = 0; k < K; k++) s += a.data[ma * M * K + i * K + k] * b.data[mb * K * N + k * N + j];
        out.push(s);
      }
  }
  const shape = [...batch];
  if (a.shape.length > 1) shape.push(M);
  if (b.shape.length > 1) shape.push(N);
  return { shape, data: out };
}

/** Swaps the last two axes of a row-major array, by loops. */
function refTranspose(x: Ref): Ref {
  const r = x.shape.length;
  const R = x.shape[r - 2];
  const C = x.shape[r - 1];
  const data: number[] = [];
  for (let m = 0; m < sizeOf(x.shape.slice(0, -2)); m++)
    for (let j = 0; j < C; j++) for (let i = 0; i < R; i++) data.push(x.data[m * R * C + i * C + j]);
  return { shape: [...x.shape.slice(0, -2), C, R], data };
}

const ref = (t: lt.Tensor): Ref => ({ shape: [...t.shape], data: Array.from(t.dataSync()) });
/** The expected values as a typed array: assertClose then compares values only (shapes are asserted separately). */
const vals = (e: Ref) => Float64Array.from(e.data);

function checkAgainstRef(aShape: number[], bShape: number[], dtype: 'float32' | 'float64', seed: number): void {
  const a = rand64(aShape, seed).cast(dtype);
  const b = rand64(bShape, seed + 1).cast(dtype);
  const y = lt.matmul(a, b);
  const e = refMatmul(ref(a), ref(b)); // from the (possibly float32-rounded) inputs, in float64
  assert.equal(y.dtype, dtype);
  assert.deepEqual([...y.shape], e.shape, `shape of [${aShape}] x [${bShape}]`);
  assertClose(y, vals(e), dtype === 'float64' ? TOL64 : TOL32, `[${aShape}] x [${bShape}] ${dtype}`);
}

// Shapes: plain, odd sizes, the 1-D promotions, and batch dims broadcast in every way.
const CASES: [number[], number[]][] = [
  [[2, 3], [3, 4]],
  [[1, 1], [1, 1]],
  [[7, 5], [5, 3]],
  [[5, 13], [13, 1]],
  [[1, 9], [9, 11]],
  [[4], [4, 3]],
  [[3, 4], [4]],
  [[7], [7]],
  [[1], [1]],
  [[3, 2, 5], [3, 5, 4]],
  [[2, 1, 3, 4], [5, 4, 2]],
  [[3, 4], [2, 4, 5]],
  [[2, 3, 4], [4, 5]],
  [[1, 3, 4], [6, 4, 2]],
  [[6, 3, 4], [1, 4, 2]],
  [[2, 1, 3, 5], [1, 4, 5, 2]],
  [[5], [2, 3, 5, 2]],
  [[2, 3, 3, 5], [5]],
];

onEachBackend('matmul forward', () => {
  test('hand-computed 2-D, 1-D x 2-D, 2-D x 1-D, 1-D x 1-D', () => {
    const y = lt.matmul(lt.tensor([[1, 2], [3, 4]]), lt.tensor([[5, 6], [7, 8]]));
    assertClose(y, [[19, 22], [43, 50]], { atol: 0, rtol: 0 });
    const m23 = lt.tensor([[1, 2, 3], [4, 5, 6]]);
    assertClose(lt.matmul(lt.tensor([1, 2]), m23), [9, 12, 15], { atol: 0, rtol: 0 });
    assertClose(lt.matmul(m23, lt.tensor([1, 0, -1])), [-2, -2], { atol: 0, rtol: 0 });
    const dot = lt.matmul(lt.tensor([1, 2, 3]), lt.tensor([4, 5, 6]));
    assert.deepEqual([...dot.shape], []);
    assert.equal(dot.item(), 32);
    // non-square, checks that rows and columns are not swapped: [1,2,3]·cols of [[1,0],[0,1],[1,1]]
    assertClose(lt.matmul(lt.tensor([[1, 2, 3]]), lt.tensor([[1, 0], [0, 1], [1, 1]])), [[4, 5]], { atol: 0, rtol: 0 });
  });

  test('hand-computed batch broadcasting: one matrix against a stack', () => {
    const a = lt.tensor([[1, 2]]); // [1,2]
    const b = lt.tensor([[[1], [1]], [[2], [-1]], [[0], [3]]]); // [3,2,1]
    const y = lt.matmul(a, b);
    assertClose(y, [[[3]], [[0]], [[6]]], { atol: 0, rtol: 0 });
  });

  for (const dtype of ['float64', 'float32'] as const) {
    test(`against the triple-loop reference, ${dtype}`, () => {
      CASES.forEach(([as, bs], i) => checkAgainstRef(as, bs, dtype, 100 + 10 * i));
    });
  }

  test('Tensor.matmul is the same op', () => {
    const a = rand64([3, 4], 1);
    const b = rand64([4, 2], 2);
    assertClose(a.matmul(b), vals(refMatmul(ref(a), ref(b))), TOL64);
  });

  test('mixed float32 x float64 promotes to float64', () => {
    const a = rand64([2, 3], 3).cast('float32');
    const b = rand64([3, 2], 4);
    const y = lt.matmul(a, b);
    assert.equal(y.dtype, 'float64');
    assertClose(y, vals(refMatmul(ref(a), ref(b))), TOL64);
  });

  test('identity leaves a matrix unchanged', () => {
    const a = rand64([4, 5], 5);
    assertClose(lt.matmul(a, lt.eye(5, 5, { dtype: 'float64' })), a, { atol: 0, rtol: 0 });
    assertClose(lt.matmul(lt.eye(4, 4, { dtype: 'float64' }), a), a, { atol: 0, rtol: 0 });
  });
});

onEachBackend('matmulT (transposed operands)', () => {
  const shapes: { a: number[]; b: number[] }[] = [
    // logical op(a) [3,4] x op(b) [4,5], stored transposed where the flag says so
    { a: [3, 4], b: [4, 5] },
    // with broadcast batch dims: op(a) [2,1,3,4] x op(b) [5,4,2]
    { a: [2, 1, 3, 4], b: [5, 4, 2] },
  ];
  for (const transA of [false, true])
    for (const transB of [false, true]) {
      const stored = (s: number[], t: boolean) => (t ? [...s.slice(0, -2), s[s.length - 1], s[s.length - 2]] : s);
      test(`forward, transA=${transA} transB=${transB}`, () => {
        shapes.forEach(({ a: la, b: lb }, i) => {
          const a = rand64(stored(la, transA), 20 + i);
          const b = rand64(stored(lb, transB), 30 + i);
          const ea = transA ? refTranspose(ref(a)) : ref(a);
          const eb = transB ? refTranspose(ref(b)) : ref(b);
          const e = refMatmul(ea, eb);
          const y = matmulT(a, b, transA, transB);
          assert.deepEqual([...y.shape], e.shape);
          assertClose(y, vals(e), TOL64, `matmulT ${transA} ${transB} case ${i}`);
        });
      });
      test(`gradient, transA=${transA} transB=${transB}`, () => {
        gradcheck((a, b) => matmulT(a, b, transA, transB), [rand64(stored([3, 4], transA), 40), rand64(stored([4, 2], transB), 41)], GRAD);
        gradcheck(
          (a, b) => matmulT(a, b, transA, transB),
          [rand64(stored([2, 1, 2, 3], transA), 42), rand64(stored([3, 3, 2], transB), 43)],
          GRAD,
        );
      });
    }

  test('inner-dimension check uses the transposed sizes', () => {
    // [3,4]^T is [4,3]: 3 != 4 rows of b
    assertThrowsLathe(() => matmulT(lt.zeros([3, 4]), lt.zeros([4, 5]), true, false), /^matmul: inner dimensions differ: \[3,4\] x \[4,5\]$/);
    // fine when not transposed
    assert.deepEqual([...matmulT(lt.zeros([3, 4]), lt.zeros([5, 4]), false, true).shape], [3, 5]);
  });
});

onEachBackend('matmul gradient', () => {
  test('2-D, odd sizes', () => {
    gradcheck((a, b) => lt.matmul(a, b), [rand64([3, 4], 50), rand64([4, 5], 51)], GRAD);
    gradcheck((a, b) => lt.matmul(a, b), [rand64([1, 3], 52), rand64([3, 1], 53)], GRAD);
  });

  test('1-D operands', () => {
    gradcheck((a, b) => lt.matmul(a, b), [rand64([4], 54), rand64([4, 3], 55)], GRAD);
    gradcheck((a, b) => lt.matmul(a, b), [rand64([3, 4], 56), rand64([4], 57)], GRAD);
    gradcheck((a, b) => lt.matmul(a, b), [rand64([5], 58), rand64([5], 59)], GRAD);
    gradcheck((a, b) => lt.matmul(a, b), [rand64([3], 60), rand64([2, 3, 2], 61)], GRAD);
  });

  test('batched, with broadcast batch dims (gradients summed over the broadcast)', () => {
    gradcheck((a, b) => lt.matmul(a, b), [rand64([2, 3, 4], 62), rand64([2, 4, 2], 63)], GRAD);
    gradcheck((a, b) => lt.matmul(a, b), [rand64([2, 1, 2, 3], 64), rand64([3, 3, 2], 65)], GRAD);
    gradcheck((a, b) => lt.matmul(a, b), [rand64([3, 4], 66), rand64([2, 4, 3], 67)], GRAD);
    gradcheck((a, b) => lt.matmul(a, b), [rand64([2, 3, 2], 68), rand64([2, 4], 69)], GRAD);
  });

  test('gradient of a float32 product is float32 and matches the float64 one', () => {
    const a = rand64([3, 4], 70);
    const b = rand64([4, 2], 71);
    const a32 = a.cast('float32').requireGrad();
    const b32 = b.cast('float32').requireGrad();
    lt.matmul(a32, b32).sum().backward();
    const a64 = a.detach().requireGrad();
    const b64 = b.detach().requireGrad();
    lt.matmul(a64, b64).sum().backward();
    assert.equal(a32.grad!.dtype, 'float32');
    assert.equal(b32.grad!.dtype, 'float32');
    assertClose(a32.grad!, a64.grad!, TOL32);
    assertClose(b32.grad!, b64.grad!, TOL32);
  });
});

onEachBackend('matmul errors', () => {
  test('inner-dimension mismatch names both shapes', () => {
    assertThrowsLathe(() => lt.matmul(lt.zeros([32, 784]), lt.zeros([128, 10])), /^matmul: inner dimensions differ: \[32,784\] x \[128,10\]$/);
    assertThrowsLathe(() => lt.matmul(lt.zeros([3]), lt.zeros([4])), /^matmul: inner dimensions differ: \[3\] x \[4\]$/);
    assertThrowsLathe(() => lt.matmul(lt.zeros([3]), lt.zeros([4, 3])), /^matmul: inner dimensions differ: \[3\] x \[4,3\]$/);
    assertThrowsLathe(() => lt.matmul(lt.zeros([2, 3, 4]), lt.zeros([2, 5, 6])), /^matmul: inner dimensions differ: \[2,3,4\] x \[2,5,6\]$/);
  });

  test('batch dims that do not broadcast', () => {
    assertThrowsLathe(() => lt.matmul(lt.zeros([2, 3, 4]), lt.zeros([3, 4, 5])), /^matmul: batch dimensions do not broadcast: \[2,3,4\] x \[3,4,5\]$/);
  });

  test('scalars and non-float operands are rejected', () => {
    assertThrowsLathe(() => lt.matmul(lt.tensor(2), lt.zeros([2])), /^matmul: operands must be at least 1-D, got \[\] x \[2\]$/);
    assertThrowsLathe(() => lt.matmul(lt.zeros([2, 2], { dtype: 'int32' }), lt.zeros([2, 2])), /^matmul: expected float tensors, got int32 x float32$/);
  });
});
