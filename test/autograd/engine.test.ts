// The autodiff engine itself: accumulation, scopes, graph freeing, the functional API, anomaly detection.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import * as lt from '../../src/index.js';
import { assertClose, assertThrowsLathe, gradcheck, rand64 } from '../helpers.js';

describe('backward', () => {
  test('a tensor used twice receives the sum of both paths', () => {
    const x = lt.tensor([3], { requiresGrad: true });
    x.mul(x).add(x).sum().backward(); // d(x^2 + x) = 2x + 1
    assertClose(x.grad!, [7]);
  });

  test('diamond graph: gradients from branches meet at the shared node', () => {
    const x = lt.tensor([0.5, -1.5], { dtype: 'float64', requiresGrad: true });
    const h = x.tanh();
    h.exp().add(h.square()).sum().backward();
    const t = [0.5, -1.5].map(Math.tanh);
    assertClose(x.grad!, t.map((v) => (Math.exp(v) + 2 * v) * (1 - v * v)), { atol: 1e-12 });
  });

  test('gradients accumulate across backward calls until zeroGrad', () => {
    const w = lt.tensor([1, 2], { requiresGrad: true });
    w.mul(3).sum().backward();
    w.mul(3).sum().backward();
    assertClose(w.grad!, [6, 6]);
    w.zeroGrad();
    assert.equal(w.grad, null);
    w.mul(2).sum().backward();
    assertClose(w.grad!, [2, 2]);
  });

  test('a non-scalar output needs an explicit gradient', () => {
    const x = lt.tensor([1, 2], { requiresGrad: true });
    assertThrowsLathe(() => x.mul(2).backward(), /backward: needs a gradient argument for a non-scalar tensor of shape \[2\]/);
    x.mul(2).backward(lt.tensor([1, 10]));
    assertClose(x.grad!, [2, 20]);
  });

  test('the graph is freed after backward unless retainGraph is set', () => {
    const x = lt.tensor([2], { requiresGrad: true });
    const z = x.square().sum();
    z.backward(undefined, { retainGraph: true });
    z.backward();
    assertClose(x.grad!, [8]); // 4 + 4
    assertThrowsLathe(() => z.backward(), /graph was already freed/);
  });

  test('backward on a tensor that does not require grad is an error', () => {
    assertThrowsLathe(() => lt.tensor([1]).sum().backward(), /does not require grad/);
  });

  test('retainGrad keeps a non-leaf gradient', () => {
    const x = lt.tensor([1, 2], { requiresGrad: true });
    const h = x.mul(3).retainGrad();
    h.square().sum().backward();
    assertClose(h.grad!, [6, 12]);
    assertClose(x.grad!, [18, 36]);
  });

  test('a chain of 20000 ops does not overflow the stack', () => {
    const x = lt.tensor([1], { requiresGrad: true });
    let y = x;
    for (let i = 0; i < 20000; i++) y = y.add(1);
    y.sum().backward();
    assertClose(x.grad!, [1]);
  });
});

