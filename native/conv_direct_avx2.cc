// The direct convolution's AVX2+FMA tile: 8 output channels x 1 vector of 8 positions, which
// leaves room in the 16 ymm registers for the input, a broadcast and the lane masks (AVX2 masks
// are vectors too). Against the AVX2 GEMM's im2col path (one Zen 4 core, batch 32, noisy):
// 1.0-1.6x at reductions 9 to 27, 0.6-0.8x from 36 on, hence maxReduction 32.
#include "conv_direct.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define LATHE_CONV_TARGET __attribute__((target("avx2,fma")))

namespace lathe {
namespace conv_direct {
namespace {

struct F32x8 {
  using V = __m256;
  using M = __m256i;
  static constexpr int W = 8;
  LATHE_CONV_TARGET static V zero() { return _mm256_setzero_ps(); }
  LATHE_CONV_TARGET static V bcast(const float* p) { return _mm256_broadcast_ss(p); }
  LATHE_CONV_TARGET static V fma(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
  LATHE_CONV_TARGET static V add(V a, V b) { return _mm256_add_ps(a, b); }
  // vmaxps returns its second operand when either is NaN: zero first keeps a NaN.
  LATHE_CONV_TARGET static V relu(V v) { return _mm256_max_ps(_mm256_setzero_ps(), v); }
  LATHE_CONV_TARGET static M mask(int lo, int hi) {
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    return _mm256_andnot_si256(_mm256_cmpgt_epi32(_mm256_set1_epi32(lo), lane),
                               _mm256_cmpgt_epi32(_mm256_set1_epi32(hi), lane));
  }
  LATHE_CONV_TARGET static M orMask(M a, M b) { return _mm256_or_si256(a, b); }
  LATHE_CONV_TARGET static V loadz(M m, const float* p) { return _mm256_maskload_ps(p, m); }
  LATHE_CONV_TARGET static V loadu(const float* p) { return _mm256_loadu_ps(p); }
  LATHE_CONV_TARGET static void storeu(float* p, V v) { _mm256_storeu_ps(p, v); }
  // Segments cover disjoint lanes and a masked load zeroes the rest, so OR merges them.
  LATHE_CONV_TARGET static V loadMerge(V v, M m, const float* p) { return _mm256_or_ps(v, _mm256_maskload_ps(p, m)); }
  LATHE_CONV_TARGET static void store(float* p, M m, V v) { _mm256_maskstore_ps(p, m, v); }
};

#include "conv_direct_kernel.h"

bool cpuHasAvx2() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

}  // namespace

const Kernel* kernelAvx2() {
  static const Kernel k = {"avx2", 8, 8, 32, &directImage<F32x8, 8, 1>};
  return cpuHasAvx2() ? &k : nullptr;
}

}  // namespace conv_direct
}  // namespace lathe

#else

namespace lathe {
namespace conv_direct {
const Kernel* kernelAvx2() { return nullptr; }
}  // namespace conv_direct
}  // namespace lathe

#endif
