// Binary elementwise ops with broadcasting, where/maskedFill/clip, casts and dtype promotion, and their errors.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as lt from '../../src/index.js';
import { assertClose, assertThrowsLathe, gradcheck, onEachBackend, rand64 } from '../helpers.js';
import { GRAD, F64, F32, f64, fromData, prod, values, awayFromZero, awayFromSteps, Dense, broadcastRef, dense, erfRef, GRID, POSITIVE } from './elementwise-reference.js';

// ---- binary ------------------------------------------------------------------------------------------------
const SHAPE_PAIRS: [number[], number[]][] = [
  [[2, 3], [2, 3]],
  [[2, 3, 4], [3, 1]],
  [[2, 3, 4], [4]],
  [[2, 3, 4], []],
  [[], [2, 3]],
  [[3, 1], [1, 4]],
  [[1], [5]],
  [[3], [1, 1]],
  [[4, 1, 3], [2, 1]],
  [[0, 3], [3]],
  [[2, 1], [2, 0]],
];

type BinFn = (a: lt.Tensor, b: lt.Tensor) => lt.Tensor;
const ARITH: { name: string; f: BinFn; ref: (a: number, b: number) => number }[] = [
  { name: 'add', f: lt.add, ref: (a, b) => a + b },
  { name: 'sub', f: lt.sub, ref: (a, b) => a - b },
  { name: 'mul', f: lt.mul, ref: (a, b) => a * b },
  { name: 'div', f: lt.div, ref: (a, b) => a / b },
  { name: 'pow', f: lt.pow, ref: (a, b) => a ** b },
  { name: 'maximum', f: lt.maximum, ref: (a, b) => (Number.isNaN(a) || Number.isNaN(b) ? NaN : a > b ? a : b) },
  { name: 'minimum', f: lt.minimum, ref: (a, b) => (Number.isNaN(a) || Number.isNaN(b) ? NaN : a < b ? a : b) },
];
const COMPARE: { name: string; f: BinFn; ref: (a: number, b: number) => boolean }[] = [
  { name: 'eq', f: lt.eq, ref: (a, b) => a === b },
  { name: 'ne', f: lt.ne, ref: (a, b) => a !== b },
  { name: 'lt', f: lt.lt, ref: (a, b) => a < b },
  { name: 'le', f: lt.le, ref: (a, b) => a <= b },
  { name: 'gt', f: lt.gt, ref: (a, b) => a > b },
  { name: 'ge', f: lt.ge, ref: (a, b) => a >= b },
];

/** Small integers (as floats) so that comparisons and maximum/minimum meet ties. */
const smallInts = (shape: number[], seed: number) => fromData(values(rand64(shape, seed, -3, 3)).map(Math.round), shape);

