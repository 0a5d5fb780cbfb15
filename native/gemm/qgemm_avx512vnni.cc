// AVX-512 VNNI int8 tile: 12x32 int32 accumulators (24 zmm), one vpdpbusd per 16 columns x 4
// k-values x 1 row, compiled per function with target attributes so the rest of the addon stays
// baseline x86-64; dispatch only hands it out when the CPU reports avx512_vnni.
#include "qgemm_internal.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

#include <cstring>

#define LATHE_QGEMM_TARGET __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,avx512vnni")))

namespace lathe {
namespace qgemm_internal {
namespace {

// 12 rows x 2 vectors of 16 columns: 24 accumulators + 2 B vectors + a broadcast of the 32 zmm
// registers, the same shape as the float 12x32 tile. vpdpbusd multiplies u8 (the broadcast A
// operand) by s8 (the B vector) and adds 4 products per int32 lane without saturation, so the
// sums are exact (4*255*128 per step).
constexpr int kMR = 12;
constexpr int NR = kQgemmNR;

// The output stage of a 12 x 32 tile (qgemm_internal.h's Kernel::tile): adds the partials
// already in C when acc; when last, subtracts aZero * colSum and stores int32 or dequantized
// float. Inlined into both tiles below, so the accumulators stay in registers.
template <int M>
LATHE_QGEMM_TARGET __attribute__((always_inline)) inline void storeTile(const __m512i* c0, const __m512i* c1, void* Cv, int64_t ldc,
                                                                         bool acc, bool last, const OutStage& out, int n) {
  const __mmask16 k0 = n >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << n) - 1);
  const __mmask16 k1 = n >= 32 ? __mmask16(0xFFFF) : n > 16 ? __mmask16((1u << (n - 16)) - 1) : __mmask16(0);
  __m512i z0 = _mm512_setzero_si512(), z1 = z0;
  __m512 s0 = _mm512_setzero_ps(), s1 = s0, d0 = s0, d1 = s0;
  if (last) {
    const __m512i az = _mm512_set1_epi32(out.aZero);
    z0 = _mm512_mullo_epi32(az, _mm512_loadu_si512(out.colSum));
    z1 = _mm512_mullo_epi32(az, _mm512_loadu_si512(out.colSum + 16));
    if (out.bScale) {
      const __m512 as = _mm512_set1_ps(out.aScale);
      s0 = _mm512_mul_ps(as, _mm512_maskz_loadu_ps(k0, out.bScale));
      s1 = _mm512_mul_ps(as, _mm512_maskz_loadu_ps(k1, out.bScale + 16));
      if (out.bias) d0 = _mm512_maskz_loadu_ps(k0, out.bias), d1 = _mm512_maskz_loadu_ps(k1, out.bias + 16);
    }
  }
#pragma GCC unroll 12
  for (int i = 0; i < M; i++) {
    int32_t* ci = static_cast<int32_t*>(Cv) + i * ldc;
    __m512i r0 = c0[i], r1 = c1[i];
    if (acc) {
      r0 = _mm512_add_epi32(r0, _mm512_maskz_loadu_epi32(k0, ci));
      r1 = _mm512_add_epi32(r1, _mm512_maskz_loadu_epi32(k1, ci + 16));
    }
    if (last) {
      r0 = _mm512_sub_epi32(r0, z0);
      r1 = _mm512_sub_epi32(r1, z1);
      if (out.bScale) {
        float* cf = static_cast<float*>(Cv) + i * ldc;
        __m512 y0 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(r0), s0, d0), y1 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(r1), s1, d1);
        if (out.relu) y0 = _mm512_max_ps(_mm512_setzero_ps(), y0), y1 = _mm512_max_ps(_mm512_setzero_ps(), y1);  // the second operand if NaN
        _mm512_mask_storeu_ps(cf, k0, y0);
        _mm512_mask_storeu_ps(cf + 16, k1, y1);
        continue;
      }
    }
    _mm512_mask_storeu_epi32(ci, k0, r0);
    _mm512_mask_storeu_epi32(ci + 16, k1, r1);
  }
}

