// A 16 x 16 transpose of 32-bit elements in AVX-512 registers (int8 GEMM packing moves 4-byte
// groups, the quantized conv moves floats between NCHW and channels-last). Include only from
// functions compiled with target("avx512f").
#pragma once
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

#include <cstdint>

namespace lathe {

// out[j] = column j of the 16 x 16 matrix whose rows are r[0..15].
__attribute__((target("avx512f"), always_inline)) inline void transpose16x16(const __m512i r[16], __m512i out[16]) {
  // u[R][c], 128-bit lane L: column 4L + c of rows 4R..4R+3.
  __m512i u[4][4];
  for (int R = 0; R < 4; R++) {
    const __m512i t0 = _mm512_unpacklo_epi32(r[4 * R], r[4 * R + 1]), t1 = _mm512_unpackhi_epi32(r[4 * R], r[4 * R + 1]);
    const __m512i t2 = _mm512_unpacklo_epi32(r[4 * R + 2], r[4 * R + 3]), t3 = _mm512_unpackhi_epi32(r[4 * R + 2], r[4 * R + 3]);
    u[R][0] = _mm512_unpacklo_epi64(t0, t2);
    u[R][1] = _mm512_unpackhi_epi64(t0, t2);
    u[R][2] = _mm512_unpacklo_epi64(t1, t3);
    u[R][3] = _mm512_unpackhi_epi64(t1, t3);
  }
  // Gather lane L of u[0..3][c] into one register: column 4L + c, rows 0..15 in order.
  for (int c = 0; c < 4; c++) {
    const __m512i lo01 = _mm512_shuffle_i32x4(u[0][c], u[1][c], 0x44), hi01 = _mm512_shuffle_i32x4(u[0][c], u[1][c], 0xEE);
    const __m512i lo23 = _mm512_shuffle_i32x4(u[2][c], u[3][c], 0x44), hi23 = _mm512_shuffle_i32x4(u[2][c], u[3][c], 0xEE);
    out[c] = _mm512_shuffle_i32x4(lo01, lo23, 0x88);
    out[4 + c] = _mm512_shuffle_i32x4(lo01, lo23, 0xDD);
    out[8 + c] = _mm512_shuffle_i32x4(hi01, hi23, 0x88);
    out[12 + c] = _mm512_shuffle_i32x4(hi01, hi23, 0xDD);
  }
}

// dst[j * ldd + i] = src[i * lds + j] for i < rows, j < cols: a float matrix transposed in
// 16 x 16 blocks, so both sides move whole cache lines; the edges by masked loads and stores.
__attribute__((target("avx512f"))) inline void transposeFloats(const float* src, int64_t lds, int64_t rows, int64_t cols, float* dst, int64_t ldd) {
  for (int64_t i0 = 0; i0 < rows; i0 += 16)
    for (int64_t j0 = 0; j0 < cols; j0 += 16) {
      const int64_t ri = rows - i0 < 16 ? rows - i0 : 16, cj = cols - j0 < 16 ? cols - j0 : 16;
      const __mmask16 colMask = static_cast<__mmask16>((1u << cj) - 1), rowMask = static_cast<__mmask16>((1u << ri) - 1);
      __m512i r[16], t[16];
      for (int i = 0; i < 16; i++)
        r[i] = i < ri ? _mm512_castps_si512(_mm512_maskz_loadu_ps(colMask, src + (i0 + i) * lds + j0)) : _mm512_setzero_si512();
      transpose16x16(r, t);
      for (int j = 0; j < cj; j++) _mm512_mask_storeu_ps(dst + (j0 + j) * ldd + i0, rowMask, _mm512_castsi512_ps(t[j]));
    }
}

}  // namespace lathe
#endif
