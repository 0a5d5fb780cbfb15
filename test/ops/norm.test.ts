// lt.layerNorm, the fused LayerNorm op: against the formula composed from mean, var and rsqrt
// (float64, and float32 within rounding), gradients w.r.t. x, gamma and beta by central
// differences in float64, native against js, the LayerNormalization layer, and argument errors.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as lt from '../../src/index.js';
import { assertClose, assertThrowsLathe, gradcheck, onEachBackend, rand64 } from '../helpers.js';

/** (x - mean) / sqrt(var + eps) * gamma + beta over the last axis, from ordinary ops. */
function composed(x: lt.Tensor, gamma: lt.Tensor | null, beta: lt.Tensor | null, eps: number): lt.Tensor {
  const centred = x.sub(lt.mean(x, -1, true));
  const y = centred.mul(lt.rsqrt(lt.mean(centred.square(), -1, true).add(eps)));
  const scaled = gamma ? y.mul(gamma) : y;
  return beta ? scaled.add(beta) : scaled;
}

const SHAPES = [[1, 1], [3, 7], [2, 5, 33], [4, 257]];

onEachBackend('layerNorm', () => {
  test('matches the composed formula in float64, with and without gamma and beta', () => {
    for (const shape of SHAPES) {
      const C = shape[shape.length - 1];
      const x = rand64(shape, 1, -3, 5); // an offset mean, so centring matters
      const gamma = rand64([C], 2, 0.5, 1.5);
      const beta = rand64([C], 3);
      for (const [g, b] of [[gamma, beta], [gamma, null], [null, beta], [null, null]] as const) {
        assertClose(lt.layerNorm(x, g, b, { epsilon: 1e-5 }), composed(x, g, b, 1e-5), { atol: 1e-12, rtol: 1e-10 }, `[${shape}] gamma ${!!g} beta ${!!b}`);
      }
    }
  });

  test('float32 agrees with float64 within float32 rounding', () => {
    const x = rand64([6, 128], 4, -2, 2);
    const gamma = rand64([128], 5, 0.5, 1.5);
    const beta = rand64([128], 6);
    const want = lt.layerNorm(x, gamma, beta);
    assertClose(lt.layerNorm(x.cast('float32'), gamma.cast('float32'), beta.cast('float32')), want, { atol: 2e-6, rtol: 2e-6 });
  });

  test('a constant row normalises to beta (variance 0, epsilon keeps it finite)', () => {
    const x = lt.full([2, 4], 3, { dtype: 'float64' });
    const beta = lt.tensor([1, 2, 3, 4], { dtype: 'float64' });
    assertClose(lt.layerNorm(x, lt.ones([4], { dtype: 'float64' }), beta), [[1, 2, 3, 4], [1, 2, 3, 4]], { atol: 0, rtol: 0 });
  });

  test('gradients for x, gamma and beta pass finite differences (float64)', () => {
    for (const shape of [[3, 7], [2, 3, 5]]) {
      const C = shape[shape.length - 1];
      gradcheck((x, g, b) => lt.layerNorm(x, g, b), [rand64(shape, 7, -2, 3), rand64([C], 8, 0.5, 1.5), rand64([C], 9)]);
      gradcheck((x) => lt.layerNorm(x), [rand64(shape, 10)]);
      gradcheck((x, b) => lt.layerNorm(x, null, b), [rand64(shape, 11), rand64([C], 12)]);
    }
  });

  test('the gradient equals the composed formula\'s (float32, model-sized)', () => {
    const inputs = [rand64([12, 64, 128], 13, -2, 2), rand64([128], 14, 0.5, 1.5), rand64([128], 15)].map((t) => t.cast('float32'));
    const w = rand64([12, 64, 128], 16).cast('float32');
    const grads = (f: (x: lt.Tensor, g: lt.Tensor, b: lt.Tensor) => lt.Tensor) => lt.grad((x: lt.Tensor, g: lt.Tensor, b: lt.Tensor) => f(x, g, b).mul(w).sum())(inputs[0], inputs[1], inputs[2]);
    const fused = grads((x, g, b) => lt.layerNorm(x, g, b));
    const reference = grads((x, g, b) => composed(x, g, b, 1e-5));
    fused.forEach((g, i) => assertClose(g, reference[i], { atol: 1e-4, rtol: 1e-3 }, `input ${i}`));
  });

  test('LayerNormalization computes the fused op and trains gamma and beta', () => {
    const layer = new lt.layers.LayerNormalization({ numFeatures: 5, epsilon: 1e-3, dtype: 'float64' });
    const x = rand64([4, 5], 17, -1, 3);
    assertClose(layer.forward(x), composed(x, null, null, 1e-3), { atol: 1e-12, rtol: 1e-10 });
    layer.forward(x).mul(rand64([4, 5], 18)).sum().backward();
    for (const p of layer.parameters()) assert.ok(p.grad!.abs().sum().item() > 0, `${p.name} has a nonzero gradient`);
  });

  test('errors name the op and the shapes', () => {
    const x = rand64([2, 4], 19);
    assertThrowsLathe(() => lt.layerNorm(x, rand64([3], 20)), /layerNorm: gamma must be a float64 tensor of shape \[4\] for x \[2,4\], got float64 \[3\]/);
    assertThrowsLathe(() => lt.layerNorm(x, null, rand64([4], 21).cast('float32')), /layerNorm: beta must be a float64 tensor of shape \[4\]/);
    assertThrowsLathe(() => lt.layerNorm(lt.tensor(3, { dtype: 'float64' })), /layerNorm: x must be a float tensor with at least one axis/);
    assertThrowsLathe(() => lt.layerNorm(x, null, null, { epsilon: 0 }), /layerNorm: epsilon must be a positive number, got 0/);
  });
});

test('layerNorm: native matches js on odd shapes and rows of very different scales', () => {
  if (!lt.listBackends().includes('native')) return;
  for (const dtype of ['float32', 'float64'] as const) {
    for (const shape of [[1, 3], [37, 129], [5, 3, 64]]) {
      const C = shape[shape.length - 1];
      const x = rand64(shape, 22, -1, 1).mul(lt.arange(sizeOf(shape) / C, undefined, 1, { dtype: 'float64' }).add(1).pow(3).reshape([...shape.slice(0, -1), 1])).cast(dtype);
      const gamma = rand64([C], 23).cast(dtype);
      const beta = rand64([C], 24).cast(dtype);
      const run = (backend: string) => {
        const [xb, gb, bb] = [x, gamma, beta].map((t) => t.to(backend).detach().requireGrad());
        const y = lt.layerNorm(xb, gb, bb);
        y.mul(rand64(shape, 25).cast(dtype).to(backend)).sum().backward();
        return [y, xb.grad!, gb.grad!, bb.grad!].map((t) => t.to('js'));
      };
      const want = run('js');
      const tol = dtype === 'float32' ? { atol: 2e-5, rtol: 1e-4 } : { atol: 1e-12, rtol: 1e-10 };
      run('native').forEach((t, i) => assertClose(t, want[i], tol, `${dtype} [${shape}] output ${i}`));
    }
  }
});

function sizeOf(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}
