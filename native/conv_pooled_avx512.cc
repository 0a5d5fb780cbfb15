// conv_pooled_kernel.h with AVX-512: one pooling window's 4 conv positions x 2 vectors of 16
// output channels, 8 zmm accumulators (MNIST's first conv: its 32 channels in one tile).
// Before it, AVX-512 CPUs ran the direct conv's 16x16 tile into a scratch image, then
// maxPool2d, then copied the pooled planes out.
#include "conv_pooled.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

#include <algorithm>

#include "conv_direct.h"
#include "transpose_avx512.h"

#define LATHE_POOLED_TARGET __attribute__((target("avx512f,fma")))

namespace lathe {
namespace conv_pooled {
namespace {

struct F32x16 {
  using V = __m512;
  static constexpr int W = 16;
  LATHE_POOLED_TARGET static V zero() { return _mm512_setzero_ps(); }
  LATHE_POOLED_TARGET static V loadu(const float* p) { return _mm512_loadu_ps(p); }
  LATHE_POOLED_TARGET static void storeu(float* p, V v) { _mm512_storeu_ps(p, v); }
  LATHE_POOLED_TARGET static V bcast(const float* p) { return _mm512_set1_ps(*p); }
  LATHE_POOLED_TARGET static V fma(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
  LATHE_POOLED_TARGET static V add(V a, V b) { return _mm512_add_ps(a, b); }
  // vmaxps returns its second operand when either is NaN: zero first keeps a NaN.
  LATHE_POOLED_TARGET static V relu(V v) { return _mm512_max_ps(_mm512_setzero_ps(), v); }
  LATHE_POOLED_TARGET static V poolStep(V best, V v) {
    const __mmask16 larger = _mm512_cmp_ps_mask(v, best, _CMP_GT_OQ);
    const __mmask16 nanOverNumber = _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q) & _mm512_cmp_ps_mask(best, best, _CMP_ORD_Q);
    return _mm512_mask_mov_ps(best, larger | nanOverNumber, v);
  }
  LATHE_POOLED_TARGET static void transpose(const float* src, int64_t lds, int64_t rows, int64_t cols, float* dst,
                                            int64_t ldd) {
    transposeFloats(src, lds, rows, cols, dst, ldd);
  }
};

#include "conv_pooled_kernel.h"

}  // namespace

const Kernel* kernelAvx512() {
  static const Kernel k = {32, &pooledRows<F32x16>};
  return conv_direct::cpuHasAvx512Fma() ? &k : nullptr;
}

}  // namespace conv_pooled
}  // namespace lathe

#else

namespace lathe {
namespace conv_pooled {
const Kernel* kernelAvx512() { return nullptr; }
}  // namespace conv_pooled
}  // namespace lathe

#endif
