// Portable GEMM kernels in plain C++: a 4x8 tile whose inner loops the compiler vectorises at
// the baseline ISA (SSE2 on x86-64, NEON on arm64). Used where no SIMD path applies.
#include <cstring>

#include "gemm_internal.h"

namespace lathe {
namespace gemm_internal {
namespace {

// 4x8: 32 accumulators = 8 xmm of floats (16 of doubles), which fits SSE2's 16 registers with
// B and the broadcast for float; larger tiles spilled at baseline.
constexpr int kMR = 4;
constexpr int kNR = 8;

template <typename T>
void packA(bool trans, const T* A, int64_t lda, int64_t mc, int64_t kc, T* dst) {
  for (int64_t i0 = 0; i0 < mc; i0 += kMR, dst += kMR * kc) {
    const int64_t m = mc - i0 < kMR ? mc - i0 : kMR;
    for (int64_t k = 0; k < kc; k++)
      for (int64_t i = 0; i < kMR; i++)
        dst[k * kMR + i] = i < m ? (trans ? A[k * lda + i0 + i] : A[(i0 + i) * lda + k]) : T(0);
  }
}

template <typename T>
void packB(bool trans, const T* B, int64_t ldb, int64_t kc, int64_t nc, T* dst) {
  for (int64_t j0 = 0; j0 < nc; j0 += kNR, dst += kNR * kc) {
    const int64_t n = nc - j0 < kNR ? nc - j0 : kNR;
    for (int64_t k = 0; k < kc; k++)
      for (int64_t j = 0; j < kNR; j++)
        dst[k * kNR + j] = j < n ? (trans ? B[(j0 + j) * ldb + k] : B[k * ldb + j0 + j]) : T(0);
  }
}

// Full tile: fixed trip counts, so the compiler unrolls i, vectorises j and keeps acc in
// registers (with a runtime bound it ran at 6 GFLOP/s instead of 32 at 1024^3 on SSE2).
template <typename T>
void fullTile(int64_t kc, const T* A, int64_t as, const T* B, int64_t bs, T (&acc)[kMR][kNR]) {
  for (int64_t k = 0; k < kc; k++) {
    const T* a = A + k * as;
    const T* b = B + k * bs;
    for (int i = 0; i < kMR; i++)
      for (int j = 0; j < kNR; j++) acc[i][j] += a[i] * b[j];
  }
}

// Edge tile: reads only the m x n corner, since unpacked operands have no padding to over-read.
template <typename T>
void edgeTile(int64_t kc, const T* A, int64_t as, const T* B, int64_t bs, int m, int n, T (&acc)[kMR][kNR]) {
  for (int64_t k = 0; k < kc; k++)
    for (int i = 0; i < m; i++)
      for (int j = 0; j < n; j++) acc[i][j] += A[k * as + i] * B[k * bs + j];
}

template <typename T>
void tile(int64_t kc, const T* A, int64_t as, const T* B, int64_t bs, T* C, int64_t ldc, bool accumulate,
          int m, int n) {
  T acc[kMR][kNR] = {};
  if (m == kMR && n == kNR) fullTile(kc, A, as, B, bs, acc);
  else edgeTile(kc, A, as, B, bs, m, n, acc);
  for (int i = 0; i < m; i++)
    for (int j = 0; j < n; j++) C[i * ldc + j] = accumulate ? C[i * ldc + j] + acc[i][j] : acc[i][j];
}

}  // namespace

// Blocks: a 4x8 float tile streams 48 bytes per 32 FMAs, so kc=256 keeps the B panel (8 KiB)
// in L1 and mc=128 keeps the A block (128 KiB) in a typical L2.
// B in place: the AVX-512 limits (not measured for this kernel).
const Kernel<float>* sgemmKernelPortable() {
  static const Kernel<float> k = {"portable", kMR, kNR, 128, 256, 2048, 256, 64 * 1024,
                                  &packA<float>, &packB<float>, &tile<float>, nullptr, 0};
  return &k;
}
const Kernel<double>* dgemmKernelPortable() {
  static const Kernel<double> k = {"portable", kMR, kNR, 128, 256, 1024, 256, 64 * 1024,
                                   &packA<double>, &packB<double>, &tile<double>, nullptr, 0};
  return &k;
}

}  // namespace gemm_internal
}  // namespace lathe
