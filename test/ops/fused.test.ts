// biasActivation: act(x + bias) in one kernel, against the unfused ops and finite differences.
import { test } from 'node:test';
import * as lt from '../../src/index.js';
import { assertClose, assertThrowsLathe, gradcheck, onEachBackend, rand64 } from '../helpers.js';

const ACTS = { linear: (v: number) => v, relu: (v: number) => Math.max(v, 0), sigmoid: (v: number) => 1 / (1 + Math.exp(-v)), tanh: Math.tanh };

onEachBackend('biasActivation', () => {
  for (const [name, f] of Object.entries(ACTS) as [keyof typeof ACTS, (v: number) => number][]) {
    test(`${name}: forward against a loop, float32 and float64`, () => {
      const x = rand64([3, 2, 5], 1, -3, 3);
      const b = rand64([5], 2, -1, 1);
      const xd = x.dataSync();
      const bd = b.dataSync();
      const want = Float64Array.from(xd, (v, i) => f(v + bd[i % 5]));
      assertClose(lt.biasActivation(x, b, name), want, { atol: 1e-15, rtol: 1e-14 });
      assertClose(lt.biasActivation(x.cast('float32'), b.cast('float32'), name), want, { atol: 1e-6, rtol: 1e-6 });
    });

    test(`${name}: gradients for x and bias by finite differences`, () => {
      // inputs keep |x + b| >= 0.05 so relu's kink is out of reach of eps = 1e-6
      const x = rand64([4, 6], 3, 0.05, 2).mul(lt.tensor([1, -1, 1, -1, 1, -1], { dtype: 'float64' }));
      gradcheck((xx, bb) => lt.biasActivation(xx, bb, name), [x, lt.zeros([6], { dtype: 'float64' })], { atol: 1e-7, rtol: 1e-5 });
    });
  }

  test('bad arguments are named', () => {
    assertThrowsLathe(() => lt.biasActivation(lt.zeros([2, 3]), lt.zeros([2])), /^biasActivation: bias must have shape \[3\] for x \[2,3\], got \[2\]$/);
    assertThrowsLathe(() => lt.biasActivation(lt.zeros([2, 3]), lt.zeros([3]), 'gelu' as 'relu'), /activation must be one of linear, relu, sigmoid, tanh, got "gelu"/);
    assertThrowsLathe(() => lt.biasActivation(lt.zeros([2, 3]), lt.zeros([3], { dtype: 'float64' })), /x and bias must be float tensors of one dtype, got float32 and float64/);
  });
});
