// Reductions and softmax over one contiguous block of axes, seen as [outer, n, inner].
// inner == 1 (the last axes) reduces along contiguous memory; inner > 1 adds whole rows.
#include <cmath>
#include <limits>
#include <vector>

#include <type_traits>

#include "kernels.h"
#include "vector_math.h"

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

namespace {
// p[j] = exp(p[j]) for j < n with vector_math.h's polynomial, 0 below expf's normal range (so a
// masked -inf logit gets exactly 0, as with expf).
LATHE_VECTOR_CLONES void expInPlace(float* __restrict p, int64_t n) {
  for (int64_t j = 0; j < n; j++) p[j] = p[j] < -87.3f ? 0.0f : expPoly(p[j]);
}

// The running maximum's rule: NaN, once seen, stays.
inline float maxNan(float m, float v) { return (v > m) | (v != v) ? v : m; }

// Independent partial maxima and sums, so that the loops vectorise without -ffast-math (one
// running value is a dependency chain of a few cycles per element).
constexpr int kLanes = 16;

LATHE_VECTOR_CLONES float rowMaxLong(const float* __restrict p, int64_t n) {
  float m[kLanes];
  for (int l = 0; l < kLanes; l++) m[l] = -std::numeric_limits<float>::infinity();
  int64_t j = 0;
  for (; j + kLanes <= n; j += kLanes)
    for (int l = 0; l < kLanes; l++) m[l] = maxNan(m[l], p[j + l]);
  float r = -std::numeric_limits<float>::infinity();
  for (int l = 0; l < kLanes; l++) r = maxNan(r, m[l]);
  for (; j < n; j++) r = maxNan(r, p[j]);
  return r;
}

// The sum in double, as the js reference's.
LATHE_VECTOR_CLONES double rowSumLong(const float* __restrict p, int64_t n) {
  double s[kLanes] = {};
  int64_t j = 0;
  for (; j + kLanes <= n; j += kLanes)
    for (int l = 0; l < kLanes; l++) s[l] += p[j + l];
  double r = 0;
  for (int l = 0; l < kLanes; l++) r += s[l];
  for (; j < n; j++) r += p[j];
  return r;
}

// Short rows (an output layer's 10 logits) in a plain loop: no call, no lanes to set up and combine.
inline float rowMax(const float* p, int64_t n) {
  if (n >= 4 * kLanes) return rowMaxLong(p, n);
  float r = -std::numeric_limits<float>::infinity();
  for (int64_t j = 0; j < n; j++) r = maxNan(r, p[j]);
  return r;
}
inline double rowSum(const float* p, int64_t n) {
  if (n >= 4 * kLanes) return rowSumLong(p, n);
  double r = 0;
  for (int64_t j = 0; j < n; j++) r += p[j];
  return r;
}

// Softmax of float32 rows (the last axis): each row's maximum subtracted, then one vectorised exp
// over the whole chunk of rows, then each row's sum and scale. glibc's expf is a scalar call and
// a row of 10 logits is too short to vectorise alone: an output layer's 256 x 10 took 12.5 us
// with an expf per logit, 256 x 128 100 us with scalar maximum and sum chains besides.
void softmaxRows(const float* x, float* out, int64_t rows, int64_t n) {
  for (int64_t r = 0; r < rows; r++) {
    float m = rowMax(x + r * n, n);
    if (m == -std::numeric_limits<float>::infinity()) m = 0;  // a row of -inf gives NaN (0/0), as in PyTorch
    for (int64_t k = 0; k < n; k++) out[r * n + k] = x[r * n + k] - m;
  }
  expInPlace(out, rows * n);
  for (int64_t r = 0; r < rows; r++) {
    float* dst = out + r * n;
    const float inv = float(1.0 / rowSum(dst, n));
    for (int64_t k = 0; k < n; k++) dst[k] *= inv;
  }
}
}  // namespace

template <typename T>
void softmax(const T* x, T* out, int64_t outer, int64_t n, int64_t inner, bool log, ThreadPool& pool) {
  const int64_t work = outer * n * inner;
  const int64_t grain = work > 0 ? (kGrain * outer + work - 1) / work : 1;
  if constexpr (std::is_same_v<T, float>) {
    if (inner == 1 && !log) {
      pool.parallelFor(outer, grain > 0 ? grain : 1, [&](int64_t o0, int64_t o1) { softmaxRows(x + o0 * n, out + o0 * n, o1 - o0, n); });
      return;
    }
  }
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