// One k-group of 4 values for M rows: row i's 4 bytes at a + i * rowStride, broadcast and
// multiplied into both accumulators of the row.
template <int M>
LATHE_QGEMM_TARGET __attribute__((always_inline)) inline void stepVnni(const uint8_t* a, int64_t rowStride, const int8_t* B, __m512i* c0,
                                                                        __m512i* c1) {
  const __m512i b0 = _mm512_load_si512(B);
  const __m512i b1 = _mm512_load_si512(B + 64);
#pragma GCC unroll 12
  for (int i = 0; i < M; i++) {
    int32_t a4;
    std::memcpy(&a4, a + i * rowStride, 4);
    const __m512i av = _mm512_set1_epi32(a4);
    c0[i] = _mm512_dpbusd_epi32(c0[i], av, b0);
    c1[i] = _mm512_dpbusd_epi32(c1[i], av, b1);
  }
}

template <int M>
LATHE_QGEMM_TARGET void tileVnni(int64_t kGroups, const uint8_t* A, const int8_t* B, void* Cv, int64_t ldc, bool acc,
                                 bool last, const OutStage& out, int n) {
  __m512i c0[M], c1[M];
#pragma GCC unroll 12
  for (int i = 0; i < M; i++) c0[i] = c1[i] = _mm512_setzero_si512();
  // C's lines are fetched 64 k-groups (~800 cycles) before the output stage writes them: a large
  // C is not in cache, and 24 misses at the end of every tile stalled it. Two threads, three
  // rounds alternating: 1,596-1,624 against 1,578-1,582 GOP/s at 2048 (1024 and 3072: +2-6%);
  // 16 or 192 groups ahead did no better, PREFETCHW no better than this.
  const int64_t head = kGroups > 64 ? kGroups - 64 : 0;
  for (int64_t g = 0; g < head; g++) stepVnni<M>(A + g * kMR * 4, 4, B + g * NR * 4, c0, c1);
  const char* c = static_cast<const char*>(Cv);
  for (int i = 0; i < M; i++) _mm_prefetch(c + i * ldc * 4, _MM_HINT_T0), _mm_prefetch(c + i * ldc * 4 + 64, _MM_HINT_T0);
  for (int64_t g = head; g < kGroups; g++) stepVnni<M>(A + g * kMR * 4, 4, B + g * NR * 4, c0, c1);
  storeTile<M>(c0, c1, Cv, ldc, acc, last, out, n);
}

// The direct convolution's tile (Kernel::tileDirect): A is the padded channels-last image
// itself, row i at A + i * rowStride, and k runs through `segments` contiguous runs of
// groupsPerSegment groups, segmentStride bytes apart (one run per kernel row). All of K in one
// pass, so the output stage always runs.
template <int M>
LATHE_QGEMM_TARGET void tileVnniDirect(int64_t segments, int64_t groupsPerSegment, int64_t segmentStride, int64_t rowStride,
                                       const uint8_t* A, const int8_t* B, void* Cv, int64_t ldc, const OutStage& out, int n) {
  __m512i c0[M], c1[M];
#pragma GCC unroll 12
  for (int i = 0; i < M; i++) c0[i] = c1[i] = _mm512_setzero_si512();
  for (int64_t s = 0; s < segments; s++) {
    const uint8_t* as = A + s * segmentStride;
    for (int64_t g = 0; g < groupsPerSegment; g++, B += NR * 4) stepVnni<M>(as + g * 4, rowStride, B, c0, c1);
  }
  storeTile<M>(c0, c1, Cv, ldc, false, true, out, n);
}