describe('scopes and leaves', () => {
  test('noGrad records nothing and restores the mode after a throw', () => {
    const x = lt.tensor([1], { requiresGrad: true });
    const y = lt.noGrad(() => x.mul(2));
    assert.equal(y.requiresGrad, false);
    assert.equal(y.node, null);
    assert.throws(() => lt.noGrad(() => { throw new Error('boom'); }));
    assert.equal(lt.isGradEnabled(), true);
  });

  test('detach cuts the graph and shares values', () => {
    const x = lt.tensor([1, 2], { requiresGrad: true });
    const d = x.mul(2).detach();
    assert.equal(d.requiresGrad, false);
    const y = d.mul(x).sum();
    y.backward();
    assertClose(x.grad!, [2, 4]); // only the direct path through x
  });

  test('only float tensors can require gradients', () => {
    assertThrowsLathe(() => lt.tensor([1, 2], { dtype: 'int32', requiresGrad: true }), /requiresGrad: only float tensors can require gradients, got int32/);
  });

  test('assign replaces values in place, keeping identity and leaf status', () => {
    const p = lt.tensor([1, 2], { requiresGrad: true });
    const before = p;
    p.mul(2).sum().backward();
    lt.noGrad(() => p.assign(p.sub(p.grad!.mul(0.5))));
    assert.equal(p, before);
    assertClose(p, [0, 1]);
    assert.equal(p.requiresGrad, true);
    assert.equal(p.node, null);
    assertThrowsLathe(() => p.assign(lt.zeros([3])), /assign: shape \[3\] differs from the target's \[2\]/);
  });
});

describe('functional API', () => {
  test('valueAndGrad returns value and gradients without touching .grad', () => {
    const x = lt.tensor([1, 2, 3], { requiresGrad: true });
    const [v, [g]] = lt.valueAndGrad((t: lt.Tensor) => t.square().sum())(x);
    assert.equal(v.item(), 14);
    assertClose(g, [2, 4, 6]);
    assert.equal(x.grad, null);
  });

  test('grad gives zeros for an argument the function ignores', () => {
    const [ga, gb] = lt.grad((a: lt.Tensor, _b: lt.Tensor) => a.sum())(lt.tensor([1, 2]), lt.tensor([5]));
    assertClose(ga, [1, 1]);
    assertClose(gb, [0]);
  });

  test('grad of a composite agrees with finite differences', () => {
    const f = (a: lt.Tensor, b: lt.Tensor) => a.matmul(b).tanh().sum();
    const a = rand64([3, 4], 7);
    const b = rand64([4, 2], 8);
    const [ga, gb] = lt.grad(f)(a, b);
    gradcheck((x, y) => f(x, y), [a, b]); // the same graph through backward()
    const eps = 1e-6;
    const da = a.dataSync() as Float64Array;
    const plus = Float64Array.from(da); plus[5] += eps;
    const minus = Float64Array.from(da); minus[5] -= eps;
    const fd = (f(lt.tensor(plus, { shape: [3, 4] }), b).item() - f(lt.tensor(minus, { shape: [3, 4] }), b).item()) / (2 * eps);
    assertClose([ga.dataSync()[5]], [fd], { atol: 1e-7, rtol: 1e-6 });
    assert.deepEqual(gb.shape, [4, 2]);
  });

  test('the function must return one element', () => {
    assertThrowsLathe(() => lt.grad((a: lt.Tensor) => a.mul(2))(lt.tensor([1, 2])), /valueAndGrad: f must return a one-element tensor, got \[2\]/);
  });
});

describe('detectAnomaly', () => {
  test('names the op that produced a non-finite value', () => {
    lt.detectAnomaly(true);
    try {
      assertThrowsLathe(() => lt.tensor([1, -1]).log(), /log: non-finite output \(NaN at flat index 1 of \[2\]\)/);
      const x = lt.tensor([0], { requiresGrad: true });
      assertThrowsLathe(() => x.sqrt().sum().backward(), /sqrt: non-finite gradient for input 0/);
    } finally {
      lt.detectAnomaly(false);
    }
    assert.ok(Number.isNaN(lt.tensor([-1]).log().item())); // off again: NaN is a value like any other
  });
});

// Gradients of intermediate tensors go back to the backend for reuse once their rule has run
// (native: whole buffers of 64 KB and more). Storage something still holds must never be reused:
// a leaf's .grad, a retained gradient, one gradient shared by several inputs (add gives [g, g]),
// views (reshape), and everything when the graph is kept for a second backward.
describe('backward hands garbage gradients back, and only garbage', () => {
  const big = (seed: number) => lt.uniform([128, 256], -1, 1, { generator: new lt.Generator(seed) }).requireGrad();
  /** Makes fresh outputs of the same size, which would land in any buffer wrongly handed back. */
  const churn = (x: lt.Tensor) => lt.noGrad(() => [1, 2, 3, 4, 5, 6].map((k) => x.detach().mul(k + 100)));
  const constant = (t: lt.Tensor, v: number, what: string) => assert.ok(Array.from(t.dataSync()).every((e) => Math.abs(e - v) < 1e-5), `${what}: every entry ${v}`);

  test('one gradient to a leaf and to an intermediate (add), through views (reshape)', () => {
    const a = big(1);
    const b = big(11);
    const h = b.mul(2).reshape([256, 128]).reshape([128, 256]);
    h.add(a).sum().backward(); // a.grad is add's g itself; b's comes through h's views
    churn(a);
    constant(a.grad!, 1, 'a.grad');
    constant(b.grad!, 2, 'b.grad');
  });

  test('a retained intermediate gradient stays intact', () => {
    const a = big(2);
    const h = a.mul(3);
    h.retainGrad();
    h.mul(4).add(1).sum().backward();
    churn(a);
    constant(h.grad!, 4, 'h.grad');
    constant(a.grad!, 12, 'a.grad');
  });

  test('with retainGraph, a second backward gives the same gradients', () => {
    const a = big(3);
    const loss = a.mul(2).exp().mul(0.5).sum();
    loss.backward(undefined, { retainGraph: true });
    const first = a.grad!.clone();
    a.zeroGrad();
    churn(a);
    loss.backward();
    assertClose(a.grad!, first, { atol: 0, rtol: 0 }, 'second backward');
  });
});
