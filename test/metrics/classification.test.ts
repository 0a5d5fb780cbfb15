// Precision, recall, F1 and the confusion matrix against hand counts: macro averages with a
// class absent from a batch set, binary thresholds, weights, and the errors.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as lt from '../../src/index.js';
import { assertThrowsLathe, onEachBackend } from '../helpers.js';

const M = lt.metrics;
const t = (v: lt.NestedArray) => lt.tensor(v);
const i32 = (v: lt.NestedArray) => lt.tensor(v, { dtype: 'int32' });
const close = (a: number, b: number) => assert.ok(Math.abs(a - b) < 1e-12, `got ${a}, expected ${b}`);

onEachBackend('classification metrics', () => {
  // (true, predicted) pairs over 4 classes: (0,0) (0,1) (1,1) (1,0) | (2,1) (0,0); class 3 never occurs.
  // class 0: tp 2, fp 1, fn 1; class 1: tp 1, fp 2, fn 1; class 2: tp 0, fp 0, fn 1.
  const feed = (m: lt.metrics.Metric) => {
    m.update(i32([0, 0, 1, 1]), t([[0.7, 0.1, 0.1, 0.1], [0.2, 0.5, 0.2, 0.1], [0.1, 0.8, 0.05, 0.05], [0.4, 0.3, 0.2, 0.1]]));
    m.update(t([[0, 0, 1, 0], [1, 0, 0, 0]]), t([[0.3, 0.4, 0.2, 0.1], [0.6, 0.2, 0.1, 0.1]])); // one-hot labels too
  };

  test('macro precision, recall and F1 leave out a class absent from labels and predictions', () => {
    const [p, r, f] = [new M.Precision(), new M.Recall(), new M.F1Score()];
    for (const m of [p, r, f]) feed(m);
    // class 2 is in yTrue but never predicted: its precision is undefined and counts 0 (sklearn);
    // class 3 appears nowhere and is not averaged (counting it would give 1/4, 7/24, 4/15)
    close(p.result(), (2 / 3 + 1 / 3 + 0) / 3);
    close(r.result(), (2 / 3 + 1 / 2 + 0) / 3);
    close(f.result(), (2 / 3 + 2 / 5 + 0) / 3); // per class 2tp / (2tp + fp + fn), then the mean
    assert.deepEqual([p.name, r.name, f.name], ['precision', 'recall', 'f1_score']);
    p.reset();
    assert.equal(p.result(), 0);
    p.update(i32([1, 1]), t([[0, 1], [0, 1]]));
    close(p.result(), 1);
  });

  test('a single output is binary: positive class only, strict threshold, weights', () => {
    const yTrue = () => t([1, 0, 1, 1, 0]);
    const yPred = () => t([[0.9], [0.6], [0.4], [0.5], [0.1]]); // predicted [1, 1, 0, 0, 0]: tp 1, fp 1, fn 2
    const [p, r, f] = [new M.Precision(), new M.Recall(), new M.F1Score()];
    for (const m of [p, r, f]) m.update(yTrue(), yPred());
    close(p.result(), 1 / 2);
    close(r.result(), 1 / 3);
    close(f.result(), 2 / 5);
    const low = new M.Precision({ threshold: 0.35 }); // predicted [1, 1, 1, 1, 0]: tp 3, fp 1
    low.update(yTrue(), yPred());
    close(low.result(), 3 / 4);
    const weighted = new M.Recall();
    weighted.update(yTrue(), yPred(), t([2, 1, 1, 1, 1])); // tp 2, fn 2
    close(weighted.result(), 1 / 2);
    const none = new M.Precision(); // nothing predicted positive: 0, not NaN
    none.update(t([1, 0]), t([0.1, 0.2]));
    assert.equal(none.result(), 0);
  });

  test('confusion matrix: rows true, columns predicted, across batches', () => {
    const m = new M.ConfusionMatrix(4);
    assert.equal(m.name, 'confusion_matrix');
    feed(m);
    assert.deepEqual(m.result(), [[2, 1, 0, 0], [1, 1, 0, 0], [0, 1, 0, 0], [0, 0, 0, 0]]);
    m.reset();
    assert.deepEqual(m.result(), [[0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]]);
    const b = new M.ConfusionMatrix(); // binary: 2 classes from a single output
    b.update(t([1, 0, 1, 1, 0]), t([[0.9], [0.6], [0.4], [0.5], [0.1]]), t([1, 1, 1, 2, 1]));
    assert.deepEqual(b.result(), [[1, 1], [3, 1]]);
  });

  test('errors: class counts, layout changes and labels', () => {
    assertThrowsLathe(() => new M.ConfusionMatrix(3).update(i32([0]), t([[1, 0, 0, 0]])), /^confusion_matrix: yPred \[1,4\] has 4 classes, expected 3$/);
    assertThrowsLathe(() => new M.ConfusionMatrix(3).update(t([1]), t([[0.7]])), /single-output predictions \[1,1\] make 2 classes, expected 3/);
    assertThrowsLathe(() => new M.ConfusionMatrix(1), /numClasses must be an integer >= 2, got 1/);
    const p = new M.Precision();
    p.update(t([1]), t([0.7]));
    assertThrowsLathe(() => p.update(i32([0]), t([[0.2, 0.8]])), /^precision: yPred \[1,2\] switches between single-output and multi-class predictions since the last reset$/);
    const r = new M.Recall();
    r.update(i32([0]), t([[0.2, 0.8]]));
    assertThrowsLathe(() => r.update(i32([0]), t([[0.2, 0.7, 0.1]])), /^recall: yPred \[1,3\] has 3 classes, expected 2$/);
    assertThrowsLathe(() => r.update(i32([2]), t([[0.2, 0.8]])), /yTrue\[0\] = 2 is not a class index in \[0, 2\)/);
    assertThrowsLathe(() => r.update(i32([0, 1, 1]), t([[0.2, 0.8]])), /yTrue \[3\] does not fit yPred \[1,2\]: expected shape \[1\] \(class indices\) or \[1,2\] \(one-hot\)/);
    close(r.result(), 0); // only the first batch counted: class 0 missed
  });
});