onEachBackend('binary forward with broadcasting', () => {
  for (const op of ARITH) {
    test(`${op.name} matches a reference loop over the broadcast index`, () => {
      SHAPE_PAIRS.forEach(([sa, sb], k) => {
        const a = op.name === 'pow' ? rand64(sa, 10 + k, 0.5, 2) : rand64(sa, 10 + k, -2, 2);
        const b = op.name === 'pow' ? rand64(sb, 30 + k, -2, 2) : op.name === 'div' ? awayFromZero(sb, 30 + k) : rand64(sb, 30 + k, -2, 2);
        const want = broadcastRef([dense(a), dense(b)], op.ref);
        const got = op.f(a, b);
        assert.equal(got.dtype, 'float64');
        assert.deepEqual([...got.shape], want.shape, `${op.name} [${sa}] [${sb}] shape`);
        assertClose(got.dataSync(), want.data, { atol: 0, rtol: op.name === 'pow' ? 1e-15 : 0 }, `${op.name} [${sa}] [${sb}]`);
        // the same in float32: the float64 result of the float32 inputs, rounded once
        const a32 = a.cast('float32');
        const b32 = b.cast('float32');
        const want32 = broadcastRef([dense(a32), dense(b32)], (x, y) => Math.fround(op.ref(x, y)));
        assertClose(op.f(a32, b32).dataSync(), want32.data, { atol: 0, rtol: op.name === 'pow' ? 1e-7 : 0 }, `${op.name} float32 [${sa}] [${sb}]`);
        // ties for maximum/minimum and values on int32
        const ia = smallInts(sa, 50 + k).cast('int32');
        const ib = op.name === 'div' || op.name === 'pow' ? smallInts(sb, 70 + k).abs().add(1).cast('int32') : smallInts(sb, 70 + k).cast('int32');
        const wantI = broadcastRef([dense(ia), dense(ib)], op.name === 'div' ? (x, y) => Math.fround(x / y) : (x, y) => op.ref(x, y) | 0);
        const gotI = op.f(ia, ib);
        assert.equal(gotI.dtype, op.name === 'div' ? 'float32' : 'int32');
        assertClose(gotI.dataSync(), wantI.data, { atol: 0, rtol: 0 }, `${op.name} int32 [${sa}] [${sb}]`);
      });
    });
  }

  for (const op of COMPARE) {
    test(`${op.name} gives bool, matching a reference loop, NaN included`, () => {
      SHAPE_PAIRS.forEach(([sa, sb], k) => {
        const a = smallInts(sa, 90 + k);
        const b = smallInts(sb, 110 + k);
        const want = broadcastRef([dense(a), dense(b)], (x, y) => +op.ref(x, y));
        const got = op.f(a, b);
        assert.equal(got.dtype, 'bool');
        assert.deepEqual([...got.shape], want.shape);
        assert.deepEqual(values(got), want.data, `${op.name} [${sa}] [${sb}]`);
        // mixed dtypes compare after promotion
        const gotMixed = op.f(a.cast('int32'), b.cast('float32'));
        assert.equal(gotMixed.dtype, 'bool');
        assert.deepEqual(values(gotMixed), want.data, `${op.name} int32 vs float32`);
      });
      const nan = f64([NaN, NaN, 1, -Infinity, Infinity, 0]);
      const other = f64([NaN, 1, NaN, -Infinity, 1e308, -0]);
      assert.deepEqual(op.f(nan, other).toArray(), [0, 1, 2, 3, 4, 5].map((i) => op.ref(values(nan)[i], values(other)[i])));
    });
  }

  test('maximum and minimum propagate NaN', () => {
    assert.ok(values(lt.maximum(f64([NaN, 1]), f64([1, NaN]))).every(Number.isNaN));
    assert.ok(values(lt.minimum(f64([NaN, 1]), f64([1, NaN]))).every(Number.isNaN));
  });

  test('division by zero and pow edge values follow IEEE', () => {
    assert.deepEqual(values(lt.div(f64([1, -1, 0]), f64([0, 0, 0]))).map(String), ['Infinity', '-Infinity', 'NaN']);
    assertClose(lt.pow(f64([0, 0, -2, -8, 4, 2]), f64([0, -1, 3, 1 / 3, 0.5, 1030])), [1, Infinity, -8, NaN, 2, Infinity], { atol: 0, rtol: 0 });
  });

  test('scalar operands on either side', () => {
    const x = f64([[1, 2, 3], [4, 5, 6]]);
    assertClose(x.add(1), [[2, 3, 4], [5, 6, 7]], { atol: 0, rtol: 0 });
    assertClose(lt.sub(10, x), [[9, 8, 7], [6, 5, 4]], { atol: 0, rtol: 0 });
    assertClose(lt.div(1, x), [[1, 1 / 2, 1 / 3], [1 / 4, 1 / 5, 1 / 6]], { atol: 0, rtol: 0 });
    assertClose(lt.pow(2, x), [[2, 4, 8], [16, 32, 64]], { atol: 0, rtol: 0 });
    assertClose(x.pow(2), [[1, 4, 9], [16, 25, 36]], { atol: 0, rtol: 0 });
    assert.deepEqual(x.gt(3).toArray(), [[false, false, false], [true, true, true]]);
    assert.deepEqual(lt.lt(3, x).toArray(), [[false, false, false], [true, true, true]]);
    assert.deepEqual(x.eq(true).toArray(), [[true, false, false], [false, false, false]]);
  });
});