// Kernel::tilePooled: M pooled pixels from 2 lines x 2M conv pixels, both lines at once so each
// B vector feeds 4M rows: 8M accumulators + 2 B vectors + a broadcast, so M <= 3 (the 12 x 32
// tile's shape). Folded by max once all of K is in.
constexpr int kPooledMR = 3;
template <int M>
LATHE_QGEMM_TARGET void tileVnniPooled(int64_t segments, int64_t groupsPerSegment, int64_t segmentStride, int64_t rowStride,
                                       int64_t lineStride, const uint8_t* A, const int8_t* B, void* Cv, int64_t ldc, const OutStage& out,
                                       int n) {
  constexpr int R = 4 * M;  // rows 0..2M-1: the first line's pixels; 2M..4M-1: the second's
  __m512i c0[R], c1[R];
#pragma GCC unroll 12
  for (int i = 0; i < R; i++) c0[i] = c1[i] = _mm512_setzero_si512();
  for (int64_t s = 0; s < segments; s++) {
    const uint8_t* as = A + s * segmentStride;
    for (int64_t g = 0; g < groupsPerSegment; g++, B += NR * 4) {
      const __m512i b0 = _mm512_load_si512(B), b1 = _mm512_load_si512(B + 64);
#pragma GCC unroll 12
      for (int i = 0; i < R; i++) {
        int32_t a4;
        std::memcpy(&a4, as + g * 4 + (i < 2 * M ? i * rowStride : lineStride + (i - 2 * M) * rowStride), 4);
        const __m512i av = _mm512_set1_epi32(a4);
        c0[i] = _mm512_dpbusd_epi32(c0[i], av, b0);
        c1[i] = _mm512_dpbusd_epi32(c1[i], av, b1);
      }
    }
  }
  // The corrected int32 sums (zero point out) go through memory, then pooled and dequantized:
  // folded in registers straight after the loop, GCC 12 copied every accumulator to the stack
  // on every step of it.
  alignas(64) int32_t raw[R][NR];
  const OutStage sums{out.colSum, out.aZero, 0.0f, nullptr, nullptr};
  storeTile<R>(c0, c1, raw, NR, false, true, sums, NR);
  const __mmask16 k0 = n >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << n) - 1);
  const __mmask16 k1 = n >= 32 ? __mmask16(0xFFFF) : n > 16 ? __mmask16((1u << (n - 16)) - 1) : __mmask16(0);
  const __m512 as = _mm512_set1_ps(out.aScale);
  const __m512 s0 = _mm512_mul_ps(as, _mm512_maskz_loadu_ps(k0, out.bScale)), s1 = _mm512_mul_ps(as, _mm512_maskz_loadu_ps(k1, out.bScale + 16));
  const __m512 d0 = out.bias ? _mm512_maskz_loadu_ps(k0, out.bias) : _mm512_setzero_ps();
  const __m512 d1 = out.bias ? _mm512_maskz_loadu_ps(k1, out.bias + 16) : _mm512_setzero_ps();
  for (int i = 0; i < M; i++) {
    const int32_t *a = raw[2 * i], *b = raw[2 * i + 1], *c = raw[2 * M + 2 * i], *d = raw[2 * M + 2 * i + 1];
    const __m512i r0 = _mm512_max_epi32(_mm512_max_epi32(_mm512_load_si512(a), _mm512_load_si512(b)), _mm512_max_epi32(_mm512_load_si512(c), _mm512_load_si512(d)));
    const __m512i r1 = _mm512_max_epi32(_mm512_max_epi32(_mm512_load_si512(a + 16), _mm512_load_si512(b + 16)),
                                        _mm512_max_epi32(_mm512_load_si512(c + 16), _mm512_load_si512(d + 16)));
    __m512 y0 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(r0), s0, d0), y1 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(r1), s1, d1);
    if (out.relu) y0 = _mm512_max_ps(_mm512_setzero_ps(), y0), y1 = _mm512_max_ps(_mm512_setzero_ps(), y1);  // the second operand if NaN
    float* cf = static_cast<float*>(Cv) + i * ldc;
    _mm512_mask_storeu_ps(cf, k0, y0);
    _mm512_mask_storeu_ps(cf + 16, k1, y1);
  }
}

