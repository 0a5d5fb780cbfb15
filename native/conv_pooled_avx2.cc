// conv_pooled_kernel.h with AVX2+FMA, for CPUs without AVX-512. The tile: one pooling window's
// 4 conv positions x 2 vectors of 8 output channels, 8 accumulators; each reduction step loads
// 2 weight vectors and broadcasts 4 input values for 8 FMAs, straight from the NCHW image.
// MNIST's CNN at batch 32 on one Zen 3 core (perf samples of the whole predict): its first conv
// and pooling went from 17% of 3870 us a call (the direct conv's 8-channel x 8-position tile,
// then maxPool2d on the conv's output) to 14% of 3420.
#include "conv_pooled.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

#include <algorithm>

#include "conv_direct.h"
#include "transpose_avx2.h"

#define LATHE_POOLED_TARGET __attribute__((target("avx2,fma")))

namespace lathe {
namespace conv_pooled {
namespace {

struct F32x8 {
  using V = __m256;
  static constexpr int W = 8;
  LATHE_POOLED_TARGET static V zero() { return _mm256_setzero_ps(); }
  LATHE_POOLED_TARGET static V loadu(const float* p) { return _mm256_loadu_ps(p); }
  LATHE_POOLED_TARGET static void storeu(float* p, V v) { _mm256_storeu_ps(p, v); }
  LATHE_POOLED_TARGET static V bcast(const float* p) { return _mm256_broadcast_ss(p); }
  LATHE_POOLED_TARGET static V fma(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
  LATHE_POOLED_TARGET static V add(V a, V b) { return _mm256_add_ps(a, b); }
  // vmaxps returns its second operand when either is NaN: zero first keeps a NaN.
  LATHE_POOLED_TARGET static V relu(V v) { return _mm256_max_ps(_mm256_setzero_ps(), v); }
  LATHE_POOLED_TARGET static V poolStep(V best, V v) {
    const V larger = _mm256_cmp_ps(v, best, _CMP_GT_OQ);
    const V nanOverNumber = _mm256_and_ps(_mm256_cmp_ps(v, v, _CMP_UNORD_Q), _mm256_cmp_ps(best, best, _CMP_ORD_Q));
    return _mm256_blendv_ps(best, v, _mm256_or_ps(larger, nanOverNumber));
  }
  LATHE_POOLED_TARGET static void transpose(const float* src, int64_t lds, int64_t rows, int64_t cols, float* dst,
                                            int64_t ldd) {
    transposeFloatsAvx2(src, lds, rows, cols, dst, ldd);
  }
};

#include "conv_pooled_kernel.h"

}  // namespace

const Kernel* kernelAvx2() {
  static const Kernel k = {16, &pooledRows<F32x8>};
  static const bool yes = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  }();
  return yes ? &k : nullptr;
}

}  // namespace conv_pooled
}  // namespace lathe

#else

namespace lathe {
namespace conv_pooled {
const Kernel* kernelAvx2() { return nullptr; }
}  // namespace conv_pooled
}  // namespace lathe

#endif
