// Reductions and softmax over one contiguous block of axes, seen as [outer, n, inner].
// inner == 1 (the last axes) reduces along contiguous memory; inner > 1 adds whole rows.
#include <cmath>
#include <limits>
#include <vector>

#include "kernels.h"

namespace lathe {

namespace {
constexpr int64_t kGrain = 1 << 15;

template <typename T>
inline T combine(int op, T acc, T v) {
  if (op == 0) return acc + v;
  if (v != v || acc != acc) return std::numeric_limits<T>::quiet_NaN();
  return op == 1 ? (v > acc ? v : acc) : (v < acc ? v : acc);
}
}  // namespace

template <typename T>
void reduce(int op, const T* x, T* out, int64_t outer, int64_t n, int64_t inner, ThreadPool& pool) {
  // Sums accumulate in double, as the js reference does, so float32 sums of many terms agree.
  const int64_t work = outer * n * inner;
  const int64_t grain = work > 0 ? (kGrain * outer + work - 1) / work : 1;
  pool.parallelFor(outer, grain > 0 ? grain : 1, [&](int64_t o0, int64_t o1) {
    std::vector<double> acc(inner);
    for (int64_t o = o0; o < o1; o++) {
      const T* base = x + o * n * inner;
      T* dst = out + o * inner;
      if (op == 0) {
        if (inner == 1) {
          double s = 0;
          for (int64_t k = 0; k < n; k++) s += base[k];
          dst[0] = T(s);
          continue;
        }
        std::fill(acc.begin(), acc.end(), 0.0);
        for (int64_t k = 0; k < n; k++) {
          const T* r = base + k * inner;
          for (int64_t i = 0; i < inner; i++) acc[i] += r[i];
        }
        for (int64_t i = 0; i < inner; i++) dst[i] = T(acc[i]);
      } else {
        for (int64_t i = 0; i < inner; i++) dst[i] = base[i];
        for (int64_t k = 1; k < n; k++) {
          const T* r = base + k * inner;
          for (int64_t i = 0; i < inner; i++) dst[i] = combine(op, dst[i], r[i]);
        }
      }
    }
  });
}

template <typename T>
void argReduce(bool isMax, const T* x, int32_t* out, int64_t outer, int64_t n, int64_t inner) {
  for (int64_t o = 0; o < outer; o++)
    for (int64_t i = 0; i < inner; i++) {
      const T* base = x + o * n * inner + i;
      int64_t best = 0;
      T bestV = base[0];
      for (int64_t k = 1; k < n && bestV == bestV; k++) {
        const T v = base[k * inner];
        if (v != v || (isMax ? v > bestV : v < bestV)) {
          best = k;
          bestV = v;
        }
      }
      out[o * inner + i] = static_cast<int32_t>(best);
    }
}

template <typename T>
void softmax(const T* x, T* out, int64_t outer, int64_t n, int64_t inner, bool log, ThreadPool& pool) {
  const int64_t work = outer * n * inner;
  const int64_t grain = work > 0 ? (kGrain * outer + work - 1) / work : 1;
  pool.parallelFor(outer, grain > 0 ? grain : 1, [&](int64_t o0, int64_t o1) {
    for (int64_t o = o0; o < o1; o++)
      for (int64_t i = 0; i < inner; i++) {
        const T* src = x + o * n * inner + i;
        T* dst = out + o * n * inner + i;
        T m = -std::numeric_limits<T>::infinity();
        for (int64_t k = 0; k < n; k++) m = src[k * inner] > m || src[k * inner] != src[k * inner] ? src[k * inner] : m;
        if (m == -std::numeric_limits<T>::infinity()) m = 0;  // a row of -inf gives NaN, as in PyTorch, not inf - inf here
        double s = 0;
        if (!log) {
          // Each exp once, in T (expf for float32: a model's output layer spent 34 us of 75 on
          // two double exps per logit), kept in dst and scaled; the sum stays in double.
          for (int64_t k = 0; k < n; k++) {
            const T e = std::exp(src[k * inner] - m);
            dst[k * inner] = e;
            s += e;
          }
          const T inv = T(1.0 / s);
          for (int64_t k = 0; k < n; k++) dst[k * inner] *= inv;
          continue;
        }
        for (int64_t k = 0; k < n; k++) s += std::exp(double(src[k * inner] - m));
        const double logS = std::log(s);
        for (int64_t k = 0; k < n; k++) dst[k * inner] = T(double(src[k * inner] - m) - logS);
      }
  });
}

template <typename T>
void softmaxCrossEntropy(const T* x, const int32_t* labels, T* losses, T* grad, int64_t N, int64_t C, ThreadPool& pool) {
  const int64_t grain = C > 0 ? (kGrain + C - 1) / C : 1;
  pool.parallelFor(N, grain, [&](int64_t r0, int64_t r1) {
    for (int64_t i = r0; i < r1; i++) {
      const T* row = x + i * C;
      T* g = grad + i * C;
      T m = -std::numeric_limits<T>::infinity();
      for (int64_t k = 0; k < C; k++) m = row[k] > m || row[k] != row[k] ? row[k] : m;
      double s = 0;
      for (int64_t k = 0; k < C; k++) s += std::exp(double(row[k] - m));
      const double logS = std::log(s);
      // loss = log sum exp(x - m) - (x[y] - m): finite for any finite logits
      losses[i] = T(logS - double(row[labels[i]] - m));
      for (int64_t k = 0; k < C; k++) g[k] = T(std::exp(double(row[k] - m) - logS));
      g[labels[i]] -= T(1);
    }
  });
}

#define LATHE_INSTANTIATE(T)                                                                        \
  template void reduce<T>(int, const T*, T*, int64_t, int64_t, int64_t, ThreadPool&);              \
  template void argReduce<T>(bool, const T*, int32_t*, int64_t, int64_t, int64_t);                 \
  template void softmax<T>(const T*, T*, int64_t, int64_t, int64_t, bool, ThreadPool&);            \
  template void softmaxCrossEntropy<T>(const T*, const int32_t*, T*, T*, int64_t, int64_t, ThreadPool&);
LATHE_INSTANTIATE(float)
LATHE_INSTANTIATE(double)

}  // namespace lathe
