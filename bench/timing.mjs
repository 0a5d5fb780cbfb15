// What the side-by-side benches share: how many calls fill one sample of about sampleMs, and a
// sample's microseconds per call. The async forms await every call (a peer's session.run, or a
// sync function timed the same way as the peer beside it); the sync forms add no microtask.
export const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

export async function callsPerSample(fn, sampleMs) {
  const t0 = performance.now();
  let n = 0;
  while (performance.now() - t0 < sampleMs) {
    await fn();
    n++;
  }
  return Math.max(1, n);
}

export function callsPerSampleSync(fn, sampleMs) {
  const t0 = performance.now();
  let n = 0;
  while (performance.now() - t0 < sampleMs) (fn(), n++);
  return Math.max(1, n);
}

export async function sample(fn, calls) {
  const t0 = performance.now();
  for (let i = 0; i < calls; i++) await fn();
  return ((performance.now() - t0) * 1000) / calls;
}

export function sampleSync(fn, calls) {
  const t0 = performance.now();
  for (let i = 0; i < calls; i++) fn();
  return ((performance.now() - t0) * 1000) / calls;
}
