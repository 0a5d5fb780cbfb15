// Sixteen floats quantized to uint8 as quantizeValues does (ONNX QuantizeLinear: rint(v / scale)
// + zeroPoint, saturated), with a multiply where it gives the same integers. Include only from
// functions compiled with target("avx512f").
#pragma once
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

#include <cmath>

namespace lathe {

struct Quantizer16 {
  __m512 scale, inverse, zeroPoint;
  bool multiply;  // 1/scale is a normal float, so v * inverse is within 1.5 ulp of v / scale
};

__attribute__((target("avx512f"), always_inline)) inline Quantizer16 quantizer16(float scale, float zeroPoint) {
  const float inverse = 1.0f / scale;
  return {_mm512_set1_ps(scale), _mm512_set1_ps(inverse), _mm512_set1_ps(zeroPoint), std::isnormal(inverse)};
}

// The quantized values as floats in 0..255 (NaN gives 0). The division bounds a quantization
// pass (its throughput is a fifth of a multiply's), so y = v * (1/scale) stands in for it: y is
// within |v/scale| * 1.5 * 2^-23 of the rounded quotient, under 1e-4 while |y| < 512, so the two
// round to different integers only when y lies within 1e-4 of a half (then this vector divides),
// and from |y| >= 512 both saturate whatever the zero point.
__attribute__((target("avx512f"), always_inline)) inline __m512 quantize16(const Quantizer16& q, __m512 v) {
  constexpr int kNearest = _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC;
  __m512 r;
  if (q.multiply) {
    const __m512 y = _mm512_mul_ps(v, q.inverse);
    r = _mm512_roundscale_ps(y, kNearest);
    const __m512 d = _mm512_abs_ps(_mm512_sub_ps(y, r));
    const __mmask16 near = _mm512_cmp_ps_mask(d, _mm512_set1_ps(0.5f - 0x1p-12f), _CMP_GE_OQ) &
                           _mm512_cmp_ps_mask(_mm512_abs_ps(y), _mm512_set1_ps(512.0f), _CMP_LT_OQ);
    if (near) r = _mm512_roundscale_ps(_mm512_div_ps(v, q.scale), kNearest);
  } else {
    r = _mm512_roundscale_ps(_mm512_div_ps(v, q.scale), kNearest);
  }
  const __m512 u = _mm512_add_ps(r, q.zeroPoint);
  return _mm512_min_ps(_mm512_max_ps(u, _mm512_setzero_ps()), _mm512_set1_ps(255.0f));  // max(NaN, 0) is 0: the second operand
}

}  // namespace lathe
#endif
