// GEMM driver: runtime kernel dispatch, GotoBLAS/BLIS-style cache blocking and packing, and the
// split of C across the thread pool. The per-ISA tiles and packers live in gemm_<isa>.cc.
#include "gemm.h"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <new>
#include <type_traits>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "../bias_activation.h"
#include "blocking.h"
#include "gemm_internal.h"
#include "prepacked.h"

namespace lathe {

using gemm_internal::Kernel;
using namespace gemm_blocking;

namespace {

// ---- dispatch -------------------------------------------------------------------------------

template <typename T>
struct Dispatch {
  explicit Dispatch(const Kernel<T>* b) : best(b) {}
  std::atomic<const Kernel<T>*> forced{nullptr};
  const Kernel<T>* const best;  // widest ISA this CPU runs
};

template <typename T>
const Kernel<T>* widest(const Kernel<T>* avx512, const Kernel<T>* avx2, const Kernel<T>* portable) {
  return avx512 ? avx512 : avx2 ? avx2 : portable;
}

Dispatch<float>& sDispatch() {
  using namespace gemm_internal;
  static Dispatch<float> d(widest(sgemmKernelAvx512(), sgemmKernelAvx2(), sgemmKernelPortable()));
  return d;
}

Dispatch<double>& dDispatch() {
  using namespace gemm_internal;
  static Dispatch<double> d(widest(dgemmKernelAvx512(), dgemmKernelAvx2(), dgemmKernelPortable()));
  return d;
}

template <typename T>
const Kernel<T>& pick(Dispatch<T>& d) {
  const Kernel<T>* f = d.forced.load(std::memory_order_relaxed);
  return f ? *f : *d.best;
}

// ---- per-thread packing buffers -------------------------------------------------------------

thread_local PackBuffer tlsPackA;
thread_local PackBuffer tlsPackB;
thread_local PackBuffer tlsRescaled;  // a rescaled A block, packed or read in place (sgemmRescaledBiasActivation)

// ---- blocked product ------------------------------------------------------------------------

template <typename T>
struct Problem {
  bool transA, transB;
  int64_t M, N, K;
  const T* A;
  int64_t lda;
  const T* B;
  int64_t ldb;
  T* C;
  int64_t ldc;
  bool accumulate;
  const T* bias = nullptr;  // with it, each finished tile gets act(C + bias) (sgemmBiasActivation)
  int act = 0;
  const RescaledInput* rescaled = nullptr;  // with it, A is null and op(A) = rescale(values) (float only)
  uint64_t weightsKey = 0;        // names B's contents for the prepacked cache (0: none; float only)
  const T* packedB = nullptr;     // B packed once (gemm_prepacked): block pc's panel at jc is at
  int64_t packedBStride = 0;      // packedB + pc * packedBStride + jc * kc
};

// The [mc x kc] block of a rescaled A at (i0, k0), as plain floats with row stride kc.
// The same expression as scaleShift's loop (no FMA contraction in this file), so the same values.
template <typename S>
void rescaleBlock(const S* v, int64_t lda, int64_t mc, int64_t kc, float scale, float offset, float* dst) {
  for (int64_t i = 0; i < mc; i++)
    for (int64_t k = 0; k < kc; k++) dst[i * kc + k] = float(v[i * lda + k]) * scale + offset;
}

#if defined(__x86_64__)
// rescaleBlock with 8 lanes. Its target has AVX2 but not FMA, so the multiply and the add stay
// two roundings, as in the plain loop: the same values, bit for bit. (SSE2 alone, the plain
// loop took ~6% of a batch-256 MLP predict's samples.)
template <typename S>
__attribute__((target("avx2"))) void rescaleBlockAvx2(const S* v, int64_t lda, int64_t mc, int64_t kc, float scale,
                                                      float offset, float* dst) {
  const __m256 s = _mm256_set1_ps(scale), o = _mm256_set1_ps(offset);
  for (int64_t i = 0; i < mc; i++) {
    const S* src = v + i * lda;
    float* out = dst + i * kc;
    int64_t k = 0;
    for (; k + 8 <= kc; k += 8) {
      __m256 x;
      if constexpr (std::is_same_v<S, uint8_t>)
        x = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(src + k))));
      else
        x = _mm256_loadu_ps(src + k);
      _mm256_storeu_ps(out + k, _mm256_add_ps(_mm256_mul_ps(x, s), o));
    }
    for (; k < kc; k++) out[k] = float(src[k]) * scale + offset;
  }
}

