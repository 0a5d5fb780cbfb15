// Elementwise kernels. Broadcasting walks the output with an odometer over all but the last
// axis; the last axis runs as a tight loop specialised for the common stride patterns
// (both contiguous, or one operand a broadcast scalar along it), which the compiler vectorises.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "bias_activation.h"
#include "kernels.h"

namespace lathe {

const char* const kUnaryOps[] = {"neg",     "exp",  "log",   "sqrt",  "rsqrt",    "abs",   "square",
                                 "reciprocal", "tanh", "sigmoid", "relu", "gelu", "geluTanh", "erf",
                                 "sin",     "cos",  "log1p", "expm1", "softplus", "leakyRelu", "elu"};
const int kUnaryOpCount = sizeof(kUnaryOps) / sizeof(kUnaryOps[0]);
const char* const kBinaryOps[] = {"add", "sub", "mul", "div", "pow", "maximum", "minimum",
                                  "eq",  "ne",  "lt",  "le",  "gt",  "ge"};
const int kBinaryOpCount = sizeof(kBinaryOps) / sizeof(kBinaryOps[0]);

namespace {

constexpr int64_t kGrain = 1 << 15;  // elements per thread chunk: below ~32K a wake-up costs more than it saves

template <typename T, typename F>
void mapRange(const T* x, T* y, int64_t b, int64_t e, F f) {
  for (int64_t i = b; i < e; i++) y[i] = f(x[i]);
}

template <typename T>
void unaryRange(int op, const T* x, T* y, int64_t b, int64_t e, T p) {
  const T half = T(0.5), one = T(1);
  switch (op) {
    case 0: return mapRange(x, y, b, e, [](T v) { return -v; });
    case 1: return mapRange(x, y, b, e, [](T v) { return std::exp(v); });
    case 2: return mapRange(x, y, b, e, [](T v) { return std::log(v); });
    case 3: return mapRange(x, y, b, e, [](T v) { return std::sqrt(v); });
    case 4: return mapRange(x, y, b, e, [one](T v) { return one / std::sqrt(v); });
    case 5: return mapRange(x, y, b, e, [](T v) { return std::fabs(v); });
    case 6: return mapRange(x, y, b, e, [](T v) { return v * v; });
    case 7: return mapRange(x, y, b, e, [one](T v) { return one / v; });
    case 8: return mapRange(x, y, b, e, [](T v) { return std::tanh(v); });
    case 9: return mapRange(x, y, b, e, [one](T v) { return v >= 0 ? one / (one + std::exp(-v)) : std::exp(v) / (one + std::exp(v)); });
    case 10: return mapRange(x, y, b, e, [](T v) { return v > 0 ? v : (v == v ? T(0) : v); });
    case 11: return mapRange(x, y, b, e, [half, one](T v) { return half * v * (one + std::erf(v * T(M_SQRT1_2))); });
    case 12: return mapRange(x, y, b, e, [half, one](T v) {
        const T c = T(0.7978845608028654);  // sqrt(2/pi)
        return half * v * (one + std::tanh(c * (v + T(0.044715) * v * v * v)));
      });
    case 13: return mapRange(x, y, b, e, [](T v) { return std::erf(v); });
    case 14: return mapRange(x, y, b, e, [](T v) { return std::sin(v); });
    case 15: return mapRange(x, y, b, e, [](T v) { return std::cos(v); });
    case 16: return mapRange(x, y, b, e, [](T v) { return std::log1p(v); });
    case 17: return mapRange(x, y, b, e, [](T v) { return std::expm1(v); });
    case 18: return mapRange(x, y, b, e, [](T v) { return v > 0 ? v + std::log1p(std::exp(-v)) : std::log1p(std::exp(v)); });
    case 19: return mapRange(x, y, b, e, [p](T v) { return v >= 0 ? v : p * v; });
    case 20: return mapRange(x, y, b, e, [p](T v) { return v > 0 ? v : p * std::expm1(v); });
  }
}

template <typename T>
inline T nanMax(T a, T b) { return (a != a || b != b) ? NAN : (a > b ? a : b); }
template <typename T>
inline T nanMin(T a, T b) { return (a != a || b != b) ? NAN : (a < b ? a : b); }

// One output row of length n: out[j] = f(a[j*ia], b[j*ib]).
template <typename O, typename T, typename F>
inline void row(O* out, const T* a, const T* b, int64_t n, int64_t ia, int64_t ib, F f) {
  if (ia == 1 && ib == 1) {
    for (int64_t j = 0; j < n; j++) out[j] = f(a[j], b[j]);
  } else if (ia == 1 && ib == 0) {
    const T s = b[0];
    for (int64_t j = 0; j < n; j++) out[j] = f(a[j], s);
  } else if (ia == 0 && ib == 1) {
    const T s = a[0];
    for (int64_t j = 0; j < n; j++) out[j] = f(s, b[j]);
  } else {
    for (int64_t j = 0; j < n; j++) out[j] = f(a[j * ia], b[j * ib]);
  }
}

// Runs rows [r0, r1) of the broadcast loop; a row is one run of the last axis.
template <typename O, typename T, typename F>
void rows(O* out, const T* a, const T* b, int rank, const int64_t* shape, const int64_t* sa, const int64_t* sb,
          int64_t r0, int64_t r1, F f) {
  const int64_t n = rank == 0 ? 1 : shape[rank - 1];
  const int64_t ia = rank == 0 ? 0 : sa[rank - 1], ib = rank == 0 ? 0 : sb[rank - 1];
  int64_t idx[kMaxRank] = {0};
  int64_t offA = 0, offB = 0;
  // position the odometer at row r0
  for (int64_t r = r0, d = rank - 2; d >= 0; d--) {
    idx[d] = r % shape[d];
    r /= shape[d];
    offA += idx[d] * sa[d];
    offB += idx[d] * sb[d];
  }
  for (int64_t r = r0; r < r1; r++) {
    row(out + r * n, a + offA, b + offB, n, ia, ib, f);
    for (int64_t d = rank - 2; d >= 0; d--) {
      offA += sa[d];
      offB += sb[d];
      if (++idx[d] < shape[d]) break;
      offA -= sa[d] * shape[d];
      offB -= sb[d] * shape[d];
      idx[d] = 0;
    }
  }
}

template <typename O, typename T, typename F>
void broadcast(O* out, const T* a, const T* b, int rank, const int64_t* shape, const int64_t* sa, const int64_t* sb,
               ThreadPool& pool, F f) {
  const int64_t n = rank == 0 ? 1 : shape[rank - 1];
  int64_t nrows = 1;
  for (int d = 0; d < rank - 1; d++) nrows *= shape[d];
  if (n == 0 || nrows == 0) return;
  const int64_t grain = kGrain / n > 0 ? kGrain / n : 1;
  pool.parallelFor(nrows, grain, [&](int64_t r0, int64_t r1) { rows(out, a, b, rank, shape, sa, sb, r0, r1, f); });
}

}  // namespace

template <typename T>
void unary(int op, const T* x, T* y, int64_t n, T param, ThreadPool& pool) {
  pool.parallelFor(n, kGrain, [&](int64_t b, int64_t e) { unaryRange(op, x, y, b, e, param); });
}

template <typename T>
void binary(int op, const T* a, const T* b, T* out, uint8_t* ob, int rank, const int64_t* shape, const int64_t* sa,
            const int64_t* sb, ThreadPool& pool) {
  auto go = [&](auto* o, auto f) { broadcast(o, a, b, rank, shape, sa, sb, pool, f); };
  switch (op) {
    case 0: return go(out, [](T x, T y) { return x + y; });
    case 1: return go(out, [](T x, T y) { return x - y; });
    case 2: return go(out, [](T x, T y) { return x * y; });
    case 3: return go(out, [](T x, T y) { return x / y; });
    case 4: return go(out, [](T x, T y) { return std::pow(x, y); });
    case 5: return go(out, [](T x, T y) { return nanMax(x, y); });
    case 6: return go(out, [](T x, T y) { return nanMin(x, y); });
    case 7: return go(ob, [](T x, T y) -> uint8_t { return x == y; });
    case 8: return go(ob, [](T x, T y) -> uint8_t { return x != y; });
    case 9: return go(ob, [](T x, T y) -> uint8_t { return x < y; });
    case 10: return go(ob, [](T x, T y) -> uint8_t { return x <= y; });
    case 11: return go(ob, [](T x, T y) -> uint8_t { return x > y; });
    case 12: return go(ob, [](T x, T y) -> uint8_t { return x >= y; });
  }
}

// A branch-free select: relu's gradient picks by a data-dependent mask, and a branch there
// mispredicts half the time (2.7 ms for a conv map of 692K elements, 0.3 ms without).
template <typename T>
inline T select(uint8_t c, T a, T b) {
  using U = typename std::conditional<sizeof(T) == 4, uint32_t, uint64_t>::type;
  U ua, ub;
  std::memcpy(&ua, &a, sizeof(T));
  std::memcpy(&ub, &b, sizeof(T));
  const U m = U(0) - U(c != 0);
  const U r = (ua & m) | (ub & ~m);
  T out;
  std::memcpy(&out, &r, sizeof(T));
  return out;
}

template <typename T>
void where(const uint8_t* cond, const T* a, const T* b, T* out, int rank, const int64_t* shape, const int64_t* sc,
           const int64_t* sa, const int64_t* sb) {
  // Odometer over rows of the last axis, as in `rows`; the row itself is a tight loop that the
  // compiler vectorises when every stride along it is 0 or 1 (relu's gradient: all contiguous).
  int64_t total = 1;
  for (int d = 0; d < rank; d++) total *= shape[d];
  if (total == 0) return;
  const int64_t n = rank == 0 ? 1 : shape[rank - 1];
  const int64_t ic = rank == 0 ? 0 : sc[rank - 1], ia = rank == 0 ? 0 : sa[rank - 1], ib = rank == 0 ? 0 : sb[rank - 1];
  int64_t idx[kMaxRank] = {0};
  int64_t oc = 0, oa = 0, ob = 0;
  for (int64_t r = 0; r < total / n; r++) {
    T* __restrict o = out + r * n;
    const uint8_t* __restrict c = cond + oc;
    const T *__restrict x = a + oa, *__restrict y = b + ob;
    if (ic == 1 && ia == 1 && ib == 1) {
      for (int64_t j = 0; j < n; j++) o[j] = select(c[j], x[j], y[j]);
    } else if (ic == 1 && ia == 1 && ib == 0) {
      const T v = y[0];
      for (int64_t j = 0; j < n; j++) o[j] = select(c[j], x[j], v);
    } else if (ic == 1 && ia == 0 && ib == 1) {
      const T v = x[0];
      for (int64_t j = 0; j < n; j++) o[j] = select(c[j], v, y[j]);
    } else {
      for (int64_t j = 0; j < n; j++) o[j] = select(c[j * ic], x[j * ia], y[j * ib]);
    }
    for (int d = rank - 2; d >= 0; d--) {
      oc += sc[d];
      oa += sa[d];
      ob += sb[d];
      if (++idx[d] < shape[d]) break;
      oc -= sc[d] * shape[d];
      oa -= sa[d] * shape[d];
      ob -= sb[d] * shape[d];
      idx[d] = 0;
    }
  }
}

template <typename T>
void biasActivation(const T* x, const T* bias, T* out, int64_t rows, int64_t C, int act, ThreadPool& pool) {
  const int64_t grain = C > 0 ? (kGrain + C - 1) / C : 1;
  pool.parallelFor(rows, grain, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; r++) biasActivationRow(x + r * C, bias, out + r * C, C, act);
  });
}

