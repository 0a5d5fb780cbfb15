// Fused optimizer updates, in place: one pass over p, g, m and v instead of a dozen kernels.
// The same formulas as src/backends/js/optim.ts (Adam's Algorithm 1, AdamW's decoupled decay),
// rearranged so the loop has no branch and one division: the compiler then vectorises it
// (measured 8x faster than the direct form on 100K floats).
#include <cmath>

#include "kernels.h"

namespace lathe {

namespace {

template <typename T>
#if defined(__x86_64__)
__attribute__((target_clones("avx512f", "avx2", "default")))
#endif
void adamRange(T* __restrict p, const T* __restrict g, T* __restrict m, T* __restrict v, int64_t b, int64_t e, T b1,
               T b2, T l2, T keep, T stepSize, T invSqrtBc2, T eps) {
  for (int64_t i = b; i < e; i++) {
    const T grad = g[i] + l2 * p[i];
    const T mi = b1 * m[i] + (T(1) - b1) * grad;
    const T vi = b2 * v[i] + (T(1) - b2) * grad * grad;
    m[i] = mi;
    v[i] = vi;
    // p - lr * (m / bc1) / (sqrt(v / bc2) + eps), with AdamW's decay folded into `keep`
    p[i] = keep * p[i] - stepSize * mi / (std::sqrt(vi) * invSqrtBc2 + eps);
  }
}

}  // namespace

template <typename T>
void adamUpdate(T* p, const T* g, T* m, T* v, int64_t n, const AdamHyper& h, ThreadPool& pool) {
  const T l2 = h.decoupled ? T(0) : T(h.weightDecay);
  const T keep = h.decoupled ? T(1 - h.lr * h.weightDecay) : T(1);
  const T stepSize = T(h.lr / h.biasCorrection1), invSqrtBc2 = T(1 / std::sqrt(h.biasCorrection2));
  // 32K elements a chunk, so the brief's 100K-weight matrix spreads over both cores. Inside a
  // training step p, g, m and v (1.6 MB) have left the L2 cache, and two cores stream them from
  // L3 faster than one: train-step median 205-218 us against 231-273 us with 256K chunks,
  // interleaved A/B on 2026-11-28 (an earlier session measured the reverse; re-measure here).
  pool.parallelFor(n, 1 << 15, [&](int64_t b, int64_t e) {
    adamRange<T>(p, g, m, v, b, e, T(h.beta1), T(h.beta2), l2, keep, stepSize, invSqrtBc2, T(h.epsilon));
  });
}

template void adamUpdate<float>(float*, const float*, float*, float*, int64_t, const AdamHyper&, ThreadPool&);
template void adamUpdate<double>(double*, const double*, double*, double*, int64_t, const AdamHyper&, ThreadPool&);

}  // namespace lathe
