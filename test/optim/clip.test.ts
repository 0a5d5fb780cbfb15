// Gradient clipping: clipGradNorm/clipGradValue against torch.nn.utils' formulas, and the
// optimizers' clipNorm (per gradient, Keras), globalClipNorm (all together) and clipValue.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as lt from '../../src/index.js';
import { assertClose, assertThrowsLathe, onEachBackend } from '../helpers.js';
import { makeParams, train } from './steps.js';

const { clipGradNorm, clipGradValue } = lt.optim;
const norm = (v: number[]) => Math.sqrt(v.reduce((s, x) => s + x * x, 0));

onEachBackend('clipGradNorm and clipGradValue', () => {
  for (const dtype of ['float64', 'float32'] as const) {
    test(`clipGradNorm scales all gradients by maxNorm / (total + 1e-6) and returns the total (${dtype})`, () => {
      const g = [[3, -4, 1], [2, 0], [12]];
      const params = makeParams([[0, 0, 0], [0, 0], [0]], dtype);
      params.forEach((p, i) => (p.grad = lt.tensor(g[i], { dtype })));
      const total = norm(g.flat());
      const got = clipGradNorm(params, 5);
      assertClose([got], [total], { rtol: dtype === 'float64' ? 1e-15 : 1e-7 });
      const scale = 5 / (total + 1e-6);
      params.forEach((p, i) => assertClose(p.grad!, g[i].map((x) => x * scale), { atol: 1e-7, rtol: dtype === 'float64' ? 1e-15 : 1e-6 }));
      assertClose([norm(params.flatMap((p) => Array.from(p.grad!.dataSync())))], [5], { rtol: 1e-6 });
    });
  }

  test('gradients already within maxNorm are left as they are; params without one are skipped', () => {
    const [a, b] = makeParams([[0, 0], [0]], 'float32');
    const ga = lt.tensor([0.3, 0.4]);
    a.grad = ga;
    assertClose([clipGradNorm([a, b], 1)], [0.5], { rtol: 1e-7 });
    assert.equal(a.grad, ga);
    assert.equal(b.grad, null);
  });

  test('a non-finite total is returned and the gradients are not touched', () => {
    const [a, b] = makeParams([[0, 0], [0]], 'float32');
    const ga = lt.tensor([Infinity, 1]);
    const gb = lt.tensor([2]);
    a.grad = ga;
    b.grad = gb;
    assert.equal(clipGradNorm([a, b], 1), Infinity);
    assert.equal(a.grad, ga);
    assert.deepEqual(b.grad!.toArray(), [2]);
    b.grad = lt.tensor([NaN]);
    assert.ok(Number.isNaN(clipGradNorm([a, b], 1)));
  });

  test('a gradient tensor shared by two parameters is clipped once for each, never in place', () => {
    const [a, b] = makeParams([[0, 0], [0, 0]], 'float64');
    const shared = lt.tensor([3, 4], { dtype: 'float64' });
    a.grad = shared;
    b.grad = shared;
    const total = clipGradNorm([a, b], 1);
    assertClose([total], [Math.sqrt(50)], { rtol: 1e-15 });
    const s = 1 / (Math.sqrt(50) + 1e-6);
    assertClose(a.grad!, [3 * s, 4 * s], { rtol: 1e-15 });
    assertClose(b.grad!, [3 * s, 4 * s], { rtol: 1e-15 });
    assert.deepEqual(shared.toArray(), [3, 4]);
  });

  test('clipGradValue clamps each element to [-v, v]', () => {
    const [a] = makeParams([[0, 0, 0, 0]], 'float32');
    a.grad = lt.tensor([-3, 0.25, 0.5, 7]);
    clipGradValue([a], 0.5);
    assert.deepEqual(a.grad.toArray(), [-0.5, 0.25, 0.5, 0.5]);
  });

  test('bad limits are named', () => {
    assertThrowsLathe(() => clipGradNorm([], 0), /^clipGradNorm: maxNorm must be a finite number > 0, got 0$/);
    assertThrowsLathe(() => clipGradValue([], -1), /^clipGradValue: clipValue must be a finite number > 0, got -1$/);
  });
});

