// Unary elementwise ops: forward against Math.* in float64 and hand values, gradients by finite differences.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as lt from '../../src/index.js';
import { assertClose, assertThrowsLathe, gradcheck, onEachBackend, rand64 } from '../helpers.js';
import { GRAD, F64, F32, f64, fromData, prod, values, awayFromZero, awayFromSteps, Dense, broadcastRef, dense, erfRef, GRID, POSITIVE } from './elementwise-reference.js';

onEachBackend('unary forward', () => {
  // Each op against a float64 reference loop written with Math.*, on a grid with large, small,
  // negative and signed-zero values, in float64 (to a few ulps) and float32 (to half an ulp).
  const cases: { name: string; f: (x: lt.Tensor) => lt.Tensor; ref: (x: number) => number; xs: number[] }[] = [
    { name: 'neg', f: lt.neg, ref: (x) => -x, xs: GRID },
    { name: 'exp', f: lt.exp, ref: Math.exp, xs: GRID },
    { name: 'log', f: lt.log, ref: Math.log, xs: [...POSITIVE, 0, -1, Infinity] },
    { name: 'sqrt', f: lt.sqrt, ref: Math.sqrt, xs: [...POSITIVE, 0, -1, Infinity] },
    { name: 'rsqrt', f: lt.rsqrt, ref: (x) => 1 / Math.sqrt(x), xs: [...POSITIVE, 0, -1, Infinity] },
    { name: 'abs', f: lt.abs, ref: Math.abs, xs: GRID },
    { name: 'sign', f: lt.sign, ref: Math.sign, xs: GRID },
    { name: 'square', f: lt.square, ref: (x) => x * x, xs: GRID },
    { name: 'reciprocal', f: lt.reciprocal, ref: (x) => 1 / x, xs: GRID },
    { name: 'tanh', f: lt.tanh, ref: Math.tanh, xs: GRID },
    // 1/(1+e^-x) is exact enough here; at -800 it is 1/(1+Inf) = 0.
    { name: 'sigmoid', f: lt.sigmoid, ref: (x) => 1 / (1 + Math.exp(-x)), xs: GRID.filter((x) => x > -20) },
    { name: 'relu', f: lt.relu, ref: (x) => (x > 0 ? x : 0), xs: GRID },
    { name: 'sin', f: lt.sin, ref: Math.sin, xs: GRID },
    { name: 'cos', f: lt.cos, ref: Math.cos, xs: GRID },
    { name: 'log1p', f: lt.log1p, ref: Math.log1p, xs: [-1, -0.5, -1e-8, -0, 0, 1e-8, 0.5, 1, 30, 1e300] },
    { name: 'expm1', f: lt.expm1, ref: Math.expm1, xs: GRID },
    // log(1 + e^x) loses no more than ~1e-14 relative for |x| <= 5
    { name: 'softplus', f: lt.softplus, ref: (x) => Math.log(1 + Math.exp(x)), xs: [-5, -1, -0.5, 0, 0.5, 1, 5] },
    { name: 'floor', f: lt.floor, ref: Math.floor, xs: [...GRID, -2.5, -1.5, 1.5, 2.7, -2.7] },
    { name: 'ceil', f: lt.ceil, ref: Math.ceil, xs: [...GRID, -2.5, -1.5, 1.5, 2.7, -2.7] },
    // away from halves round is Math.round (halves are checked by hand below)
    { name: 'round', f: lt.round, ref: Math.round, xs: [-800, -2.7, -1.2, -0.3, 0.3, 1.2, 2.7, 1e15 + 0.25] },
    { name: 'leakyRelu', f: (x) => lt.leakyRelu(x), ref: (x) => (x > 0 ? x : 0.01 * x), xs: GRID },
    { name: 'leakyRelu(0.2)', f: (x) => x.leakyRelu(0.2), ref: (x) => (x > 0 ? x : 0.2 * x), xs: GRID },
    { name: 'elu', f: (x) => lt.elu(x), ref: (x) => (x > 0 ? x : Math.exp(x) - 1), xs: GRID.filter((x) => Math.abs(x) > 1e-3) },
    { name: 'elu(1.5)', f: (x) => x.elu(1.5), ref: (x) => (x > 0 ? x : 1.5 * (Math.exp(x) - 1)), xs: GRID.filter((x) => Math.abs(x) > 1e-3) },
    {
      name: 'gelu tanh',
      f: (x) => lt.gelu(x, { approximate: 'tanh' }),
      ref: (x) => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3))),
      xs: GRID,
    },
  ];
  for (const c of cases) {
    test(`${c.name} matches a float64 reference loop`, () => {
      const y = c.f(fromData(c.xs, [c.xs.length]));
      assert.equal(y.dtype, 'float64');
      assertClose(y, c.xs.map(c.ref), F64, c.name);
      // signed zeros (neg(0) = -0, abs(-0) = 0, floor(-0) = -0, ...): assertClose treats them as equal, so check Object.is.
      const got = values(y);
      const fmt = (v: number) => (Object.is(v, -0) ? '-0' : String(v));
      c.xs.forEach((x, i) => {
        const r = c.ref(x);
        if (r === 0) assert.ok(Object.is(got[i], r), `${c.name}(${fmt(x)}) gave ${fmt(got[i])}, expected ${fmt(r)}`);
      });
    });
    test(`${c.name} in float32 rounds the float64 value`, () => {
      const xs = c.xs.map(Math.fround);
      const y = c.f(fromData(xs, [xs.length], 'float32'));
      assert.equal(y.dtype, 'float32');
      assertClose(y, xs.map((x) => Math.fround(c.ref(x))), F32, c.name);
    });
  }

  test('erf: hand values and a Simpson-rule reference', () => {
    // mpmath, 40 digits, rounded to float64
    const hand: [number, number][] = [
      [0, 0], [1e-10, 1.1283791670955126e-10], [0.1, 0.1124629160182849], [0.5, 0.5204998778130465],
      [1, 0.8427007929497149], [1.5, 0.9661051464753108], [2, 0.9953222650189527], [2.5, 0.999593047982555],
      [3, 0.9999779095030014], [4, 0.9999999845827421], [5, 0.9999999999984626], [6, 1], [30, 1], [Infinity, 1],
    ];
    const xs = hand.flatMap(([x]) => [x, -x]);
    const expected = hand.flatMap(([, y]) => [y, -y]);
    assertClose(lt.erf(fromData(xs, [xs.length])), expected, { atol: 2e-16, rtol: 4e-16 }, 'erf hand');
    assert.ok(Number.isNaN(lt.erf(f64([NaN])).item()), 'erf(NaN)');
    const grid = Array.from({ length: 45 }, (_, i) => -5.5 + i * 0.25);
    assertClose(lt.erf(fromData(grid, [grid.length])), grid.map(erfRef), { atol: 1e-13, rtol: 0 }, 'erf grid');
    // erf is odd and bounded
    const y = values(lt.erf(fromData(grid, [grid.length])));
    y.forEach((v, i) => assert.ok(Math.abs(v) <= 1 && v === -y[grid.length - 1 - i], `erf odd at ${grid[i]}`));
  });

  test('gelu (exact): hand values and x Phi(x) with a Simpson-rule erf', () => {
    const hand: [number, number][] = [
      [1, 0.8413447460685429], [-1, -0.15865525393145705], [2, 1.9544997361036416],
      [-3, -0.0040496940948902835], [0.5, 0.34573123063700656], [-0.5, -0.15426876936299344],
      [0, 0], [800, 800], [-800, 0], [30, 30],
    ];
    assertClose(lt.gelu(fromData(hand.map(([x]) => x), [hand.length])), hand.map(([, y]) => y), { atol: 1e-15, rtol: 1e-15 }, 'gelu hand');
    assertClose(f64([1]).gelu({ approximate: 'none' }), [0.8413447460685429], { atol: 0, rtol: 2.5e-16 });
    const grid = Array.from({ length: 41 }, (_, i) => -5 + i * 0.25);
    assertClose(lt.gelu(fromData(grid, [grid.length])), grid.map((x) => 0.5 * x * (1 + erfRef(x / Math.SQRT2))), { atol: 1e-13, rtol: 0 }, 'gelu grid');
    // float32 and integer inputs compute in float32
    assertClose(lt.gelu(lt.tensor([1, -1], { dtype: 'float32' })), [Math.fround(0.8413447460685429), Math.fround(-0.15865525393145705)], F32);
    const gi = lt.gelu(lt.tensor([1, 2], { dtype: 'int32' }));
    assert.equal(gi.dtype, 'float32');
    assertClose(gi, [0.8413447460685429, 1.9544997361036416], F32);
  });

  test('gelu (tanh approximation): hand values', () => {
    const hand: [number, number][] = [[1, 0.8411919906082767], [-1, -0.1588080093917233], [2, 1.954597694087775], [-3, -0.003637392081773019], [0, 0], [800, 800], [-800, 0]];
    assertClose(lt.gelu(fromData(hand.map(([x]) => x), [hand.length]), { approximate: 'tanh' }), hand.map(([, y]) => y), { atol: 1e-15, rtol: 1e-15 });
    // the two variants differ (by ~1.5e-4 at 1), so the option is not ignored
    assert.ok(Math.abs(f64([1]).gelu({ approximate: 'tanh' }).item() - f64([1]).gelu().item()) > 1e-4);
  });

  test('sigmoid and softplus saturate without NaN or overflow', () => {
    const s = values(lt.sigmoid(f64([-800, -30, 0, 30, 800, -Infinity, Infinity])));
    assert.deepEqual(s.slice(0, 1), [0]);
    assertClose(s, [0, 9.357622968839299e-14, 0.5, 1 - 9.357622968839299e-14, 1, 0, 1], { atol: 0, rtol: 1e-14 });
    assert.deepEqual(values(lt.sigmoid(lt.tensor([-800, 800], { dtype: 'float32' }))), [0, 1]);
    const sp = values(lt.softplus(f64([800, -800, 0, 30, -30, 1, -1, Infinity, -Infinity])));
    assertClose(sp, [800, 0, Math.LN2, 30.000000000000092, 9.357622968839737e-14, 1.3132616875182228, 0.31326168751822286, Infinity, 0], { atol: 0, rtol: 1e-14 });
    assert.deepEqual(values(lt.softplus(lt.tensor([800, -800], { dtype: 'float32' }))), [800, 0]);
  });

  test('log1p, expm1 keep precision near 0; elu and leakyRelu at extremes', () => {
    assertClose(lt.log1p(f64([1e-10])), [9.9999999995e-11], { atol: 0, rtol: 1e-15 });
    assertClose(lt.expm1(f64([1e-10])), [1.00000000005e-10], { atol: 0, rtol: 1e-15 });
    assertClose(lt.elu(f64([-800, -1, 1e-10, -1e-10, 0, 2])), [-1, -0.6321205588285577, 1e-10, -9.9999999995e-11, 0, 2], { atol: 0, rtol: 1e-15 });
    assertClose(lt.elu(f64([-800]), 2), [-2], { atol: 0, rtol: 0 });
    assertClose(lt.leakyRelu(f64([-800, -1, 0, 3]), 0.5), [-400, -0.5, 0, 3], { atol: 0, rtol: 0 });
  });

  test('round halves to even, keeping the sign of zero', () => {
    const xs = [2.5, -0.5, 0.5, 1.5, -1.5, -2.5, 3.5, -3.5, 4.5, 0.49999999999999994, -0, 1e16, Infinity, -Infinity];
    const want = [2, -0, 0, 2, -2, -2, 4, -4, 4, 0, -0, 1e16, Infinity, -Infinity];
    const got = values(lt.round(fromData(xs, [xs.length])));
    want.forEach((w, i) => assert.ok(Object.is(got[i], w), `round(${xs[i]}) gave ${got[i]}, expected ${Object.is(w, -0) ? '-0' : w}`));
    assert.deepEqual(values(lt.round(lt.tensor([0.5, 1.5, 2.5, -2.5], { dtype: 'float32' }))), [0, 2, 2, -2]);
    assert.ok(Number.isNaN(lt.round(f64([NaN])).item()));
  });

  test('NaN passes through relu, abs, sign, floor and friends', () => {
    for (const f of [lt.relu, lt.abs, lt.sign, lt.floor, lt.ceil, lt.neg, lt.exp, lt.tanh, lt.sigmoid, lt.softplus, lt.gelu, lt.erf, (x: lt.Tensor) => lt.leakyRelu(x), (x: lt.Tensor) => lt.elu(x)]) {
      assert.ok(Number.isNaN(f(f64([NaN])).item()), `${f.name} of NaN`);
    }
  });

  test('logicalNot: bool, int and float inputs, NaN counts as true', () => {
    const b = lt.logicalNot(lt.tensor([true, false, true]));
    assert.equal(b.dtype, 'bool');
    assert.deepEqual(b.toArray(), [false, true, false]);
    assert.deepEqual(lt.logicalNot(lt.tensor([0, 3, -1], { dtype: 'int32' })).toArray(), [true, false, false]);
    const f = lt.logicalNot(f64([0, -0, 0.5, -2, NaN, Infinity]));
    assert.equal(f.dtype, 'bool');
    assert.deepEqual(f.toArray(), [true, true, false, false, false, false]);
    assert.deepEqual(lt.tensor([true, false]).logicalNot().logicalNot().toArray(), [true, false]);
  });

  test('unary ops keep the shape, including [] and empty', () => {
    assert.deepEqual(lt.exp(f64(2)).shape, []);
    assertClose([lt.exp(f64(2)).item()], [Math.exp(2)], F64);
    const e = lt.sqrt(lt.zeros([0, 3], { dtype: 'float64' }));
    assert.deepEqual([...e.shape], [0, 3]);
    const x = rand64([2, 3, 4], 7);
    assert.deepEqual([...lt.tanh(x).shape], [2, 3, 4]);
    assertClose(lt.tanh(x).dataSync(), values(x).map(Math.tanh), F64);
  });

  test('integer inputs: float-only functions compute in float32, others keep the dtype', () => {
    const i = lt.tensor([1, -2, 4], { dtype: 'int32' });
    for (const [name, f] of [['exp', lt.exp], ['sqrt', lt.sqrt], ['sigmoid', lt.sigmoid], ['tanh', lt.tanh], ['reciprocal', lt.reciprocal], ['erf', lt.erf]] as const) {
      const y = f(i);
      assert.equal(y.dtype, 'float32', name);
    }
    assertClose(lt.exp(i), [Math.E, Math.exp(-2), Math.exp(4)], F32);
    assertClose(lt.reciprocal(i), [1, -0.5, 0.25], F32);
    for (const [name, f] of [['abs', lt.abs], ['neg', lt.neg], ['square', lt.square], ['sign', lt.sign], ['relu', lt.relu], ['floor', lt.floor]] as const) {
      assert.equal(f(i).dtype, 'int32', name);
    }
    assert.deepEqual(values(lt.abs(i)), [1, 2, 4]);
    assert.deepEqual(values(lt.square(i)), [1, 4, 16]);
    assert.deepEqual(values(lt.relu(i)), [1, 0, 4]);
    assert.deepEqual(values(lt.sign(i)), [1, -1, 1]);
  });
});

