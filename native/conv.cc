// conv2d as im2col + GEMM, one image per task so the batch spreads over the pool; pooling as
// direct window loops over (image, channel) planes. Geometry follows PyTorch (NCHW).
#include <algorithm>
#include <cstring>
#include <limits>
#include <vector>

#include "gemm/gemm.h"
#include "kernels.h"

namespace lathe {

namespace {

// col[(c*KH + kh)*KW + kw][oh*OW + ow] = x[c][oh*sh - ph + kh*dh][ow*sw - pw + kw*dw], 0 outside.
// The columns ow whose input column is inside the row are worked out once per (kh, kw), so the
// copy has no bounds checks, and with stride 1 it is a memcpy.
template <typename T>
void im2col(const T* x, T* col, const Conv2dShape& s, int64_t c0) {
  const int64_t plane = s.OH * s.OW;
  for (int64_t kw = 0; kw < s.KW; kw++) {
    const int64_t off = kw * s.dw - s.pw;  // input column of output column 0
    const int64_t lo = off >= 0 ? 0 : std::min<int64_t>(s.OW, (-off + s.sw - 1) / s.sw);
    const int64_t hi = off >= s.W ? 0 : std::min<int64_t>(s.OW, (s.W - 1 - off) / s.sw + 1);
    for (int64_t c = 0; c < s.Cg; c++)
      for (int64_t kh = 0; kh < s.KH; kh++) {
        T* dst = col + ((c * s.KH + kh) * s.KW + kw) * plane;
        const T* src = x + (c0 + c) * s.H * s.W;
        for (int64_t oh = 0; oh < s.OH; oh++) {
          const int64_t ih = oh * s.sh - s.ph + kh * s.dh;
          T* d = dst + oh * s.OW;
          if (ih < 0 || ih >= s.H || lo >= hi) {
            std::memset(d, 0, sizeof(T) * s.OW);
            continue;
          }
          const T* row = src + ih * s.W + off;
          if (lo > 0) std::memset(d, 0, sizeof(T) * lo);
          if (s.sw == 1) std::memcpy(d + lo, row + lo, sizeof(T) * (hi - lo));
          else for (int64_t ow = lo; ow < hi; ow++) d[ow] = row[ow * s.sw];
          if (hi < s.OW) std::memset(d + hi, 0, sizeof(T) * (s.OW - hi));
        }
      }
  }
}

// The adjoint of im2col: dx[c][ih][iw] += col[...] for every column entry that im2col read.
template <typename T>
void col2im(const T* col, T* dx, const Conv2dShape& s, int64_t c0) {
  const int64_t plane = s.OH * s.OW;
  for (int64_t c = 0; c < s.Cg; c++)
    for (int64_t kh = 0; kh < s.KH; kh++)
      for (int64_t kw = 0; kw < s.KW; kw++) {
        const T* src = col + ((c * s.KH + kh) * s.KW + kw) * plane;
        T* dst = dx + (c0 + c) * s.H * s.W;
        for (int64_t oh = 0; oh < s.OH; oh++) {
          const int64_t ih = oh * s.sh - s.ph + kh * s.dh;
          if (ih < 0 || ih >= s.H) continue;
          for (int64_t ow = 0; ow < s.OW; ow++) {
            const int64_t iw = ow * s.sw - s.pw + kw * s.dw;
            if (iw >= 0 && iw < s.W) dst[ih * s.W + iw] += src[oh * s.OW + ow];
          }
        }
      }
}

inline void gemm(bool tA, bool tB, int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* B,
                 int64_t ldb, float* C, int64_t ldc, bool acc) {
  sgemm(tA, tB, M, N, K, A, lda, B, ldb, C, ldc, acc, nullptr);
}
inline void gemm(bool tA, bool tB, int64_t M, int64_t N, int64_t K, const double* A, int64_t lda, const double* B,
                 int64_t ldb, double* C, int64_t ldc, bool acc) {
  dgemm(tA, tB, M, N, K, A, lda, B, ldb, C, ldc, acc, nullptr);
}

int64_t colSize(const Conv2dShape& s) { return s.Cg * s.KH * s.KW * s.OH * s.OW; }

}  // namespace

template <typename T>
void conv2d(const T* x, const T* w, T* y, const Conv2dShape& s, ThreadPool& pool) {
  const int64_t K = s.Cg * s.KH * s.KW, P = s.OH * s.OW, Og = s.O / s.groups;
  pool.run(s.N, [&](int64_t n) {
    thread_local std::vector<T> col;
    col.resize(colSize(s));
    for (int64_t g = 0; g < s.groups; g++) {
      im2col(x + n * s.C * s.H * s.W, col.data(), s, g * s.Cg);
      // y[n, g*Og..] [Og, P] = W_g [Og, K] x col [K, P]
      gemm(false, false, Og, P, K, w + g * Og * K, K, col.data(), P, y + (n * s.O + g * Og) * P, P, false);
    }
  });
}

template <typename T>
void conv2dGradInput(const T* dy, const T* w, T* dx, const Conv2dShape& s, ThreadPool& pool) {
  const int64_t K = s.Cg * s.KH * s.KW, P = s.OH * s.OW, Og = s.O / s.groups;
  std::memset(dx, 0, sizeof(T) * s.N * s.C * s.H * s.W);
  pool.run(s.N, [&](int64_t n) {
    thread_local std::vector<T> col;
    col.resize(colSize(s));
    for (int64_t g = 0; g < s.groups; g++) {
      // dcol [K, P] = W_g^T [K, Og] x dy[n, g] [Og, P]
      gemm(true, false, K, P, Og, w + g * Og * K, K, dy + (n * s.O + g * Og) * P, P, col.data(), P, false);
      col2im(col.data(), dx + n * s.C * s.H * s.W, s, g * s.Cg);
    }
  });
}

template <typename T>
void conv2dGradWeight(const T* dy, const T* x, T* dw, const Conv2dShape& s, ThreadPool& pool) {
  const int64_t K = s.Cg * s.KH * s.KW, P = s.OH * s.OW, Og = s.O / s.groups, wsize = s.O * K;
  // Each chunk of images sums into its own buffer; the buffers add up at the end.
  const int64_t chunks = std::min<int64_t>(pool.size(), s.N);
  std::vector<std::vector<T>> partial(chunks, std::vector<T>(wsize, T(0)));
  pool.run(chunks, [&](int64_t c) {
    std::vector<T> col(colSize(s));
    for (int64_t n = c; n < s.N; n += chunks)
      for (int64_t g = 0; g < s.groups; g++) {
        im2col(x + n * s.C * s.H * s.W, col.data(), s, g * s.Cg);
        // dW_g [Og, K] += dy[n, g] [Og, P] x col^T [P, K]
        gemm(false, true, Og, K, P, dy + (n * s.O + g * Og) * P, P, col.data(), P, partial[c].data() + g * Og * K, K, true);
      }
  });
  for (int64_t i = 0; i < wsize; i++) {
    T sum = 0;
    for (int64_t c = 0; c < chunks; c++) sum += partial[c][i];
    dw[i] = sum;
  }
}

template <typename T>
void maxPool2d(const T* x, T* y, int32_t* argmax, const Pool2dShape& s, ThreadPool& pool) {
  // Window cells outer, output columns inner: each column's running max is independent, so the
  // inner loop has no dependency chain and no branches, and vectorises (7x over a loop per
  // window, whose data-dependent compares mispredict). Ties keep the first cell in row-major
  // window order; the first NaN wins (it propagates).
  const int64_t W = s.W, H = s.H, OW = s.OW, sw = s.sw;
  pool.parallelFor(s.planes, 16, [&](int64_t p0, int64_t p1) {
    std::vector<int32_t> scratch(argmax ? 0 : OW);  // inference: the running argmax of one row only
    for (int64_t p = p0; p < p1; p++) {
      const T* src = x + p * H * W;
      for (int64_t oh = 0; oh < s.OH; oh++) {
        T* __restrict yo = y + (p * s.OH + oh) * OW;
        int32_t* __restrict ao = argmax ? argmax + (p * s.OH + oh) * OW : scratch.data();
        for (int64_t ow = 0; ow < OW; ow++) {
          yo[ow] = -std::numeric_limits<T>::infinity();
          ao[ow] = -1;
        }
        for (int64_t kh = 0; kh < s.KH; kh++) {
          const int64_t ih = oh * s.sh - s.ph + kh;
          if (ih < 0 || ih >= H) continue;
          for (int64_t kw = 0; kw < s.KW; kw++) {
            const int64_t off = kw - s.pw;  // column of output 0's cell; output ow reads off + ow*sw
            const int64_t lo = off >= 0 ? 0 : (-off + sw - 1) / sw;
            const int64_t hi = std::min<int64_t>(OW, off >= W ? 0 : (W - 1 - off) / sw + 1);
            const T* __restrict row = src + ih * W + off;
            const int32_t base = static_cast<int32_t>(ih * W + off);
            for (int64_t ow = lo; ow < hi; ow++) {
              const T v = row[ow * sw];
              const T b = yo[ow];
              const int32_t a = ao[ow];
              const bool take = (a < 0) | (v > b) | ((v != v) & (b == b));
              yo[ow] = take ? v : b;
              ao[ow] = take ? base + static_cast<int32_t>(ow * sw) : a;
            }
          }
        }
      }
    }
  });
}

template <typename T>
void maxPool2dGrad(const T* dy, const int32_t* argmax, T* dx, const Pool2dShape& s) {
  std::memset(dx, 0, sizeof(T) * s.planes * s.H * s.W);
  const int64_t per = s.OH * s.OW;
  for (int64_t p = 0; p < s.planes; p++)
    for (int64_t o = 0; o < per; o++) dx[p * s.H * s.W + argmax[p * per + o]] += dy[p * per + o];
}

template <typename T>
void avgPool2d(const T* x, T* y, const Pool2dShape& s, bool backward, ThreadPool& pool) {
  // Forward: y = mean of window (x is the input). Backward: x is dy, y is dx, and each window
  // spreads dy/area over its cells. Padding counts in the area (count_include_pad).
  const T inv = T(1) / T(s.KH * s.KW);
  if (backward) std::memset(y, 0, sizeof(T) * s.planes * s.H * s.W);
  pool.parallelFor(s.planes, 16, [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; p++)
      for (int64_t oh = 0; oh < s.OH; oh++)
        for (int64_t ow = 0; ow < s.OW; ow++) {
          const int64_t o = (p * s.OH + oh) * s.OW + ow;
          T acc = 0;
          for (int64_t kh = 0; kh < s.KH; kh++) {
            const int64_t ih = oh * s.sh - s.ph + kh;
            if (ih < 0 || ih >= s.H) continue;
            for (int64_t kw = 0; kw < s.KW; kw++) {
              const int64_t iw = ow * s.sw - s.pw + kw;
              if (iw < 0 || iw >= s.W) continue;
              if (backward) y[(p * s.H + ih) * s.W + iw] += x[o] * inv;
              else acc += x[(p * s.H + ih) * s.W + iw];
            }
          }
          if (!backward) y[o] = acc * inv;
        }
  });
}

#define LATHE_INSTANTIATE(T)                                                                    \
  template void conv2d<T>(const T*, const T*, T*, const Conv2dShape&, ThreadPool&);            \
  template void conv2dGradInput<T>(const T*, const T*, T*, const Conv2dShape&, ThreadPool&);   \
  template void conv2dGradWeight<T>(const T*, const T*, T*, const Conv2dShape&, ThreadPool&);  \
  template void maxPool2d<T>(const T*, T*, int32_t*, const Pool2dShape&, ThreadPool&);         \
  template void maxPool2dGrad<T>(const T*, const int32_t*, T*, const Pool2dShape&);            \
  template void avgPool2d<T>(const T*, T*, const Pool2dShape&, bool, ThreadPool&);
LATHE_INSTANTIATE(float)
LATHE_INSTANTIATE(double)

}  // namespace lathe
