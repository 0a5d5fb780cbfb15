// Module: dotted names through nested modules and arrays of modules, parameters vs buffers,
// train/eval propagation, stateDict and loadStateDict (in place, checked before anything is
// copied, exact messages), countParameters.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as lt from '../../src/index.js';
import { Module } from '../../src/nn/module.js';
import { assertClose, assertThrowsLathe, onEachBackend } from '../helpers.js';

const values = (t: lt.Tensor) => Array.from(t.dataSync());

/** Two parameters around one buffer, registered in the order w, runningMean, b. */
class Leaf extends Module {
  declare w: lt.Tensor;
  declare b: lt.Tensor;
  declare runningMean: lt.Tensor;
  constructor(n: number, fill = 0) {
    super();
    this.addParameter('w', lt.full([n], fill));
    this.addBuffer('runningMean', lt.ones([n]));
    this.addParameter('b', lt.zeros([1]));
  }
}

/** Own parameter, a sub-module, an array holding a non-module, a nested Net-in-Net. */
class Net extends Module {
  first = new Leaf(2);
  blocks: unknown[] = [new Leaf(3), 'not a module', new Leaf(4)];
  inner = new (class Inner extends Module {
    deep = new Leaf(1);
  })();
  declare scale: lt.Tensor;
  constructor() {
    super();
    this.addParameter('scale', lt.ones([2, 2]));
  }
}

const PARAMS = ['scale', 'first.w', 'first.b', 'blocks.0.w', 'blocks.0.b', 'blocks.2.w', 'blocks.2.b', 'inner.deep.w', 'inner.deep.b'];
const BUFFERS = ['first.runningMean', 'blocks.0.runningMean', 'blocks.2.runningMean', 'inner.deep.runningMean'];

onEachBackend('Module tree', (backend) => {
  test('namedParameters: own first, then sub-modules in field order, arrays as field.i', () => {
    const net = new Net();
    const named = net.namedParameters();
    assert.deepEqual(named.map(([n]) => n), PARAMS);
    assert.deepEqual(named.map(([, t]) => [...t.shape]), [[2, 2], [2], [1], [3], [1], [4], [1], [1], [1]]);
    // the same tensor objects, not copies, and in the same order
    const blocks = net.blocks as Leaf[];
    assert.equal(named[1][1], net.first.w);
    assert.equal(named[5][1], blocks[2].w);
    assert.deepEqual(net.parameters(), named.map(([, t]) => t));
    assert.ok(net.parameters().every((p) => p.requiresGrad && p.backend.name === backend));
    assert.deepEqual(net.namedParameters('model.').map(([n]) => n), PARAMS.map((n) => `model.${n}`));
  });

  test('buffers are separate from parameters and not trained', () => {
    const net = new Net();
    assert.deepEqual(net.namedBuffers().map(([n]) => n), BUFFERS);
    const params = new Set(net.parameters());
    for (const [, t] of net.namedBuffers()) {
      assert.ok(!params.has(t));
      assert.equal(t.requiresGrad, false);
    }
    assert.deepEqual(values(net.first.runningMean), [1, 1]);
  });

  test('firstTensor: own parameter, else own buffer, else the first sub-module (arrays too) that has one', () => {
    const net = new Net();
    assert.equal(net.firstTensor(), net.scale);
    assert.equal(net.first.firstTensor(), net.first.w);
    const buffersOnly = new (class extends Module {
      empty = new (class extends Module {})();
      list: unknown[] = ['not a module', new (class extends Module {})(), new Leaf(3)];
    })();
    assert.equal(buffersOnly.firstTensor(), (buffersOnly.list[2] as Leaf).w);
    const holder = new (class extends Module {
      constructor() {
        super();
        this.addBuffer('stat', lt.ones([1]));
      }
    })();
    assert.equal(holder.firstTensor(), (holder as unknown as { stat: lt.Tensor }).stat);
    assert.equal(new (class extends Module {})().firstTensor(), undefined);
  });

  test('children lists direct sub-modules only', () => {
    const net = new Net();
    assert.deepEqual(net.children().map(([n]) => n), ['first', 'blocks.0', 'blocks.2', 'inner']);
    assert.deepEqual(new Leaf(2).children(), []);
  });

  test('train() and eval() reach nested modules and array members, and return the module', () => {
    const net = new Net();
    const all = () => [net, net.first, ...(net.blocks as Leaf[]).filter((b) => b instanceof Leaf), net.inner, net.inner.deep].map((m) => m.training);
    assert.deepEqual(all(), [true, true, true, true, true, true]);
    assert.equal(net.eval(), net);
    assert.deepEqual(all(), [false, false, false, false, false, false]);
    assert.equal(net.train(), net);
    assert.deepEqual(all(), [true, true, true, true, true, true]);
    net.train(false);
    assert.deepEqual(all(), [false, false, false, false, false, false]);
  });

  test('countParameters counts trainable scalars, not buffers', () => {
    assert.equal(new Net().countParameters(), 4 + 2 + 1 + 3 + 1 + 4 + 1 + 1 + 1);
    assert.equal(new Leaf(7).countParameters(), 8);
  });

  test('stateDict: parameters then buffers, by dotted name, the live tensors', () => {
    const net = new Net();
    const state = net.stateDict();
    assert.deepEqual(Object.keys(state), [...PARAMS, ...BUFFERS]);
    assert.equal(state['inner.deep.runningMean'], net.inner.deep.runningMean);
    assert.equal(state.scale, net.scale);
  });
});

