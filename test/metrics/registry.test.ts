// getMetric: 'accuracy' resolved from the loss as Keras does (else from the first batch's
// shapes, Keras 3's rule), Keras' metric names, and errors that list the known names.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as lt from '../../src/index.js';
import { assertThrowsLathe, onEachBackend } from '../helpers.js';

const M = lt.metrics;
const t = (v: lt.NestedArray) => lt.tensor(v);
const i32 = (v: lt.NestedArray) => lt.tensor(v, { dtype: 'int32' });

test("'accuracy' and 'acc' follow the loss and keep the name they were asked by", () => {
  const cases: [unknown, new (...a: never[]) => lt.metrics.Metric][] = [
    ['sparse_categorical_crossentropy', M.SparseCategoricalAccuracy],
    ['sparseCategoricalCrossentropy', M.SparseCategoricalAccuracy],
    ['categorical_crossentropy', M.CategoricalAccuracy],
    ['binary_crossentropy', M.BinaryAccuracy],
    [{ type: 'sparseCategoricalCrossentropy', fromLogits: true }, M.SparseCategoricalAccuracy],
    [lt.losses.getLoss('categoricalCrossentropy'), M.CategoricalAccuracy],
  ];
  for (const [loss, cls] of cases) {
    for (const name of ['accuracy', 'acc']) {
      const m = M.getMetric(name, { loss: loss as string });
      assert.ok(m instanceof cls, `${name} with ${JSON.stringify(loss)}: got ${m.constructor.name}`);
      assert.equal(m.name, name);
    }
  }
  // for logits, 0 is the cut that p > 0.5 is for probabilities
  const threshold = (loss: unknown) => (M.getMetric('accuracy', { loss: loss as string }) as lt.metrics.BinaryAccuracy).threshold;
  assert.equal(threshold('bce'), 0.5);
  assert.equal(threshold({ type: 'binaryCrossentropy', fromLogits: true }), 0);
  assert.equal(threshold(lt.losses.getLoss('binary_crossentropy', { fromLogits: true })), 0);
  const topK = M.getMetric('top_k', { loss: 'sparse_categorical_crossentropy' });
  assert.ok(topK instanceof M.SparseTopKCategoricalAccuracy && topK.k === 5 && topK.name === 'top_k');
  assert.ok(M.getMetric('top_k', { loss: 'categorical_crossentropy' }) instanceof M.TopKCategoricalAccuracy);
});

test("Keras' identifiers give Keras' names; camelCase and class names are accepted", () => {
  const names: [string, string, new (...a: never[]) => lt.metrics.Metric][] = [
    ['sparse_categorical_accuracy', 'sparse_categorical_accuracy', M.SparseCategoricalAccuracy],
    ['SparseCategoricalAccuracy', 'sparse_categorical_accuracy', M.SparseCategoricalAccuracy],
    ['categoricalAccuracy', 'categorical_accuracy', M.CategoricalAccuracy],
    ['binary_accuracy', 'binary_accuracy', M.BinaryAccuracy],
    ['top_k_categorical_accuracy', 'top_k_categorical_accuracy', M.TopKCategoricalAccuracy],
    ['sparse_top_k_categorical_accuracy', 'sparse_top_k_categorical_accuracy', M.SparseTopKCategoricalAccuracy],
    ['precision', 'precision', M.Precision],
    ['recall', 'recall', M.Recall],
    ['f1_score', 'f1_score', M.F1Score],
    ['f1', 'f1', M.F1Score],
    ['mse', 'mean_squared_error', M.MeanSquaredError], // Keras 3 logs 'mse' under the class's name
    ['mean_absolute_error', 'mean_absolute_error', M.MeanAbsoluteError],
    ['mae', 'mean_absolute_error', M.MeanAbsoluteError],
    ['confusion_matrix', 'confusion_matrix', M.ConfusionMatrix],
  ];
  for (const [id, name, cls] of names) {
    const m = M.getMetric(id);
    assert.ok(m instanceof cls, `${id}: got ${m.constructor.name}`);
    assert.equal(m.name, name, id);
  }
  const mine = new M.Precision({ name: 'p' });
  assert.equal(M.getMetric(mine), mine);
});

test('errors list the known metrics', () => {
  assertThrowsLathe(() => M.getMetric('accuracyy'), /^metric: unknown metric "accuracyy" \(expected one of: accuracy, acc, top_k, sparse_categorical_accuracy, .*confusion_matrix, or their camelCase\)$/);
  assertThrowsLathe(() => M.getMetric('top_k', { loss: 'binary_crossentropy' }), /top_k: top-k accuracy needs class scores \[batch, classes\], not a single output/);
  assertThrowsLathe(() => M.getMetric('accuracy', { loss: { type: 'hinge' } }), /unknown loss "hinge"/);
});

onEachBackend('metrics resolved from the first batch', () => {
  test("without a telling loss, 'accuracy' picks by shapes as Keras 3 does", () => {
    const binary = M.getMetric('accuracy', { loss: 'mse' });
    binary.update(t([[1], [0]]), t([[0.8], [0.7]])); // one output: binary accuracy
    assert.equal(binary.result(), 0.5);
    const sparse = M.getMetric('accuracy');
    sparse.update(i32([1, 0]), t([[0.2, 0.8], [0.3, 0.7]])); // lower-rank labels: sparse
    assert.equal(sparse.result(), 0.5);
    const column = M.getMetric('accuracy');
    column.update(t([[1], [0]]), t([[0.2, 0.8], [0.3, 0.7]])); // [N,1] labels against 2 classes: sparse too
    assert.equal(column.result(), 0.5);
    const onehot = M.getMetric('acc', { loss: (a: lt.Tensor, b: lt.Tensor) => a.sub(b).square() });
    const custom = M.getMetric('accuracy', { loss: 'myCustomLoss' }); // a custom loss's name, as Model passes Loss.name
    custom.update(i32([1]), t([[0.2, 0.8]]));
    assert.equal(custom.result(), 1);
    onehot.update(t([[0, 1], [1, 0], [1, 0]]), t([[0.2, 0.8], [0.3, 0.7], [0.9, 0.1]])); // same shapes: categorical
    assert.equal(onehot.result(), 2 / 3);
    assert.equal(onehot.name, 'acc');
    const topK = M.getMetric('top_k');
    topK.update(i32([5, 0]), t([[0, 1, 2, 3, 4, 5], [0, 1, 2, 3, 4, 5]])); // default k = 5: hit, miss
    assert.equal(topK.result(), 0.5);
  });

  test('confusion matrix takes numClasses from the options', () => {
    const m = M.getMetric('confusion_matrix', { numClasses: 3 });
    assertThrowsLathe(() => m.update(i32([0]), t([[1, 0]])), /has 2 classes, expected 3/);
    m.update(i32([2, 0]), t([[0, 0, 1], [0, 1, 0]]));
    assert.deepEqual(m.result(), [[0, 1, 0], [0, 0, 0], [0, 0, 1]]);
  });
});
