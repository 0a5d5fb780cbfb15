// Shared test tools: run a suite on every backend, compare tensors with stated tolerances, and
// check gradients against central finite differences in float64.
import assert from 'node:assert/strict';
import { describe, before, after } from 'node:test';
import * as lt from '../src/index.js';

/** Runs `suite` once per registered backend, with that backend as the default for new tensors. */
export function onEachBackend(title: string, suite: (backend: string) => void): void {
  for (const name of lt.listBackends()) {
    describe(`${title} [${name}]`, () => {
      let prev: string;
      before(() => {
        prev = lt.getBackend().name;
        lt.setBackend(name);
      });
      after(() => {
        lt.setBackend(prev);
      });
      suite(name);
    });
  }
}

type Values = lt.Tensor | lt.NestedArray | ArrayLike<number>;

function flatten(v: Values): { shape: number[] | null; data: number[] } {
  if (v instanceof lt.Tensor) return { shape: [...v.shape], data: Array.from(v.dataSync()) };
  if (typeof v === 'number' || typeof v === 'boolean') return { shape: null, data: [Number(v)] };
  if (Array.isArray(v)) {
    const t = lt.tensor(v as lt.NestedArray, { dtype: 'float64' });
    return { shape: [...t.shape], data: Array.from(t.dataSync()) };
  }
  return { shape: null, data: Array.from(v as ArrayLike<number>) };
}

/** Asserts |actual - expected| <= atol + rtol |expected| elementwise (NaN matches NaN), and equal shapes when both have one. */
export function assertClose(actual: Values, expected: Values, tol: { atol?: number; rtol?: number } = {}, message = ''): void {
  const { atol = 1e-6, rtol = 1e-5 } = tol;
  const a = flatten(actual);
  const e = flatten(expected);
  if (a.shape && e.shape && Array.isArray(expected)) {
    // nested-array expectations carry their shape; compare it when the actual is a tensor
    if (actual instanceof lt.Tensor) assert.deepEqual(a.shape, e.shape, `${message} shape`);
  } else if (a.shape && e.shape) {
    assert.deepEqual(a.shape, e.shape, `${message} shape`);
  }
  assert.equal(a.data.length, e.data.length, `${message} element count`);
  for (let i = 0; i < a.data.length; i++) {
    const x = a.data[i];
    const y = e.data[i];
    if (Number.isNaN(y) && Number.isNaN(x)) continue;
    if (x === y) continue; // also covers matching infinities
    const ok = Math.abs(x - y) <= atol + rtol * Math.abs(y);
    assert.ok(ok, `${message} element ${i}: got ${x}, expected ${y} (atol ${atol}, rtol ${rtol})`);
  }
}

/** float64 tensor with values drawn from a seeded generator, uniform in [low, high). */
export function rand64(shape: number[], seed: number, low = -1, high = 1): lt.Tensor {
  return lt.uniform(shape, low, high, { dtype: 'float64', generator: new lt.Generator(seed) });
}

export interface GradcheckOptions {
  /** Finite-difference step. */
  eps?: number;
  atol?: number;
  rtol?: number;
  /** Which inputs to check (default: all float ones). */
  wrt?: number[];
}

/**
 * Compares the gradients backward() computes for L = sum(f(inputs) * W), W a fixed random
 * weighting (so non-scalar outputs are covered), with central differences
 * (L(x + eps) - L(x - eps)) / 2eps. Inputs must be float64 so that the differences are exact
 * enough: with eps 1e-6 the truncation error is O(eps^2) and rounding about 1e-10.
 */
export function gradcheck(f: (...xs: lt.Tensor[]) => lt.Tensor, inputs: lt.Tensor[], options: GradcheckOptions = {}): void {
  const { eps = 1e-6, atol = 1e-6, rtol = 1e-4 } = options;
  const wrt = options.wrt ?? inputs.flatMap((x, i) => (x.dtype === 'float64' ? [i] : []));
  for (const i of wrt) assert.equal(inputs[i].dtype, 'float64', `gradcheck: input ${i} must be float64`);
  const leaves = inputs.map((x, i) => (wrt.includes(i) ? x.detach().requireGrad() : x));
  const out = f(...leaves);
  const weights = rand64([...out.shape], 12345, 0.5, 1.5);
  out.mul(weights).sum().backward();
  const loss = (xs: lt.Tensor[]) => lt.noGrad(() => f(...xs).mul(weights).sum().item());
  for (const i of wrt) {
    const analytic = leaves[i].grad;
    assert.ok(analytic, `gradcheck: input ${i} received no gradient`);
    const a = analytic.dataSync();
    const base = inputs[i].dataSync() as Float64Array;
    for (let k = 0; k < base.length; k++) {
      const probe = (delta: number) => {
        const moved = Float64Array.from(base);
        moved[k] += delta;
        const xs = inputs.map((x, j) => (j === i ? lt.tensor(moved, { shape: [...x.shape], dtype: 'float64' }) : x));
        return loss(xs);
      };
      const numeric = (probe(eps) - probe(-eps)) / (2 * eps);
      const ok = Math.abs(a[k] - numeric) <= atol + rtol * Math.abs(numeric);
      assert.ok(ok, `gradcheck: input ${i} [${inputs[i].shape}], element ${k}: backward gave ${a[k]}, finite differences ${numeric} (atol ${atol}, rtol ${rtol})`);
    }
  }
}

/** Asserts that fn throws a LatheError whose message matches `pattern`. */
export function assertThrowsLathe(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof lt.LatheError, `expected a LatheError, got ${e}`);
    assert.match(e.message, pattern);
    return true;
  });
}

/** Asserts that the promise fn returns rejects with a LatheError whose message matches. */
export async function assertRejectsLathe(fn: () => Promise<unknown>, pattern: RegExp): Promise<void> {
  await assert.rejects(fn, (e: unknown) => {
    assert.ok(e instanceof lt.LatheError, `expected a LatheError, got ${String(e)}`);
    assert.match((e as Error).message, pattern);
    return true;
  });
}