bool cpuHasAvx2() {
  static const bool has = (__builtin_cpu_init(), __builtin_cpu_supports("avx2"));
  return has;
}
#endif

template <typename S>
void rescaleBlockBest(const S* v, int64_t lda, int64_t mc, int64_t kc, float scale, float offset, float* dst) {
#if defined(__x86_64__)
  if (cpuHasAvx2()) return rescaleBlockAvx2(v, lda, mc, kc, scale, offset, dst);
#endif
  rescaleBlock(v, lda, mc, kc, scale, offset, dst);
}

// The [mc x kc] block of a rescaled A at (ic, pc) as plain floats, row stride kc, in a
// per-thread buffer: for packA, or for the tiles to read in place.
template <typename T>
const T* rescaledBlock(const Problem<T>& p, int64_t ic, int64_t pc, int64_t mc, int64_t kc) {
  if constexpr (std::is_same_v<T, float>) {
    const RescaledInput& r = *p.rescaled;
    float* block = static_cast<float*>(tlsRescaled.get(sizeof(float) * mc * kc));
    const int64_t at = ic * p.lda + pc;
    if (r.uint8) rescaleBlockBest(static_cast<const uint8_t*>(r.values) + at, p.lda, mc, kc, r.scale, r.offset, block);
    else rescaleBlockBest(static_cast<const float*>(r.values) + at, p.lda, mc, kc, r.scale, r.offset, block);
    return block;
  }
  return nullptr;
}

// The fused epilogue of sgemmBiasActivation on an m x n tile of C at column col.
template <typename T>
inline void epilogue(const Problem<T>& p, T* c, int64_t col, int64_t m, int64_t n) {
  for (int64_t i = 0; i < m; i++) biasActivationRow(c + i * p.ldc, p.bias + col, c + i * p.ldc, n, p.act);
}

// C[m0:m1, n0:n1] of the product, Goto loop order: jc (NC) > pc (KC, pack B) > ic (MC, pack A)
// > jr (NR) > ir (MR). Each B panel (kc x NR) is reused across the ir loop and the A block
// (mc x kc) across the jr loop, both from L2. An operand that is not packed is read in place
// through its strides (the tiles support both).
template <typename T>
void runBlock(const Kernel<T>& kr, const Problem<T>& p, int64_t m0, int64_t m1, int64_t n0, int64_t n1,
              bool packA, bool packB, bool rowA) {
  const int64_t MR = kr.mr, NR = kr.nr;
  const int64_t kcBlock = evenBlock(p.K, kr.kc, 1);
  const int64_t mcBlock = evenBlock(m1 - m0, kr.mc, MR);
  const int64_t ncBlock = evenBlock(n1 - n0, kr.nc, NR);
  T* Ap = packA ? static_cast<T*>(tlsPackA.get(sizeof(T) * mcBlock * kcBlock)) : nullptr;
  T* Bp = packB ? static_cast<T*>(tlsPackB.get(sizeof(T) * ncBlock * kcBlock)) : nullptr;

  for (int64_t jc = n0; jc < n1; jc += ncBlock) {
    const int64_t nc = std::min(ncBlock, n1 - jc);
    for (int64_t pc = 0; pc < p.K; pc += kcBlock) {
      const int64_t kc = std::min(kcBlock, p.K - pc);
      const bool acc = p.accumulate || pc > 0;
      if (packB) kr.packB(p.transB, p.transB ? p.B + jc * p.ldb + pc : p.B + pc * p.ldb + jc, p.ldb, kc, nc, Bp);
      for (int64_t ic = m0; ic < m1; ic += mcBlock) {
        const int64_t mc = std::min(mcBlock, m1 - ic);
        // With rowA the tiles read A's rows in place: from A itself, or from the rescaled block.
        const T* rows = nullptr;
        int64_t rowStride = p.lda;
        if (p.rescaled) {
          const T* block = rescaledBlock(p, ic, pc, mc, kc);
          if (packA) kr.packA(false, block, kc, mc, kc, Ap);
          rows = block, rowStride = kc;
        } else if (packA) {
          kr.packA(p.transA, p.transA ? p.A + pc * p.lda + ic : p.A + ic * p.lda + pc, p.lda, mc, kc, Ap);
        } else if (rowA) {
          rows = p.A + ic * p.lda + pc;
        }
        for (int64_t jr = 0; jr < nc; jr += NR) {
          const int n = static_cast<int>(std::min(NR, nc - jr));
          const T* b = p.packedB ? p.packedB + pc * p.packedBStride + (jc + jr) * kc
                       : packB   ? Bp + jr * kc
                                 : p.B + pc * p.ldb + jc + jr;
          const int64_t bs = p.packedB || packB ? NR : p.ldb;
          for (int64_t ir = 0; ir < mc; ir += MR) {
            const int m = static_cast<int>(std::min(MR, mc - ir));
            T* c = p.C + (ic + ir) * p.ldc + jc + jr;
            if (packA) kr.tile(kc, Ap + ir * kc, MR, b, bs, c, p.ldc, acc, m, n);
            else if (rowA) kr.tileRowA(kc, rows + ir * rowStride, rowStride, b, bs, c, p.ldc, acc, m, n);
            else kr.tile(kc, p.A + pc * p.lda + ic + ir, p.lda, b, bs, c, p.ldc, acc, m, n);  // A^T in place
            if (p.bias && pc + kc == p.K) epilogue(p, c, jc + jr, m, n);
          }
        }
      }
    }
  }
}

