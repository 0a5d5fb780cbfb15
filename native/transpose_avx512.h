// A 16 x 16 transpose of 32-bit elements in AVX-512 registers (int8 GEMM packing moves 4-byte
// groups, the quantized conv moves floats between NCHW and channels-last). Include only from
// functions compiled with target("avx512f").
#pragma once
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

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

}  // namespace lathe
#endif
