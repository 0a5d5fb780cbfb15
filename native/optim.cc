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
  // 256K elements a chunk. Splitting the brief's 100K-weight matrix over two threads measured
  // slower inside a training step (77-117 us against 48 us), since each core then updates data
  // that the other core's cache holds.
  pool.parallelFor(n, 1 << 18, [&](int64_t b, int64_t e) {
    adamRange<T>(p, g, m, v, b, e, T(h.beta1), T(h.beta2), l2, keep, stepSize, invSqrtBc2, T(h.epsilon));
  });
}

template void adamUpdate<float>(float*, const float*, float*, float*, int64_t, const AdamHyper&, ThreadPool&);
template void adamUpdate<double>(double*, const double*, double*, double*, int64_t, const AdamHyper&, ThreadPool&);

}  // namespace lathe
