// Standalone correctness test and benchmark for lathe::sgemm/dgemm (no Node). Build from native/:
//   g++ -O3 -std=c++17 -pthread gemm/gemm_bench.cc $(ls gemm/*.cc | grep -v _bench) threadpool.cc -o /tmp/gemm_bench
// Usage: gemm_bench [check] [fuzz=N] [bench] [train] [double] [kernels=auto,avx512,avx2,portable]
//        [sizes=256,1024] [shape=32x128x784ab] [threads=1,2] [budget=seconds per case]
#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "gemm.h"

using lathe::ThreadPool;

namespace {

std::mt19937_64 rng(12345);

template <typename T>
std::vector<T> randomVec(size_t n) {
  std::uniform_real_distribution<double> u(-1.0, 1.0);
  std::vector<T> v(n);
  for (auto& x : v) x = static_cast<T>(u(rng));
  return v;
}

template <typename T>
void gemm(bool tA, bool tB, int64_t M, int64_t N, int64_t K, const T* A, int64_t lda, const T* B, int64_t ldb,
          T* C, int64_t ldc, bool acc, ThreadPool* pool) {
  if constexpr (sizeof(T) == 4) lathe::sgemm(tA, tB, M, N, K, A, lda, B, ldb, C, ldc, acc, pool);
  else lathe::dgemm(tA, tB, M, N, K, A, lda, B, ldb, C, ldc, acc, pool);
}

// One case: random operands stored with padded leading dimensions, compared against a naive
// double-precision product. The error bound scales with sqrt(K) and with sum |a||b| per entry.
template <typename T>
bool checkCase(bool tA, bool tB, int64_t M, int64_t N, int64_t K, bool acc, ThreadPool* pool) {
  const int64_t aRows = tA ? K : M, aCols = tA ? M : K, bRows = tB ? N : K, bCols = tB ? K : N;
  const int64_t lda = aCols + 3, ldb = bCols + 5, ldc = N + 7;
  // Exact extents ((rows-1)*ld + cols): an address-sanitizer build then catches any over-read.
  auto extent = [](int64_t rows, int64_t cols, int64_t ld) { return size_t(rows ? (rows - 1) * ld + cols : 0); };
  auto A = randomVec<T>(extent(aRows, aCols, lda)), B = randomVec<T>(extent(bRows, bCols, ldb));
  auto C0 = randomVec<T>(extent(M, N, ldc));
  std::vector<T> C = C0;
  if (!acc)  // C is write-only without accumulate: garbage in it must not leak out
    for (int64_t i = 0; i < M; i++)
      for (int64_t j = 0; j < N; j++) C[i * ldc + j] = std::numeric_limits<T>::quiet_NaN();
  gemm<T>(tA, tB, M, N, K, A.data(), lda, B.data(), ldb, C.data(), ldc, acc, pool);
  const double eps = sizeof(T) == 4 ? 1e-5 : 1e-13;
  double worst = 0;
  for (int64_t i = 0; i < M; i++) {
    for (int64_t j = 0; j < N; j++) {
      double s = acc ? C0[i * ldc + j] : 0.0, mag = std::fabs(s);
      for (int64_t k = 0; k < K; k++) {
        const double a = tA ? A[k * lda + i] : A[i * lda + k];
        const double b = tB ? B[j * ldb + k] : B[k * ldb + j];
        s += a * b;
        mag += std::fabs(a * b);
      }
      const double err = std::fabs(C[i * ldc + j] - s) / (eps * std::sqrt(K + 1.0) * (mag + 1e-30));
      if (!(err <= 1.0)) err != err ? worst = 1e30 : worst = std::max(worst, err);
    }
    // Padding between rows of C must be untouched.
    for (int64_t j = N; j < ldc && i + 1 < M; j++)  // (the last row has no padding)
      if (!(C[i * ldc + j] == C0[i * ldc + j])) worst = 1e30;
  }
  if (worst > 1.0) {
    std::printf("FAIL %s %s tA=%d tB=%d M=%lld N=%lld K=%lld acc=%d threads=%d err/bound=%g\n",
                sizeof(T) == 4 ? "sgemm" : "dgemm", lathe::sgemmKernelName(), tA, tB, (long long)M,
                (long long)N, (long long)K, acc, pool ? pool->size() : 1, worst);
    return false;
  }
  return true;
}

template <typename T>
int checkAll(ThreadPool* pool2) {
  const int64_t s[] = {1, 3, 17, 31, 33, 65, 127, 257};
  std::vector<std::array<int64_t, 3>> shapes;
  for (int i = 0; i < 8; i++) {
    shapes.push_back({s[i], s[(i + 1) % 8], s[(i + 3) % 8]});
    shapes.push_back({s[(i + 3) % 8], s[i], s[(i + 1) % 8]});
    shapes.push_back({s[(i + 1) % 8], s[(i + 3) % 8], s[i]});
  }
  // Past the cache blocks (MC 96, KC 512, NC 1024), the pack-in-place thresholds (M > 256,
  // M*K > 64K) and the threading threshold (3 MFLOP), and the training shapes.
  shapes.push_back({300, 530, 600});
  shapes.push_back({37, 2100, 70});
  shapes.push_back({32, 128, 784});
  shapes.push_back({784, 128, 32});
  shapes.push_back({32, 784, 128});
  shapes.push_back({5, 4, 0});
  int fails = 0, cases = 0;
  for (auto& sh : shapes)
    for (int t = 0; t < 4; t++)
      for (int acc = 0; acc < 2; acc++)
        for (ThreadPool* pool : {static_cast<ThreadPool*>(nullptr), pool2}) {
          cases++;
          fails += !checkCase<T>(t & 1, t >> 1, sh[0], sh[1], sh[2], acc, pool);
        }
  std::printf("%s %s kernel=%s: %d cases, %d failures\n", fails ? "FAIL" : "PASS",
              sizeof(T) == 4 ? "sgemm" : "dgemm", lathe::sgemmKernelName(), cases, fails);
  return fails;
}

// sgemmBiasActivation with a weights key, called until the key has found B packed once and
// kept (gemm/prepacked.h), against the same call without one: equal bit for bit, for shapes
// with one and several K blocks, ragged N, and on one and two threads. Each call gets a key no
// other contents had, as the addon's callers must.
int checkPrepacked(ThreadPool* pool2) {
  static uint64_t lastKey = 0;
  const int64_t shapes[][3] = {{200, 70, 300}, {7, 70, 1100}, {33, 10, 600}, {1, 128, 1600}, {300, 530, 40}};
  int fails = 0, cases = 0;
  for (auto& sh : shapes)
    for (ThreadPool* pool : {static_cast<ThreadPool*>(nullptr), pool2}) {
      const int64_t M = sh[0], N = sh[1], K = sh[2];
      auto A = randomVec<float>(M * K), B = randomVec<float>(K * N), bias = randomVec<float>(N);
      std::vector<float> want(M * N), got(M * N);
      lathe::sgemmBiasActivation(M, N, K, A.data(), K, B.data(), N, want.data(), N, bias.data(), 1, pool);
      const uint64_t key = ++lastKey;
      for (int call = 0; call < 3; call++) {  // noted, packed and kept, read from the cache
        cases++;
        std::fill(got.begin(), got.end(), std::numeric_limits<float>::quiet_NaN());
        lathe::sgemmBiasActivation(M, N, K, A.data(), K, B.data(), N, got.data(), N, bias.data(), 1, pool, key);
        if (std::memcmp(got.data(), want.data(), sizeof(float) * M * N) != 0) {
          std::printf("FAIL prepacked %s M=%lld N=%lld K=%lld threads=%d call %d\n", lathe::sgemmKernelName(),
                      (long long)M, (long long)N, (long long)K, pool ? pool->size() : 1, call + 1);
          fails++;
        }
      }
    }
  std::printf("%s prepacked kernel=%s: %d cases, %d failures\n", fails ? "FAIL" : "PASS", lathe::sgemmKernelName(),
              cases, fails);
  return fails;
}

// Random shapes (each dimension 1..max, a few past the cache blocks) and flags.
template <typename T>
int fuzz(int cases, ThreadPool* pool2) {
  std::uniform_int_distribution<int> small(1, 140), big(1, 700), coin(0, 1);
  int fails = 0;
  for (int c = 0; c < cases; c++) {
    auto dim = [&] { return int64_t(c % 5 == 0 ? big(rng) : small(rng)); };
    const int64_t M = dim(), N = dim(), K = dim();
    fails += !checkCase<T>(coin(rng), coin(rng), M, N, K, coin(rng), coin(rng) ? pool2 : nullptr);
  }
  std::printf("%s fuzz %s kernel=%s: %d cases, %d failures\n", fails ? "FAIL" : "PASS",
              sizeof(T) == 4 ? "sgemm" : "dgemm", lathe::sgemmKernelName(), cases, fails);
  return fails;
}

double nowSec() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Best-of-batches time per call: the machine is shared, so the minimum is the stable statistic.
template <typename T>
void benchCase(const char* kernel, bool tA, bool tB, int64_t M, int64_t N, int64_t K, ThreadPool* pool,
               double budget) {
  auto A = randomVec<T>(M * K), B = randomVec<T>(K * N);
  std::vector<T> C(M * N);
  const int64_t lda = tA ? M : K, ldb = tB ? K : N;
  auto call = [&] { gemm<T>(tA, tB, M, N, K, A.data(), lda, B.data(), ldb, C.data(), N, false, pool); };
  call();
  double t0 = nowSec();
  call();
  const double once = std::max(nowSec() - t0, 1e-7);
  const int reps = std::max<int>(1, static_cast<int>(budget / 5 / once));
  double best = 1e30;
  for (int b = 0; b < 5; b++) {
    t0 = nowSec();
    for (int r = 0; r < reps; r++) call();
    best = std::min(best, (nowSec() - t0) / reps);
  }
  std::printf("{\"op\":\"%s\",\"m\":%lld,\"n\":%lld,\"k\":%lld,\"ta\":%d,\"tb\":%d,\"threads\":%d,"
              "\"kernel\":\"%s\",\"gflops\":%.1f,\"us\":%.1f}\n",
              sizeof(T) == 4 ? "gemm" : "dgemm", (long long)M, (long long)N, (long long)K, tA, tB,
              pool ? pool->size() : 1, kernel, 2.0 * M * N * K / best * 1e-9, best * 1e6);
  std::fflush(stdout);
}

std::vector<std::string> splitList(const std::string& s) {
  std::vector<std::string> out;
  size_t p = 0;
  while (p <= s.size()) {
    size_t q = s.find(',', p);
    if (q == std::string::npos) q = s.size();
    if (q > p) out.push_back(s.substr(p, q - p));
    p = q + 1;
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  bool check = false, bench = false, train = false, dbl = false;
  int fuzzCases = 0;
  std::vector<std::string> kernels = {"avx512", "avx2", "portable"};
  std::vector<int64_t> sizes = {256, 512, 1024, 2048, 4096};
  std::vector<int> threadCounts = {1, 2};
  double budget = 0.5;
  struct Shape {
    int64_t m, n, k;
    bool ta, tb;
  };
  std::vector<Shape> shapes;
  for (int i = 1; i < argc; i++) {
    std::string a = argv[i];
    if (a == "check") check = true;
    else if (a == "bench") bench = train = true;
    else if (a == "train") train = true;
    else if (a == "double") dbl = true;
    else if (a.rfind("fuzz=", 0) == 0) fuzzCases = std::atoi(a.c_str() + 5);
    else if (a.rfind("kernels=", 0) == 0) kernels = splitList(a.substr(8));
    else if (a.rfind("sizes=", 0) == 0) {
      sizes.clear();
      for (auto& s : splitList(a.substr(6))) sizes.push_back(std::atoll(s.c_str()));
      bench = true;
    } else if (a.rfind("shape=", 0) == 0) {  // shape=MxNxK[t][t]: trailing a/b = transA/transB
      long long m = 0, n = 0, k = 0;
      char flags[8] = "";
      std::sscanf(a.c_str() + 6, "%lldx%lldx%lld%7s", &m, &n, &k, flags);
      shapes.push_back({m, n, k, std::strchr(flags, 'a') != nullptr, std::strchr(flags, 'b') != nullptr});
    } else if (a.rfind("threads=", 0) == 0) {
      threadCounts.clear();
      for (auto& s : splitList(a.substr(8))) threadCounts.push_back(std::atoi(s.c_str()));
    } else if (a.rfind("budget=", 0) == 0) budget = std::atof(a.c_str() + 7);
    else {
      std::fprintf(stderr, "unknown argument %s\n", a.c_str());
      return 2;
    }
  }
  if (!check && !bench && !train && shapes.empty() && !fuzzCases) check = bench = train = true;
  ThreadPool pool2(2);
  int fails = 0;
  for (auto& name : kernels) {
    const bool autoPick = name == "auto";  // runtime dispatch, as the addon runs it
    if (!lathe::gemmForceKernel(autoPick ? nullptr : name.c_str())) {
      std::printf("SKIP kernel=%s (not available on this CPU/build)\n", name.c_str());
      continue;
    }
    const std::string k = autoPick ? lathe::sgemmKernelName() : name;
    if (check) fails += checkAll<float>(&pool2) + checkAll<double>(&pool2) + checkPrepacked(&pool2);
    if (fuzzCases) fails += fuzz<float>(fuzzCases, &pool2) + fuzz<double>(fuzzCases, &pool2);
    for (int th : threadCounts) {
      std::unique_ptr<ThreadPool> own;  // a pool of the requested size (the checks use pool2)
      if (th > 2) own = std::make_unique<ThreadPool>(th);
      ThreadPool* pool = th <= 1 ? nullptr : th == 2 ? &pool2 : own.get();
      if (bench)
        for (int64_t s : sizes) {
          benchCase<float>(k.c_str(), false, false, s, s, s, pool, budget);
          if (dbl) benchCase<double>(k.c_str(), false, false, s, s, s, pool, budget);
        }
      for (auto& sh : shapes) benchCase<float>(k.c_str(), sh.ta, sh.tb, sh.m, sh.n, sh.k, pool, budget);
      if (train) {  // forward, dW = X^T G, dX = G W^T
        benchCase<float>(k.c_str(), false, false, 32, 128, 784, pool, budget);
        benchCase<float>(k.c_str(), true, false, 784, 128, 32, pool, budget);
        benchCase<float>(k.c_str(), false, true, 32, 784, 128, pool, budget);
      }
    }
  }
  lathe::gemmForceKernel(nullptr);
  if (check || fuzzCases) std::printf("%s overall (auto kernel: %s)\n", fails ? "FAIL" : "PASS", lathe::sgemmKernelName());
  return fails ? 1 : 0;
}
