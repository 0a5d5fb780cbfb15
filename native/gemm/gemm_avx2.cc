// AVX2+FMA GEMM kernels: sgemm 6x16 and dgemm 6x8 register tiles (12 ymm accumulators, leaving
// room in the 16 ymm registers for two B vectors and one broadcast of A).
#include "gemm_internal.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define LATHE_GEMM_TARGET __attribute__((target("avx2,fma")))
#include "gemm_simd.h"

namespace lathe {
namespace gemm_internal {
namespace {

// Lane masks for partial loads/stores: the first n lanes of a window starting at kMask + 8 - n.
alignas(32) const int32_t kMask[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};
alignas(32) const int64_t kMask64[8] = {-1, -1, -1, -1, 0, 0, 0, 0};

struct F32x8 {
  using T = float;
  using V = __m256;
  static constexpr int W = 8;
  LATHE_GEMM_TARGET static V zero() { return _mm256_setzero_ps(); }
  LATHE_GEMM_TARGET static V loadu(const T* p) { return _mm256_loadu_ps(p); }
  LATHE_GEMM_TARGET static V bcast(const T* p) { return _mm256_broadcast_ss(p); }
  LATHE_GEMM_TARGET static V fma(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
  LATHE_GEMM_TARGET static V add(V a, V b) { return _mm256_add_ps(a, b); }
  LATHE_GEMM_TARGET static void storeu(T* p, V v) { _mm256_storeu_ps(p, v); }
  LATHE_GEMM_TARGET static __m256i mask(int n) {
    return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(kMask + 8 - n));
  }
  LATHE_GEMM_TARGET static V loadPartial(const T* p, int n) { return _mm256_maskload_ps(p, mask(n)); }
  LATHE_GEMM_TARGET static void storePartial(T* p, V v, int n) { _mm256_maskstore_ps(p, mask(n), v); }
};

struct F64x4 {
  using T = double;
  using V = __m256d;
  static constexpr int W = 4;
  LATHE_GEMM_TARGET static V zero() { return _mm256_setzero_pd(); }
  LATHE_GEMM_TARGET static V loadu(const T* p) { return _mm256_loadu_pd(p); }
  LATHE_GEMM_TARGET static V bcast(const T* p) { return _mm256_broadcast_sd(p); }
  LATHE_GEMM_TARGET static V fma(V a, V b, V c) { return _mm256_fmadd_pd(a, b, c); }
  LATHE_GEMM_TARGET static V add(V a, V b) { return _mm256_add_pd(a, b); }
  LATHE_GEMM_TARGET static void storeu(T* p, V v) { _mm256_storeu_pd(p, v); }
  LATHE_GEMM_TARGET static __m256i mask(int n) {
    return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(kMask64 + 4 - n));
  }
  LATHE_GEMM_TARGET static V loadPartial(const T* p, int n) { return _mm256_maskload_pd(p, mask(n)); }
  LATHE_GEMM_TARGET static void storePartial(T* p, V v, int n) { _mm256_maskstore_pd(p, mask(n), v); }
};

constexpr int kMR = 6;
constexpr int kNRs = 16, kNRd = 8;

void sTile(int64_t kc, const float* A, int64_t as, const float* B, int64_t bs, float* C, int64_t ldc,
           bool acc, int m, int n) {
  static const TileTable<F32x8, kMR, 2> table;
  table(kc, A, as, B, bs, C, ldc, acc, m, n);
}
void sTileRowA(int64_t kc, const float* A, int64_t as, const float* B, int64_t bs, float* C, int64_t ldc,
               bool acc, int m, int n) {
  static const TileTable<F32x8, kMR, 2, true> table;
  table(kc, A, as, B, bs, C, ldc, acc, m, n);
}
void dTile(int64_t kc, const double* A, int64_t as, const double* B, int64_t bs, double* C, int64_t ldc,
           bool acc, int m, int n) {
  static const TileTable<F64x4, kMR, 2> table;
  table(kc, A, as, B, bs, C, ldc, acc, m, n);
}

bool cpuHasAvx2() {
  __builtin_cpu_init();  // needed if the first GEMM runs from a static constructor
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

}  // namespace

// Cache blocks: as for AVX-512 (see gemm_avx512.cc); measured at 1024^3 on one core, kc 512 /
// mc 96 gave 106 GFLOP/s vs 103 for kc 256 / mc 144 (Zen4 runs AVX2 and AVX-512 FMAs at the same
// rate). dgemm kc 384: 52.6 vs 50.7 GFLOP/s for 256.
// B in place only up to 64 rows of A, measured on Zen 3 (AVX2 only; one thread, paired medians
// in one process, in place / packed on every call): 256x1024x1024 1.49 (row strides of 4 KiB
// put a panel's rows in one L1 set), 256x512x512 1.19, 256x256x256 1.15, 256x1000x1000 1.13,
// 128x128x784 1.09, 256x128x784 0.99-1.02, 64x128x784 0.96. A B within L1 (32 KiB) stays in
// place: 144x64x32 (a Winograd product of MNIST's conv2) ran 8.5 against 8.7-8.8 us.
// A row-major A is read in place (sTileRowA) up to K = 960: packing it only copied rows the
// tiles read as fast where they lie. Zen 3, one thread, medians of 400 alternating batches in one
// process, packed / in place us: 150x64x32 12.2 / 10.4, 512x32x16 14.3 / 11.4, 100x128x9 7.6 /
// 6.9, 256x128x256 274 / 248, 128x128x784 411 / 375, 256x256x512 1052 / 985, 1024x1024x256
// 9280 / 8641; two threads 256x128x784 483 / 436. At K = 1024 and beyond it stopped paying:
// 256x256x1024 2208 / 2151, 1024^3 38.8 / 39.6 ms, 32x128x1600 251 / 247.
const Kernel<float>* sgemmKernelAvx2() {
  static const Kernel<float> k = {"avx2", kMR, kNRs, 96, 512, 1024, 64, 8192,
                                  &packA<float, kMR>, &packB<float, kNRs>, &sTile, &sTileRowA, 960};
  return cpuHasAvx2() ? &k : nullptr;
}
const Kernel<double>* dgemmKernelAvx2() {
  static const Kernel<double> k = {"avx2", kMR, kNRd, 96, 384, 1024, 64, 4096,
                                   &packA<double, kMR>, &packB<double, kNRd>, &dTile, nullptr, 0};
  return cpuHasAvx2() ? &k : nullptr;
}

}  // namespace gemm_internal
}  // namespace lathe

#else  // not x86-64 GCC/Clang: no AVX2 kernels

namespace lathe {
namespace gemm_internal {
const Kernel<float>* sgemmKernelAvx2() { return nullptr; }
const Kernel<double>* dgemmKernelAvx2() { return nullptr; }
}  // namespace gemm_internal
}  // namespace lathe

#endif
