// Fused optimizer updates, in place. The formulas are Adam's Algorithm 1 (Kingma & Ba, 2015)
// and AdamW's decoupled weight decay (Loshchilov & Hutter, 2019).
import type { AdamHyper, TensorInfo } from '../backend.js';
import type { TypedArray } from '../../tensor/dtype.js';

export function adamUpdate(p: TensorInfo, g: TensorInfo, m: TensorInfo, v: TensorInfo, h: AdamHyper): void {
  const P = p.buf as TypedArray;
  const G = g.buf as TypedArray;
  const M = m.buf as TypedArray;
  const V = v.buf as TypedArray;
  const { lr, beta1, beta2, epsilon, weightDecay, decoupled, biasCorrection1, biasCorrection2 } = h;
  for (let i = 0; i < P.length; i++) {
    const grad = decoupled ? G[i] : G[i] + weightDecay * P[i];
    M[i] = beta1 * M[i] + (1 - beta1) * grad;
    V[i] = beta2 * V[i] + (1 - beta2) * grad * grad;
    const decayed = decoupled ? P[i] - lr * weightDecay * P[i] : P[i];
    P[i] = decayed - (lr * (M[i] / biasCorrection1)) / (Math.sqrt(V[i] / biasCorrection2) + epsilon);
  }
}
