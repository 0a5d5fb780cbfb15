// Shared pieces of the elementwise tests: tolerances, inputs and independent reference loops.
import assert from 'node:assert/strict';
import * as lt from '../../src/index.js';
import { rand64 } from '../helpers.js';

// ---- tolerances -------------------------------------------------------------------------------------
// gradcheck: with eps 1e-6 in float64 the central difference has truncation error O(eps^2 f''')
// ~ 1e-12 and rounding error ~ 1e-16 |L| / eps ~ 1e-9 for the |L| < 20 losses here, so atol 1e-6
// and rtol 1e-5 leave a wide margin, while a wrong rule (a wrong factor or sign) is off by O(1).
export const GRAD = { eps: 1e-6, atol: 1e-6, rtol: 1e-5 };
// float64 forwards run the same double arithmetic as the references, up to a few ulps for
// transcendental functions computed differently (erf, softplus, elu).
export const F64 = { atol: 1e-15, rtol: 1e-14 };
// float32 forwards: the result rounded to float32 is within half an ulp (6e-8 relative).
export const F32 = { atol: 1e-7, rtol: 2e-7 };

// ---- test-side helpers (no library internals) ---------------------------------------------------------
export const f64 = (v: lt.NestedArray) => lt.tensor(v, { dtype: 'float64' });
export const fromData = (data: ArrayLike<number>, shape: number[], dtype: lt.DType = 'float64') =>
  lt.tensor(Float64Array.from(data), { shape, dtype });
export const prod = (shape: readonly number[]) => shape.reduce((p, d) => p * d, 1);
export const values = (t: lt.Tensor) => Array.from(t.dataSync());

/** Random float64 values with |x| in [margin, margin + 1): away from the kink of abs/relu/sign at 0. */
export function awayFromZero(shape: number[], seed: number, margin = 0.1): lt.Tensor {
  const u = values(rand64(shape, seed));
  return fromData(u.map((v) => (v >= 0 ? margin + v : v - margin)), shape);
}

/** Random float64 values k + [0.15, 0.35) for integer k in [-3, 3): away from integers and halves (floor/ceil/round jumps). */
export function awayFromSteps(shape: number[], seed: number): lt.Tensor {
  const u = values(rand64(shape, seed, -3, 3));
  return fromData(u.map((v) => Math.floor(v) + 0.15 + 0.2 * (v - Math.floor(v))), shape);
}

export interface Dense { shape: readonly number[]; data: readonly number[] }

/**
 * numpy broadcasting, written out: the output shape aligns all shapes from the right, and
 * output element idx reads input element idx with size-1 (and missing leading) dims pinned to 0.
 */
export function broadcastRef(inputs: Dense[], f: (...xs: number[]) => number): { shape: number[]; data: number[] } {
  const n = Math.max(...inputs.map((x) => x.shape.length));
  const shape: number[] = [];
  for (let i = 0; i < n; i++) {
    const dims = inputs.map((x) => x.shape[x.shape.length - n + i] ?? 1);
    const big = Math.max(...dims);
    const out = dims.some((d) => d === 0) ? 0 : big;
    for (const d of dims) assert.ok(d === 1 || d === out, `reference: [${inputs.map((x) => `[${x.shape}]`)}] do not broadcast`);
    shape.push(out);
  }
  const data: number[] = [];
  const idx = new Array<number>(n).fill(0);
  for (let flat = 0; flat < prod(shape); flat++) {
    let rem = flat;
    for (let d = n - 1; d >= 0; d--) {
      idx[d] = rem % shape[d];
      rem = Math.floor(rem / shape[d]);
    }
    const args = inputs.map((x) => {
      const lead = n - x.shape.length;
      let off = 0;
      for (let d = 0; d < x.shape.length; d++) off = off * x.shape[d] + (x.shape[d] === 1 ? 0 : idx[lead + d]);
      return x.data[off];
    });
    data.push(f(...args));
  }
  return { shape, data };
}

export const dense = (t: lt.Tensor): Dense => ({ shape: t.shape, data: values(t) });

/** erf by composite Simpson on 2/sqrt(pi) exp(-t^2) over [0, x]: independent of the library's series and continued fraction. */
export function erfRef(x: number): number {
  if (x === 0) return x;
  const ax = Math.abs(x);
  const n = 20000; // h <= 3e-4: truncation error ~ x h^4 max|f''''| / 180 < 1e-14
  const h = ax / n;
  let s = 1 + Math.exp(-ax * ax);
  for (let i = 1; i < n; i++) {
    const t = i * h;
    s += (i % 2 === 1 ? 4 : 2) * Math.exp(-t * t);
  }
  return Math.sign(x) * (2 / Math.sqrt(Math.PI)) * (h / 3) * s;
}

export const GRID = [-800, -30, -5.5, -3, -2.5, -1, -0.5, -1e-8, -0, 0, 1e-8, 0.5, 1, 2.5, 3, 5.5, 30, 800];
export const POSITIVE = [1e-300, 1e-8, 0.25, 0.5, 1, 2, 100, 1e300];
