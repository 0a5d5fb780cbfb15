// Streaming accuracy, mean and error metrics against hand-counted values over several batches,
// with sample weights, resets, Keras' tie rules (argmax: first; in_top_k: in favour) and errors.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as lt from '../../src/index.js';
import { assertThrowsLathe, onEachBackend } from '../helpers.js';

const M = lt.metrics;
const t = (v: lt.NestedArray) => lt.tensor(v);
const i32 = (v: lt.NestedArray) => lt.tensor(v, { dtype: 'int32' });
const close = (a: number, b: number) => assert.ok(Math.abs(a - b) < 1e-12, `got ${a}, expected ${b}`);

onEachBackend('accuracy metrics', () => {
  const scores = () => t([[0.1, 0.6, 0.3], [0.5, 0.2, 0.3], [0.2, 0.2, 0.6]]); // argmax 1, 0, 2

  test('sparse categorical accuracy over batches, with [N,1] float labels, weights and reset', () => {
    const m = new M.SparseCategoricalAccuracy();
    assert.equal(m.name, 'sparse_categorical_accuracy');
    assert.equal(m.result(), 0); // before any batch, as Keras' divide_no_nan
    m.update(i32([1, 2, 2]), scores()); // 2 of 3
    close(m.result(), 2 / 3);
    m.update(t([[2], [1]]), t([[0.3, 0.3, 0.4], [0.9, 0.05, 0.05]])); // 1 of 2
    close(m.result(), 3 / 5);
    m.reset();
    assert.equal(m.result(), 0);
    m.update(i32([1, 2, 2]), scores(), t([1, 2, 0.5])); // rows 0 and 2 right
    close(m.result(), 1.5 / 3.5);
  });

  test('categorical accuracy from one-hot labels; argmax ties go to the first class, as tf.argmax', () => {
    const m = new M.CategoricalAccuracy();
    m.update(t([[0, 1, 0], [0, 0, 1], [0, 0, 1]]), scores());
    close(m.result(), 2 / 3);
    m.update(t([[0, 1], [1, 0]]), t([[0.5, 0.5], [0.5, 0.5]])); // tie: class 0 wins, so 1 of 2
    close(m.result(), 3 / 5);
    const s = new M.SparseCategoricalAccuracy();
    s.update(i32([0, 1, 1]), t([[NaN, 0.2], [0.3, NaN], [0.1, 0.2]])); // a NaN score never wins
    close(s.result(), 1 / 3);
  });

  test("binary accuracy: Keras' documented example, the strict threshold, per-example rows", () => {
    const m = new M.BinaryAccuracy();
    m.update(t([[1], [1], [0], [0]]), t([[0.98], [1], [0], [0.6]]));
    close(m.result(), 0.75);
    m.reset();
    m.update(t([[1], [1], [0], [0]]), t([[0.98], [1], [0], [0.6]]), t([1, 0, 0, 1]));
    close(m.result(), 0.5);
    m.reset();
    // 0.5 is not > 0.5; each row is averaged over its last axis before weighting
    m.update(t([[1, 0], [1, 1]]), t([[0.5, 0.2], [0.9, 0.7]]), t([3, 1]));
    close(m.result(), (3 * 0.5 + 1) / 4);
    const logits = new M.BinaryAccuracy({ threshold: 0 });
    logits.update(t([1, 0, 1]), t([0.1, -2, -0.1]));
    close(logits.result(), 2 / 3);
  });

  test('top-k: hits within k, ties at the boundary count for the true class (in_top_k)', () => {
    const k1 = new M.SparseTopKCategoricalAccuracy({ k: 1 });
    assert.equal(k1.name, 'sparse_top_k_categorical_accuracy');
    k1.update(i32([2, 1]), t([[0.1, 0.9, 0.8], [0.05, 0.95, 0]])); // Keras' documented example: 0.5
    close(k1.result(), 0.5);
    k1.reset();
    k1.update(i32([1]), t([[0.5, 0.5, 0.1]])); // argmax would say 0; in_top_k counts the tie
    close(k1.result(), 1);
    const k2 = new M.SparseTopKCategoricalAccuracy({ k: 2 });
    k2.update(i32([2, 0, 2, 3, 1]), t([[0.1, 0.9, 0.8, 0], [0.1, 0.9, 0.8, 0], [0.3, 0.3, 0.3, 0.1], [0.3, 0.3, 0.3, 0.1], [0, NaN, 1, 2]]));
    close(k2.result(), 2 / 5); // hit, miss (2 higher), hit (tie), miss (3 higher), miss (NaN)
    const d = new M.TopKCategoricalAccuracy();
    assert.equal(d.k, 5);
    d.update(t([[0, 0, 0, 0, 0, 1], [1, 0, 0, 0, 0, 0]]), t([[6, 5, 4, 3, 2, 1], [0, 1, 2, 3, 4, 5]])); // 5 higher: miss; 5 higher: miss
    d.update(t([[0, 0, 0, 0, 1, 0]]), t([[6, 5, 4, 3, 2, 1]])); // 4 higher: hit
    close(d.result(), 1 / 3);
  });

  test('mean squared and absolute error metrics: per-example means, weighted across batches', () => {
    const mse = new M.MeanSquaredError();
    const mae = new M.MeanAbsoluteError();
    assert.deepEqual([mse.name, mae.name], ['mean_squared_error', 'mean_absolute_error']);
    for (const m of [mse, mae]) {
      m.update(t([[0, 1], [2, 3]]), t([[1, 1], [0, 5]]), t([1, 3])); // errors [1, 0] and [-2, 2]
      m.update(t([[1, 1]]), t([[1, 1]]));
    }
    close(mse.result(), (0.5 + 3 * 4 + 0) / 5);
    close(mae.result(), (0.5 + 3 * 2 + 0) / 5);
    mse.reset();
    mse.update(t([1, 2]), t([[2], [2]])); // [N] labels against [N,1] predictions
    close(mse.result(), 0.5);
  });

  test('Mean: numbers weighted by batch size, tensors, per-value weights', () => {
    const m = new M.Mean('loss');
    m.update(2);
    m.update(4, 3);
    close(m.result(), (2 + 12) / 4);
    m.update(t([1, 2, 3]));
    close(m.result(), 20 / 7);
    m.update(t([10, 20]), t([0, 0.5]));
    close(m.result(), 30 / 7.5);
    m.reset();
    assert.equal(m.result(), 0);
    assertThrowsLathe(() => m.update(t([1, 2]), t([1, 2, 3])), /^loss: sampleWeight \[3\] must hold one weight per example \(2\)$/);
  });

  test('errors name the metric, the shapes and the bad value', () => {
    const s = new M.SparseCategoricalAccuracy();
    assertThrowsLathe(() => s.update(t([[0, 1, 0]]), t([[0.1, 0.8, 0.1]])), /^sparse_categorical_accuracy: yTrue \[1,3\] does not fit yPred \[1,3\]: expected shape \[1\] or \[1,1\] \(class indices\)$/);
    assertThrowsLathe(() => s.update(i32([0, 3]), t([[1, 0, 0], [0, 1, 0]])), /yTrue\[1\] = 3 is not a class index in \[0, 3\)/);
    assertThrowsLathe(() => s.update(t([0.5]), t([[1, 0]])), /yTrue\[0\] = 0.5 is not a class index/);
    assertThrowsLathe(() => s.update(i32([0]), t([1, 0])), /yPred must be \[batch, classes\] scores, got \[2\]/);
    assertThrowsLathe(() => s.update(i32([0, 1]), t([[1, 0], [0, 1]]), t([1])), /sampleWeight \[1\] must hold one weight per example \(2\)/);
    assertThrowsLathe(() => new M.CategoricalAccuracy().update(i32([0]), t([[1, 0]])), /expected shape \[1,2\] \(one-hot\)/);
    assertThrowsLathe(() => new M.BinaryAccuracy().update(t([1, 0]), t([[1, 0]])), /^binary_accuracy: yTrue \[2\] and yPred \[1,2\] must have the same shape$/);
    assertThrowsLathe(() => new M.SparseTopKCategoricalAccuracy({ k: 0 }), /k must be a positive integer, got 0/);
    assertThrowsLathe(() => new M.BinaryAccuracy({ threshold: NaN }), /threshold must be a finite number, got NaN/);
    // a rejected batch leaves the running totals alone
    s.update(i32([0]), t([[1, 0]]));
    close(s.result(), 1);
  });
});