// Below this many flops a product runs on the calling thread. On the 2-vCPU test VM, waking a
// pool worker costs the caller ~7 us (the futex wake) and a worker whose CPU had gone idle takes
// 20-30 us to start; if it is that late the caller runs the other half itself. Back to back
// (worker still warm) 2 threads already won at 80^3 (1 MFLOP: 8 vs 10 us) and 128^3 ran 26 vs
// 39 us; with a cold worker a product can lose the ~7 us. At 3 MFLOP (~28 us on one core) that
// worst case stays modest.
constexpr double kParallelMinFlops = 3.0e6;
// A product with few rows of A but a large B (a dense layer at batch 1..8) is bound by reading
// B, not by its flops: split over two cores, each reads its half of the columns, and at
// inference each half stays in that core's L2 from call to call. Median us, 1 against 2 threads
// in one process: 1x784x128 (400 KB) 7.2-8.7 -> 4.7-5.6, 1x1600x128 16 -> 9.5, 8x784x128 16 -> 10.5,
// 1x512x128 (256 KB) 5.0 -> 3.7.
constexpr double kParallelMinBytesB = 256.0 * 1024;


template <typename T>
void gemmRun(const Kernel<T>& kr, const Problem<T>& given, ThreadPool* pool) {
  if (given.M <= 0 || given.N <= 0) return;
  Problem<T> p = given;
  std::shared_ptr<const gemm_prepacked::PackedB> prepacked;  // held until the product is done
  if constexpr (std::is_same_v<T, float>) {
    if (p.weightsKey != 0 && !p.transB && p.K > 0) {
      prepacked = gemm_prepacked::lookup(p.weightsKey, kr, evenBlock(p.K, kr.kc, 1), p.B, p.ldb, p.K, p.N);
      if (prepacked) p.packedB = prepacked->data, p.packedBStride = prepacked->nPad;
    }
  }
  if (p.K <= 0) {
    if (!p.accumulate)
      for (int64_t i = 0; i < p.M; i++) std::memset(p.C + i * p.ldc, 0, sizeof(T) * p.N);
    if (p.bias) epilogue(p, p.C, 0, p.M, p.N);
    return;
  }
  // Packing pays when the packed copy is reused enough (measured with gemm_bench shape=...):
  //  - A (reused N/NR times) stored row-major is read in place, row by row, where the kernel has
  //    a tile for that and K is at most its rowAMaxK (AVX2 on Zen 3, AVX-512 on Zen 5); otherwise it is
  //    packed: in place, its MR rows are MR streams a row stride apart, which alias in L1 for
  //    power-of-two K (AVX-512 on Zen 4, 32x128x1024: 100 vs 109 GFLOP/s). Stored transposed its
  //    k-steps are contiguous and in-place reads are as fast while A is small (784x128x32 A^T:
  //    62 vs 66 us packed); large ones need packing (1024^3 A^T: 85 vs 104).
  //  - B (reused M/MR times) is read in place for few rows of A or a small B, limits that
  //    differ by CPU (Kernel::bInPlaceRows/Elems, measured in each ISA's file). B^T must be
  //    packed: the tiles need op(B) rows contiguous.
  const bool rowA = kr.tileRowA && !p.transA && p.K <= kr.rowAMaxK;
  const bool packA = !rowA && (!p.transA || p.M * p.K > 64 * 1024 || p.rescaled);
  //  - B packed once (a weight the caller named with a key, seen before) is never packed again.
  const bool packB = !p.packedB && (p.transB || (p.M > kr.bInPlaceRows && p.K * p.N > kr.bInPlaceElems));
  const double flops = 2.0 * p.M * p.N * p.K;
  const double bytesB = double(sizeof(T)) * p.K * p.N;
  const int threads = pool && (flops >= kParallelMinFlops || bytesB >= kParallelMinBytesB) ? pool->size() : 1;
  const int64_t unitsM = ceilDiv(p.M, kr.mr), unitsN = ceilDiv(p.N, kr.nr);
  // One task per thread. Finer tasks (2, 4, 8 per thread, claimed dynamically) were measured
  // too: they help when a worker wakes late, but one block per thread keeps each thread's part of
  // C and A in its own L2 from call to call and was faster overall (medians, 2 threads, back to
  // back: 32x128x784 36 vs 47 us, 784x128x32 38 vs 46 us, 32x784x128 40 vs 43 us).
  int64_t tm = 1, tn = 1;
  if (threads > 1) chooseGrid(unitsM, unitsN, kr.mr, kr.nr, threads, tm, tn);
  const int64_t tasks = tm * tn;
  if (tasks <= 1) {
    runBlock(kr, p, 0, p.M, 0, p.N, packA, packB, rowA);
    return;
  }
  runSpinning(*pool, tasks, [&](int64_t t) {
    const int64_t bm = t % tm, bn = t / tm;
    const int64_t m0 = unitsM * bm / tm * kr.mr, m1 = std::min(p.M, unitsM * (bm + 1) / tm * kr.mr);
    const int64_t n0 = unitsN * bn / tn * kr.nr, n1 = std::min(p.N, unitsN * (bn + 1) / tn * kr.nr);
    runBlock(kr, p, m0, m1, n0, n1, packA, packB, rowA);
  });
}

}  // namespace

