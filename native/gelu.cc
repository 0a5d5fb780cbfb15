// GELU forward and backward as one pass each (llm.c's gelu_forward / gelu_backward pair), for
// the exact form x Phi(x) and GPT-2's tanh approximation. The backward computes
// dx = dy * gelu'(x) in one kernel where the composed rule took ten ops and as many temporaries.
// glibc's erff, expf and tanhf are scalar calls (erff alone was 3 ms for the GPT example's 393K
// activations); float uses branch-free polynomials instead, so the loops vectorise. double keeps
// the library functions: float64 exists for exactness (the gradient checks).
#include <cmath>
#include <cstdint>
#include <cstring>

#include "kernels.h"
#include "vector_math.h"

namespace lathe {

namespace {


constexpr int64_t kGrain = 1 << 15;
constexpr float kInvSqrt2 = 0.70710678118654752f;
constexpr float kInvSqrt2Pi = 0.39894228040143268f;
constexpr float kSqrt2OverPi = 0.79788456080286536f;
constexpr float kTanhCubic = 0.044715f;

// erf(x): Eigen's rational approximation on [-4, 4] (erf(4) = 1 - 1.5e-8), at most 4.2e-7 from
// erf in double, measured over [-8, 8] in steps of 1e-4.
inline float erfPoly(float x) {
  const float a = x < -4.f ? -4.f : (x > 4.f ? 4.f : x);
  const float a2 = a * a;
  float p = -2.72614225801306e-10f;
  p = p * a2 + 2.77068142495902e-08f;
  p = p * a2 + -2.10102402082508e-06f;
  p = p * a2 + -5.69250639462346e-05f;
  p = p * a2 + -7.34990630326855e-04f;
  p = p * a2 + -2.95459980854025e-03f;
  p = p * a2 + -1.60960333262415e-02f;
  float q = -1.45660718464996e-05f;
  q = q * a2 + -2.13374055278905e-04f;
  q = q * a2 + -1.68282697438203e-03f;
  q = q * a2 + -7.37332916720468e-03f;
  q = q * a2 + -1.42647390514189e-02f;
  return a * p / q;
}

// (1 + tanh u) / 2 = 1 / (1 + exp(-2u)): no cancellation where tanh u is near -1 (negative x),
// which 1 + tanhf(u) suffers.
// expPoly clamps, so for u -> -inf this would stay near 1e-38: flushed to 0, gelu(-inf) is NaN as
// x/2 (1 + tanh u) gives (and as the js kernel and PyTorch give).
inline float halfOnePlusTanh(float u) {
  const float s = 1.0f / (1.0f + expPoly(-2.0f * u));
  return s < 1e-30f ? 0.0f : s;
}

LATHE_VECTOR_CLONES void geluForwardF(const float* __restrict x, float* __restrict y, int64_t n, bool approx) {
  if (approx) {
    for (int64_t i = 0; i < n; i++) {
      const float v = x[i];
      y[i] = v * halfOnePlusTanh(kSqrt2OverPi * (v + kTanhCubic * v * v * v));
    }
  } else {
    for (int64_t i = 0; i < n; i++) y[i] = 0.5f * x[i] * (1.0f + erfPoly(x[i] * kInvSqrt2));
  }
}

// gelu'(x) = Phi(x) + x phi(x); tanh form: (1 + t)/2 + x/2 (1 - t^2) c (1 + 3 * 0.044715 x^2),
// computed with s = (1 + t)/2 and 1 - t^2 = 4 s (1 - s).
LATHE_VECTOR_CLONES void geluBackwardF(const float* __restrict x, const float* __restrict dy, float* __restrict dx,
                                     int64_t n, bool approx) {
  if (approx) {
    for (int64_t i = 0; i < n; i++) {
      const float v = x[i];
      const float s = halfOnePlusTanh(kSqrt2OverPi * (v + kTanhCubic * v * v * v));
      const float du = kSqrt2OverPi * (1.0f + 3.0f * kTanhCubic * v * v);
      dx[i] = dy[i] * (s + 2.0f * v * s * (1.0f - s) * du);
    }
  } else {
    for (int64_t i = 0; i < n; i++) {
      const float v = x[i];
      const float cdf = 0.5f * (1.0f + erfPoly(v * kInvSqrt2));
      const float pdf = kInvSqrt2Pi * expPoly(-0.5f * v * v);
      dx[i] = dy[i] * (cdf + v * pdf);
    }
  }
}

void geluForwardD(const double* x, double* y, int64_t n, bool approx) {
  const double c = std::sqrt(2.0 / M_PI);
  for (int64_t i = 0; i < n; i++) {
    const double v = x[i];
    y[i] = approx ? 0.5 * v * (1.0 + std::tanh(c * (v + 0.044715 * v * v * v))) : 0.5 * v * (1.0 + std::erf(v * M_SQRT1_2));
  }
}

void geluBackwardD(const double* x, const double* dy, double* dx, int64_t n, bool approx) {
  const double c = std::sqrt(2.0 / M_PI);
  for (int64_t i = 0; i < n; i++) {
    const double v = x[i];
    if (approx) {
      const double t = std::tanh(c * (v + 0.044715 * v * v * v));
      dx[i] = dy[i] * (0.5 * (1.0 + t) + 0.5 * v * (1.0 - t * t) * c * (1.0 + 3.0 * 0.044715 * v * v));
    } else {
      dx[i] = dy[i] * (0.5 * (1.0 + std::erf(v * M_SQRT1_2)) + v * std::exp(-0.5 * v * v) / std::sqrt(2.0 * M_PI));
    }
  }
}

inline void forwardRange(const float* x, float* y, int64_t n, bool a) { geluForwardF(x, y, n, a); }
inline void forwardRange(const double* x, double* y, int64_t n, bool a) { geluForwardD(x, y, n, a); }
inline void backwardRange(const float* x, const float* dy, float* dx, int64_t n, bool a) { geluBackwardF(x, dy, dx, n, a); }
inline void backwardRange(const double* x, const double* dy, double* dx, int64_t n, bool a) { geluBackwardD(x, dy, dx, n, a); }

}  // namespace

template <typename T>
void geluForward(const T* x, T* y, int64_t n, bool approximate, ThreadPool& pool) {
  pool.parallelFor(n, kGrain, [&](int64_t b, int64_t e) { forwardRange(x + b, y + b, e - b, approximate); });
}

template <typename T>
void geluBackward(const T* x, const T* dy, T* dx, int64_t n, bool approximate, ThreadPool& pool) {
  pool.parallelFor(n, kGrain, [&](int64_t b, int64_t e) { backwardRange(x + b, dy + b, dx + b, e - b, approximate); });
}

template void geluForward<float>(const float*, float*, int64_t, bool, ThreadPool&);
template void geluForward<double>(const double*, double*, int64_t, bool, ThreadPool&);
template void geluBackward<float>(const float*, const float*, float*, int64_t, bool, ThreadPool&);
template void geluBackward<double>(const double*, const double*, double*, int64_t, bool, ThreadPool&);

}  // namespace lathe
