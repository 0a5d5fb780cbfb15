// AVX-512 GEMM kernels: sgemm 12x32 and dgemm 12x16 register tiles (24 zmm accumulators),
// compiled per function with target attributes so the rest of the addon stays baseline x86-64.
#include "gemm_internal.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define LATHE_GEMM_TARGET __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,avx2,fma")))
#include "gemm_simd.h"

namespace lathe {
namespace gemm_internal {
namespace {

struct F32x16 {
  using T = float;
  using V = __m512;
  static constexpr int W = 16;
  LATHE_GEMM_TARGET static V zero() { return _mm512_setzero_ps(); }
  LATHE_GEMM_TARGET static V loadu(const T* p) { return _mm512_loadu_ps(p); }
  LATHE_GEMM_TARGET static V bcast(const T* p) { return _mm512_set1_ps(*p); }
  LATHE_GEMM_TARGET static V fma(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
  LATHE_GEMM_TARGET static V add(V a, V b) { return _mm512_add_ps(a, b); }
  LATHE_GEMM_TARGET static void storeu(T* p, V v) { _mm512_storeu_ps(p, v); }
  LATHE_GEMM_TARGET static V loadPartial(const T* p, int n) {
    return _mm512_maskz_loadu_ps(static_cast<__mmask16>((1u << n) - 1), p);
  }
  LATHE_GEMM_TARGET static void storePartial(T* p, V v, int n) {
    _mm512_mask_storeu_ps(p, static_cast<__mmask16>((1u << n) - 1), v);
  }
};

struct F64x8 {
  using T = double;
  using V = __m512d;
  static constexpr int W = 8;
  LATHE_GEMM_TARGET static V zero() { return _mm512_setzero_pd(); }
  LATHE_GEMM_TARGET static V loadu(const T* p) { return _mm512_loadu_pd(p); }
  LATHE_GEMM_TARGET static V bcast(const T* p) { return _mm512_set1_pd(*p); }
  LATHE_GEMM_TARGET static V fma(V a, V b, V c) { return _mm512_fmadd_pd(a, b, c); }
  LATHE_GEMM_TARGET static V add(V a, V b) { return _mm512_add_pd(a, b); }
  LATHE_GEMM_TARGET static void storeu(T* p, V v) { _mm512_storeu_pd(p, v); }
  LATHE_GEMM_TARGET static V loadPartial(const T* p, int n) {
    return _mm512_maskz_loadu_pd(static_cast<__mmask8>((1u << n) - 1), p);
  }
  LATHE_GEMM_TARGET static void storePartial(T* p, V v, int n) {
    _mm512_mask_storeu_pd(p, static_cast<__mmask8>((1u << n) - 1), v);
  }
};

// 12 rows x 2 vectors: 24 accumulators + 2 B vectors + 1 broadcast of the 32 zmm registers.
// Zen4 issues one 512-bit FMA per cycle, so any tile with >= 4 independent accumulators is
// latency-safe; 8x32, 12x32 and 14x32 all measured ~106-108 GFLOP/s per core at 1024..2048.
// 12 rows split M=32 as 12+12+8 without padding waste (edge tiles use smaller instantiations).
constexpr int kMR = 12;
constexpr int kNRs = 32, kNRd = 16;

void sTile(int64_t kc, const float* A, int64_t as, const float* B, int64_t bs, float* C, int64_t ldc,
           bool acc, int m, int n) {
  static const TileTable<F32x16, kMR, 2> table;
  table(kc, A, as, B, bs, C, ldc, acc, m, n);
}
// A row-major A read in place (gemm.cc's rowA): no packing copy for K up to 960.
void sTileRowA(int64_t kc, const float* A, int64_t as, const float* B, int64_t bs, float* C, int64_t ldc,
               bool acc, int m, int n) {
  static const TileTable<F32x16, kMR, 2, true> table;
  table(kc, A, as, B, bs, C, ldc, acc, m, n);
}
void dTile(int64_t kc, const double* A, int64_t as, const double* B, int64_t bs, double* C, int64_t ldc,
           bool acc, int m, int n) {
  static const TileTable<F64x8, kMR, 2> table;
  table(kc, A, as, B, bs, C, ldc, acc, m, n);
}

bool cpuHasAvx512() {
  __builtin_cpu_init();  // needed if the first GEMM runs from a static constructor
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
         __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl") &&
         __builtin_cpu_supports("fma");
}

}  // namespace

// Cache blocks, measured with gemm_bench on Zen4 (L1d 32 KiB, L2 1 MiB per core, L3 32 MiB):
//  - kc 512: 1 thread at 2048^3 went 100 -> 107 GFLOP/s from kc 256 to 512, flat up to 1024.
//    The A block (96x512 floats, 192 KiB) and the B panel (512x32, 64 KiB) both sit in L2, whose
//    bandwidth easily covers the 176 bytes a 12x32 tile reads per 24 FMAs; fewer kc passes
//    mean fewer C tile reloads.
//  - mc 96 (a multiple of 12): 48..168 were within noise; 96 keeps the A block at 1/5 of L2.
//  - nc 1024: 512..2048 gave 209..214 GFLOP/s on 2 threads at 1024..4096 (256: 200, 4096:
//    201-209); the 2 MiB B block per thread then lives in L3.
//  - dgemm: kc 384 (same bytes per panel as ~768 floats; 256..512 measured within 4%).
//  - B in place up to 256 rows of A, or 64K elements of B: packing 784x128 cost ~10 us of the
//    58 us forward product at M=32, and 128..256x1024x1024 ran as fast or faster in place;
//    4096x256x256, 2048x128x256 and 784x128x32 ran the same either way.
//  - A read in place for K up to 960, as the AVX2 kernel does (Zen 5, one thread, us packed /
//    in place, three alternating runs): 32x128x784 31.6-34.7 / 29.8-32.4, 256x128x784 260-285 /
//    241-259, 2048x64x256 362-371 / 316-344, 256x128x512 and 128x256x960 within noise. K 1024
//    stays packed: its 12 rows a power of two apart alias in L1 (Zen 4: 100 vs 109 GFLOP/s).
const Kernel<float>* sgemmKernelAvx512() {
  static const Kernel<float> k = {"avx512", kMR, kNRs, 96, 512, 1024, 256, 64 * 1024,
                                  &packA<float, kMR>, &packB<float, kNRs>, &sTile, &sTileRowA, 960};
  return cpuHasAvx512() ? &k : nullptr;
}
const Kernel<double>* dgemmKernelAvx512() {
  static const Kernel<double> k = {"avx512", kMR, kNRd, 96, 384, 1024, 256, 64 * 1024,
                                   &packA<double, kMR>, &packB<double, kNRd>, &dTile, nullptr, 0};
  return cpuHasAvx512() ? &k : nullptr;
}

}  // namespace gemm_internal
}  // namespace lathe

#else  // not x86-64 GCC/Clang: no AVX-512 kernels

namespace lathe {
namespace gemm_internal {
const Kernel<float>* sgemmKernelAvx512() { return nullptr; }
const Kernel<double>* dgemmKernelAvx512() { return nullptr; }
}  // namespace gemm_internal
}  // namespace lathe

#endif
