// matmul with numpy's rules: batched over broadcast leading dims, 1-D operands promoted to
// matrices and the added axis removed again.
import { apply, noGrad } from '../autograd/engine.js';
import { fail, fmtShape } from '../errors.js';
import { isFloat, promoteTypes } from '../tensor/dtype.js';
import { tryBroadcastShapes } from '../tensor/shape.js';
import { whileReadAsync } from '../tensor/inplace.js';
import { Tensor } from '../tensor/tensor.js';
import { cast } from './elementwise.js';
import { reshape } from './layout.js';
import * as T from './table.js';

/** op(a) @ op(b), where op transposes the last two axes when its flag is set; both at least 2-D. */
export function matmulT(a: Tensor, b: Tensor, transA: boolean, transB: boolean): Tensor {
  const ra = a.rank;
  const rb = b.rank;
  const [m, ka] = transA ? [a.shape[ra - 1], a.shape[ra - 2]] : [a.shape[ra - 2], a.shape[ra - 1]];
  const [kb, n] = transB ? [b.shape[rb - 1], b.shape[rb - 2]] : [b.shape[rb - 2], b.shape[rb - 1]];
  if (ka !== kb) fail('matmul', `inner dimensions differ: ${fmtShape(a.shape)} x ${fmtShape(b.shape)}`);
  const batch =
    tryBroadcastShapes(a.shape.slice(0, -2), b.shape.slice(0, -2)) ??
    fail('matmul', `batch dimensions do not broadcast: ${fmtShape(a.shape)} x ${fmtShape(b.shape)}`);
  return apply(T.matmul, [a, b], { transA, transB, shape: [...batch, m, n] });
}

/** Operands promoted to matrices and the shape to give the result, under numpy's matmul rules. */
function prepare(a: Tensor, b: Tensor): { x: Tensor; y: Tensor; resultShape: number[] | null } {
  if (!(a instanceof Tensor) || !(b instanceof Tensor)) fail('matmul', 'expected two Tensors');
  if (a.rank === 0 || b.rank === 0) fail('matmul', `operands must be at least 1-D, got ${fmtShape(a.shape)} x ${fmtShape(b.shape)}`);
  if (!isFloat(a.dtype) || !isFloat(b.dtype)) fail('matmul', `expected float tensors, got ${a.dtype} x ${b.dtype}`);
  if (a.dtype !== b.dtype) {
    const dtype = promoteTypes(a.dtype, b.dtype);
    [a, b] = [cast(a, dtype), cast(b, dtype)];
  }
  const x = a.rank === 1 ? reshape(a, [1, a.size]) : a;
  const y = b.rank === 1 ? reshape(b, [b.size, 1]) : b;
  if (x.shape[x.rank - 1] !== y.shape[y.rank - 2]) fail('matmul', `inner dimensions differ: ${fmtShape(a.shape)} x ${fmtShape(b.shape)}`);
  if (a.rank > 1 && b.rank > 1) return { x, y, resultShape: null };
  // 1-D operands: drop the axis that promotion added.
  const batch = tryBroadcastShapes(x.shape.slice(0, -2), y.shape.slice(0, -2)) ?? [];
  const resultShape = [...batch];
  if (a.rank > 1) resultShape.push(x.shape[x.rank - 2]);
  if (b.rank > 1) resultShape.push(y.shape[y.rank - 1]);
  return { x, y, resultShape };
}

/** Matrix product, like numpy.matmul / torch.matmul / the @ operator. */
export function matmul(a: Tensor, b: Tensor): Tensor {
  const { x, y, resultShape } = prepare(a, b);
  if (x.rank > 2 && y.rank === 2 && !resultShape) {
    // [..., M, K] x [K, N] is one [(...M), K] GEMM: its weight gradient is then one GEMM too,
    // not a product per batch entry summed afterwards (a Dense layer on a GPT's [B, T, C]).
    const k = x.shape[x.rank - 1];
    const flat = matmulT(reshape(x, [x.size / k, k]), y, false, false);
    return reshape(flat, [...x.shape.slice(0, -1), y.shape[1]]);
  }
  const out = matmulT(x, y, false, false);
  return resultShape ? reshape(out, resultShape) : out;
}

/**
 * matmul computed off the main thread where the backend can (native), so that a server's
 * event loop keeps answering while a large product runs. For inference: it records no
 * gradient.
 */
export async function matmulAsync(a: Tensor, b: Tensor): Promise<Tensor> {
  const { x, y, resultShape } = prepare(a, b);
  const backend = x.backend;
  if (y.backend !== backend) fail('matmul', `tensors are on different backends (${backend.name} and ${y.backend.name})`);
  if (!backend.matmulAsync) return noGrad(() => matmul(a, b));
  const batch = tryBroadcastShapes(x.shape.slice(0, -2), y.shape.slice(0, -2)) ?? fail('matmul', `batch dimensions do not broadcast: ${fmtShape(x.shape)} x ${fmtShape(y.shape)}`);
  const shape = [...batch, x.shape[x.rank - 2], y.shape[y.rank - 1]];
  const buf = await whileReadAsync([x.buf, y.buf], () => backend.matmulAsync!(x, y, false, false, shape));
  const out = new Tensor(shape, x.dtype, buf, backend);
  return resultShape ? noGrad(() => reshape(out, resultShape)) : out;
}
