// Train/test splits like scikit-learn's train_test_split: seeded and deterministic, and when
// stratified every class keeps its share of the rows in both parts.
import { fail, fmtShape } from '../errors.js';
import { indexSelect } from '../ops/functions.js';
import { fromArray } from '../tensor/create.js';
import { Generator, defaultGenerator } from '../tensor/random.js';
import { Tensor } from '../tensor/tensor.js';

export interface SplitOptions {
  /** The test part: a fraction in (0, 1) of the rows (rounded up) or a count. Default 0.25, or what trainSize leaves. */
  testSize?: number;
  /** The train part: a fraction (rounded down) or a count. Default: every row not in the test part. */
  trainSize?: number;
  /** Seeds the shuffle; drawn from the default generator when not given (lt.manualSeed fixes it). */
  seed?: number;
  /** Shuffle before splitting (default true); false takes the train rows first and the test rows after them. */
  shuffle?: boolean;
  /** Keep class proportions: true uses y as the class labels; or pass the labels. */
  stratify?: boolean | Tensor | ArrayLike<number>;
}

const WHERE = 'trainTestSplit';

/** A fraction in (0, 1) or a whole count in [1, n-1], as a count of rows. */
function partSize(name: string, v: number, n: number, roundUp: boolean): number {
  if (typeof v === 'number' && v > 0 && v < 1) return roundUp ? Math.ceil(v * n) : Math.floor(v * n);
  if (Number.isInteger(v) && v >= 1 && v < n) return v;
  fail(WHERE, `${name} must be a fraction in (0, 1) or a whole number of rows in [1, ${n - 1}], got ${v}`);
}

function sizes(n: number, o: SplitOptions): [number, number] {
  if (!Number.isInteger(n) || n < 2) fail(WHERE, `need at least 2 rows to split, got ${n}`);
  const nTest = o.testSize !== undefined ? partSize('testSize', o.testSize, n, true) : o.trainSize === undefined ? Math.ceil(0.25 * n) : -1;
  const nTrain = o.trainSize !== undefined ? partSize('trainSize', o.trainSize, n, false) : n - nTest;
  const test = nTest < 0 ? n - nTrain : nTest;
  if (nTrain + test > n) fail(WHERE, `trainSize ${o.trainSize} and testSize ${o.testSize} ask for ${nTrain} + ${test} rows, but there are ${n}`);
  if (nTrain === 0) fail(WHERE, `the train part would be empty (${n} rows, test part ${test})`);
  if (test === 0) fail(WHERE, `the test part would be empty (${n} rows, testSize ${o.testSize})`);
  return [nTrain, test];
}


/**
 * Splits k rows among classes in proportion to `counts` (Hamilton's largest-remainder method,
 * in integers so rounding cannot move a row): floor(count * k / total) each, then one more to
 * the classes with the largest remainders, ties to the larger class, then the earlier one.
 */
function apportion(counts: readonly number[], k: number): number[] {
  const total = counts.reduce((s, c) => s + c, 0);
  const share = counts.map((c) => Math.floor((c * k) / total));
  const order = counts.map((_, i) => i).sort((i, j) => ((counts[j] * k) % total) - ((counts[i] * k) % total) || counts[j] - counts[i] || i - j);
  for (let left = k - share.reduce((s, c) => s + c, 0), t = 0; left > 0; left--, t++) share[order[t]]++;
  return share;
}