template <typename S, typename D>
void scaleShift(const S* x, D* out, int64_t n, double scale, double offset, ThreadPool& pool) {
  const D a = D(scale), b = D(offset);
  pool.parallelFor(n, kGrain, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; i++) out[i] = D(x[i]) * a + b;
  });
}

template void scaleShift<uint8_t, float>(const uint8_t*, float*, int64_t, double, double, ThreadPool&);
template void scaleShift<int32_t, float>(const int32_t*, float*, int64_t, double, double, ThreadPool&);
template void scaleShift<float, float>(const float*, float*, int64_t, double, double, ThreadPool&);
template void scaleShift<double, float>(const double*, float*, int64_t, double, double, ThreadPool&);
template void scaleShift<uint8_t, double>(const uint8_t*, double*, int64_t, double, double, ThreadPool&);
template void scaleShift<int32_t, double>(const int32_t*, double*, int64_t, double, double, ThreadPool&);
template void scaleShift<float, double>(const float*, double*, int64_t, double, double, ThreadPool&);
template void scaleShift<double, double>(const double*, double*, int64_t, double, double, ThreadPool&);

#define LATHE_INSTANTIATE(T)                                                                                  \
  template void unary<T>(int, const T*, T*, int64_t, T, ThreadPool&);                                        \
  template void binary<T>(int, const T*, const T*, T*, uint8_t*, int, const int64_t*, const int64_t*,         \
                          const int64_t*, ThreadPool&);                                                       \
  template void where<T>(const uint8_t*, const T*, const T*, T*, int, const int64_t*, const int64_t*,         \
                         const int64_t*, const int64_t*);                                             \
  template void biasActivation<T>(const T*, const T*, T*, int64_t, int64_t, int, ThreadPool&);
LATHE_INSTANTIATE(float)
LATHE_INSTANTIATE(double)

}  // namespace lathe