onEachBackend('optimizer clipping options', () => {
  const g = [[3, -4], [12]]; // norms 5 and 12, global 13
  const run = (options: lt.optim.OptimizerOptions) => {
    const params = makeParams([[1, 1], [1]], 'float64');
    const opt = new lt.SGD(params, { lr: 1, ...options });
    train(opt, params, [g]);
    return { params, opt };
  };

  test('globalClipNorm scales all gradients together (torch clip_grad_norm_)', () => {
    const { params, opt } = run({ globalClipNorm: 6.5 });
    const s = 6.5 / (13 + 1e-6);
    assertClose(params[0], [1 - 3 * s, 1 + 4 * s], { rtol: 1e-15 });
    assertClose(params[1], [1 - 12 * s], { rtol: 1e-15 });
    assert.equal(opt.lastGradNorm, 13);
  });

  test('clipNorm scales each gradient to its own limit (Keras clipnorm)', () => {
    const { params } = run({ clipNorm: 6 });
    assertClose(params[0], [1 - 3, 1 + 4], { rtol: 1e-15 }); // norm 5: untouched
    assertClose(params[1], [1 - 6], { rtol: 1e-15 }); // norm 12: scaled by 6 / 12
  });

  test('clipValue clamps elements', () => {
    const { params } = run({ clipValue: 3.5 });
    assertClose(params[0], [1 - 3, 1 + 3.5], { rtol: 1e-15 });
    assertClose(params[1], [1 - 3.5], { rtol: 1e-15 });
  });

  test('p.grad keeps the unclipped gradient', () => {
    const { params } = run({ globalClipNorm: 1 });
    assert.deepEqual(params[1].grad!.toArray(), [12]);
  });

  test('Adam with globalClipNorm is Adam on the clipped gradients', () => {
    const clipped = makeParams([[0.5, -1], [2]], 'float32');
    const manual = makeParams([[0.5, -1], [2]], 'float32');
    const a = new lt.Adam(clipped, { lr: 0.1, globalClipNorm: 1 });
    const b = new lt.Adam(manual, { lr: 0.1 });
    for (let k = 0; k < 3; k++) {
      const gk = g.map((v) => v.map((x) => x * (k + 1)));
      train(a, clipped, [gk]);
      manual.forEach((p, i) => (p.grad = lt.tensor(gk[i])));
      clipGradNorm(manual, 1);
      b.step();
    }
    clipped.forEach((p, i) => assert.deepEqual(p.toArray(), manual[i].toArray()));
  });

  test('a non-finite gradient norm skips the step and is recorded for a NaN guard', () => {
    const params = makeParams([[1, 1], [1]], 'float32');
    const opt = new lt.Adam(params, { clipNorm: 1 });
    train(opt, params, [[[1, NaN], [1]]]);
    assert.ok(Number.isNaN(opt.lastGradNorm));
    assert.equal(opt.skippedSteps, 1);
    assert.equal(opt.iterations, 0);
    assert.deepEqual(params.map((p) => p.toArray()), [[1, 1], [1]]);
    assert.deepEqual(Object.values(opt.stateDict().slots).map((s) => s.toArray()), [[0, 0], [0, 0], [0], [0]]);
    train(opt, params, [[[1, 1], [1]]]);
    assert.equal(opt.iterations, 1);
  });

  test('only one clipping option at a time, and each must be > 0', () => {
    assertThrowsLathe(() => new lt.SGD({ clipNorm: 1, clipValue: 1 }), /^SGD: set at most one of clipNorm, globalClipNorm and clipValue, got clipNorm and clipValue$/);
    assertThrowsLathe(() => new lt.SGD({ globalClipNorm: 0 }), /^SGD: globalClipNorm must be a number in \(0, Infinity\), got 0$/);
  });
});
