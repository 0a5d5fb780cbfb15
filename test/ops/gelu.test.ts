// GELU, exact and tanh forms, and its fused backward (table.ts geluGrad): values against the
// float64 formula over a wide range (float32 uses polynomial erf/exp natively), first and
// second derivatives by central differences in float64, and native against js.
import { test } from 'node:test';
import * as lt from '../../src/index.js';
import { apply } from '../../src/autograd/engine.js';
import { erf } from '../../src/backends/js/math.js';
import * as T from '../../src/ops/table.js';
import { assertClose, gradcheck, onEachBackend, rand64 } from '../helpers.js';

const C = Math.sqrt(2 / Math.PI);
const exact = (x: number) => 0.5 * x * (1 + erf(x / Math.SQRT2));
const tanhForm = (x: number) => 0.5 * x * (1 + Math.tanh(C * (x + 0.044715 * x ** 3)));
/** Every 1/64 in [-12, 12]: both tails, the cubic's range and zero. */
const GRID = Float64Array.from({ length: 24 * 64 + 1 }, (_, i) => -12 + i / 64);

const geluGrad = (g: lt.Tensor, x: lt.Tensor, approximate: boolean) => apply(T.geluGrad, [g, x], { approximate });

onEachBackend('gelu', () => {
  for (const [name, approximate, f] of [['exact', 'none', exact], ['tanh', 'tanh', tanhForm]] as const) {
    test(`${name}: values against the float64 formula, float64 and float32`, () => {
      const want = Array.from(GRID, f);
      const x = lt.tensor(GRID, { dtype: 'float64' });
      assertClose(x.gelu({ approximate }), want, { atol: 1e-15, rtol: 1e-13 });
      // float32: erf and exp to about 4e-7 absolute, times |x|/2
      assertClose(x.cast('float32').gelu({ approximate }), want, { atol: 2.5e-6, rtol: 4e-6 });
    });

    test(`${name}: the fused backward passes finite differences (float64)`, () => {
      gradcheck((x) => x.gelu({ approximate }), [rand64([5, 7], 1, -4, 4)]);
      gradcheck((x) => x.gelu({ approximate }), [lt.tensor(GRID.filter((_, i) => i % 40 === 0), { dtype: 'float64' })]);
    });

    test(`${name}: geluGrad's own rule (second derivatives) passes finite differences (float64)`, () => {
      const a = approximate === 'tanh';
      gradcheck((g, x) => geluGrad(g, x, a), [rand64([4, 6], 2), rand64([4, 6], 3, -4, 4)]);
    });

    test(`${name}: float32 gradient agrees with the float64 one`, () => {
      const x = lt.tensor(GRID, { dtype: 'float64' });
      const dy = rand64([GRID.length], 6);
      const want = geluGrad(dy, x, approximate === 'tanh');
      assertClose(geluGrad(dy.cast('float32'), x.cast('float32'), approximate === 'tanh'), want, { atol: 2e-6, rtol: 1e-5 });
    });
  }
});

test('gelu: native matches js, float32 and float64, forward and backward', () => {
  if (!lt.listBackends().includes('native')) return;
  for (const dtype of ['float32', 'float64'] as const) {
    for (const approximate of ['none', 'tanh'] as const) {
      const x = rand64([70001], 7, -8, 8).cast(dtype); // over two threads' grain
      const dy = rand64([70001], 8).cast(dtype);
      const run = (backend: string) => [x.to(backend).gelu({ approximate }), geluGrad(dy.to(backend), x.to(backend), approximate === 'tanh')].map((t) => t.to('js'));
      const want = run('js');
      const tol = dtype === 'float32' ? { atol: 2.5e-6, rtol: 1e-5 } : { atol: 4e-15, rtol: 1e-13 }; // glibc's erf and math.ts's differ by ~1e-16
      run('native').forEach((t, i) => assertClose(t, want[i], tol, `${dtype} ${approximate} ${i ? 'backward' : 'forward'}`));
    }
  }
});
