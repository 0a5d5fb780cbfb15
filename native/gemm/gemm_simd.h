// Shared x86 SIMD GEMM templates (tile kernel, packing, tables), written against a small
// vector-traits class S. Included by one ISA file each, after it defines LATHE_GEMM_TARGET.
// Everything sits in an anonymous namespace so each ISA's copy stays private to its file: the
// same template compiled for AVX-512 must never be linked into a baseline caller.
#ifndef LATHE_GEMM_TARGET
#error "define LATHE_GEMM_TARGET before including gemm_simd.h"
#endif
#include <immintrin.h>

#include <cstring>

#include "gemm_internal.h"

namespace lathe {
namespace gemm_internal {
namespace {

// 8x8 float transpose in ymm: dst[c*ldd + r] = src[r*lds + c].
LATHE_GEMM_TARGET inline void transpose8x8(const float* src, int64_t lds, float* dst, int64_t ldd) {
  __m256 r0 = _mm256_loadu_ps(src + 0 * lds), r1 = _mm256_loadu_ps(src + 1 * lds);
  __m256 r2 = _mm256_loadu_ps(src + 2 * lds), r3 = _mm256_loadu_ps(src + 3 * lds);
  __m256 r4 = _mm256_loadu_ps(src + 4 * lds), r5 = _mm256_loadu_ps(src + 5 * lds);
  __m256 r6 = _mm256_loadu_ps(src + 6 * lds), r7 = _mm256_loadu_ps(src + 7 * lds);
  __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1);
  __m256 t2 = _mm256_unpacklo_ps(r2, r3), t3 = _mm256_unpackhi_ps(r2, r3);
  __m256 t4 = _mm256_unpacklo_ps(r4, r5), t5 = _mm256_unpackhi_ps(r4, r5);
  __m256 t6 = _mm256_unpacklo_ps(r6, r7), t7 = _mm256_unpackhi_ps(r6, r7);
  __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE);
  __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE);
  __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE);
  __m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
  _mm256_storeu_ps(dst + 0 * ldd, _mm256_permute2f128_ps(u0, u4, 0x20));
  _mm256_storeu_ps(dst + 1 * ldd, _mm256_permute2f128_ps(u1, u5, 0x20));
  _mm256_storeu_ps(dst + 2 * ldd, _mm256_permute2f128_ps(u2, u6, 0x20));
  _mm256_storeu_ps(dst + 3 * ldd, _mm256_permute2f128_ps(u3, u7, 0x20));
  _mm256_storeu_ps(dst + 4 * ldd, _mm256_permute2f128_ps(u0, u4, 0x31));
  _mm256_storeu_ps(dst + 5 * ldd, _mm256_permute2f128_ps(u1, u5, 0x31));
  _mm256_storeu_ps(dst + 6 * ldd, _mm256_permute2f128_ps(u2, u6, 0x31));
  _mm256_storeu_ps(dst + 7 * ldd, _mm256_permute2f128_ps(u3, u7, 0x31));
}

// 4x4 float transpose in xmm.
LATHE_GEMM_TARGET inline void transpose4x4(const float* src, int64_t lds, float* dst, int64_t ldd) {
  __m128 r0 = _mm_loadu_ps(src), r1 = _mm_loadu_ps(src + lds);
  __m128 r2 = _mm_loadu_ps(src + 2 * lds), r3 = _mm_loadu_ps(src + 3 * lds);
  __m128 t0 = _mm_unpacklo_ps(r0, r1), t1 = _mm_unpackhi_ps(r0, r1);
  __m128 t2 = _mm_unpacklo_ps(r2, r3), t3 = _mm_unpackhi_ps(r2, r3);
  _mm_storeu_ps(dst, _mm_movelh_ps(t0, t2));
  _mm_storeu_ps(dst + ldd, _mm_movehl_ps(t2, t0));
  _mm_storeu_ps(dst + 2 * ldd, _mm_movelh_ps(t1, t3));
  _mm_storeu_ps(dst + 3 * ldd, _mm_movehl_ps(t3, t1));
}

// 4x4 double transpose in ymm.
LATHE_GEMM_TARGET inline void transpose4x4(const double* src, int64_t lds, double* dst, int64_t ldd) {
  __m256d r0 = _mm256_loadu_pd(src), r1 = _mm256_loadu_pd(src + lds);
  __m256d r2 = _mm256_loadu_pd(src + 2 * lds), r3 = _mm256_loadu_pd(src + 3 * lds);
  __m256d t0 = _mm256_unpacklo_pd(r0, r1), t1 = _mm256_unpackhi_pd(r0, r1);
  __m256d t2 = _mm256_unpacklo_pd(r2, r3), t3 = _mm256_unpackhi_pd(r2, r3);
  _mm256_storeu_pd(dst, _mm256_permute2f128_pd(t0, t2, 0x20));
  _mm256_storeu_pd(dst + ldd, _mm256_permute2f128_pd(t1, t3, 0x20));
  _mm256_storeu_pd(dst + 2 * ldd, _mm256_permute2f128_pd(t0, t2, 0x31));
  _mm256_storeu_pd(dst + 3 * ldd, _mm256_permute2f128_pd(t1, t3, 0x31));
}

