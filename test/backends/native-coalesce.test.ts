// Native kernels whose fast paths came from profiling the MNIST CNN: max pooling computed
// column-parallel, reductions over axes that are not one block (a conv bias gradient), and
// elementwise kernels on merged axes. Each is compared with the js reference, edge values included.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import * as lt from '../../src/index.js';
import { assertClose } from '../helpers.js';

const hasNative = lt.listBackends().includes('native');

function pair(shape: number[], seed: number, ties = false) {
  const g = new lt.Generator(seed);
  let t = lt.randn(shape, { generator: g, backend: 'js' });
  if (ties) t = t.mul(2).round(); // many equal values: the first one in a window must win
  const data = t.dataSync();
  data[3] = NaN;
  data[Math.floor(data.length / 2)] = -Infinity;
  data[data.length - 2] = Infinity;
  const js = lt.tensor(data, { shape, backend: 'js' });
  return { js, native: js.to('native') };
}

describe('native fast paths match the js reference', { skip: !hasNative && 'native backend not built' }, () => {
  const pools: [number[], number | [number, number], lt.Pool2dOptions][] = [
    [[2, 3, 26, 26], 2, {}],
    [[1, 2, 27, 25], 2, {}],
    [[1, 3, 9, 70], 2, {}], // rows of 35 outputs: more than one 16-wide step
    [[1, 2, 9, 7], 3, { stride: 2, padding: 1 }],
    [[2, 1, 8, 11], [2, 3], { stride: [1, 2], padding: [1, 1] }],
    [[1, 1, 5, 5], 2, { stride: 1 }],
    [[1, 2, 6, 6], 2, { stride: 3 }],
  ];
  for (const [shape, k, opts] of pools) {
    for (const ties of [false, true]) {
      test(`maxPool2d ${JSON.stringify(shape)} k=${JSON.stringify(k)} ${JSON.stringify(opts)}${ties ? ' with ties' : ''}: values and gradients`, () => {
        const { js, native } = pair(shape, shape.length * 13 + shape[2], ties);
        const run = (x: lt.Tensor) => {
          const p = x.clone().requireGrad();
          const y = lt.maxPool2d(p, k, opts);
          y.mul(lt.arange(y.size, undefined, 1, { backend: x.backend }).reshape([...y.shape]).cos()).sum().backward();
          return [y, p.grad!];
        };
        const [wantY, wantG] = run(js);
        const [gotY, gotG] = run(native);
        assert.equal(gotY.backend.name, 'native');
        assertClose(gotY.to('js'), wantY, { atol: 0, rtol: 0 }, 'maxPool2d values');
        // Inference (no gradient to come) skips the argmax: the values must not change.
        assertClose(lt.noGrad(() => lt.maxPool2d(native, k, opts)).to('js'), wantY, { atol: 0, rtol: 0 }, 'maxPool2d values without argmax');
        assertClose(gotG.to('js'), wantG, { atol: 1e-6, rtol: 1e-6 }, 'maxPool2d gradient (where the max was)');
      });
    }
  }

  for (const [shape, axes] of [[[4, 3, 5, 6], [0, 2, 3]], [[2, 3, 4, 5, 6], [0, 2, 4]], [[3, 4, 5], [0, 2]], [[7, 1, 3], [0, 1, 2]]] as [number[], number[]][]) {
    for (const op of ['sum', 'max', 'min'] as const) {
      test(`${op} over axes ${JSON.stringify(axes)} of ${JSON.stringify(shape)} (not one block)`, () => {
        const g = new lt.Generator(shape.length);
        const js = lt.randn(shape, { generator: g, backend: 'js' });
        const want = lt[op](js, axes);
        const got = lt[op](js.to('native'), axes);
        assert.deepEqual(got.shape, want.shape);
        assertClose(got.to('js'), want, { atol: 1e-5, rtol: 1e-5 }, op);
      });
    }
  }

  test('where and binary ops on broadcast shapes whose axes merge', () => {
    const cases: [number[], number[], number[]][] = [
      [[4, 5, 6], [4, 5, 6], [1]],
      [[4, 5, 6], [1, 5, 6], [4, 1, 1]],
      [[2, 1, 3, 7], [2, 4, 3, 7], [7]],
      [[3, 4], [1, 1], [3, 4]],
    ];
    for (const [cs, as, bs] of cases) {
      const c = pair(cs, 1);
      const a = pair(as, 2);
      const b = pair(bs, 3);
      const want = lt.where(c.js.gt(0), a.js, b.js);
      const got = lt.where(c.native.gt(0), a.native, b.native);
      assertClose(got.to('js'), want, { atol: 0, rtol: 0 }, `where ${JSON.stringify([cs, as, bs])}`);
      assertClose(a.native.mul(b.native).to('js'), a.js.mul(b.js), { atol: 0, rtol: 0 }, `mul ${JSON.stringify([as, bs])}`);
    }
  });
});

describe('native im2col (bounds worked out per kernel column) matches the js reference', { skip: !hasNative && 'native backend not built' }, () => {
  const cases: [number[], number[], lt.Conv2dOptions][] = [
    [[2, 3, 7, 9], [4, 3, 3, 3], {}],
    [[1, 2, 6, 5], [3, 2, 3, 2], { stride: 2, padding: 1 }],
    [[1, 1, 5, 5], [2, 1, 3, 3], { padding: 4 }], // padding wider than the kernel: whole rows and columns of zeros
    [[2, 2, 8, 7], [2, 1, 2, 3], { stride: [1, 3], padding: [2, 3], dilation: [2, 1], groups: 2 }],
    [[1, 3, 4, 11], [5, 3, 1, 4], { stride: [2, 2], dilation: [1, 3] }],
  ];
  for (const [xs, ws, opts] of cases) {
    test(`conv2d x${JSON.stringify(xs)} w${JSON.stringify(ws)} ${JSON.stringify(opts)}: values and both gradients`, () => {
      const { js: x } = pair(xs, xs[3]);
      const w = lt.randn(ws, { generator: new lt.Generator(ws[0] + 7), backend: 'js' });
      const clean = lt.where(x.ne(x), 0, x).clip(-5, 5); // finite inputs: pair()'s edge values are for pooling, not GEMM
      const run = (backend: string) => {
        const xv = clean.to(backend).clone().requireGrad();
        const wv = w.to(backend).clone().requireGrad();
        const y = lt.conv2d(xv, wv, null, opts);
        y.mul(lt.arange(y.size, undefined, 1, { backend }).reshape([...y.shape]).sin()).sum().backward();
        return [y, xv.grad!, wv.grad!].map((t) => t.to('js'));
      };
      const [wy, wgx, wgw] = run('js');
      const [gy, ggx, ggw] = run('native');
      assertClose(gy, wy, { atol: 1e-4, rtol: 1e-4 }, 'values');
      assertClose(ggx, wgx, { atol: 1e-4, rtol: 1e-4 }, 'input gradient');
      assertClose(ggw, wgw, { atol: 1e-4, rtol: 1e-4 }, 'weight gradient');
    });
  }
});