onEachBackend('binary gradients with broadcasting', () => {
  const PAIRS = SHAPE_PAIRS.slice(0, 6); // the non-empty ones that gradcheck can afford
  const inputs: Record<string, (sa: number[], sb: number[], k: number) => [lt.Tensor, lt.Tensor]> = {
    add: (sa, sb, k) => [rand64(sa, k), rand64(sb, k + 1)],
    sub: (sa, sb, k) => [rand64(sa, k), rand64(sb, k + 1)],
    mul: (sa, sb, k) => [rand64(sa, k, -2, 2), rand64(sb, k + 1, -2, 2)],
    div: (sa, sb, k) => [rand64(sa, k, -2, 2), awayFromZero(sb, k + 1, 0.5)], // |b| >= 0.5
    pow: (sa, sb, k) => [rand64(sa, k, 0.5, 2), rand64(sb, k + 1, -1.5, 1.5)], // positive base: both gradients defined
    maximum: (sa, sb, k) => [rand64(sa, k), rand64(sb, k + 1)],
    minimum: (sa, sb, k) => [rand64(sa, k), rand64(sb, k + 1)],
  };
  for (const op of ARITH) {
    test(`${op.name} gradient, both operands, broadcast shapes`, () => {
      PAIRS.forEach(([sa, sb], k) => {
        const [a, b] = inputs[op.name](sa, sb, 200 + 2 * k);
        if (op.name === 'maximum' || op.name === 'minimum') {
          // keep away from ties, where the derivative jumps
          const gap = broadcastRef([dense(a), dense(b)], (x, y) => Math.abs(x - y)).data;
          assert.ok(Math.min(...gap) > 1e-4, `test setup: ${op.name} operands too close`);
        }
        gradcheck(op.f, [a, b], GRAD);
      });
    });
  }

  test('scalar operands: x*3, 1-x, 1/x, x^3 of negative x, 2^x', () => {
    gradcheck((x) => x.mul(3), [rand64([2, 3], 300)], GRAD);
    gradcheck((x) => lt.sub(1, x), [rand64([2, 3], 301)], GRAD);
    gradcheck((x) => lt.div(1, x), [awayFromZero([2, 3], 302, 0.5)], GRAD);
    gradcheck((x) => x.pow(3), [rand64([2, 3], 303, -2, 2)], GRAD);
    gradcheck((x) => x.pow(-2), [awayFromZero([2, 3], 304, 0.5)], GRAD);
    gradcheck((x) => lt.pow(2, x), [rand64([2, 3], 305, -2, 2)], GRAD);
  });

  test('an operand used twice accumulates both paths', () => {
    gradcheck((x) => x.mul(x).add(x.div(x.add(3))), [rand64([3, 4], 306)], GRAD);
    gradcheck((x, y) => x.mul(y).sub(y.pow(x)), [rand64([2, 3], 307, 0.5, 1.5), rand64([3], 308, 0.5, 1.5)], GRAD);
  });

  test('maximum/minimum split the gradient evenly on ties', () => {
    const a = f64([1, 2, 5]).requireGrad();
    const b = f64([1, 3, 4]).requireGrad();
    lt.maximum(a, b).sum().backward();
    assert.deepEqual(values(a.grad!), [0.5, 0, 1]);
    assert.deepEqual(values(b.grad!), [0.5, 1, 0]);
    a.zeroGrad();
    b.zeroGrad();
    lt.minimum(a, b).sum().backward();
    assert.deepEqual(values(a.grad!), [0.5, 1, 0]);
    assert.deepEqual(values(b.grad!), [0.5, 0, 1]);
  });

  test('pow: d/db is 0 where the base is 0', () => {
    const a = f64([0, 2]).requireGrad();
    const b = f64([2, 3]).requireGrad();
    lt.pow(a, b).sum().backward();
    assertClose(a.grad!, [0, 12], F64);
    assertClose(b.grad!, [0, 8 * Math.LN2], F64);
  });

  test('broadcast gradients are summed to each operand shape', () => {
    const a = f64([[1], [2]]).requireGrad(); // [2,1]
    const b = f64([10, 20, 30]).requireGrad(); // [3]
    a.mul(b).sum().backward();
    assert.deepEqual([...a.grad!.shape], [2, 1]);
    assert.deepEqual([...b.grad!.shape], [3]);
    assert.deepEqual(values(a.grad!), [60, 60]);
    assert.deepEqual(values(b.grad!), [3, 3, 3]);
    const s = f64(2).requireGrad(); // []
    s.mul(f64([[1, 2], [3, 4]])).sum().backward();
    assert.deepEqual([...s.grad!.shape], []);
    assert.equal(s.grad!.item(), 10);
  });

  test('comparisons give bool outputs that do not require grad', () => {
    const x = rand64([2, 3], 310).requireGrad();
    const y = rand64([3], 311).requireGrad();
    for (const op of COMPARE) {
      const c = op.f(x, y);
      assert.equal(c.dtype, 'bool', op.name);
      assert.equal(c.requiresGrad, false, op.name);
      assert.equal(c.node, null, op.name);
    }
    assert.equal(x.gt(0).requiresGrad, false);
    assertThrowsLathe(() => x.gt(y).cast('float64').sum().backward(), /^backward: .*does not require grad/);
    // ...and a comparison used as a mask blocks no gradient of the other path
    const z = lt.where(x.gt(0), x, 0).sum();
    z.backward();
    assert.deepEqual(values(x.grad!), values(x).map((v) => (v > 0 ? 1 : 0)));
  });
});