function stratified(labels: ArrayLike<number>, nTrain: number, nTest: number, g: Generator): { train: Int32Array; test: Int32Array } {
  const byClass = new Map<number, number[]>();
  for (let i = 0; i < labels.length; i++) {
    const members = byClass.get(labels[i]);
    if (members) members.push(i);
    else byClass.set(labels[i], [i]);
  }
  const classes = [...byClass.keys()].sort((a, b) => a - b);
  const counts = classes.map((c) => byClass.get(c)!.length);
  const smallest = classes[counts.indexOf(Math.min(...counts))];
  if (Math.min(...counts) < 2) fail(WHERE, `stratify: class ${smallest} has only 1 row; each class needs at least 2 to appear on both sides`);
  if (nTest < classes.length) fail(WHERE, `stratify: the test part (${nTest} rows) must hold at least one row of each of the ${classes.length} classes`);
  if (nTrain < classes.length) fail(WHERE, `stratify: the train part (${nTrain} rows) must hold at least one row of each of the ${classes.length} classes`);
  const testShare = apportion(counts, nTest);
  const trainShare = apportion(counts.map((c, i) => c - testShare[i]), nTrain);
  const train: number[] = [];
  const test: number[] = [];
  classes.forEach((c, i) => {
    const members = g.shuffle(Int32Array.from(byClass.get(c)!));
    for (let k = 0; k < testShare[i] + trainShare[i]; k++) (k < testShare[i] ? test : train).push(members[k]);
  });
  // Mix the classes, so that neither part comes sorted by class.
  return { train: g.shuffle(Int32Array.from(train)), test: g.shuffle(Int32Array.from(test)) };
}

/** The row numbers of each part, for callers that split something other than tensors. */
export function trainTestSplitIndices(n: number, options: Omit<SplitOptions, 'stratify'> & { stratify?: ArrayLike<number> } = {}): { train: Int32Array; test: Int32Array } {
  const [nTrain, nTest] = sizes(n, options);
  const shuffle = options.shuffle ?? true;
  const seed = options.seed ?? defaultGenerator.nextUint32();
  if (!Number.isSafeInteger(seed) || seed < 0) fail(WHERE, `seed must be a non-negative integer, got ${seed}`);
  const g = new Generator(seed);
  if (options.stratify) {
    if (!shuffle) fail(WHERE, 'stratify needs shuffle: a stratified split picks rows at random within each class');
    if (options.stratify.length !== n) fail(WHERE, `stratify has ${options.stratify.length} labels for ${n} rows`);
    return stratified(options.stratify, nTrain, nTest, g);
  }
  const order = Int32Array.from({ length: n }, (_, i) => i);
  // scikit-learn's layout: shuffled, the test rows first; unshuffled, the train rows first.
  if (shuffle) return { test: g.shuffle(order).slice(0, nTest), train: order.slice(nTest, nTest + nTrain) };
  return { train: order.slice(0, nTrain), test: order.slice(nTrain, nTrain + nTest) };
}

/** Class labels from a tensor: one per row, so [n] or [n, 1]. */
function labelsOf(what: string, t: Tensor, n: number): ArrayLike<number> {
  if (!(t.rank === 1 || (t.rank === 2 && t.shape[1] === 1)) || t.shape[0] !== n) {
    fail(WHERE, `stratify: ${what} must hold one class label per row, shape [${n}] or [${n},1], got ${fmtShape(t.shape)}`);
  }
  return t.dataSync();
}

/**
 * Splits x and y by rows into [xTrain, xTest, yTrain, yTest], like scikit-learn's
 * train_test_split. Rows are gathered with indexSelect, so dtypes are kept (uint8 stays uint8).
 */
export function trainTestSplit(x: Tensor, y: Tensor, options: SplitOptions = {}): [Tensor, Tensor, Tensor, Tensor] {
  for (const [name, t] of [['x', x], ['y', y]] as const) {
    if (!(t instanceof Tensor)) fail(WHERE, `${name} must be a tensor, got ${t === null ? 'null' : typeof t}`);
    if (t.rank === 0) fail(WHERE, `${name} must have a row axis, got a scalar`);
  }
  const n = x.shape[0];
  if (y.shape[0] !== n) fail(WHERE, `x and y must have the same number of rows, got x ${fmtShape(x.shape)} and y ${fmtShape(y.shape)}`);
  const s = options.stratify;
  let labels: ArrayLike<number> | undefined;
  if (s === true) labels = labelsOf('y', y, n);
  else if (s instanceof Tensor) labels = labelsOf('the labels', s, n);
  else if (s) labels = s;
  const { train, test } = trainTestSplitIndices(n, { ...options, stratify: labels });
  const pick = (t: Tensor, rows: Int32Array) => indexSelect(t, 0, fromArray(rows, [rows.length], { dtype: 'int32', backend: t.backend }, WHERE));
  return [pick(x, train), pick(x, test), pick(y, train), pick(y, test)];
}
