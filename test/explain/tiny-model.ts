// A tiny float64 classifier (4 inputs, 5 tanh units, 3 softmax outputs) and the same function
// written out in plain JavaScript, so attributions can be checked against finite differences
// of an independent implementation.
import * as lt from '../../src/index.js';

export interface TinyModel {
  model: lt.Sequential;
  /** The logits of one example, computed in plain float64 JavaScript from the model's weights. */
  logits(x: readonly number[]): number[];
  /** The softmax probabilities of one example, likewise. */
  probabilities(x: readonly number[]): number[];
}

export function tinyModel(seed = 3, options: { rescale?: number } = {}): TinyModel {
  lt.manualSeed(seed);
  const { Dense, Rescaling } = lt.layers;
  const layers = [
    ...(options.rescale !== undefined ? [new Rescaling(options.rescale, 0, { inputShape: [4] })] : []),
    new Dense(5, { activation: 'tanh', dtype: 'float64', ...(options.rescale === undefined ? { inputShape: [4] } : {}) }),
    new Dense(3, { activation: 'softmax', dtype: 'float64' }),
  ];
  const model = new lt.Sequential(layers);
  const p = Object.fromEntries(model.namedParameters().map(([k, v]) => [k, Array.from(v.dataSync() as Float64Array)]));
  const names = Object.keys(p);
  const [w1, b1, w2, b2] = names.map((k) => p[k]);
  const scale = options.rescale ?? 1;
  const logits = (x: readonly number[]) => {
    const h = Array.from({ length: 5 }, (_, j) => Math.tanh(b1[j] + x.reduce((s, xi, i) => s + xi * scale * w1[i * 5 + j], 0)));
    return Array.from({ length: 3 }, (_, k) => b2[k] + h.reduce((s, hj, j) => s + hj * w2[j * 3 + k], 0));
  };
  const probabilities = (x: readonly number[]) => {
    const z = logits(x);
    const m = Math.max(...z);
    const e = z.map((v) => Math.exp(v - m));
    const total = e.reduce((a, b) => a + b, 0);
    return e.map((v) => v / total);
  };
  return { model, logits, probabilities };
}

/** Central differences of f at x, one partial derivative per feature. */
export function finiteDifferences(f: (x: number[]) => number, x: readonly number[], eps = 1e-6): number[] {
  return x.map((_, i) => {
    const up = [...x];
    const down = [...x];
    up[i] += eps;
    down[i] -= eps;
    return (f(up) - f(down)) / (2 * eps);
  });
}

export const TINY_X = [
  [0.5, -1.2, 0.3, 2.0],
  [-0.7, 0.4, 1.5, -0.2],
  [1.1, 0.9, -0.8, 0.6],
];
