// Winograd F(2x2, 3x3) on AVX2+FMA: conv_winograd_simd.h on vectors of 8 channels, the weight
// transform on 4 doubles, the layout changes through 8x8 transposes.
#include "conv_winograd.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define LATHE_WINOGRAD_TARGET __attribute__((target("avx2,fma")))
#include "conv_winograd_simd.h"
#include "transpose_avx2.h"

namespace lathe {
namespace winograd {
namespace {

// Lane masks for partial loads and stores: the first n lanes of the window at kMask + 8 - n.
alignas(32) const int32_t kMask[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};

struct F32x8 {
  static constexpr int kLanes = 8;
  using F = __m256;
  using D = __m256d;
  LATHE_WINOGRAD_TARGET static __m256i mask(int64_t n) {
    return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(kMask + 8 - std::min<int64_t>(n, kLanes)));
  }
  LATHE_WINOGRAD_TARGET static F zero() { return _mm256_setzero_ps(); }
  LATHE_WINOGRAD_TARGET static F load(const float* p) { return _mm256_loadu_ps(p); }
  LATHE_WINOGRAD_TARGET static void store(float* p, F v) { _mm256_storeu_ps(p, v); }
  // Masked stores are microcoded on AMD's Zen (tens of cycles), so whole vectors go plainly and a
  // partial one lane by lane.
  LATHE_WINOGRAD_TARGET static F loadN(const float* p, int64_t n) { return n >= kLanes ? load(p) : _mm256_maskload_ps(p, mask(n)); }
  LATHE_WINOGRAD_TARGET static void storeN(float* p, F v, int64_t n) {
    if (n >= kLanes) return store(p, v);
    alignas(32) float lanes[kLanes];
    _mm256_store_ps(lanes, v);
    for (int64_t i = 0; i < n; i++) p[i] = lanes[i];
  }
  LATHE_WINOGRAD_TARGET static F add(F a, F b) { return _mm256_add_ps(a, b); }
  LATHE_WINOGRAD_TARGET static F sub(F a, F b) { return _mm256_sub_ps(a, b); }
  LATHE_WINOGRAD_TARGET static F max(F a, F b) { return _mm256_max_ps(a, b); }
  using Mask = __m256;  // all ones or all zeros per lane
  LATHE_WINOGRAD_TARGET static Mask greater(F a, F b) { return _mm256_cmp_ps(a, b, _CMP_GT_OQ); }
  LATHE_WINOGRAD_TARGET static Mask isNan(F a) { return _mm256_cmp_ps(a, a, _CMP_UNORD_Q); }
  LATHE_WINOGRAD_TARGET static Mask notNan(F a) { return _mm256_cmp_ps(a, a, _CMP_ORD_Q); }
  LATHE_WINOGRAD_TARGET static Mask orMask(Mask a, Mask b) { return _mm256_or_ps(a, b); }
  LATHE_WINOGRAD_TARGET static Mask andMask(Mask a, Mask b) { return _mm256_and_ps(a, b); }
  LATHE_WINOGRAD_TARGET static F select(Mask m, F ifSet, F otherwise) { return _mm256_blendv_ps(otherwise, ifSet, m); }
  LATHE_WINOGRAD_TARGET static void widen(F v, D& lo, D& hi) {
    lo = _mm256_cvtps_pd(_mm256_castps256_ps128(v));
    hi = _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1));
  }
  LATHE_WINOGRAD_TARGET static F narrow(D lo, D hi) { return _mm256_insertf128_ps(_mm256_castps128_ps256(_mm256_cvtpd_ps(lo)), _mm256_cvtpd_ps(hi), 1); }
  LATHE_WINOGRAD_TARGET static D dset(double v) { return _mm256_set1_pd(v); }
  LATHE_WINOGRAD_TARGET static D dadd(D a, D b) { return _mm256_add_pd(a, b); }
  LATHE_WINOGRAD_TARGET static D dsub(D a, D b) { return _mm256_sub_pd(a, b); }
  LATHE_WINOGRAD_TARGET static D dmul(D a, D b) { return _mm256_mul_pd(a, b); }
  static void transpose(const float* src, int64_t lds, int64_t rows, int64_t cols, float* dst, int64_t ldd) {
    transposeFloatsAvx2(src, lds, rows, cols, dst, ldd);
  }
};

}  // namespace

const Kernel* kernelAvx2() {
  static const Kernel k = {"avx2", &winogradTakes<F32x8>, &winogradRun<F32x8>};
  static const bool yes = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  }();
  return yes ? &k : nullptr;
}

}  // namespace winograd
}  // namespace lathe

#else

namespace lathe {
namespace winograd {
const Kernel* kernelAvx2() { return nullptr; }
}  // namespace winograd
}  // namespace lathe

#endif