onEachBackend('where, maskedFill, clip', () => {
  test('where: forward against a three-way broadcast reference', () => {
    const cond = lt.tensor([[true], [false], [true]]); // [3,1]
    const a = rand64([2, 3, 4], 400);
    const b = rand64([4], 401);
    const want = broadcastRef([dense(cond), dense(a), dense(b)], (c, x, y) => (c ? x : y));
    const got = lt.where(cond, a, b);
    assert.deepEqual([...got.shape], want.shape);
    assert.equal(got.dtype, 'float64');
    assertClose(got.dataSync(), want.data, { atol: 0, rtol: 0 });
    // condition broadcast up to the operands, and operands up to the condition
    const c2 = lt.tensor([[true, false, true, false]]); // [1,4]
    const x2 = rand64([3, 1], 402);
    const want2 = broadcastRef([dense(c2), dense(x2), { shape: [], data: [-7] }], (c, x, y) => (c ? x : y));
    const got2 = lt.where(c2, x2, -7);
    assert.deepEqual([...got2.shape], [3, 4]);
    assertClose(got2.dataSync(), want2.data, { atol: 0, rtol: 0 });
  });

  test('where: scalar branches and dtype promotion', () => {
    const c = lt.tensor([true, false, true]);
    const s = lt.where(c, 1, 2);
    assert.deepEqual(values(s), [1, 2, 1]);
    assert.equal(s.dtype, 'float32');
    const i = lt.tensor([1, 2, 3], { dtype: 'int32' });
    assert.equal(lt.where(c, i, 0).dtype, 'int32');
    assert.deepEqual(values(lt.where(c, i, 0)), [1, 0, 3]);
    const m = lt.where(c, i, lt.tensor([0.5, 0.5, 0.5], { dtype: 'float32' }));
    assert.equal(m.dtype, 'float32');
    assert.deepEqual(values(m), [1, 0.5, 3]);
    assert.equal(lt.where(c, i, 0.5).dtype, 'float32');
    assert.equal(lt.where(c, f64([1, 2, 3]), lt.tensor([0, 0, 0], { dtype: 'float32' })).dtype, 'float64');
  });

  test('where: gradient to both branches, none to the condition, with broadcasting', () => {
    const cond = lt.tensor([[true], [false], [true]]); // [3,1]
    gradcheck((c, a, b) => lt.where(c, a, b), [cond, rand64([2, 3, 4], 403), rand64([4], 404)], GRAD);
    gradcheck((c, a, b) => lt.where(c, a, b), [lt.tensor([true, false]), rand64([], 405), rand64([3, 2], 406)], GRAD);
    gradcheck((a) => lt.where(cond, a, 0), [rand64([3, 4], 407)], GRAD);
    const a = f64([1, 2]).requireGrad();
    const b = f64([3, 4]).requireGrad();
    lt.where(lt.tensor([true, false]), a, b).mul(f64([10, 20])).sum().backward();
    assert.deepEqual(values(a.grad!), [10, 0]);
    assert.deepEqual(values(b.grad!), [0, 20]);
  });

  test('maskedFill: forward with -Infinity and a broadcast mask, dtype kept', () => {
    const x = rand64([2, 3, 4], 410);
    const mask = lt.tensor([[true], [false], [true]]); // [3,1]
    const got = x.maskedFill(mask, -Infinity);
    const want = broadcastRef([dense(x), dense(mask)], (v, m) => (m ? -Infinity : v));
    assert.deepEqual([...got.shape], [2, 3, 4]);
    assert.equal(got.dtype, 'float64');
    assertClose(got.dataSync(), want.data, { atol: 0, rtol: 0 });
    const x32 = lt.tensor([1.5, 2.5], { dtype: 'float32' });
    const y32 = lt.maskedFill(x32, lt.tensor([false, true]), 0.1);
    assert.equal(y32.dtype, 'float32');
    assert.deepEqual(values(y32), [1.5, Math.fround(0.1)]);
    const xi = lt.tensor([1, 2, 3], { dtype: 'int32' });
    const yi = xi.maskedFill(lt.tensor([true, false, true]), 7);
    assert.equal(yi.dtype, 'int32');
    assert.deepEqual(values(yi), [7, 2, 7]);
  });

  test('maskedFill: gradient is zero at filled positions', () => {
    const mask = lt.tensor([[true, false, false, true]]);
    gradcheck((x) => x.maskedFill(mask, 5), [rand64([3, 4], 411)], GRAD);
    const x = f64([1, 2, 3]).requireGrad();
    x.maskedFill(lt.tensor([false, true, false]), 9).mul(f64([4, 5, 6])).sum().backward();
    assert.deepEqual(values(x.grad!), [4, 0, 6]);
  });

  test('clip: forward against min(max(x, lo), hi), NaN kept, dtypes', () => {
    const xs = [-800, -1.5, -0.5, -0.2, 0, 0.2, 0.5, 1.5, 800, -Infinity, Infinity];
    assertClose(fromData(xs, [xs.length]).clip(-0.5, 0.5), xs.map((v) => Math.min(Math.max(v, -0.5), 0.5)), { atol: 0, rtol: 0 });
    assert.ok(Number.isNaN(f64([NaN]).clip(0, 1).item()));
    const x = rand64([2, 3, 4], 412, -2, 2);
    assertClose(lt.clip(x, -1, 0.25).dataSync(), values(x).map((v) => Math.min(Math.max(v, -1), 0.25)), { atol: 0, rtol: 0 });
    assertClose(f64([-1, 3]).clip(2, 2), [2, 2], { atol: 0, rtol: 0 });
    const i = lt.tensor([-5, 0, 5], { dtype: 'int32' }).clip(-2, 3);
    assert.equal(i.dtype, 'int32');
    assert.deepEqual(values(i), [-2, 0, 3]);
    assert.equal(lt.tensor([1.5], { dtype: 'float32' }).clip(0, 1).dtype, 'float32');
  });

  test('clip: gradient is 1 inside, 0 outside', () => {
    const x = fromData(values(rand64([3, 5], 413, -2, 2)).map((v) => (Math.abs(Math.abs(v) - 0.5) < 0.01 ? v + 0.05 : v)), [3, 5]);
    gradcheck((t) => t.clip(-0.5, 0.5), [x], GRAD);
    const y = f64([-2, 0.3, 2]).requireGrad();
    y.clip(-1, 1).sum().backward();
    assert.deepEqual(values(y.grad!), [0, 1, 0]);
  });
});