onEachBackend('Module.loadStateDict', (backend) => {
  const other = () => lt.listBackends().find((b) => b !== backend) ?? backend;

  test('copies values in place: identity kept, storage not shared', () => {
    const dst = new Leaf(3, 0);
    const src = new Leaf(3, 0);
    src.w.assign(lt.tensor([1.5, -2, 3]));
    src.runningMean.assign(lt.tensor([4, 5, 6]));
    const [w, rm] = [dst.w, dst.runningMean];
    dst.loadStateDict(src.stateDict());
    assert.equal(dst.w, w);
    assert.equal(dst.runningMean, rm);
    assert.deepEqual(values(dst.w), [1.5, -2, 3]);
    assert.deepEqual(values(dst.runningMean), [4, 5, 6]);
    assert.equal(dst.w.requiresGrad, true);
    assert.notEqual(dst.w.buf, src.w.buf);
    // changing the source afterwards (as an optimizer step would) leaves the copy alone
    src.w.assign(lt.tensor([9, 9, 9]));
    assert.deepEqual(values(dst.w), [1.5, -2, 3]);
  });

  test('tensors from another backend are moved to the target backend', () => {
    const dst = new Leaf(2);
    lt.setBackend(other());
    const state = { w: lt.tensor([7, 8]), b: lt.tensor([0.25]), runningMean: lt.tensor([3, 4]) };
    lt.setBackend(backend);
    dst.loadStateDict(state);
    assert.equal(dst.w.backend.name, backend);
    assert.deepEqual(values(dst.w), [7, 8]);
    assert.deepEqual(values(dst.b), [0.25]);
    assertClose(dst.w.mul(2), [14, 16], { atol: 0, rtol: 0 });
  });

  test('strict: missing and unexpected keys, listed', () => {
    const net = new Net();
    const state = { ...net.stateDict(), extra: lt.zeros([1]), 'first.c': lt.zeros([1]) };
    delete (state as Record<string, lt.Tensor>)['blocks.2.b'];
    delete (state as Record<string, lt.Tensor>)['inner.deep.runningMean'];
    assertThrowsLathe(() => net.loadStateDict(state), /^loadStateDict: missing blocks\.2\.b, inner\.deep\.runningMean; unexpected extra, first\.c$/);
    assertThrowsLathe(() => new Leaf(1).loadStateDict({ w: lt.zeros([1]), runningMean: lt.ones([1]) }), /^loadStateDict: missing b$/);
    assertThrowsLathe(() => new Leaf(1).loadStateDict({ ...new Leaf(1).stateDict(), x: lt.zeros([1]) }), /^loadStateDict: unexpected x$/);
  });

  test('strict false: loads what is there, ignores the rest', () => {
    const leaf = new Leaf(2, 5);
    leaf.loadStateDict({ b: lt.tensor([3]), nonsense: lt.zeros([9]) }, { strict: false });
    assert.deepEqual(values(leaf.b), [3]);
    assert.deepEqual(values(leaf.w), [5, 5]);
  });

  test('shape and dtype mismatches name the tensor, even with strict false', () => {
    const leaf = new Leaf(2);
    const good = () => ({ w: lt.zeros([2]), b: lt.zeros([1]), runningMean: lt.zeros([2]) });
    assertThrowsLathe(() => leaf.loadStateDict({ ...good(), w: lt.zeros([2, 1]) }), /^loadStateDict: w: expected shape \[2\], got \[2,1\]$/);
    assertThrowsLathe(() => leaf.loadStateDict({ ...good(), runningMean: lt.zeros([2], { dtype: 'float64' }) }), /^loadStateDict: runningMean: expected float32, got float64$/);
    assertThrowsLathe(() => leaf.loadStateDict({ b: lt.zeros([3]) }, { strict: false }), /^loadStateDict: b: expected shape \[1\], got \[3\]$/);
    assertThrowsLathe(() => leaf.loadStateDict({ ...good(), b: [1] as unknown as lt.Tensor }), /^loadStateDict: b: expected a Tensor, got object$/);
  });

  test('a failed load changes nothing', () => {
    const leaf = new Leaf(2, 1);
    // w comes first and is fine; the error is only found at b
    assertThrowsLathe(() => leaf.loadStateDict({ w: lt.tensor([8, 9]), runningMean: lt.zeros([2]), b: lt.zeros([2]) }), /b: expected shape \[1\]/);
    assert.deepEqual(values(leaf.w), [1, 1]);
    assert.deepEqual(values(leaf.runningMean), [1, 1]);
  });

  test('a round trip through stateDict restores a trained module', () => {
    const a = new Net();
    const b = new Net();
    a.parameters().forEach((p, i) => p.assign(lt.full([...p.shape], i + 0.5)));
    b.loadStateDict(a.stateDict());
    for (const [name, t] of b.namedParameters()) assert.deepEqual(values(t), values(a.stateDict()[name]), name);
  });
});