// dst[c*ldd + r] = src[r*lds + c] for r < rows, c < cols. Full 8x8 / 4x4 blocks go through
// shuffles; ragged edges are scalar. Scalar throughout, packing W^T (784x128) took 31 us and
// A (32x784) 12 us, against 10-14 and 3-4 us with shuffles and ~60 us for a whole training-shape
// product on one core.
template <typename T>
LATHE_GEMM_TARGET void transposeCopy(const T* src, int64_t lds, int64_t rows, int64_t cols, T* dst,
                                     int64_t ldd) {
  int64_t r = 0;
  if (sizeof(T) == 4) {
    for (; r + 8 <= rows; r += 8) {
      int64_t c = 0;
      for (; c + 8 <= cols; c += 8)
        transpose8x8(reinterpret_cast<const float*>(src + r * lds + c), lds,
                     reinterpret_cast<float*>(dst + c * ldd + r), ldd);
      for (; c < cols; c++)
        for (int64_t i = 0; i < 8; i++) dst[c * ldd + r + i] = src[(r + i) * lds + c];
    }
  }
  for (; r + 4 <= rows; r += 4) {
    int64_t c = 0;
    for (; c + 4 <= cols; c += 4) transpose4x4(src + r * lds + c, lds, dst + c * ldd + r, ldd);
    for (; c < cols; c++)
      for (int64_t i = 0; i < 4; i++) dst[c * ldd + r + i] = src[(r + i) * lds + c];
  }
  for (; r < rows; r++)
    for (int64_t c = 0; c < cols; c++) dst[c * ldd + r] = src[r * lds + c];
}

// Packs op(A)[mc,kc] into MR-row slivers (layout in gemm_internal.h).
template <typename T, int MR>
LATHE_GEMM_TARGET void packA(bool trans, const T* A, int64_t lda, int64_t mc, int64_t kc, T* dst) {
  for (int64_t i0 = 0; i0 < mc; i0 += MR, dst += MR * kc) {
    const int64_t m = mc - i0 < MR ? mc - i0 : MR;
    if (m < MR) std::memset(dst, 0, sizeof(T) * MR * kc);
    if (trans) {  // stored [kc, mc]: each k is a contiguous run of m values
      const T* a = A + i0;
      if (m == MR) {
        for (int64_t k = 0; k < kc; k++)
          for (int i = 0; i < MR; i++) dst[k * MR + i] = a[k * lda + i];
      } else {
        for (int64_t k = 0; k < kc; k++)
          for (int64_t i = 0; i < m; i++) dst[k * MR + i] = a[k * lda + i];
      }
    } else if (MR == 6 && sizeof(T) == 4 && i0 + 8 <= mc) {
      // AVX2's 6-row slivers through 8x8 transposes of the next 8 rows (all inside the block):
      // transposeCopy would take 4 rows in 4x4 blocks and 2 element by element (16% of the time
      // of MNIST's Winograd products, K = 32). The 8x8 stores go k by k in order, so each
      // overwrites the two lanes (rows 6 and 7) the previous one wrote past its k step; the
      // last block's two land in the next k columns or the next sliver, both written after.
      const float* a = reinterpret_cast<const float*>(A + i0 * lda);
      float* d = reinterpret_cast<float*>(dst);
      int64_t k = 0;
      for (; k + 8 <= kc; k += 8) transpose8x8(a + k, lda, d + k * MR, MR);
      for (; k < kc; k++)
        for (int i = 0; i < MR; i++) d[k * MR + i] = a[i * lda + k];
    } else {  // stored [mc, kc]: transpose m rows into the sliver
      transposeCopy(A + i0 * lda, lda, m, kc, dst, MR);
    }
  }
}

// Packs op(B)[kc,nc] into NR-column panels.
template <typename T, int NR>
LATHE_GEMM_TARGET void packB(bool trans, const T* B, int64_t ldb, int64_t kc, int64_t nc, T* dst) {
  for (int64_t j0 = 0; j0 < nc; j0 += NR, dst += NR * kc) {
    const int64_t n = nc - j0 < NR ? nc - j0 : NR;
    if (n < NR) std::memset(dst, 0, sizeof(T) * NR * kc);
    if (trans) {  // stored [nc, kc]
      transposeCopy(B + j0 * ldb, ldb, n, kc, dst, NR);
    } else {
      const T* b = B + j0;
      if (n == NR) {
        for (int64_t k = 0; k < kc; k++)
          for (int j = 0; j < NR; j++) dst[k * NR + j] = b[k * ldb + j];
      } else {
        for (int64_t k = 0; k < kc; k++)
          for (int64_t j = 0; j < n; j++) dst[k * NR + j] = b[k * ldb + j];
      }
    }
  }
}

