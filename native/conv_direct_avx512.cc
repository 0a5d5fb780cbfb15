// The direct convolution's AVX-512 tile: 16 output channels x 1 vector of 16 positions (16 zmm
// accumulators); row segments and the ragged last vector are masked loads and stores. On one
// Zen 4 core (MNIST's first conv, batch 32) 16x1 ran 160-180 us, 12x2 195, 8x3 200-265: one
// vector's masks fit the mask registers, where 3 vectors' spilled to the stack and were
// reloaded every reduction step.
#include "conv_direct.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define LATHE_CONV_TARGET __attribute__((target("avx512f,fma")))

namespace lathe {
namespace conv_direct {
namespace {

struct F32x16 {
  using V = __m512;
  using M = __mmask16;
  static constexpr int W = 16;
  LATHE_CONV_TARGET static V zero() { return _mm512_setzero_ps(); }
  LATHE_CONV_TARGET static V bcast(const float* p) { return _mm512_set1_ps(*p); }
  LATHE_CONV_TARGET static V fma(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
  LATHE_CONV_TARGET static V add(V a, V b) { return _mm512_add_ps(a, b); }
  // vmaxps returns its second operand when either is NaN: zero first keeps a NaN.
  LATHE_CONV_TARGET static V relu(V v) { return _mm512_max_ps(_mm512_setzero_ps(), v); }
  static M mask(int lo, int hi) { return static_cast<M>(((1u << hi) - 1) & ~((1u << lo) - 1)); }
  static M orMask(M a, M b) { return static_cast<M>(a | b); }
  LATHE_CONV_TARGET static V loadz(M m, const float* p) { return _mm512_maskz_loadu_ps(m, p); }
  LATHE_CONV_TARGET static V loadu(const float* p) { return _mm512_loadu_ps(p); }
  LATHE_CONV_TARGET static void storeu(float* p, V v) { _mm512_storeu_ps(p, v); }
  LATHE_CONV_TARGET static V loadMerge(V v, M m, const float* p) { return _mm512_mask_loadu_ps(v, m, p); }
  LATHE_CONV_TARGET static void store(float* p, M m, V v) { _mm512_mask_storeu_ps(p, m, v); }
};

#include "conv_direct_kernel.h"

}  // namespace

const Kernel* kernelAvx512() {
  static const Kernel k = {"avx512", 16, 16, 64, &directImage<F32x16, 16, 1>};
  return cpuHasAvx512Fma() ? &k : nullptr;
}

}  // namespace conv_direct
}  // namespace lathe

#else

namespace lathe {
namespace conv_direct {
const Kernel* kernelAvx512() { return nullptr; }
}  // namespace conv_direct
}  // namespace lathe

#endif
