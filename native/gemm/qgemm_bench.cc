// Standalone correctness test and benchmark for lathe::qgemm (int8 GEMM), no Node. From the repo:
//   g++ -O3 -std=c++17 -pthread native/gemm/qgemm_bench.cc $(ls native/gemm/*.cc | grep -v _bench)
//       native/threadpool.cc -o /tmp/qgemm_bench
// Usage: qgemm_bench [check] [bench] [peak] [sizes=1024,2048] [threads=1,2] [reps=N] [kernel=avx2]
// peak: the machine's vpdpbusd ceiling (independent dot products, no loads) on 1 and 2 threads, the
// bound any int8 GEMM here (Lathe's, ONNX Runtime's) can reach: bench's int8_gops over it.
// Exit status 1 when any check fails.
#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "gemm.h"
#include "qgemm.h"

using lathe::ThreadPool;

namespace {

std::mt19937_64 rng(20240610);
int failures = 0;

double nowSec() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Exact reference in int64: sum_k (A[m,k] - z) * op(B)[k,n].
std::vector<int64_t> reference(int64_t M, int64_t N, int64_t K, const uint8_t* A, int64_t lda, int z,
                               bool transB, const int8_t* B, int64_t ldb) {
  std::vector<int64_t> R(size_t(M * N));
  for (int64_t i = 0; i < M; i++)
    for (int64_t j = 0; j < N; j++) {
      int64_t s = 0;
      for (int64_t k = 0; k < K; k++)
        s += int64_t(int(A[i * lda + k]) - z) * (transB ? B[j * ldb + k] : B[k * ldb + j]);
      R[size_t(i * N + j)] = s;
    }
  return R;
}

enum class Fill { Random, Min, Max, Const };

struct Case {
  int64_t M, N, K;
  int z;
  bool transB;
  Fill fa = Fill::Random, fb = Fill::Random;
  uint8_t aConst = 0;
  int8_t bConst = 0;
};

// Runs one case through the int32 and the dequantizing entry points and compares them with the
// int64 reference (exact) and its double dequantization. `corrupt` flips one output first: the
// negative control that shows the comparison can fail.
bool runCase(const Case& c, ThreadPool* pool, bool corrupt = false, bool quiet = false) {
  const int64_t lda = c.K + 3, ldb = (c.transB ? c.K : c.N) + 5, ldc = c.N + 7;
  const int64_t bRows = c.transB ? c.N : c.K;
  std::vector<uint8_t> A(size_t(std::max<int64_t>(1, (c.M - 1) * lda + c.K)));
  std::vector<int8_t> B(size_t(std::max<int64_t>(1, (bRows - 1) * ldb + (c.transB ? c.K : c.N))));
  std::uniform_int_distribution<int> ua(0, 255), ub(-128, 127);
  for (auto& a : A) a = c.fa == Fill::Random ? ua(rng) : c.fa == Fill::Max ? 255 : c.fa == Fill::Min ? 0 : c.aConst;
  for (auto& b : B) b = c.fb == Fill::Random ? ub(rng) : c.fb == Fill::Max ? 127 : c.fb == Fill::Min ? -128 : c.bConst;
  const auto R = reference(c.M, c.N, c.K, A.data(), lda, c.z, c.transB, B.data(), ldb);
  const lathe::QPackedB P = lathe::qgemmPackB(c.transB, c.K, c.N, B.data(), ldb);

  const int32_t sentinel = 0x5A5A5A5A;
  std::vector<int32_t> C(size_t(c.M * ldc), sentinel);
  lathe::qgemmU8S8(c.M, A.data(), lda, uint8_t(c.z), P, C.data(), ldc, pool);
  if (corrupt) C[size_t((c.M / 2) * ldc + c.N / 2)] += 1;
  int64_t bad = 0, firstI = -1, firstJ = -1;
  for (int64_t i = 0; i < c.M; i++)
    for (int64_t j = 0; j < ldc; j++) {
      const bool inside = j < c.N;
      const bool ok = inside ? int64_t(C[size_t(i * ldc + j)]) == R[size_t(i * c.N + j)]
                             : C[size_t(i * ldc + j)] == sentinel;  // padding untouched
      if (!ok && bad++ == 0) firstI = i, firstJ = j;
    }

  // Fused dequantization: per-channel scales, bias, compared with double.
  std::uniform_real_distribution<float> us(1e-4f, 2e-2f), ubias(-3.0f, 3.0f);
  const float aScale = us(rng);
  std::vector<float> bScale(size_t(c.N)), bias(size_t(c.N));
  for (auto& s : bScale) s = us(rng);
  for (auto& b : bias) b = ubias(rng);
  std::vector<float> F(size_t(c.M * ldc), 12345.0f);
  const bool withBias = (c.M + c.N + c.K) % 2 == 0;
  lathe::qgemmU8S8Dequant(c.M, A.data(), lda, uint8_t(c.z), aScale, P, bScale.data(), withBias ? bias.data() : nullptr,
                          F.data(), ldc, pool);
  double worst = 0;
  for (int64_t i = 0; i < c.M; i++)
    for (int64_t j = 0; j < ldc; j++) {
      if (j >= c.N) {
        if (F[size_t(i * ldc + j)] != 12345.0f) worst = 1e30;
        continue;
      }
      const double prod = double(R[size_t(i * c.N + j)]) * aScale * bScale[size_t(j)];
      const double want = prod + (withBias ? bias[size_t(j)] : 0.0);
      // float conversion of the int32, one product with the float scale product and one fma:
      // a few float roundings of |prod| and |bias|.
      const double bound = 4 * 0x1p-24 * (std::fabs(prod) + (withBias ? std::fabs(bias[size_t(j)]) : 0.0)) + 1e-30;
      const double err = std::fabs(F[size_t(i * ldc + j)] - want) / bound;
      if (!(err <= 1.0)) worst = std::max(worst, err != err ? 1e30 : err);
    }

  if (bad || worst > 1.0) {
    if (!quiet)
      std::printf("FAIL %s M=%lld N=%lld K=%lld z=%d transB=%d threads=%d: %lld int32 mismatches (first at %lld,%lld: "
                  "got %d want %lld); dequant err/bound %g\n",
                  lathe::qgemmKernelName(), (long long)c.M, (long long)c.N, (long long)c.K, c.z, c.transB,
                  pool ? pool->size() : 1, (long long)bad, (long long)firstI, (long long)firstJ,
                  bad ? C[size_t(firstI * ldc + firstJ)] : 0,
                  bad && firstJ < c.N ? (long long)R[size_t(firstI * c.N + firstJ)] : 0LL, worst);
    return false;
  }
  return true;
}

void check(ThreadPool* pool2) {
  std::vector<std::string> kernels = {"portable"};
  for (const char* k : {"avx2", "avx512vnni"})
    if (lathe::qgemmForceKernel(k)) kernels.push_back(k);
  for (const auto& kn : kernels) {
    lathe::qgemmForceKernel(kn.c_str());
    int cases = 0, before = failures;
    // Odd shapes: M, N, K around the 12x32 tile, the 4-value k-groups and the cache blocks.
    const int64_t Ms[] = {1, 2, 5, 11, 12, 13, 25, 97, 130};
    const int64_t Ns[] = {1, 3, 16, 17, 31, 32, 33, 70, 100};
    const int64_t Ks[] = {0, 1, 2, 3, 4, 5, 7, 63, 130, 2049, 4103};
    for (int64_t M : Ms)
      for (int64_t N : Ns)
        for (int64_t K : Ks) {
          if (M * N * K > 3000000) continue;
          const int z = int(rng() % 256);
          for (ThreadPool* pool : {static_cast<ThreadPool*>(nullptr), pool2}) {
            cases++;
            if (!runCase(Case{M, N, K, z, (M + N) % 2 == 1}, pool)) failures++;
          }
        }
    // Big enough to split across both threads (above every kernel's parallelMinOps: the M split,
    // the N split for one row, rows in steps of 4 for 3 row tiles of 12, the grid where B is
    // over 512 KB, 8 row tasks a thread past 4e9 operations) and to block N (nc).
    for (auto s : {std::array<int64_t, 3>{300, 1100, 77}, {1, 20000, 400}, {777, 33, 400}, {256, 256, 256}, {30, 200, 2000},
                   {40, 128, 784}, {30, 700, 1000}, {700, 1500, 2000}}) {
      cases++;
      if (!runCase(Case{s[0], s[1], s[2], int(rng() % 256), false}, pool2)) failures++;
    }
    // Saturation edges: extreme A, zero points and B; K = 4096 and 65793 (the int32 limit for
    // the worst case: 255*128*65793 = 2147483520 < 2^31).
    for (int64_t K : {int64_t(4096), int64_t(65793)})
      for (Fill fa : {Fill::Max, Fill::Min})
        for (int z : {0, 255, 128})
          for (Fill fb : {Fill::Min, Fill::Max, Fill::Random}) {
            cases++;
            if (!runCase(Case{K > 5000 ? 3 : 13, 35, K, z, false, fa, fb}, pool2)) failures++;
          }
    // Random A and B at the edges of their ranges, large K.
    cases++;
    if (!runCase(Case{14, 40, 4096, 255, true}, pool2)) failures++;
    std::printf("{\"check\":\"qgemm\",\"kernel\":\"%s\",\"cases\":%d,\"failed\":%d}\n", kn.c_str(), cases,
                failures - before);
  }
  lathe::qgemmForceKernel(nullptr);
  // Negative control: a one-off error in one output must be reported.
  const bool caught = !runCase(Case{13, 33, 7, 3, false}, nullptr, /*corrupt=*/true, /*quiet=*/true);
  std::printf("{\"check\":\"qgemm-negative-control\",\"caught\":%s}\n", caught ? "true" : "false");
  if (!caught) failures++;
}

// Best-of time over alternating samples of the float and int8 products (the 2 cores are shared).
void bench(const std::vector<int64_t>& sizes, const std::vector<int>& threadCounts, int reps) {
  for (int64_t n : sizes) {
    std::uniform_int_distribution<int> ua(0, 255), ub(-128, 127);
    std::uniform_real_distribution<float> uf(-1, 1);
    std::vector<uint8_t> A(size_t(n * n));
    std::vector<int8_t> B(size_t(n * n));
    std::vector<float> Af(size_t(n * n)), Bf(size_t(n * n)), Cf(size_t(n * n)), scale(size_t(n), 0.01f);
    std::vector<int32_t> C(size_t(n * n));
    for (auto& a : A) a = ua(rng);
    for (auto& b : B) b = ub(rng);
    for (auto& a : Af) a = uf(rng);
    for (auto& b : Bf) b = uf(rng);
    double tPack = nowSec();
    const lathe::QPackedB P = lathe::qgemmPackB(false, n, n, B.data(), n);
    tPack = nowSec() - tPack;
    for (int threads : threadCounts) {
      std::unique_ptr<ThreadPool> pool = threads > 1 ? std::make_unique<ThreadPool>(threads) : nullptr;
      double bestF = 1e30, bestQ = 1e30, bestD = 1e30;
      const int r = std::max(2, n >= 2048 ? reps / 3 : reps);
      for (int i = 0; i < r; i++) {
        double t = nowSec();
        lathe::sgemm(false, false, n, n, n, Af.data(), n, Bf.data(), n, Cf.data(), n, false, pool.get());
        bestF = std::min(bestF, nowSec() - t);
        t = nowSec();
        lathe::qgemmU8S8(n, A.data(), n, 128, P, C.data(), n, pool.get());
        bestQ = std::min(bestQ, nowSec() - t);
        t = nowSec();
        lathe::qgemmU8S8Dequant(n, A.data(), n, 128, 0.02f, P, scale.data(), scale.data(), Cf.data(), n, pool.get());
        bestD = std::min(bestD, nowSec() - t);
      }
      const double ops = 2.0 * n * n * n * 1e-9;
      std::printf("{\"bench\":\"qgemm\",\"n\":%lld,\"threads\":%d,\"kernel\":\"%s\",\"int8_gops\":%.1f,"
                  "\"int8_dequant_gops\":%.1f,\"peer\":\"lathe-sgemm-%s\",\"peer_gflops\":%.1f,\"ratio\":%.2f,"
                  "\"pack_b_ms\":%.2f}\n",
                  (long long)n, threads, lathe::qgemmKernelName(), ops / bestQ, ops / bestD, lathe::sgemmKernelName(),
                  ops / bestF, bestF / bestQ, tPack * 1e3);
      std::fflush(stdout);
    }
  }
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
// GOP/s of 16 independent vpdpbusd chains (64 u8 x s8 products, 128 operations each): enough in
// flight to cover the instruction's latency, so this is its throughput.
__attribute__((target("avx512f,avx512bw,avx512vnni"), noinline)) double vnniPeak(int64_t iterations) {
  __m512i acc[16];
  for (int i = 0; i < 16; i++) acc[i] = _mm512_set1_epi32(i);
  const __m512i a = _mm512_set1_epi8(1), b = _mm512_set1_epi8(2);
  const double t = nowSec();
  for (int64_t it = 0; it < iterations; it++) {
#pragma GCC unroll 16
    for (int i = 0; i < 16; i++) acc[i] = _mm512_dpbusd_epi32(acc[i], a, b);
  }
  const double s = nowSec() - t;
  int32_t sink = 0;
  for (int i = 0; i < 16; i++) sink += _mm512_reduce_add_epi32(acc[i]);
  if (sink == 42) std::printf(" ");
  return iterations * 16.0 * 128 / s * 1e-9;
}

void peak() {
  if (!__builtin_cpu_supports("avx512vnni")) {
    std::printf("{\"peak\":\"vpdpbusd\",\"error\":\"this CPU has no AVX-512 VNNI\"}\n");
    return;
  }
  const int64_t n = 50000000;
  double one = 0;
  for (int r = 0; r < 3; r++) one = std::max(one, vnniPeak(n));
  double two[2] = {0, 0};
  std::thread other([&] { two[1] = vnniPeak(n); });
  two[0] = vnniPeak(n);
  other.join();
  std::printf("{\"peak\":\"vpdpbusd\",\"one_thread_gops\":%.0f,\"two_threads_gops\":%.0f}\n", one, two[0] + two[1]);
}
#else
void peak() { std::printf("{\"peak\":\"vpdpbusd\",\"error\":\"x86-64 only\"}\n"); }
#endif

std::vector<int64_t> parseList(const std::string& s) {
  std::vector<int64_t> v;
  size_t pos = 0;
  while (pos < s.size()) {
    const size_t comma = s.find(',', pos);
    v.push_back(std::atoll(s.substr(pos, comma - pos).c_str()));
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  return v;
}

}  // namespace

int main(int argc, char** argv) {
  bool doCheck = false, doBench = false, doPeak = false;
  std::vector<int64_t> sizes = {1024, 2048};
  std::vector<int> threads = {1, 2};
  int reps = 9;
  std::string kernel;  // bench only: force the int8 kernel (avx512vnni, avx2, portable)
  for (int i = 1; i < argc; i++) {
    const std::string a = argv[i];
    if (a == "check") doCheck = true;
    else if (a == "bench") doBench = true;
    else if (a == "peak") doPeak = true;
    else if (a.rfind("sizes=", 0) == 0) sizes = parseList(a.substr(6));
    else if (a.rfind("threads=", 0) == 0) {
      threads.clear();
      for (int64_t t : parseList(a.substr(8))) threads.push_back(int(t));
    } else if (a.rfind("reps=", 0) == 0) reps = std::atoi(a.c_str() + 5);
    else if (a.rfind("kernel=", 0) == 0) kernel = a.substr(7);
    else {
      std::fprintf(stderr, "qgemm_bench: unknown argument \"%s\"; expected check, bench, peak, sizes=, threads=, reps=, kernel=\n",
                   a.c_str());
      return 2;
    }
  }
  if (!doCheck && !doBench && !doPeak) doCheck = true;
  if (doPeak) peak();
  ThreadPool pool2(2);
  if (doCheck) check(&pool2);
  if (doBench && !kernel.empty() && !lathe::qgemmForceKernel(kernel.c_str())) {
    std::fprintf(stderr, "qgemm_bench: kernel \"%s\" is unknown or this CPU cannot run it\n", kernel.c_str());
    return 2;
  }
  // The float peer runs on the same ISA family where it has one (avx2 vs avx2).
  if (doBench && (kernel == "avx2" || kernel == "portable")) lathe::gemmForceKernel(kernel.c_str());
  if (doBench) bench(sizes, threads, reps);
  return failures ? 1 : 0;
}