// One register tile: MV rows x NV vectors of C; accumulators stay in registers for the whole
// kc loop. A(i,k) is A[k*as + i] (a packed sliver: as = MR; A^T read in place: as = lda), or
// with RowA A[i*as + k] (A read in place row by row: as = lda), and B's row k starts at
// B + k*bs (a packed panel: bs = NR; B read in place: bs = ldb).
template <class S, int MV, int NV, bool RowA = false>
LATHE_GEMM_TARGET void tileKernel(int64_t kc, const typename S::T* A, int64_t as, const typename S::T* B,
                                  int64_t bs, typename S::T* C, int64_t ldc, bool accumulate, int n) {
  using T = typename S::T;
  using V = typename S::V;
  constexpr int W = S::W;
  V acc[MV][NV];
#pragma GCC unroll 16
  for (int i = 0; i < MV; i++)
#pragma GCC unroll 4
    for (int j = 0; j < NV; j++) acc[i][j] = S::zero();
  // Touch the C tile early so its lines are on the way while the k loop runs.
#pragma GCC unroll 16
  for (int i = 0; i < MV; i++) {
    _mm_prefetch(reinterpret_cast<const char*>(C + i * ldc), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(C + i * ldc + NV * W - 1), _MM_HINT_T0);
  }

  // An unpacked B has no zero padding: a ragged last vector must not read past column n.
  const bool ragged = n < NV * W;
  const int tail = n - (NV - 1) * W;
#pragma GCC unroll 4
  for (int64_t k = 0; k < kc; k++) {
    V b[NV];
#pragma GCC unroll 4
    for (int j = 0; j < NV - 1; j++) b[j] = S::loadu(B + k * bs + j * W);
    b[NV - 1] = ragged ? S::loadPartial(B + k * bs + (NV - 1) * W, tail) : S::loadu(B + k * bs + (NV - 1) * W);
#pragma GCC unroll 16
    for (int i = 0; i < MV; i++) {
      const V a = S::bcast(RowA ? A + i * as + k : A + k * as + i);
#pragma GCC unroll 4
      for (int j = 0; j < NV; j++) acc[i][j] = S::fma(a, b[j], acc[i][j]);
    }
  }

  if (n == NV * W) {
#pragma GCC unroll 16
    for (int i = 0; i < MV; i++) {
      T* c = C + i * ldc;
#pragma GCC unroll 4
      for (int j = 0; j < NV; j++)
        S::storeu(c + j * W, accumulate ? S::add(S::loadu(c + j * W), acc[i][j]) : acc[i][j]);
    }
  } else {  // fully unrolled as well: indexing acc[][] at run time would force it to memory
#pragma GCC unroll 16
    for (int i = 0; i < MV; i++) {
      T* c = C + i * ldc;
#pragma GCC unroll 4
      for (int j = 0; j < NV; j++) {
        const int r = n - j * W;
        if (r >= W) {
          S::storeu(c + j * W, accumulate ? S::add(S::loadu(c + j * W), acc[i][j]) : acc[i][j]);
        } else if (r > 0) {
          S::storePartial(c + j * W, accumulate ? S::add(S::loadPartial(c + j * W, r), acc[i][j]) : acc[i][j], r);
        }
      }
    }
  }
}

// Table of tileKernel instantiations indexed by [rows-1][vectors-1], so edge tiles do no wasted
// FMAs on padding rows (M=32 with MR=12 runs 12+12+8, not 12+12+12).
template <class S, int MR, int NVMAX, bool RowA = false>
struct TileTable {
  using T = typename S::T;
  using Fn = void (*)(int64_t, const T*, int64_t, const T*, int64_t, T*, int64_t, bool, int);
  Fn fns[MR][NVMAX];

  template <int MV, int NV>
  void fill() {
    fns[MV - 1][NV - 1] = &tileKernel<S, MV, NV, RowA>;
    if constexpr (NV < NVMAX) fill<MV, NV + 1>();
    else if constexpr (MV < MR) fill<MV + 1, 1>();
  }
  TileTable() { fill<1, 1>(); }

  void operator()(int64_t kc, const T* A, int64_t as, const T* B, int64_t bs, T* C, int64_t ldc, bool acc,
                  int m, int n) const {
    fns[m - 1][(n + S::W - 1) / S::W - 1](kc, A, as, B, bs, C, ldc, acc, n);
  }
};

}  // namespace
}  // namespace gemm_internal
}  // namespace lathe
