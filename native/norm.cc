// LayerNorm over the last axis, forward and backward (llm.c's layernorm_forward /
// layernorm_backward pair). The forward saves each row's mean and 1/std; the backward turns
// them and dy into dx, dgamma and dbeta in one pass over the rows. The composed version took
// about 20 ops, each a pass over memory and a temporary, and a readView per broadcast.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "kernels.h"

namespace lathe {

namespace {

constexpr int64_t kGrain = 1 << 14;  // elements per task: below this a worker's wake-up costs more than it saves

}  // namespace

template <typename T>
void layerNormForward(const T* x, const T* gamma, const T* beta, T* out, T* mean, T* rstd, int64_t rows, int64_t C,
                      double eps, ThreadPool& pool) {
  const int64_t grain = C > 0 ? (kGrain + C - 1) / C : 1;
  pool.parallelFor(rows, grain, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; r++) {
      const T* xr = x + r * C;
      T* o = out + r * C;
      // Two passes over a row that sits in L1: the mean, then the centred variance (no
      // cancellation, unlike E[x^2] - E[x]^2). Sums in double: C terms of float stay exact enough.
      double s = 0;
      for (int64_t j = 0; j < C; j++) s += xr[j];
      const double m = s / C;
      double v = 0;
      for (int64_t j = 0; j < C; j++) {
        const double d = xr[j] - m;
        v += d * d;
      }
      const T rs = T(1.0 / std::sqrt(v / C + eps));
      const T mt = T(m);
      mean[r] = mt;
      rstd[r] = rs;
      if (gamma && beta) {
        for (int64_t j = 0; j < C; j++) o[j] = (xr[j] - mt) * rs * gamma[j] + beta[j];
      } else if (gamma) {
        for (int64_t j = 0; j < C; j++) o[j] = (xr[j] - mt) * rs * gamma[j];
      } else if (beta) {
        for (int64_t j = 0; j < C; j++) o[j] = (xr[j] - mt) * rs + beta[j];
      } else {
        for (int64_t j = 0; j < C; j++) o[j] = (xr[j] - mt) * rs;
      }
    }
  });
}

// With xhat = (x - mean) rstd and dn = dy gamma:
//   dx = rstd (dn - mean(dn) - xhat mean(dn xhat)),  dgamma = sum_rows dy xhat,  dbeta = sum_rows dy.
// Rows are split over tasks; each task sums dgamma and dbeta into its own slice of a scratch
// buffer, added up at the end, so the result does not depend on timing.
template <typename T>
void layerNormBackward(const T* dy, const T* x, const T* mean, const T* rstd, const T* gamma, T* dx, T* dgamma,
                       T* dbeta, int64_t rows, int64_t C, ThreadPool& pool) {
  const int64_t grain = C > 0 ? (kGrain + C - 1) / C : 1;
  const int64_t tasks = std::max<int64_t>(1, std::min<int64_t>(pool.size(), (rows + grain - 1) / grain));
  const int64_t per = (rows + tasks - 1) / tasks;
  std::vector<T> partial(static_cast<size_t>(tasks * 2 * C), T(0));
  pool.run(tasks, [&](int64_t task) {
    T* pg = partial.data() + task * 2 * C;
    T* pb = pg + C;
    std::vector<T> xhat(C), dn(C);
    const int64_t r1 = std::min(rows, (task + 1) * per);
    for (int64_t r = task * per; r < r1; r++) {
      const T* dyr = dy + r * C;
      const T* xr = x + r * C;
      const T m = mean[r], rs = rstd[r];
      double sumDn = 0, sumDnXhat = 0;
      for (int64_t j = 0; j < C; j++) {
        const T h = (xr[j] - m) * rs;
        const T d = gamma ? dyr[j] * gamma[j] : dyr[j];
        xhat[j] = h;
        dn[j] = d;
        sumDn += d;
        sumDnXhat += double(d) * h;
        pg[j] += dyr[j] * h;
        pb[j] += dyr[j];
      }
      const T meanDn = T(sumDn / C), meanDnXhat = T(sumDnXhat / C);
      T* dxr = dx + r * C;
      for (int64_t j = 0; j < C; j++) dxr[j] = rs * (dn[j] - meanDn - xhat[j] * meanDnXhat);
    }
  });
  for (int64_t j = 0; j < C; j++) {
    T g = 0, b = 0;
    for (int64_t t = 0; t < tasks; t++) {
      g += partial[t * 2 * C + j];
      b += partial[t * 2 * C + C + j];
    }
    if (dgamma) dgamma[j] = g;
    if (dbeta) dbeta[j] = b;
  }
}

#define LATHE_INSTANTIATE_NORM(T)                                                                             \
  template void layerNormForward<T>(const T*, const T*, const T*, T*, T*, T*, int64_t, int64_t, double,     \
                                    ThreadPool&);                                                            \
  template void layerNormBackward<T>(const T*, const T*, const T*, const T*, const T*, T*, T*, T*, int64_t, \
                                     int64_t, ThreadPool&);
LATHE_INSTANTIATE_NORM(float)
LATHE_INSTANTIATE_NORM(double)

}  // namespace lathe
