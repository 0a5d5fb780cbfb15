// trainTestSplit (issue 5): sizes as scikit-learn computes them, a partition of the rows with x
// and y kept together, determinism per seed, stratified class proportions, and the errors.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import * as lt from '../../src/index.js';
import { assertThrowsLathe } from '../helpers.js';

const { trainTestSplit, trainTestSplitIndices } = lt.data;

/** x row i is [i, -i] (uint8 would lose -i, so int32), y row i is i % classes: a row's identity can be read back from both. */
function rowsOf(n: number, classes = 3): { x: lt.Tensor; y: lt.Tensor } {
  const x = lt.tensor(Int32Array.from({ length: 2 * n }, (_, k) => (k % 2 ? -1 : 1) * (k >> 1)), { shape: [n, 2] });
  const y = lt.tensor(Int32Array.from({ length: n }, (_, i) => i % classes));
  return { x, y };
}

const ids = (x: lt.Tensor) => Array.from(x.dataSync()).filter((_, k) => k % 2 === 0);
const count = (labels: ArrayLike<number>, c: number) => Array.from(labels).filter((v) => v === c).length;

describe('trainTestSplit', () => {
  test('sizes: a fraction of the test rows rounds up, of the train rows down; counts are taken as given', () => {
    const cases: [Parameters<typeof trainTestSplitIndices>[1], number, number][] = [
      [{}, 75, 25],
      [{ testSize: 0.2 }, 80, 20],
      [{ testSize: 0.333 }, 66, 34],
      [{ testSize: 10 }, 90, 10],
      [{ trainSize: 0.333 }, 33, 67],
      [{ trainSize: 60, testSize: 15 }, 60, 15],
    ];
    for (const [o, nTrain, nTest] of cases) {
      const { train, test } = trainTestSplitIndices(100, { ...o, seed: 1 });
      assert.deepEqual([train.length, test.length], [nTrain, nTest], JSON.stringify(o));
    }
  });

  test('the parts are disjoint, cover the rows, and keep each x row with its y row; dtypes are kept', () => {
    const { x, y } = rowsOf(50);
    const [xTrain, xTest, yTrain, yTest] = trainTestSplit(x, y, { testSize: 0.3, seed: 4 });
    assert.deepEqual([xTrain.shape, xTest.shape, yTrain.shape, yTest.shape], [[35, 2], [15, 2], [35], [15]]);
    assert.deepEqual([xTrain.dtype, yTest.dtype], ['int32', 'int32']);
    const all = [...ids(xTrain), ...ids(xTest)].sort((a, b) => a - b);
    assert.deepEqual(all, Array.from({ length: 50 }, (_, i) => i));
    assert.deepEqual(Array.from(yTrain.dataSync()), ids(xTrain).map((i) => i % 3));
    assert.deepEqual(Array.from(yTest.dataSync()), ids(xTest).map((i) => i % 3));
    const xs = xTrain.dataSync();
    for (let r = 0; r < 35; r++) assert.equal(xs[2 * r + 1] + xs[2 * r], 0, 'both columns of a row travel together');
    const [u8] = trainTestSplit(lt.zeros([10, 3], { dtype: 'uint8' }), y.narrow(0, 0, 10), { seed: 1 });
    assert.equal(u8.dtype, 'uint8');
  });

  test('a seed fixes the split; another seed gives another; shuffle: false takes the train rows first', () => {
    const a = trainTestSplitIndices(40, { seed: 7 });
    assert.deepEqual(trainTestSplitIndices(40, { seed: 7 }), a);
    assert.notDeepEqual(trainTestSplitIndices(40, { seed: 8 }).test, a.test);
    assert.notDeepEqual(Array.from(a.train), Array.from(a.train).sort((p, q) => p - q), 'shuffled');
    lt.manualSeed(3);
    const b = trainTestSplitIndices(40);
    lt.manualSeed(3);
    assert.deepEqual(trainTestSplitIndices(40), b, 'without a seed, lt.manualSeed fixes it');
    const ordered = trainTestSplitIndices(10, { shuffle: false, testSize: 3 });
    assert.deepEqual([Array.from(ordered.train), Array.from(ordered.test)], [[0, 1, 2, 3, 4, 5, 6], [7, 8, 9]]);
  });

  test('stratify keeps each class share within one row on both sides, for many seeds and sizes', () => {
    // 60 / 30 / 9 rows of classes 0, 1, 2 (99 rows), in a scrambled order
    const labels = Int32Array.from({ length: 99 }, (_, i) => ((i * 37) % 99 < 60 ? 0 : (i * 37) % 99 < 90 ? 1 : 2));
    const counts = [0, 1, 2].map((c) => count(labels, c));
    assert.deepEqual(counts, [60, 30, 9]);
    const x = lt.arange(0, 99).reshape([99, 1]);
    const y = lt.tensor(labels);
    for (const testSize of [0.2, 0.25, 0.5, 7]) {
      for (let seed = 0; seed < 5; seed++) {
        const [, xTest, yTrain, yTest] = trainTestSplit(x, y, { testSize, seed, stratify: true });
        const nTest = yTest.size;
        [0, 1, 2].forEach((c, k) => {
          const want = (counts[k] * nTest) / 99;
          assert.ok(Math.abs(count(yTest.dataSync(), c) - want) < 1, `testSize ${testSize} seed ${seed}: class ${c} has ${count(yTest.dataSync(), c)} test rows, want ~${want}`);
          assert.equal(count(yTrain.dataSync(), c) + count(yTest.dataSync(), c), counts[k]);
        });
        // the labels are the rows' own: the test part's x ids carry the labels in yTest
        assert.deepEqual(Array.from(xTest.dataSync(), (i) => labels[i]), Array.from(yTest.dataSync()));
      }
    }
  });

  test('stratified parts are mixed, not sorted by class, and exact for a 10% test part of 10 balanced classes', () => {
    const y = lt.tensor(Int32Array.from({ length: 100 }, (_, i) => i % 10));
    const [, , yTrain, yTest] = trainTestSplit(lt.zeros([100, 1]), y, { testSize: 0.1, seed: 2, stratify: true });
    const [train, test_] = [Array.from(yTrain.dataSync()), Array.from(yTest.dataSync())];
    assert.deepEqual([...test_].sort((a, b) => a - b), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    assert.notDeepEqual(train, [...train].sort((a, b) => a - b));
    assert.notDeepEqual(test_, [...test_].sort((a, b) => a - b));
    const plain = trainTestSplit(lt.zeros([100, 1]), y, { testSize: 0.1, seed: 2 })[3];
    assert.notDeepEqual(Array.from(plain.dataSync()).sort((a, b) => a - b), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], 'without stratify some class is missing or doubled (seed 2)');
  });

  test('stratify accepts separate labels: a tensor or an array', () => {
    const { x, y } = rowsOf(30);
    const labels = Int32Array.from({ length: 30 }, (_, i) => (i < 20 ? 0 : 1));
    for (const stratify of [labels, lt.tensor(labels)]) {
      const [xTrain, xTest] = trainTestSplit(x, y, { testSize: 0.3, seed: 1, stratify });
      assert.deepEqual([count(ids(xTest).map((i) => labels[i]), 0), count(ids(xTest).map((i) => labels[i]), 1)], [6, 3]);
      assert.equal(xTrain.shape[0], 21);
    }
  });

  test('errors say what is wrong', () => {
    const { x, y } = rowsOf(10);
    assertThrowsLathe(() => trainTestSplit(x, y, { testSize: 0 }), /trainTestSplit: testSize must be a fraction in \(0, 1\) or a whole number of rows in \[1, 9\], got 0/);
    assertThrowsLathe(() => trainTestSplit(x, y, { testSize: 1 - 1e-9 }), /trainTestSplit: the train part would be empty/);
    assertThrowsLathe(() => trainTestSplit(x, y, { testSize: 10 }), /testSize must be .* got 10/);
    assertThrowsLathe(() => trainTestSplit(x, y, { testSize: 1.5 }), /testSize must be .* got 1.5/);
    assertThrowsLathe(() => trainTestSplit(x, y, { trainSize: 0.05 }), /trainSize must be .* got 0.05|the train part would be empty/);
    assertThrowsLathe(() => trainTestSplit(x, y, { trainSize: 8, testSize: 5 }), /trainSize 8 and testSize 5 ask for 8 \+ 5 rows, but there are 10/);
    assertThrowsLathe(() => trainTestSplit(x, y.narrow(0, 0, 9), {}), /trainTestSplit: x and y must have the same number of rows, got x \[10,2\] and y \[9\]/);
    assertThrowsLathe(() => trainTestSplit(x.narrow(0, 0, 1), y.narrow(0, 0, 1)), /need at least 2 rows to split, got 1/);
    assertThrowsLathe(() => trainTestSplit(x, y, { seed: 1.5 }), /seed must be a non-negative integer, got 1.5/);
    assertThrowsLathe(() => trainTestSplit(x, lt.zeros([10, 2]), { stratify: true }), /stratify: y must hold one class label per row, shape \[10\] or \[10,1\], got \[10,2\]/);
    const lonely = lt.tensor(Int32Array.of(0, 0, 0, 1, 1, 1, 2, 2, 2, 3));
    assertThrowsLathe(() => trainTestSplit(x, lonely, { stratify: true }), /stratify: class 3 has only 1 row/);
    assertThrowsLathe(() => trainTestSplit(x, y, { stratify: true, testSize: 2 }), /stratify: the test part \(2 rows\) must hold at least one row of each of the 3 classes/);
    assertThrowsLathe(() => trainTestSplit(x, y, { stratify: true, shuffle: false }), /stratify needs shuffle/);
    assertThrowsLathe(() => trainTestSplitIndices(10, { stratify: [0, 1] }), /stratify has 2 labels for 10 rows/);
  });
});
