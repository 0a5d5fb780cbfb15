// An 8 x 8 transpose of floats in AVX2 registers, and a float matrix transposed through it (the
// AVX2 Winograd's NCHW <-> channels-last moves). Include only from code compiled for AVX2; the
// AVX-512 counterpart is transpose_avx512.h.
#pragma once
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

#include <cstdint>

namespace lathe {

// The 8 x 8 matrix whose rows are r[0..7], transposed in place.
__attribute__((target("avx2"), always_inline)) inline void transpose8x8(__m256 r[8]) {
  __m256 t[8], u[8];
  for (int i = 0; i < 4; i++) {
    t[2 * i] = _mm256_unpacklo_ps(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm256_unpackhi_ps(r[2 * i], r[2 * i + 1]);
  }
  for (int i = 0; i < 2; i++) {
    u[4 * i] = _mm256_shuffle_ps(t[4 * i], t[4 * i + 2], 0x44);
    u[4 * i + 1] = _mm256_shuffle_ps(t[4 * i], t[4 * i + 2], 0xEE);
    u[4 * i + 2] = _mm256_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0x44);
    u[4 * i + 3] = _mm256_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0xEE);
  }
  for (int i = 0; i < 4; i++) {
    r[i] = _mm256_permute2f128_ps(u[i], u[4 + i], 0x20);
    r[4 + i] = _mm256_permute2f128_ps(u[i], u[4 + i], 0x31);
  }
}

// dst[j * ldd + i] = src[i * lds + j] for i < rows, j < cols: whole 8 x 8 blocks in registers,
// the partial ones at the edges element by element.
__attribute__((target("avx2"))) inline void transposeFloatsAvx2(const float* src, int64_t lds, int64_t rows, int64_t cols, float* dst, int64_t ldd) {
  const int64_t fullRows = rows / 8 * 8, fullCols = cols / 8 * 8;
  for (int64_t i0 = 0; i0 < fullRows; i0 += 8)
    for (int64_t j0 = 0; j0 < fullCols; j0 += 8) {
      __m256 r[8];
      for (int i = 0; i < 8; i++) r[i] = _mm256_loadu_ps(src + (i0 + i) * lds + j0);
      transpose8x8(r);
      for (int j = 0; j < 8; j++) _mm256_storeu_ps(dst + (j0 + j) * ldd + i0, r[j]);
    }
  for (int64_t i = 0; i < rows; i++)
    for (int64_t j = i < fullRows ? fullCols : 0; j < cols; j++) dst[j * ldd + i] = src[i * lds + j];
}

}  // namespace lathe
#endif
