// Embedding: lookups of any index shape, the gradient adding rows back (repeats accumulate),
// range and dtype errors naming the layer, Keras' randomUniform init, configs.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as lt from '../../../src/index.js';
import { Embedding } from '../../../src/nn/layers/index.js';
import { assertClose, assertThrowsLathe, onEachBackend } from '../../helpers.js';
import { gradcheckLayer, roundTrip, values } from './layer-checks.js';

const EXACT = { atol: 0, rtol: 0 };
const ids = (v: lt.NestedArray) => lt.tensor(v, { dtype: 'int32' });

function table(): Embedding {
  const layer = new Embedding(4, 2, { dtype: 'float64' });
  layer.embeddings.assign(lt.tensor([[0, 1], [10, 11], [20, 21], [30, 31]], { dtype: 'float64' }));
  return layer;
}

onEachBackend('Embedding', () => {
  test('looks up rows for indices of any shape: [...] -> [..., outputDim]', () => {
    const layer = table();
    assertClose(layer.call(ids([[0, 2], [3, 3]])), [[[0, 1], [20, 21]], [[30, 31], [30, 31]]], EXACT);
    assertClose(layer.call(ids([1, 0, 2])), [[10, 11], [0, 1], [20, 21]], EXACT);
    assert.deepEqual(layer.call(ids([[[1]], [[2]]])).shape, [2, 1, 1, 2]);
    assert.deepEqual(layer.computeOutputShape([7]), [7, 2]);
    assert.deepEqual(layer.computeOutputShape([3, 5]), [3, 5, 2]);
  });

  test('gradient in the table: rows picked twice get two contributions, unpicked rows none', () => {
    const layer = table();
    const x = ids([[1, 3], [1, 0]]);
    gradcheckLayer(layer, x, ['embeddings']);
    // and by value: d sum(y * w) / d table[r] = sum of w over positions picking r
    const e = layer.embeddings;
    e.zeroGrad();
    const w = lt.tensor([[[1, 2], [3, 4]], [[5, 6], [7, 8]]], { dtype: 'float64' });
    layer.call(x).mul(w).sum().backward();
    assertClose(e.grad!, [[7, 8], [1 + 5, 2 + 6], [0, 0], [3, 4]], EXACT);
  });

  test('errors name the layer: out-of-range indices, non-int32 input', () => {
    const layer = new Embedding(5, 3, { name: 'emb' });
    assertThrowsLathe(() => layer.call(ids([[0, 5]])), /^emb: index 5 at flat position 1 of input \[1,2\] is out of range \[0, 5\)/);
    assertThrowsLathe(() => layer.call(ids([-1])), /^emb: index -1 at flat position 0 of input \[1\] is out of range/);
    assertThrowsLathe(() => layer.call(lt.tensor([[1, 2]])), /^emb: expected int32 indices, got float32 \[1,2\]/);
    assertThrowsLathe(() => new Embedding(0, 3, { name: 'e0' }), /^e0: inputDim must be a positive integer, got 0/);
    assertThrowsLathe(() => new Embedding(3, 2.5, { name: 'e1' }), /^e1: outputDim must be a positive integer, got 2.5/);
  });

  test("Keras' randomUniform init in [-0.05, 0.05], weights named after the layer", () => {
    const layer = new Embedding(100, 8);
    assert.deepEqual(layer.embeddings.shape, [100, 8]);
    const v = values(layer.embeddings).map(Math.abs);
    assert.ok(Math.max(...v) <= 0.05 && Math.max(...v) > 0.045, `max |w| ${Math.max(...v)}`);
    assert.deepEqual(layer.namedParameters().map(([n, t]) => [n, t.name]), [['embeddings', `${layer.name}.embeddings`]]);
  });

  test('getConfig -> fromConfig round trip', () => {
    const layer = new Embedding(6, 3, { embeddingsInitializer: 'glorot_uniform', inputShape: [4] });
    const copy = roundTrip(layer);
    assert.deepEqual([copy.inputDim, copy.outputDim, copy.embeddingsInitializer], [6, 3, 'glorotUniform']);
    copy.loadStateDict(layer.stateDict());
    const x = ids([[5, 0, 1, 2]]);
    assertClose(copy.call(x), layer.call(x), EXACT);
    assertThrowsLathe(() => lt.layers.layerFromConfig({ type: 'embedding', inputDim: 3 }, 'cfg'), /^cfg \(embedding\): "outputDim" is required/);
  });
});