struct TileTable {
  using Fn = void (*)(int64_t, const uint8_t*, const int8_t*, void*, int64_t, bool, bool, const OutStage&, int);
  using DirectFn = void (*)(int64_t, int64_t, int64_t, int64_t, const uint8_t*, const int8_t*, void*, int64_t, const OutStage&, int);
  using PooledFn = void (*)(int64_t, int64_t, int64_t, int64_t, int64_t, const uint8_t*, const int8_t*, void*, int64_t, const OutStage&, int);
  Fn fns[kMR];
  DirectFn direct[kMR];
  PooledFn pooled[kPooledMR];
  template <int M>
  void fill() {
    fns[M - 1] = &tileVnni<M>;
    direct[M - 1] = &tileVnniDirect<M>;
    if constexpr (M <= kPooledMR) pooled[M - 1] = &tileVnniPooled<M>;
    if constexpr (M < kMR) fill<M + 1>();
  }
  TileTable() { fill<1>(); }
};
const TileTable& tiles() {
  static const TileTable table;
  return table;
}

void tile(int64_t kGroups, const uint8_t* A, const int8_t* B, void* C, int64_t ldc, bool acc, bool last,
          const OutStage& out, int m, int n) {
  tiles().fns[m - 1](kGroups, A, B, C, ldc, acc, last, out, n);
}

void tileDirect(int64_t segments, int64_t groupsPerSegment, int64_t segmentStride, int64_t rowStride, const uint8_t* A,
                const int8_t* B, void* C, int64_t ldc, const OutStage& out, int m, int n) {
  tiles().direct[m - 1](segments, groupsPerSegment, segmentStride, rowStride, A, B, C, ldc, out, n);
}

void tilePooled(int64_t segments, int64_t groupsPerSegment, int64_t segmentStride, int64_t rowStride, int64_t lineStride,
                const uint8_t* A, const int8_t* B, void* C, int64_t ldc, const OutStage& out, int m, int n) {
  tiles().pooled[m - 1](segments, groupsPerSegment, segmentStride, rowStride, lineStride, A, B, C, ldc, out, n);
}

bool cpuHasAvx512Vnni() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
         __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl") &&
         __builtin_cpu_supports("avx512vnni");
}

}  // namespace

// Cache blocks (k in bytes, so kc 2048 is the float kernel's 512-float rows in bytes). The A
// block is two tiles' rows (24 x 2048 = 48 KiB), beside one B panel (2048 x 32 = 64 KiB): B is
// then read from L3 four times as often, and still the two-thread GEMM ran 6-8% faster at 2048
// and 3072 than with 96 rows (1,601-1,630 against 1,503-1,515 GOP/s, three rounds alternating;
// 512 and 1024 the same or faster), and 12 or 36 rows did as well as 24 (2-vCPU Zen 5).
// Splitting K instead (kc 1024 or 512, partial sums through C) ran 10-20% slower.
const Kernel* kernelAvx512Vnni() {
  // The tile runs at four times the float rate, so its bar is above float's 3e6. Near the bar,
  // whether the split pays changes with the host: the
  // brief's MLP at batch 32 (32 x 128 x 784, 6.4e6 operations) predicted in 10.8-12.5 us split
  // while the host left the other vCPU alone, 17.6-20.4 while it was busy, and 13.1-13.8 on one
  // thread in every round (Zen 5, 2 vCPUs; the split's input, quantized on the calling core, has
  // to reach the other one first). So the bar is where the split can pay, and a model's
  // predict() times both ways and keeps the faster (ThreadChooser, src/backends/threads.ts).
  static const Kernel k = {"avx512vnni", kMR, 24, 2048, 1024, &tile, 1, 5.0e6, &tileDirect, &tilePooled, kPooledMR};
  return cpuHasAvx512Vnni() ? &k : nullptr;
}

}  // namespace qgemm_internal
}  // namespace lathe

#else

namespace lathe {
namespace qgemm_internal {
const Kernel* kernelAvx512Vnni() { return nullptr; }
}  // namespace qgemm_internal
}  // namespace lathe

#endif