onEachBackend('cast and dtype promotion', () => {
  test('cast between every pair of dtypes', () => {
    const x = f64([1.7, -1.7, 0, -0.5, 2.5, 100]);
    assert.deepEqual(values(x.cast('int32')), [1, -1, 0, 0, 2, 100]); // truncation toward 0, as in C and PyTorch
    assert.deepEqual(values(f64([1.7, 0, 2.5, 255.9]).cast('uint8')), [1, 0, 2, 255]);
    assert.deepEqual(x.cast('bool').toArray(), [true, true, false, true, true, true]);
    assert.deepEqual(values(x.cast('float32')), [1.7, -1.7, 0, -0.5, 2.5, 100].map(Math.fround));
    assert.deepEqual(values(f64([0.1]).cast('float32').cast('float64')), [Math.fround(0.1)]);
    const b = lt.tensor([true, false]);
    assert.deepEqual(values(b.cast('float32')), [1, 0]);
    assert.deepEqual(values(b.cast('int32')), [1, 0]);
    assert.equal(b.cast('float64').dtype, 'float64');
    const i = lt.tensor([-3, 0, 7], { dtype: 'int32' });
    assert.deepEqual(values(i.cast('float64')), [-3, 0, 7]);
    assert.deepEqual(i.cast('bool').toArray(), [true, false, true]);
    // NaN is nonzero: true as a bool
    assert.deepEqual(f64([NaN, -0]).cast('bool').toArray(), [true, false]);
    for (const dt of lt.DTYPES) assert.equal(x.cast(dt).dtype, dt);
    assert.equal(x.cast('float64'), x, 'a cast to the same dtype returns the tensor');
    assert.deepEqual([...rand64([2, 0, 3], 1).cast('float32').shape], [2, 0, 3]);
  });

  test('cast: float gradients are cast back; integer casts leave the graph', () => {
    const x = f64([1.25, -2.5]).requireGrad();
    x.cast('float32').mul(lt.tensor([3, 4], { dtype: 'float32' })).sum().backward();
    assert.equal(x.grad!.dtype, 'float64');
    assert.deepEqual(values(x.grad!), [3, 4]);
    const y = lt.tensor([1.5], { dtype: 'float32' }).requireGrad();
    y.cast('float64').square().sum().backward();
    assert.equal(y.grad!.dtype, 'float32');
    assert.deepEqual(values(y.grad!), [3]);
    gradcheck((t) => t.clone().mul(2), [rand64([2, 3], 420)], GRAD);
    // Through a float32 round trip: float32 rounding (~1e-7 relative) over a 2e-2 wide central
    // difference gives ~1e-5 noise, and the function is linear so the step adds no truncation error.
    gradcheck((t) => t.cast('float32').mul(3).cast('float64'), [rand64([2, 3, 4], 421)], { eps: 1e-2, atol: 1e-3, rtol: 1e-3 });
    for (const dt of ['int32', 'uint8', 'bool'] as const) {
      const c = x.cast(dt);
      assert.equal(c.requiresGrad, false, `cast to ${dt} must not require grad`);
      assert.equal(c.node, null, dt);
    }
  });

  test('binary promotion: the wider dtype wins; int/int divides to float32', () => {
    const i = lt.tensor([1, 2, 3], { dtype: 'int32' });
    const f = lt.tensor([0.5, 0.5, 0.5], { dtype: 'float32' });
    const d = f64([0.25, 0.25, 0.25]);
    const u = lt.tensor([1, 2, 250], { dtype: 'uint8' });
    const b = lt.tensor([true, false, true]);
    const cases: [lt.Tensor, lt.DType, number[]][] = [
      [i.add(f), 'float32', [1.5, 2.5, 3.5]],
      [f.add(i), 'float32', [1.5, 2.5, 3.5]],
      [f.mul(d), 'float64', [0.125, 0.125, 0.125]],
      [i.sub(d), 'float64', [0.75, 1.75, 2.75]],
      [u.add(i), 'int32', [2, 4, 253]],
      [b.add(i), 'int32', [2, 2, 4]],
      [i.mul(i), 'int32', [1, 4, 9]],
      [i.div(lt.tensor([2, 2, 2], { dtype: 'int32' })), 'float32', [0.5, 1, 1.5]],
      [lt.tensor([7, -7], { dtype: 'int32' }).div(lt.tensor([2, 2], { dtype: 'int32' })), 'float32', [3.5, -3.5]],
      [u.div(lt.tensor([2, 2, 2], { dtype: 'uint8' })), 'float32', [0.5, 1, 125]],
      [i.div(d), 'float64', [4, 8, 12]],
      [i.pow(lt.tensor([2, 2, 2], { dtype: 'int32' })), 'int32', [1, 4, 9]],
      [i.maximum(f.mul(4)), 'float32', [2, 2, 3]],
    ];
    cases.forEach(([t, dtype, want], k) => {
      assert.equal(t.dtype, dtype, `case ${k}`);
      assertClose(t, want, { atol: 0, rtol: 0 }, `case ${k}`);
    });
  });

  test('JS scalars keep the tensor dtype unless the value needs a float', () => {
    const i = lt.tensor([1, 2], { dtype: 'int32' });
    const f = lt.tensor([1, 2], { dtype: 'float32' });
    const u = lt.tensor([1, 2], { dtype: 'uint8' });
    assert.equal(i.add(2).dtype, 'int32');
    assert.equal(lt.sub(10, i).dtype, 'int32');
    assert.deepEqual(values(lt.sub(10, i)), [9, 8]);
    assert.equal(i.mul(2.5).dtype, 'float32');
    assert.deepEqual(values(i.mul(2.5)), [2.5, 5]);
    assert.equal(i.div(2).dtype, 'float32');
    assert.deepEqual(values(i.div(2)), [0.5, 1]);
    assert.equal(u.add(1).dtype, 'uint8');
    assert.equal(f.add(1).dtype, 'float32', 'a float scalar does not widen float32 to float64');
    assert.deepEqual(values(f.add(0.1)), [Math.fround(1 + Math.fround(0.1)), Math.fround(2 + Math.fround(0.1))]);
    assert.equal(f64([1]).add(1).dtype, 'float64');
    assert.equal(lt.tensor([true, false]).add(1).dtype, 'int32');
    assert.equal(i.gt(1.5).dtype, 'bool');
    assert.deepEqual(i.gt(1.5).toArray(), [false, true]);
  });

  test('comparisons of every dtype give bool', () => {
    for (const dt of ['float32', 'float64', 'int32', 'uint8', 'bool'] as const) {
      const x = lt.tensor([0, 1, 1], { dtype: dt });
      for (const op of COMPARE) {
        const c = op.f(x, lt.tensor([1, 1, 0], { dtype: dt }));
        assert.equal(c.dtype, 'bool', `${op.name} on ${dt}`);
        assert.deepEqual(values(c), [0, 1, 1].map((v, k) => +op.ref(v, [1, 1, 0][k])), `${op.name} on ${dt}`);
      }
    }
  });
});