void sgemm(bool transA, bool transB, int64_t M, int64_t N, int64_t K, const float* A, int64_t lda,
           const float* B, int64_t ldb, float* C, int64_t ldc, bool accumulate, ThreadPool* pool) {
  gemmRun(pick(sDispatch()), Problem<float>{transA, transB, M, N, K, A, lda, B, ldb, C, ldc, accumulate}, pool);
}

void dgemm(bool transA, bool transB, int64_t M, int64_t N, int64_t K, const double* A, int64_t lda,
           const double* B, int64_t ldb, double* C, int64_t ldc, bool accumulate, ThreadPool* pool) {
  gemmRun(pick(dDispatch()), Problem<double>{transA, transB, M, N, K, A, lda, B, ldb, C, ldc, accumulate}, pool);
}

void sgemmBiasActivation(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* B, int64_t ldb,
                         float* C, int64_t ldc, const float* bias, int act, ThreadPool* pool, uint64_t weightsKey) {
  Problem<float> p{false, false, M, N, K, A, lda, B, ldb, C, ldc, false, bias, act};
  p.weightsKey = weightsKey;
  gemmRun(pick(sDispatch()), p, pool);
}

void sgemmRescaledBiasActivation(int64_t M, int64_t N, int64_t K, const RescaledInput& A, int64_t lda, const float* B,
                                 int64_t ldb, float* C, int64_t ldc, const float* bias, int act, ThreadPool* pool,
                                 uint64_t weightsKey) {
  Problem<float> p{false, false, M, N, K, nullptr, lda, B, ldb, C, ldc, false, bias, act};
  p.rescaled = &A;
  p.weightsKey = weightsKey;
  gemmRun(pick(sDispatch()), p, pool);
}

const char* sgemmKernelName() { return pick(sDispatch()).name; }
const char* dgemmKernelName() { return pick(dDispatch()).name; }

bool gemmForceKernel(const char* name) {
  using namespace gemm_internal;
  const Kernel<float>* sk = nullptr;
  const Kernel<double>* dk = nullptr;
  if (name) {
    if (std::strcmp(name, "avx512") == 0) sk = sgemmKernelAvx512(), dk = dgemmKernelAvx512();
    else if (std::strcmp(name, "avx2") == 0) sk = sgemmKernelAvx2(), dk = dgemmKernelAvx2();
    else if (std::strcmp(name, "portable") == 0) sk = sgemmKernelPortable(), dk = dgemmKernelPortable();
    if (!sk || !dk) return false;  // unknown name, or this CPU/build lacks it
  }
  sDispatch().forced.store(sk);
  dDispatch().forced.store(dk);
  return true;
}

}  // namespace lathe
