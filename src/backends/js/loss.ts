// Fused softmax cross-entropy: one pass per row gives the loss and the logits' gradient.
import type { Buf, TensorInfo } from '../backend.js';
import { type TypedArray, allocArray } from '../../tensor/dtype.js';

export function softmaxCrossEntropy(logits: TensorInfo, labels: TensorInfo): { losses: Buf; grad: Buf } {
  const X = logits.buf as TypedArray;
  const Y = labels.buf as Int32Array;
  const [N, C] = logits.shape;
  const losses = allocArray(logits.dtype, N);
  const grad = allocArray(logits.dtype, N * C);
  for (let i = 0; i < N; i++) {
    const row = i * C;
    let m = -Infinity;
    for (let k = 0; k < C; k++) m = Math.max(m, X[row + k]);
    let s = 0;
    for (let k = 0; k < C; k++) s += Math.exp(X[row + k] - m);
    const logS = Math.log(s);
    // loss = log sum exp(x - m) - (x[y] - m): finite for any finite logits
    losses[i] = logS - (X[row + Y[i]] - m);
    for (let k = 0; k < C; k++) grad[row + k] = Math.exp(X[row + k] - m - logS) - (k === Y[i] ? 1 : 0);
  }
  return { losses, grad };
}