onEachBackend('elementwise errors', () => {
  test('shape mismatch names the op and both shapes', () => {
    assertThrowsLathe(() => lt.zeros([2, 3]).add(lt.zeros([4])), /^add: shapes do not broadcast: \[2,3\] and \[4\]$/);
    assertThrowsLathe(() => lt.zeros([4]).mul(lt.zeros([2, 3])), /^mul: shapes do not broadcast: \[4\] and \[2,3\]$/);
    assertThrowsLathe(() => lt.zeros([2, 3, 4]).sub(lt.zeros([3, 2])), /^sub: shapes do not broadcast: \[2,3,4\] and \[3,2\]$/);
    assertThrowsLathe(() => lt.zeros([2]).lt(lt.zeros([3])), /^lt: shapes do not broadcast: \[2\] and \[3\]$/);
    assertThrowsLathe(() => lt.zeros([2]).maximum(lt.zeros([3])), /^maximum: shapes do not broadcast: \[2\] and \[3\]$/);
    assertThrowsLathe(() => lt.zeros([0]).add(lt.zeros([2])), /^add: shapes do not broadcast: \[0\] and \[2\]$/);
    assertThrowsLathe(() => lt.where(lt.tensor([true, false]), lt.zeros([3]), 0), /^where: shapes do not broadcast/);
    assertThrowsLathe(() => lt.zeros([2, 2]).maskedFill(lt.tensor([true, false, true]), 0), /^where: shapes do not broadcast/);
  });

  test('bool arithmetic is rejected', () => {
    const b = lt.tensor([true, false]);
    for (const op of ARITH.filter((o) => o.name !== 'maximum' && o.name !== 'minimum')) {
      assertThrowsLathe(() => op.f(b, b), new RegExp(`^${op.name}: expected numeric tensors, got bool`));
    }
    assertThrowsLathe(() => b.add(true), /^add: expected numeric tensors, got bool/);
    for (const [name, f] of [['neg', lt.neg], ['abs', lt.abs], ['exp', lt.exp], ['sign', lt.sign], ['relu', lt.relu]] as const) {
      assertThrowsLathe(() => f(b), new RegExp(`^${name}: expected a numeric tensor, got bool`));
    }
    // maximum/minimum of bools are logical or/and, and allowed
    assert.deepEqual(lt.maximum(b, lt.tensor([false, false])).toArray(), [true, false]);
    assert.deepEqual(lt.minimum(b, lt.tensor([true, true])).toArray(), [true, false]);
  });

  test('where rejects a non-bool condition', () => {
    const a = lt.zeros([2]);
    assertThrowsLathe(() => lt.where(lt.tensor([1, 0]), a, 0), /^where: condition must be a bool tensor, got float32$/);
    assertThrowsLathe(() => lt.where(lt.tensor([1, 0], { dtype: 'int32' }), a, 0), /^where: condition must be a bool tensor, got int32$/);
    assertThrowsLathe(() => lt.where(lt.tensor([1, 0], { dtype: 'uint8' }), a, 0), /^where: condition must be a bool tensor, got uint8$/);
    assertThrowsLathe(() => lt.where(true as unknown as lt.Tensor, a, 0), /^where: condition must be a Tensor/);
    assertThrowsLathe(() => a.maskedFill(lt.tensor([1, 0]), 0), /^where: condition must be a bool tensor/);
  });

  test('bad options and operands', () => {
    const x = lt.zeros([2]);
    assertThrowsLathe(() => x.gelu({ approximate: 'erf' as 'none' }), /^gelu: approximate must be "none" or "tanh", got "erf"$/);
    assertThrowsLathe(() => x.leakyRelu(NaN), /^leakyRelu: slope must be a finite number, got NaN$/);
    assertThrowsLathe(() => x.elu(Infinity), /^elu: alpha must be a finite number, got Infinity$/);
    assertThrowsLathe(() => x.clip(1, 0), /^clip: expected min <= max, got 1 and 0$/);
    assertThrowsLathe(() => x.clip(NaN, 0), /^clip: expected min <= max/);
    assertThrowsLathe(() => lt.add(1 as unknown as lt.Tensor, 2 as unknown as lt.Tensor), /^add: expected at least one Tensor operand$/);
    assertThrowsLathe(() => lt.exp([1, 2] as unknown as lt.Tensor), /^exp: expected a Tensor/);
  });
});

onEachBackend('elementwise corner cases', () => {
  test('integer pow with a negative exponent is an error, as in PyTorch', () => {
    assertThrowsLathe(() => lt.tensor([2], { dtype: 'int32' }).pow(-1), /^pow: integers to negative integer powers are not allowed \(int32\); cast to float first$/);
    assert.deepEqual(lt.tensor([2, 3], { dtype: 'int32' }).pow(2).toArray(), [4, 9]);
  });

  test('where with two boolean scalars gives bool', () => {
    const w = lt.where(lt.tensor([true, false]), true, false);
    assert.equal(w.dtype, 'bool');
    assert.deepEqual(w.toArray(), [true, false]);
  });

  test('NaN assigned into a bool tensor is true', () => {
    const b = lt.tensor([false, false]);
    b.assign(new Float32Array([NaN, 0]));
    assert.deepEqual(b.toArray(), [true, false]);
  });
});