onEachBackend('unary gradients', () => {
  const SHAPES = [[], [5], [2, 3], [2, 3, 4]];
  const cases: { name: string; f: (x: lt.Tensor) => lt.Tensor; x: (shape: number[], seed: number) => lt.Tensor }[] = [
    { name: 'neg', f: lt.neg, x: (s, k) => rand64(s, k) },
    { name: 'exp', f: lt.exp, x: (s, k) => rand64(s, k, -2, 2) },
    { name: 'log', f: lt.log, x: (s, k) => rand64(s, k, 0.5, 2) },
    { name: 'sqrt', f: lt.sqrt, x: (s, k) => rand64(s, k, 0.5, 2) },
    { name: 'rsqrt', f: lt.rsqrt, x: (s, k) => rand64(s, k, 0.5, 2) },
    { name: 'abs', f: lt.abs, x: awayFromZero },
    { name: 'square', f: lt.square, x: (s, k) => rand64(s, k, -2, 2) },
    { name: 'reciprocal', f: lt.reciprocal, x: (s, k) => awayFromZero(s, k, 0.5) },
    { name: 'tanh', f: lt.tanh, x: (s, k) => rand64(s, k, -2, 2) },
    { name: 'sigmoid', f: lt.sigmoid, x: (s, k) => rand64(s, k, -4, 4) },
    { name: 'relu', f: lt.relu, x: awayFromZero },
    { name: 'gelu', f: (x) => lt.gelu(x), x: (s, k) => rand64(s, k, -3, 3) },
    { name: 'gelu tanh', f: (x) => lt.gelu(x, { approximate: 'tanh' }), x: (s, k) => rand64(s, k, -3, 3) },
    { name: 'erf', f: lt.erf, x: (s, k) => rand64(s, k, -2, 2) },
    { name: 'sin', f: lt.sin, x: (s, k) => rand64(s, k, -3, 3) },
    { name: 'cos', f: lt.cos, x: (s, k) => rand64(s, k, -3, 3) },
    { name: 'log1p', f: lt.log1p, x: (s, k) => rand64(s, k, -0.5, 2) },
    { name: 'expm1', f: lt.expm1, x: (s, k) => rand64(s, k, -2, 2) },
    { name: 'softplus', f: lt.softplus, x: (s, k) => rand64(s, k, -4, 4) },
    { name: 'leakyRelu', f: (x) => lt.leakyRelu(x, 0.1), x: awayFromZero },
    { name: 'elu', f: (x) => lt.elu(x, 1.5), x: (s, k) => awayFromZero(s, k).mul(2) },
    // piecewise constant: central differences away from the jumps are exactly 0
    { name: 'floor', f: lt.floor, x: awayFromSteps },
    { name: 'ceil', f: lt.ceil, x: awayFromSteps },
    { name: 'round', f: lt.round, x: awayFromSteps },
    { name: 'sign', f: lt.sign, x: awayFromZero },
  ];
  for (const c of cases) {
    test(`${c.name} gradient matches central differences`, () => {
      SHAPES.forEach((shape, i) => gradcheck(c.f, [c.x(shape, 100 + i)], GRAD));
    });
  }

  test('saturated sigmoid, softplus, tanh, gelu have finite gradients', () => {
    const x = f64([-800, -30, 30, 800]).requireGrad();
    lt.sigmoid(x).add(lt.softplus(x)).add(lt.tanh(x)).add(lt.gelu(x)).add(lt.gelu(x, { approximate: 'tanh' })).sum().backward();
    // d/dx: sigmoid' -> 0, softplus' = sigmoid -> 0 or 1, tanh' -> 0, gelu' -> 0 or 1 (both variants)
    assertClose(x.grad!, [0, 2 * 9.357622968839299e-14, 3, 3], { atol: 1e-15, rtol: 1e-12 });
  });

  test('floor, ceil, round and sign give zero gradients', () => {
    for (const f of [lt.floor, lt.ceil, lt.round, lt.sign]) {
      const x = f64([-1.7, -0.2, 0.3, 2.5]).requireGrad();
      f(x).mul(f64([1, 2, 3, 4])).sum().backward();
      assert.deepEqual(values(x.grad!), [0, 0, 0, 0], f.name);
    }
  });

  test('relu, leakyRelu and elu use the right branch on each side', () => {
    const x = f64([-2, -0.5, 0.5, 2]).requireGrad();
    lt.relu(x).sum().backward();
    assert.deepEqual(values(x.grad!), [0, 0, 1, 1]);
    x.zeroGrad();
    lt.leakyRelu(x, 0.25).sum().backward();
    assert.deepEqual(values(x.grad!), [0.25, 0.25, 1, 1]);
    x.zeroGrad();
    lt.elu(x, 2).sum().backward();
    assertClose(x.grad!, [2 * Math.exp(-2), 2 * Math.exp(-0.5), 1, 1], F64);
  });

  test('gradients flow in float32 too', () => {
    const x = lt.tensor([0.5, 1, 2], { dtype: 'float32' }).requireGrad();
    lt.log(x).sum().backward();
    assert.equal(x.grad!.dtype, 'float32');
    assertClose(x.grad!, [2, 1, 0.5], F32);
  });
});

