// Fused optimizer updates, in place on p, m and v, one thread per parameter: Adam's Algorithm 1
// (Kingma & Ba, 2015) and AdamW's decoupled weight decay (Loshchilov & Hutter, 2019).
import type { AdamHyper, TensorInfo } from '../backend.js';
import { fmtShape } from '../../errors.js';
import { sizeOf } from '../../tensor/shape.js';
import type { GpuContext } from './device.js';
import type { GpuBuf } from './memory.js';
import { PRELUDE, bindings, f32Bits, groupsFor, kernel, wgslType } from './wgsl.js';

// params: n, lr, beta1, beta2, epsilon, weightDecay, decoupled, biasCorrection1, biasCorrection2
const ADAM = kernel('adamUpdate', () => `${PRELUDE}
${bindings([['Pm', 'f32', true], ['G', 'f32', false], ['Mm', 'f32', true], ['Vm', 'f32', true]])}
@compute @workgroup_size(256) fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat(gid, nwg);
  if (i >= pu(0u)) { return; }
  let lr = pf(1u); let beta1 = pf(2u); let beta2 = pf(3u); let eps = pf(4u); let wd = pf(5u);
  let decoupled = pu(6u) == 1u;
  let p = Pm[i];
  let grad = select(G[i] + wd * p, G[i], decoupled);
  let m = beta1 * Mm[i] + (1.0 - beta1) * grad;
  let v = beta2 * Vm[i] + (1.0 - beta2) * grad * grad;
  Mm[i] = m;
  Vm[i] = v;
  let decayed = select(p, p - lr * wd * p, decoupled);
  Pm[i] = decayed - (lr * (m / pf(7u))) / (sqrt(v / pf(8u)) + eps);
}`);

export function adamUpdate(ctx: GpuContext, p: TensorInfo, g: TensorInfo, m: TensorInfo, v: TensorInfo, h: AdamHyper): void {
  for (const t of [p, g, m, v]) wgslType('adamUpdate', t.dtype);
  const n = sizeOf(p.shape);
  const params = [n, ...[h.lr, h.beta1, h.beta2, h.epsilon, h.weightDecay].map(f32Bits), h.decoupled ? 1 : 0, f32Bits(h.biasCorrection1), f32Bits(h.biasCorrection2)];
  const bufs = [p, g, m, v].map((t) => t.buf as GpuBuf);
  ctx.launch(`adamUpdate ${fmtShape(p.shape)}`, ADAM, bufs, params, groupsFor(n));
  for (const b of [bufs[0], bufs[2], bufs[3]]) b.host = null; // updated in place
}
