// AVX2 int8 tile for CPUs without VNNI. Exact: the s8 weights and u8 activations widen to s16
// (A when it is packed: Kernel::aWidth 2) and vpmaddwd sums pairs into int32 lanes (vpmaddubsw would be ~2x faster but saturates at
// 2*255*127 > 32767, so it cannot give the exact sums the contract promises). Compiled per
// function with target attributes; dispatch hands it out only when the CPU has AVX2 and FMA.
#include "qgemm_internal.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

#include <cstring>

#define LATHE_QGEMM_TARGET __attribute__((target("avx2,fma")))

namespace lathe {
namespace qgemm_internal {
namespace {

// 4 rows x 8 columns per pass (8 ymm accumulators, each holding 4 columns x 2 k-pairs, + 2
// widened B vectors, the A broadcast and the products before they are added); the 32-column
// panel takes 4 passes over the A sliver, which stays in L1. 6 rows (12 accumulators) left GCC
// too few of the 16 ymm registers and it spilled accumulators to the stack every step: on Zen 3,
// one thread at 1024, 4 rows ran 116 GOP/s, 6 rows 81-87, 3 rows 71-107 (float32: 82-84).
constexpr int kMR = 4;
constexpr int NR = kQgemmNR;

template <int M>
LATHE_QGEMM_TARGET void tileAvx2(int64_t kGroups, const uint8_t* A, const int8_t* B, void* Cv, int64_t ldc, bool acc,
                                 bool last, const OutStage& out, int n) {
  for (int c0 = 0; c0 < n; c0 += 8) {
    __m256i s0[M], s1[M];
#pragma GCC unroll 4
    for (int i = 0; i < M; i++) s0[i] = s1[i] = _mm256_setzero_si256();
    for (int64_t g = 0; g < kGroups; g++) {
      const int8_t* b = B + g * NR * 4 + c0 * 4;
      const __m256i w0 = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b)));
      const __m256i w1 = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b + 16)));
      const int16_t* a = reinterpret_cast<const int16_t*>(A) + g * kMR * 4;
#pragma GCC unroll 4
      for (int i = 0; i < M; i++) {
        // a0..a3, widened to int16 when A was packed, 4 times: one broadcast load.
        const __m256i av = _mm256_castpd_si256(_mm256_broadcast_sd(reinterpret_cast<const double*>(a + i * 4)));
        s0[i] = _mm256_add_epi32(s0[i], _mm256_madd_epi16(w0, av));
        s1[i] = _mm256_add_epi32(s1[i], _mm256_madd_epi16(w1, av));
      }
    }
    const int cols = n - c0 < 8 ? n - c0 : 8;
    __m256i z = _mm256_setzero_si256();
    __m256 sc = _mm256_setzero_ps(), bi = sc;
    if (last) {
      z = _mm256_mullo_epi32(_mm256_set1_epi32(out.aZero),
                             _mm256_loadu_si256(reinterpret_cast<const __m256i*>(out.colSum + c0)));
      if (out.bScale) {
        float s[8] = {}, d[8] = {};
        for (int j = 0; j < cols; j++) s[j] = out.bScale[c0 + j], d[j] = out.bias ? out.bias[c0 + j] : 0.0f;
        sc = _mm256_mul_ps(_mm256_set1_ps(out.aScale), _mm256_loadu_ps(s));
        bi = _mm256_loadu_ps(d);
      }
    }
#pragma GCC unroll 4
    for (int i = 0; i < M; i++) {
      // Lanes hold column pairs (c, k01), (c, k23); hadd works per 128-bit half, giving columns
      // 0 1 4 5 | 2 3 6 7, which the qword permute puts in order.
      __m256i r = _mm256_permute4x64_epi64(_mm256_hadd_epi32(s0[i], s1[i]), 0xD8);
      int32_t* ci = static_cast<int32_t*>(Cv) + i * ldc + c0;
      alignas(32) int32_t tmp[8];
      if (acc) {
        if (cols == 8) {
          r = _mm256_add_epi32(r, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ci)));
        } else {
          std::memset(tmp, 0, sizeof tmp);
          std::memcpy(tmp, ci, sizeof(int32_t) * cols);
          r = _mm256_add_epi32(r, _mm256_load_si256(reinterpret_cast<const __m256i*>(tmp)));
        }
      }
      if (last) r = _mm256_sub_epi32(r, z);
      if (last && out.bScale) {
        __m256 f = _mm256_fmadd_ps(_mm256_cvtepi32_ps(r), sc, bi);
        if (out.relu) f = _mm256_max_ps(_mm256_setzero_ps(), f);  // the second operand if NaN
        if (cols == 8) _mm256_storeu_ps(reinterpret_cast<float*>(ci), f);
        else _mm256_store_ps(reinterpret_cast<float*>(tmp), f), std::memcpy(ci, tmp, sizeof(float) * cols);
      } else {
        if (cols == 8) _mm256_storeu_si256(reinterpret_cast<__m256i*>(ci), r);
        else _mm256_store_si256(reinterpret_cast<__m256i*>(tmp), r), std::memcpy(ci, tmp, sizeof(int32_t) * cols);
      }
    }
  }
}

struct TileTable {
  using Fn = void (*)(int64_t, const uint8_t*, const int8_t*, void*, int64_t, bool, bool, const OutStage&, int);
  Fn fns[kMR];
  template <int M>
  void fill() {
    fns[M - 1] = &tileAvx2<M>;
    if constexpr (M < kMR) fill<M + 1>();
  }
  TileTable() { fill<1>(); }
};

void tile(int64_t kGroups, const uint8_t* A, const int8_t* B, void* C, int64_t ldc, bool acc, bool last,
          const OutStage& out, int m, int n) {
  static const TileTable table;
  table.fns[m - 1](kGroups, A, B, C, ldc, acc, last, out, n);
}

bool cpuHasAvx2() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

}  // namespace

const Kernel* kernelAvx2() {
  static const Kernel k = {"avx2", kMR, 96, 2048, 1024, &tile, 2};
  return cpuHasAvx2() ? &k : nullptr;
}

}  // namespace qgemm_internal
}  // namespace lathe

#else

namespace lathe {
namespace qgemm_internal {
const Kernel* kernelAvx2() { return nullptr; }
}  // namespace qgemm_internal
}  // namespace lathe

#endif
