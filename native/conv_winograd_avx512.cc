// Winograd F(2x2, 3x3) on AVX-512: conv_winograd_simd.h on vectors of 16 channels, the weight
// transform on 8 doubles, the layout changes through 16x16 transposes.
#include "conv_winograd.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define LATHE_WINOGRAD_TARGET __attribute__((target("avx512f")))
#include "conv_winograd_simd.h"
#include "transpose_avx512.h"

namespace lathe {
namespace winograd {
namespace {

struct F32x16 {
  static constexpr int kLanes = 16;
  using F = __m512;
  using D = __m512d;
  LATHE_WINOGRAD_TARGET static __mmask16 mask(int64_t n) { return n >= kLanes ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << n) - 1); }
  LATHE_WINOGRAD_TARGET static F zero() { return _mm512_setzero_ps(); }
  LATHE_WINOGRAD_TARGET static F load(const float* p) { return _mm512_loadu_ps(p); }
  LATHE_WINOGRAD_TARGET static void store(float* p, F v) { _mm512_storeu_ps(p, v); }
  LATHE_WINOGRAD_TARGET static F loadN(const float* p, int64_t n) { return _mm512_maskz_loadu_ps(mask(n), p); }
  LATHE_WINOGRAD_TARGET static void storeN(float* p, F v, int64_t n) { _mm512_mask_storeu_ps(p, mask(n), v); }
  LATHE_WINOGRAD_TARGET static F add(F a, F b) { return _mm512_add_ps(a, b); }
  LATHE_WINOGRAD_TARGET static F sub(F a, F b) { return _mm512_sub_ps(a, b); }
  LATHE_WINOGRAD_TARGET static F max(F a, F b) { return _mm512_max_ps(a, b); }
  using Mask = __mmask16;
  LATHE_WINOGRAD_TARGET static Mask greater(F a, F b) { return _mm512_cmp_ps_mask(a, b, _CMP_GT_OQ); }
  LATHE_WINOGRAD_TARGET static Mask isNan(F a) { return _mm512_cmp_ps_mask(a, a, _CMP_UNORD_Q); }
  LATHE_WINOGRAD_TARGET static Mask notNan(F a) { return _mm512_cmp_ps_mask(a, a, _CMP_ORD_Q); }
  LATHE_WINOGRAD_TARGET static Mask orMask(Mask a, Mask b) { return static_cast<Mask>(a | b); }
  LATHE_WINOGRAD_TARGET static Mask andMask(Mask a, Mask b) { return static_cast<Mask>(a & b); }
  LATHE_WINOGRAD_TARGET static F select(Mask m, F ifSet, F otherwise) { return _mm512_mask_blend_ps(m, otherwise, ifSet); }
  LATHE_WINOGRAD_TARGET static void widen(F v, D& lo, D& hi) {
    lo = _mm512_cvtps_pd(_mm512_castps512_ps256(v));
    hi = _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1)));
  }
  LATHE_WINOGRAD_TARGET static F narrow(D lo, D hi) {
    return _mm512_castpd_ps(_mm512_insertf64x4(_mm512_castpd256_pd512(_mm256_castps_pd(_mm512_cvtpd_ps(lo))), _mm256_castps_pd(_mm512_cvtpd_ps(hi)), 1));
  }
  LATHE_WINOGRAD_TARGET static D dset(double v) { return _mm512_set1_pd(v); }
  LATHE_WINOGRAD_TARGET static D dadd(D a, D b) { return _mm512_add_pd(a, b); }
  LATHE_WINOGRAD_TARGET static D dsub(D a, D b) { return _mm512_sub_pd(a, b); }
  LATHE_WINOGRAD_TARGET static D dmul(D a, D b) { return _mm512_mul_pd(a, b); }
  static void transpose(const float* src, int64_t lds, int64_t rows, int64_t cols, float* dst, int64_t ldd) {
    transposeFloats(src, lds, rows, cols, dst, ldd);
  }
};

}  // namespace

const Kernel* kernelAvx512() {
  static const Kernel k = {"avx512", &winogradTakes<F32x16>, &winogradRun<F32x16>};
  return conv_direct::cpuHasAvx512Fma() ? &k : nullptr;
}

}  // namespace winograd
}  // namespace lathe

#else

namespace lathe {
namespace winograd {
const Kernel* kernelAvx512() { return nullptr; }
}  // namespace winograd
}  // namespace lathe

#endif
