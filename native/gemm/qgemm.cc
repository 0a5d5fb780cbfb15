// Int8 GEMM driver: packing of B (once per layer) and A (per cache block), runtime dispatch to
// the VNNI, AVX2 or portable tile, Goto-style blocking and the split of C across the thread pool.
// The loop nest mirrors gemm.cc's; see qgemm.h for the contract.
#include "qgemm.h"

#include <algorithm>
#include <atomic>
#include <cstring>
#if defined(__x86_64__)
#include <immintrin.h>
#endif
#include <new>

#include "blocking.h"
#include "qgemm_internal.h"
#include "../transpose_avx512.h"

namespace lathe {

using qgemm_internal::Kernel;
using qgemm_internal::OutStage;
using namespace gemm_blocking;

namespace {

constexpr int NR = kQgemmNR;

template <typename T>
std::shared_ptr<T> alignedArray(size_t count) {
  void* p = ::operator new(std::max<size_t>(count, 1) * sizeof(T), std::align_val_t(64));
  return std::shared_ptr<T>(static_cast<T*>(p), [](T* q) { ::operator delete(q, std::align_val_t(64)); });
}

// ---- dispatch -------------------------------------------------------------------------------

struct Dispatch {
  std::atomic<const Kernel*> forced{nullptr};
  const Kernel* const best = qgemm_internal::kernelAvx512Vnni() ? qgemm_internal::kernelAvx512Vnni()
                             : qgemm_internal::kernelAvx2()     ? qgemm_internal::kernelAvx2()
                                                                : qgemm_internal::kernelPortable();
};
Dispatch& dispatch() {
  static Dispatch d;
  return d;
}
const Kernel& pick() {
  const Kernel* f = dispatch().forced.load(std::memory_order_relaxed);
  return f ? *f : *dispatch().best;
}

// ---- packing A --------------------------------------------------------------------------------

// A block [mc x kc] (row stride lda) -> ceil(mc/mr) slivers of ceil(kc/4) groups of mr*4
// bytes. Rows past mc and k past kc are zero (B's padding is zero too, so either would do).
// Groups before g0 are left to the caller (the vector path below).
void packAFrom(const uint8_t* A, int64_t lda, int64_t mc, int64_t kc, int mr, uint8_t* dst, int64_t g0) {
  const int64_t kg = ceilDiv(kc, 4), full = kc / 4, tail = kc - full * 4;
  for (int64_t i0 = 0; i0 < mc; i0 += mr) {
    const int rows = static_cast<int>(std::min<int64_t>(mr, mc - i0));
    uint8_t* d = dst + i0 * kg * 4;  // each sliver is mr * kg * 4 bytes
    if (rows < mr) std::memset(d + g0 * mr * 4, 0, size_t(mr) * (kg - g0) * 4);
    for (int i = 0; i < rows; i++) {
      const uint8_t* a = A + (i0 + i) * lda;
      for (int64_t g = g0; g < full; g++) std::memcpy(d + (g * mr + i) * 4, a + g * 4, 4);
      if (tail) {
        uint8_t* t = d + (full * mr + i) * 4;
        std::memset(t, 0, 4);
        std::memcpy(t, a + full * 4, size_t(tail));
      }
    }
  }
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
// Packing is a transpose of 4-byte groups: 16 rows x 16 groups (64 bytes of k) at a time in
// registers, so each sliver is written in whole contiguous runs. The scalar loop moved 4 bytes
// per load and store, and cost as much as the multiply itself for MNIST-sized convolutions.
__attribute__((target("avx512f"))) void packAAvx512(const uint8_t* A, int64_t lda, int64_t mc, int64_t kc, int mr, uint8_t* dst) {
  const int64_t kg = ceilDiv(kc, 4), blocks = kc / 64;
  const __mmask16 keep = static_cast<__mmask16>((1u << mr) - 1);
  for (int64_t i0 = 0; i0 < mc; i0 += mr) {
    const int rows = static_cast<int>(std::min<int64_t>(mr, mc - i0));
    uint8_t* d = dst + i0 * kg * 4;
    for (int64_t b = 0; b < blocks; b++) {
      __m512i r[16];
      for (int i = 0; i < 16; i++) r[i] = i < rows ? _mm512_loadu_si512(A + (i0 + i) * lda + b * 64) : _mm512_setzero_si512();
      __m512i out[16];
      transpose16x16(r, out);  // out[j]: group b*16 + j of the 16 rows
      for (int j = 0; j < 16; j++) _mm512_mask_storeu_epi32(d + (b * 16 + j) * mr * 4, keep, out[j]);
    }
  }
  packAFrom(A, lda, mc, kc, mr, dst, blocks * 16);
}
#endif

// The same slivers with every value widened to int16 (Kernel::aWidth 2), for the AVX2 tile.
void packA16From(const uint8_t* A, int64_t lda, int64_t mc, int64_t kc, int mr, int16_t* dst, int64_t g0) {
  const int64_t kg = ceilDiv(kc, 4);
  for (int64_t i0 = 0; i0 < mc; i0 += mr) {
    const int rows = static_cast<int>(std::min<int64_t>(mr, mc - i0));
    int16_t* d = dst + i0 * kg * 4;
    for (int64_t g = g0; g < kg; g++)
      for (int i = 0; i < mr; i++)
        for (int j = 0; j < 4; j++) d[(g * mr + i) * 4 + j] = i < rows && g * 4 + j < kc ? A[(i0 + i) * lda + g * 4 + j] : 0;
  }
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
// 16 k-values of a row at a time: one load, one widening, and the four groups' 8 bytes each
// stored into their places in the sliver; the last k % 16 through the scalar loop.
__attribute__((target("avx2"))) void packA16Avx2(const uint8_t* A, int64_t lda, int64_t mc, int64_t kc, int mr, int16_t* dst) {
  const int64_t kg = ceilDiv(kc, 4), blocks = kc / 16;
  for (int64_t i0 = 0; i0 < mc; i0 += mr) {
    const int rows = static_cast<int>(std::min<int64_t>(mr, mc - i0));
    int16_t* d = dst + i0 * kg * 4;
    for (int64_t b = 0; b < blocks; b++)
      for (int i = 0; i < mr; i++) {
        const __m256i w = i < rows ? _mm256_cvtepu8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(A + (i0 + i) * lda + b * 16)))
                                   : _mm256_setzero_si256();
        const __m128i lo = _mm256_castsi256_si128(w), hi = _mm256_extracti128_si256(w, 1);
        int16_t* g = d + (b * 4 * mr + i) * 4;  // group 4b of row i; the next group is mr * 4 values on
        _mm_storel_epi64(reinterpret_cast<__m128i*>(g), lo);
        _mm_storeh_pd(reinterpret_cast<double*>(g + mr * 4), _mm_castsi128_pd(lo));
        _mm_storel_epi64(reinterpret_cast<__m128i*>(g + 2 * mr * 4), hi);
        _mm_storeh_pd(reinterpret_cast<double*>(g + 3 * mr * 4), _mm_castsi128_pd(hi));
      }
  }
  packA16From(A, lda, mc, kc, mr, dst, blocks * 4);
}
#endif

// A block packed for kernel kr: uint8 slivers, or int16 ones when kr.aWidth is 2.
void packA(const Kernel& kr, const uint8_t* A, int64_t lda, int64_t mc, int64_t kc, void* dst) {
  const int mr = kr.mr;
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  if (kr.aWidth == 2) return packA16Avx2(A, lda, mc, kc, mr, static_cast<int16_t*>(dst));
  static const bool avx512 = __builtin_cpu_supports("avx512f");
  if (avx512 && mr <= 16 && kc >= 64) return packAAvx512(A, lda, mc, kc, mr, static_cast<uint8_t*>(dst));
#endif
  if (kr.aWidth == 2) return packA16From(A, lda, mc, kc, mr, static_cast<int16_t*>(dst), 0);
  packAFrom(A, lda, mc, kc, mr, static_cast<uint8_t*>(dst), 0);
}

thread_local PackBuffer tlsPackA;

// ---- blocked product ------------------------------------------------------------------------

struct Problem {
  int64_t M;
  const uint8_t* A;
  int64_t lda;
  int32_t aZero;
  float aScale;
  const QPackedB* B;
  const float* bScale;  // nullptr: int32 output
  const float* bias;
  void* C;  // int32_t* or float*, both 4 bytes an element
  int64_t ldc;
  bool relu;
};

// Rows [m0,m1) x panels [p0,p1) of C. Loop order jc (nc panels) > pc (kc) > ic (mc, pack A) >
// panel > ir: the packed A block is reused across the panels from L2, and each B panel (kc x
// 32 bytes) across the ir tiles.
void runBlock(const Kernel& kr, const Problem& p, int64_t m0, int64_t m1, int64_t p0, int64_t p1) {
  const QPackedB& B = *p.B;
  const int64_t K = B.K, mr = kr.mr;
  const int64_t kcBlock = K > 0 ? evenBlock(K, kr.kc, 4) : 4;
  const int64_t mcBlock = evenBlock(m1 - m0, kr.mc, mr);
  const int64_t ncPanels = std::max<int64_t>(1, kr.nc / NR);
  uint8_t* Ap = static_cast<uint8_t*>(tlsPackA.get(size_t(mcBlock) * kcBlock * kr.aWidth));
  for (int64_t jp = p0; jp < p1; jp += ncPanels) {
    const int64_t jpEnd = std::min(p1, jp + ncPanels);
    for (int64_t pc = 0; pc == 0 || pc < K; pc += kcBlock) {  // K == 0 still runs the output stage
      const int64_t kc = std::min(kcBlock, K - pc), kg = ceilDiv(kc, 4);
      const bool acc = pc > 0, last = pc + kc >= K;
      for (int64_t ic = m0; ic < m1; ic += mcBlock) {
        const int64_t mc = std::min(mcBlock, m1 - ic);
        packA(kr, p.A + ic * p.lda + pc, p.lda, mc, kc, Ap);
        for (int64_t q = jp; q < jpEnd; q++) {
          const int n = static_cast<int>(std::min<int64_t>(NR, B.N - q * NR));
          const int8_t* bp = B.panel(q) + (pc / 4) * NR * 4;
          const OutStage out{B.colSum.get() + q * NR, p.aZero, p.aScale, p.bScale ? p.bScale + q * NR : nullptr,
                             p.bias ? p.bias + q * NR : nullptr, p.relu};
          for (int64_t ir = 0; ir < mc; ir += mr) {
            const int m = static_cast<int>(std::min(mr, mc - ir));
            int32_t* c = static_cast<int32_t*>(p.C) + (ic + ir) * p.ldc + q * NR;
            kr.tile(kg, Ap + ir * kg * 4 * kr.aWidth, bp, c, p.ldc, acc, last, out, m, n);
          }
        }
      }
    }
  }
}

void qgemmRun(const Problem& p, ThreadPool* pool) {
  const QPackedB& B = *p.B;
  if (p.M <= 0 || B.N <= 0) return;
  const Kernel& kr = pick();
  const double ops = 2.0 * p.M * B.N * B.K;
  const int threads = pool && ops >= kr.parallelMinOps ? pool->size() : 1;
  const int64_t unitsM = ceilDiv(p.M, kr.mr), unitsN = B.panels;
  int64_t tm = 1, tn = 1;
  // Rows split where there are enough: each thread then packs only its own rows of A, and B,
  // packed once, is read by both. A column split has every thread pack all of A, from the other
  // core's cache where the caller just wrote it (the brief's MLP at batch 128, 128 x 128 x 784,
  // ran slower on two threads than on one: 53 against 44 us a predict, 44 with rows split; batch
  // 64, 6 row tiles: 31-33 against 25-29). Where whole tiles would not share out evenly, rows go
  // in steps of 4, the tiles' last rows then partial: batch 32 as 16 + 16 rows (12 + 4 each)
  // predicted in 15.8-17.5 us against 18.4-21.4 with the columns split (busy host, alternating).
  // Each thread then reads all of B: only while B fits a core's L2 beside the rest (512 KB).
  // A product of milliseconds goes in 8 row tasks per thread (of 4 tiles at least): when the
  // host takes a vCPU away for a while, the other thread takes up its unstarted tasks. With a
  // neighbour spinning 1 ms in 3 on the second vCPU: 2048, 1,319-1,337 against 1,084-1,144
  // GOP/s; 3072, 1,191-1,276 against 1,032-1,153. Quiet, the same (1,629 against 1,618-1,623 at
  // 2048); at 1024 no better either way, so not below 4e9 operations.
  int64_t rowStep = kr.mr, rowSteps = unitsM;
  if (threads > 1 && unitsM >= 4 * threads) {
    tm = 2.0 * p.M * B.N * B.K >= 4e9 ? std::max<int64_t>(threads, std::min<int64_t>(8 * threads, unitsM / 4)) : threads;
  } else if (threads > 1 && p.M >= 8 * threads && B.K * B.N <= (int64_t(512) << 10)) {
    rowStep = 4, rowSteps = ceilDiv(p.M, 4), tm = threads;
  } else if (threads > 1) {
    chooseGrid(unitsM, unitsN, kr.mr, NR, threads, tm, tn);
  }
  const int64_t tasks = tm * tn;
  if (tasks <= 1) {
    runBlock(kr, p, 0, p.M, 0, unitsN);
    return;
  }
  runSpinning(*pool, tasks, [&](int64_t t) {
    const int64_t bm = t % tm, bn = t / tm;
    const int64_t m0 = rowSteps * bm / tm * rowStep, m1 = std::min(p.M, rowSteps * (bm + 1) / tm * rowStep);
    const int64_t q0 = unitsN * bn / tn, q1 = unitsN * (bn + 1) / tn;
    if (m0 < m1 && q0 < q1) runBlock(kr, p, m0, m1, q0, q1);
  });
}

}  // namespace

QPackedB qgemmPackB(bool transB, int64_t K, int64_t N, const int8_t* B, int64_t ldb) {
  QPackedB P;
  P.K = std::max<int64_t>(K, 0);
  P.N = std::max<int64_t>(N, 0);
  P.kGroups = ceilDiv(P.K, 4);
  P.panels = ceilDiv(P.N, NR);
  const size_t panelBytes = size_t(P.kGroups) * NR * 4;
  P.data = alignedArray<int8_t>(panelBytes * P.panels);
  P.colSum = alignedArray<int32_t>(size_t(P.panels) * NR);
  std::memset(P.data.get(), 0, panelBytes * P.panels);
  int32_t* cs = P.colSum.get();
  std::memset(cs, 0, sizeof(int32_t) * P.panels * NR);
  for (int64_t q = 0; q < P.panels; q++) {
    int8_t* d = P.data.get() + q * panelBytes;
    const int64_t n = std::min<int64_t>(NR, P.N - q * NR);
    for (int64_t j = 0; j < n; j++) {
      const int64_t col = q * NR + j;
      int32_t sum = 0;
      for (int64_t k = 0; k < P.K; k++) {
        const int8_t v = transB ? B[col * ldb + k] : B[k * ldb + col];
        d[((k / 4) * NR + j) * 4 + (k % 4)] = v;
        sum += v;
      }
      cs[col] = sum;
    }
  }
  return P;
}

void qgemmU8S8(int64_t M, const uint8_t* A, int64_t lda, uint8_t aZero, const QPackedB& B, int32_t* C,
               int64_t ldc, ThreadPool* pool) {
  qgemmRun(Problem{M, A, lda, aZero, 0.0f, &B, nullptr, nullptr, C, ldc, false}, pool);
}

void qgemmU8S8(int64_t M, int64_t N, int64_t K, const uint8_t* A, int64_t lda, uint8_t aZero, const int8_t* B,
               int64_t ldb, int32_t* C, int64_t ldc, ThreadPool* pool) {
  if (M <= 0 || N <= 0) return;
  const QPackedB P = qgemmPackB(false, K, N, B, ldb);
  qgemmU8S8(M, A, lda, aZero, P, C, ldc, pool);
}

void qgemmU8S8Dequant(int64_t M, const uint8_t* A, int64_t lda, uint8_t aZero, float aScale, const QPackedB& B,
                      const float* bScale, const float* bias, float* C, int64_t ldc, ThreadPool* pool, bool relu) {
  qgemmRun(Problem{M, A, lda, aZero, aScale, &B, bScale, bias, C, ldc, relu}, pool);
}

namespace {
// run(u0, u1) over the units [0, units) of a direct conv, split evenly over the pool's threads
// where its operations pass the kernel's bar, else on the calling thread.
template <typename Run>
void spreadUnits(const Kernel& kr, ThreadPool* pool, double ops, int64_t units, const Run& run) {
  const int64_t threads = pool && ops >= kr.parallelMinOps ? std::min<int64_t>(pool->size(), units) : 1;
  if (threads <= 1) return run(0, units);
  runSpinning(*pool, threads, [&](int64_t t) { run(units * t / threads, units * (t + 1) / threads); });
}

// A kernel row of KW * C bytes is whole 4-byte groups, which the direct tile reads one by one.
bool wholeGroups(int64_t C, int64_t KW) { return C > 0 && KW > 0 && (KW * C) % 4 == 0; }
}  // namespace

bool qconvDirectSupported(int64_t C, int64_t KW) { return pick().tileDirect && wholeGroups(C, KW); }

bool qconvDirectU8S8Dequant(const uint8_t* image, int64_t Wp, int64_t C, int64_t KH, int64_t KW, int64_t OH, int64_t OW,
                            uint8_t aZero, float aScale, const QPackedB& B, const float* bScale, const float* bias,
                            float* out, int64_t ldc, ThreadPool* pool) {
  const Kernel& kr = pick();
  if (!kr.tileDirect || !wholeGroups(C, KW) || B.K != KH * KW * C) return false;
  if (OH <= 0 || OW <= 0 || B.N <= 0) return true;
  // A tile's rows must be evenly spaced in the image: either runs of the flattened rows
  // r = oh*Wp + ow, which computes the Wp - OW rows between image lines too, or each image line
  // on its own, with a partial tile per line. A tile of m rows costs about m + 1 (its
  // multiplies, then the output stage): MNIST's second conv, OW 11 in lines 13 apart, computes
  // 141 rows in 12 tiles flattened against 121 in 11 by line.
  const int64_t mr = kr.mr, flatRows = (OH - 1) * Wp + OW, perLine = ceilDiv(OW, mr);
  const bool byLine = OH * (OW + perLine) < flatRows + ceilDiv(flatRows, mr);
  const int64_t units = byLine ? OH * perLine : ceilDiv(flatRows, mr), groupsPerRow = KW * C / 4;
  // Panels outermost: one panel of B (K x 32 bytes) stays in L1 while the tiles sweep the image.
  auto run = [&](int64_t u0, int64_t u1) {
    for (int64_t q = 0; q < B.panels; q++) {
      const int n = static_cast<int>(std::min<int64_t>(NR, B.N - q * NR));
      const OutStage stage{B.colSum.get() + q * NR, aZero, aScale, bScale + q * NR, bias ? bias + q * NR : nullptr};
      for (int64_t u = u0; u < u1; u++) {
        const int64_t r = byLine ? (u / perLine) * Wp + (u % perLine) * mr : u * mr;
        const int64_t end = byLine ? (u / perLine) * Wp + OW : flatRows;
        const int m = static_cast<int>(std::min<int64_t>(mr, end - r));
        kr.tileDirect(KH, groupsPerRow, Wp * C, C, image + r * C, B.panel(q), out + r * ldc + q * NR, ldc, stage, m, n);
      }
    }
  };
  spreadUnits(kr, pool, 2.0 * OH * OW * B.N * B.K, units, run);
  return true;
}

bool qconvPooledSupported() { return pick().tilePooled != nullptr; }

bool qconvPooledU8S8Dequant(const uint8_t* image, int64_t Wp, int64_t C, int64_t KH, int64_t rowGroups, int64_t PH,
                            int64_t PW, uint8_t aZero, float aScale, const QPackedB& B, const float* bScale, const float* bias,
                            bool relu, float* out, int64_t ldc, ThreadPool* pool) {
  const Kernel& kr = pick();
  if (!kr.tilePooled || B.K != KH * rowGroups * 4) return false;
  if (PH <= 0 || PW <= 0 || B.N <= 0) return true;
  const int64_t mr = kr.pooledMR, perLine = ceilDiv(PW, mr), units = PH * perLine, line = Wp * C;
  auto run = [&](int64_t u0, int64_t u1) {
    for (int64_t q = 0; q < B.panels; q++) {
      const int n = static_cast<int>(std::min<int64_t>(NR, B.N - q * NR));
      const OutStage stage{B.colSum.get() + q * NR, aZero, aScale, bScale + q * NR, bias ? bias + q * NR : nullptr, relu};
      for (int64_t u = u0; u < u1; u++) {
        const int64_t ph = u / perLine, pw = (u % perLine) * mr;
        const int m = static_cast<int>(std::min<int64_t>(mr, PW - pw));
        kr.tilePooled(KH, rowGroups, line, C, line, image + 2 * ph * line + 2 * pw * C, B.panel(q),
                      out + (ph * PW + pw) * ldc + q * NR, ldc, stage, m, n);
      }
    }
  };
  spreadUnits(kr, pool, 8.0 * PH * PW * B.N * B.K, units, run);
  return true;
}

const char* qgemmKernelName() { return pick().name; }

bool qgemmForceKernel(const char* name) {
  const Kernel* k = nullptr;
  if (name) {
    if (std::strcmp(name, "avx512vnni") == 0) k = qgemm_internal::kernelAvx512Vnni();
    else if (std::strcmp(name, "avx2") == 0) k = qgemm_internal::kernelAvx2();
    else if (std::strcmp(name, "portable") == 0) k = qgemm_internal::kernelPortable();
    if (!k) return false;
  }
  dispatch().forced.store(k);
  return true;
}

}  // namespace lathe
