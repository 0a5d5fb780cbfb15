// Shared by the optimizer tests: parameters and gradient sequences from a seed, and a loop that
// feeds the gradients to an optimizer step by step (p.grad set directly, as backward would).
import * as lt from '../../src/index.js';

export type Float = 'float32' | 'float64';

/** A fixed pseudo-random sequence in [-1, 1): the same on every backend and run. */
export function values(n: number, seed: number): number[] {
  const g = lt.uniform([n], -1, 1, { dtype: 'float64', generator: new lt.Generator(seed) });
  return Array.from(g.dataSync());
}

/** grads[step][param] for `steps` steps and params of these sizes. */
export function gradSequence(sizes: number[], steps: number, seed: number): number[][][] {
  return Array.from({ length: steps }, (_, k) => sizes.map((n, i) => values(n, seed + 1000 * k + i)));
}

export function makeParams(init: number[][], dtype: Float): lt.Tensor[] {
  return init.map((v) => lt.tensor(v, { dtype, requiresGrad: true }));
}

/** Runs one optimizer step per entry of grads. */
export function train(opt: lt.optim.Optimizer, params: readonly lt.Tensor[], grads: number[][][]): void {
  for (const step of grads) {
    params.forEach((p, i) => (p.grad = lt.tensor(step[i], { dtype: p.dtype })));
    opt.step();
  }
}

export const tolerance = (dtype: Float) => (dtype === 'float64' ? { atol: 1e-13, rtol: 1e-12 } : { atol: 2e-6, rtol: 2e-5 });
