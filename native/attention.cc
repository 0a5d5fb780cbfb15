// Fused scaled-dot-product attention, forward and backward (as llm.c pairs attention_forward
// and attention_backward): one (batch, head) per pool task, every product a GEMM on the task's
// own thread. Queries go in blocks of kQueryBlock rows, so a head's scratch is a block of
// scores [kQueryBlock, Tk], never [Tq, Tk], and a causal block stops at the last key its last
// query sees: the fully masked blocks to its right are never computed.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "gemm/gemm.h"
#include "kernels.h"
#include "vector_math.h"

namespace lathe {

namespace {

// 32 query rows a block: with T = 64 (the GPT example's block) a causal head computes 3/4 of
// the score matrix. Blocks of 16 and 64 measured within noise of 32 there (forward + backward
// 1.4-1.8 ms of CPU for B*H = 48, one thread), and 32 keeps the scratch at 32 x Tk.
constexpr int64_t kQueryBlock = 32;

inline void gemm(bool tA, bool tB, int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* B,
                 int64_t ldb, float* C, int64_t ldc, bool acc) {
  sgemm(tA, tB, M, N, K, A, lda, B, ldb, C, ldc, acc, nullptr);  // nullptr: a pool task must not spread again
}
inline void gemm(bool tA, bool tB, int64_t M, int64_t N, int64_t K, const double* A, int64_t lda, const double* B,
                 int64_t ldb, double* C, int64_t ldc, bool acc) {
  dgemm(tA, tB, M, N, K, A, lda, B, ldb, C, ldc, acc, nullptr);
}

// The row loops are most of the time once the GEMMs are small: at T = 64, D = 32 glibc's scalar
// expf cost 35 us a head against 11 us for its two GEMMs. Compiled for AVX-512, AVX2 and plain
// x86-64 (the loader picks one per CPU), the loops below vectorise: 4096 exps in 2.7 us.


constexpr int kLanes = 16;  // independent partial sums and maxima, so the reductions vectorise without -ffast-math

// p[j] = exp(a p[j] - b) for j < n. float: the vectorising polynomial of vector_math.h; double:
// std::exp, since float64 exists for exactness (the gradient checks).
LATHE_VECTOR_CLONES void expAffine(float* __restrict p, int64_t n, float a, float b) {
  for (int64_t j = 0; j < n; j++) p[j] = expPoly(p[j] * a - b);
}
void expAffine(double* p, int64_t n, double a, double b) {
  for (int64_t j = 0; j < n; j++) p[j] = std::exp(p[j] * a - b);
}

// p[j] *= scale for j < n; returns their maximum.
template <typename T>
LATHE_VECTOR_CLONES T scaleAndMax(T* __restrict p, int64_t n, T scale) {
  T m[kLanes];
  for (int l = 0; l < kLanes; l++) m[l] = -std::numeric_limits<T>::infinity();
  int64_t j = 0;
  for (; j + kLanes <= n; j += kLanes)
    for (int l = 0; l < kLanes; l++) {
      const T v = p[j + l] *= scale;
      m[l] = v > m[l] ? v : m[l];
    }
  for (; j < n; j++) {
    const T v = p[j] *= scale;
    m[0] = v > m[0] ? v : m[0];
  }
  T max = m[0];
  for (int l = 1; l < kLanes; l++) max = m[l] > max ? m[l] : max;
  return max;
}

template <typename T>
LATHE_VECTOR_CLONES T sum(const T* __restrict p, int64_t n) {
  T s[kLanes] = {};
  int64_t j = 0;
  for (; j + kLanes <= n; j += kLanes)
    for (int l = 0; l < kLanes; l++) s[l] += p[j + l];
  for (; j < n; j++) s[0] += p[j];
  T total = 0;
  for (int l = 0; l < kLanes; l++) total += s[l];
  return total;
}

struct HeadShape {
  int64_t Tq, Tk, D;
  bool causal;
  // Keys query i sees: all, or when causal those j <= i + (Tk - Tq) (the diagonal aligned bottom-right).
  int64_t visible(int64_t i) const { return causal ? std::min(Tk, i + (Tk - Tq) + 1) : Tk; }
};

// One head: o = softmax(q k^T * scale) v, lse[i] = log sum_j exp(s_ij). q, o [Tq, D]; k, v [Tk, D],
// row i of each at i * ld (D when the head is contiguous, 3C when it is read from a fused QKV
// projection [T, 3C] and C when written into [T, C]: the GEMMs take the strides as they are).
template <typename T>
void headForward(const T* q, int64_t ldq, const T* k, int64_t ldk, const T* v, int64_t ldv, T* o, int64_t ldo, T* lse,
                 const HeadShape& h, T scale, std::vector<T>& s) {
  s.resize(kQueryBlock * h.Tk);
  for (int64_t i0 = 0; i0 < h.Tq; i0 += kQueryBlock) {
    const int64_t rows = std::min(kQueryBlock, h.Tq - i0);
    const int64_t keys = h.visible(i0 + rows - 1);  // the block's last row sees the most keys
    gemm(false, true, rows, keys, h.D, q + i0 * ldq, ldq, k, ldk, s.data(), keys, false);  // S = Q K^T
    for (int64_t r = 0; r < rows; r++) {
      T* p = s.data() + r * keys;
      const int64_t n = h.visible(i0 + r);
      const T max = scaleAndMax(p, n, scale);
      expAffine(p, n, T(1), max);
      const T total = sum(p, n);
      const T inv = T(1) / total;
      for (int64_t j = 0; j < n; j++) p[j] *= inv;
      for (int64_t j = n; j < keys; j++) p[j] = 0;  // masked within the block
      lse[i0 + r] = max + std::log(total);
    }
    gemm(false, false, rows, h.D, keys, s.data(), keys, v, ldv, o + i0 * ldo, ldo, false);  // O = P V
  }
}

// One head's gradients, recomputing P = exp(S - lse) block by block:
// dV = P^T dO, dP = dO V^T, dS = P (dP - rowsum(dO * O)), dQ = scale dS K, dK = scale dS^T Q.
// dq, dk and dv have the row strides of q, k and v; dout that of o.
template <typename T>
void headBackward(const T* dout, const T* q, int64_t ldq, const T* k, int64_t ldk, const T* v, int64_t ldv, const T* o,
                  int64_t ldo, const T* lse, T* dq, T* dk, T* dv, const HeadShape& h, T scale, std::vector<T>& p,
                  std::vector<T>& dp) {
  p.resize(kQueryBlock * h.Tk);
  dp.resize(kQueryBlock * h.Tk);
  for (int64_t j = 0; j < h.Tk; j++) {
    std::memset(dk + j * ldk, 0, sizeof(T) * h.D);
    std::memset(dv + j * ldv, 0, sizeof(T) * h.D);
  }
  for (int64_t i0 = 0; i0 < h.Tq; i0 += kQueryBlock) {
    const int64_t rows = std::min(kQueryBlock, h.Tq - i0);
    const int64_t keys = h.visible(i0 + rows - 1);
    const T* qb = q + i0 * ldq;
    const T* gb = dout + i0 * ldo;
    gemm(false, true, rows, keys, h.D, qb, ldq, k, ldk, p.data(), keys, false);  // S
    for (int64_t r = 0; r < rows; r++) {
      T* pr = p.data() + r * keys;
      const int64_t n = h.visible(i0 + r);
      const T l = lse[i0 + r];
      expAffine(pr, n, scale, l);
      for (int64_t j = n; j < keys; j++) pr[j] = 0;
    }
    gemm(true, false, keys, h.D, rows, p.data(), keys, gb, ldo, dv, ldv, true);      // dV += P^T dO
    gemm(false, true, rows, keys, h.D, gb, ldo, v, ldv, dp.data(), keys, false);    // dP = dO V^T
    for (int64_t r = 0; r < rows; r++) {
      const T* g = gb + r * ldo;
      const T* orow = o + (i0 + r) * ldo;
      T delta = 0;  // rowsum(P dP) = rowsum(dO * O)
      for (int64_t c = 0; c < h.D; c++) delta += g[c] * orow[c];
      T* pr = p.data() + r * keys;
      const T* dpr = dp.data() + r * keys;
      for (int64_t j = 0; j < keys; j++) pr[j] = pr[j] * (dpr[j] - delta) * scale;  // scale dS, 0 where masked
    }
    gemm(false, false, rows, h.D, keys, p.data(), keys, k, ldk, dq + i0 * ldq, ldq, false);  // dQ = scale dS K
    gemm(true, false, keys, h.D, rows, p.data(), keys, qb, ldq, dk, ldk, true);              // dK += scale dS^T Q
  }
}

// Where head (b, h) of a tensor starts and how far apart its rows are.
struct Strides {
  int64_t batch, head, row;
  int64_t at(int64_t b, int64_t h) const { return b * batch + h * head; }
};

// Every (batch, head) of one call: the [B,H,T,D] form, or the packed one, where q, k and v are
// column blocks of the fused projection [B, T, 3C] and out is [B, T, C]. dq, dk and dv share the
// strides of q, k and v, dout that of out; lse is always [B, H, Tq].
struct Layout {
  int64_t B, H;
  HeadShape shape;
  Strides q, k, v, o;
};

Layout contiguous(int64_t heads, int64_t Tq, int64_t Tk, int64_t D, bool causal) {
  return {heads, 1, {Tq, Tk, D, causal}, {Tq * D, 0, D}, {Tk * D, 0, D}, {Tk * D, 0, D}, {Tq * D, 0, D}};
}

Layout packed(int64_t B, int64_t H, int64_t T, int64_t D, bool causal) {
  const int64_t C = H * D;
  const Strides qkv{T * 3 * C, D, 3 * C};
  return {B, H, {T, T, D, causal}, qkv, qkv, qkv, {T * C, D, C}};
}

// Runs fn(head) for every head: inline below ~32K multiply-adds in all, so a decoding step (one
// query row a head, 4 heads of 32 over <= 64 keys: ~8K) does not wake a worker for microseconds
// of work (the wake-up was 12% of a cached step's profile); otherwise one pool task a head,
// handed out dynamically (the workers run at lower priority and may start late).
template <typename F>
void forEachHead(const Layout& l, ThreadPool& pool, F&& fn) {
  const int64_t heads = l.B * l.H;
  if (heads * l.shape.Tq * l.shape.Tk * l.shape.D < 32768) {
    for (int64_t i = 0; i < heads; i++) fn(i);
  } else {
    pool.run(heads, fn);
  }
}

template <typename T>
void forwardAll(const T* q, const T* k, const T* v, T* out, T* lse, const Layout& l, double scale, ThreadPool& pool) {
  forEachHead(l, pool, [&](int64_t i) {
    thread_local std::vector<T> s;
    const int64_t b = i / l.H, h = i % l.H;
    headForward(q + l.q.at(b, h), l.q.row, k + l.k.at(b, h), l.k.row, v + l.v.at(b, h), l.v.row, out + l.o.at(b, h),
                l.o.row, lse + i * l.shape.Tq, l.shape, T(scale), s);
  });
}

template <typename T>
void backwardAll(const T* dout, const T* q, const T* k, const T* v, const T* out, const T* lse, T* dq, T* dk, T* dv,
                 const Layout& l, double scale, ThreadPool& pool) {
  forEachHead(l, pool, [&](int64_t i) {
    thread_local std::vector<T> p, dp;
    const int64_t b = i / l.H, h = i % l.H;
    const int64_t qo = l.q.at(b, h), ko = l.k.at(b, h), vo = l.v.at(b, h), oo = l.o.at(b, h);
    headBackward(dout + oo, q + qo, l.q.row, k + ko, l.k.row, v + vo, l.v.row, out + oo, l.o.row,
                 lse + i * l.shape.Tq, dq + qo, dk + ko, dv + vo, l.shape, T(scale), p, dp);
  });
}

}  // namespace

template <typename T>
void attentionForward(const T* q, const T* k, const T* v, T* out, T* lse, int64_t heads, int64_t Tq, int64_t Tk,
                      int64_t D, double scale, bool causal, ThreadPool& pool) {
  forwardAll(q, k, v, out, lse, contiguous(heads, Tq, Tk, D, causal), scale, pool);
}

template <typename T>
void attentionBackward(const T* dout, const T* q, const T* k, const T* v, const T* out, const T* lse, T* dq, T* dk,
                       T* dv, int64_t heads, int64_t Tq, int64_t Tk, int64_t D, double scale, bool causal,
                       ThreadPool& pool) {
  backwardAll(dout, q, k, v, out, lse, dq, dk, dv, contiguous(heads, Tq, Tk, D, causal), scale, pool);
}

template <typename T>
void attentionPackedForward(const T* qkv, T* out, T* lse, int64_t B, int64_t H, int64_t T_, int64_t D, double scale,
                            bool causal, ThreadPool& pool) {
  const int64_t C = H * D;
  forwardAll(qkv, qkv + C, qkv + 2 * C, out, lse, packed(B, H, T_, D, causal), scale, pool);
}

template <typename T>
void attentionPackedBackward(const T* dout, const T* qkv, const T* out, const T* lse, T* dqkv, int64_t B, int64_t H,
                             int64_t T_, int64_t D, double scale, bool causal, ThreadPool& pool) {
  const int64_t C = H * D;
  backwardAll(dout, qkv, qkv + C, qkv + 2 * C, out, lse, dqkv, dqkv + C, dqkv + 2 * C, packed(B, H, T_, D, causal),
              scale, pool);
}

template <typename T>
void attentionCachedForward(const T* qkv, T* kCache, T* vCache, T* out, int64_t B, int64_t H, int64_t T_,
                            int64_t length, int64_t capacity, int64_t D, double scale, ThreadPool& pool) {
  const int64_t C = H * D;
  for (int64_t b = 0; b < B; b++)  // the new tokens' keys and values go to rows length.. of each head
    for (int64_t h = 0; h < H; h++)
      for (int64_t t = 0; t < T_; t++) {
        const T* src = qkv + (b * T_ + t) * 3 * C + C + h * D;
        const int64_t dst = ((b * H + h) * capacity + length + t) * D;
        std::memcpy(kCache + dst, src, sizeof(T) * D);
        std::memcpy(vCache + dst, src + C, sizeof(T) * D);
      }
  Layout l = packed(B, H, T_, D, true);
  l.shape.Tk = length + T_;
  l.k = l.v = Strides{H * capacity * D, capacity * D, D};
  std::vector<T> lse(B * H * T_);  // not kept: a cached step has no backward
  forwardAll(qkv, kCache, vCache, out, lse.data(), l, scale, pool);
}

#define LATHE_INSTANTIATE(T)                                                                                      \
  template void attentionForward<T>(const T*, const T*, const T*, T*, T*, int64_t, int64_t, int64_t, int64_t, double, \
                                    bool, ThreadPool&);                                                             \
  template void attentionBackward<T>(const T*, const T*, const T*, const T*, const T*, const T*, T*, T*, T*, int64_t, \
                                     int64_t, int64_t, int64_t, double, bool, ThreadPool&);                         \
  template void attentionPackedForward<T>(const T*, T*, T*, int64_t, int64_t, int64_t, int64_t, double, bool,       \
                                          ThreadPool&);                                                             \
  template void attentionPackedBackward<T>(const T*, const T*, const T*, const T*, T*, int64_t, int64_t, int64_t,   \
                                           int64_t, double, bool, ThreadPool&);                                     \
  template void attentionCachedForward<T>(const T*, T*, T*, T*, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, \
                                          double, ThreadPool&);
LATHE_INSTANTIATE(float)
LATHE_INSTANTIATE(double)

}  // namespace lathe
