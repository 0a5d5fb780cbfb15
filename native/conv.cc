// conv2d as im2col + GEMM, one image per task so the batch spreads over the pool, except float32
// forwards that a direct kernel covers (conv_direct: short reductions; conv_channels: longer
// ones, AVX-512); pooling as direct window loops over (image, channel) planes. Geometry follows
// PyTorch (NCHW).
#include <algorithm>
#if defined(__x86_64__)
#include <immintrin.h>
#endif
#include <cmath>
#include <cstdlib>
#include <type_traits>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "conv_channels.h"
#include "conv_direct.h"
#include "conv_pooled.h"
#include "conv_winograd.h"
#include "gemm/gemm.h"
#include "kernels.h"

namespace lathe {

namespace {

// dst[r][0..cols) = src[r * stride + 0..cols) for r < rows: a block of short rows, packed.
template <typename T>
void copyRows(const T* __restrict src, int64_t stride, T* __restrict dst, int64_t rows, int64_t cols) {
  for (int64_t r = 0; r < rows; r++)
    for (int64_t c = 0; c < cols; c++) dst[r * cols + c] = src[r * stride + c];
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
// With AVX-512 a row of up to 16 floats is one masked load and store: im2col's rows are 11 to
// 28 wide in MNIST-sized nets, where the generic loop's remainder handling cost a third of
// conv2d's time (and a memcpy call per row more than that).
__attribute__((target("avx512f"))) void copyRowsAvx512(const float* src, int64_t stride, float* dst, int64_t rows, int64_t cols) {
  const __mmask16 tail = static_cast<__mmask16>((1u << (cols % 16)) - 1);
  for (int64_t r = 0; r < rows; r++, src += stride, dst += cols) {
    int64_t c = 0;
    for (; c + 16 <= cols; c += 16) _mm512_storeu_ps(dst + c, _mm512_loadu_ps(src + c));
    if (tail) _mm512_mask_storeu_ps(dst + c, tail, _mm512_maskz_loadu_ps(tail, src + c));
  }
}

template <>
void copyRows<float>(const float* src, int64_t stride, float* dst, int64_t rows, int64_t cols) {
  static const bool avx512 = __builtin_cpu_supports("avx512f");
  if (avx512) return copyRowsAvx512(src, stride, dst, rows, cols);
  for (int64_t r = 0; r < rows; r++)
    for (int64_t c = 0; c < cols; c++) dst[r * cols + c] = src[r * stride + c];
}
#endif

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
        const int64_t ih0 = kh * s.dh - s.ph, ihLast = ih0 + (s.OH - 1) * s.sh;
        if (s.sw == 1 && lo == 0 && hi == s.OW && ih0 >= 0 && ihLast < s.H) {  // no padding in this block
          copyRows(src + ih0 * s.W + off, s.sh * s.W, dst, s.OH, s.OW);
          continue;
        }
        for (int64_t oh = 0; oh < s.OH; oh++) {
          const int64_t ih = oh * s.sh - s.ph + kh * s.dh;
          T* d = dst + oh * s.OW;
          if (ih < 0 || ih >= s.H || lo >= hi) {
            std::memset(d, 0, sizeof(T) * s.OW);
            continue;
          }
          const T* __restrict row = src + ih * s.W + off;
          for (int64_t ow = 0; ow < lo; ow++) d[ow] = T(0);
          // Rows are short (11 to 28 columns in MNIST-sized nets): an inline loop, since a
          // memcpy call per row cost more than the copy (a third of conv2d's time).
          if (s.sw == 1) for (int64_t ow = lo; ow < hi; ow++) d[ow] = row[ow];
          else for (int64_t ow = lo; ow < hi; ow++) d[ow] = row[ow * s.sw];
          for (int64_t ow = hi; ow < s.OW; ow++) d[ow] = T(0);
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

// `pool` is for a GEMM that should spread itself: only when there are fewer images than threads.
inline void gemm(bool tA, bool tB, int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* B,
                 int64_t ldb, float* C, int64_t ldc, bool acc, ThreadPool* pool = nullptr) {
  sgemm(tA, tB, M, N, K, A, lda, B, ldb, C, ldc, acc, pool);
}
inline void gemm(bool tA, bool tB, int64_t M, int64_t N, int64_t K, const double* A, int64_t lda, const double* B,
                 int64_t ldb, double* C, int64_t ldc, bool acc, ThreadPool* pool = nullptr) {
  dgemm(tA, tB, M, N, K, A, lda, B, ldb, C, ldc, acc, pool);
}

int64_t colSize(const Conv2dShape& s) { return s.Cg * s.KH * s.KW * s.OH * s.OW; }

// y = act(y + b) in place over one output channel's plane; the same formulas as biasActivation.
template <typename T>
void biasActivationRow(T* __restrict y, int64_t n, T b, int act) {
  const T one = T(1);
  switch (act) {
    case 0: for (int64_t i = 0; i < n; i++) y[i] += b; break;
    case 1: for (int64_t i = 0; i < n; i++) { const T v = y[i] + b; y[i] = v < T(0) ? T(0) : v; } break;  // NaN stays NaN
    case 2: for (int64_t i = 0; i < n; i++) { const T v = y[i] + b; y[i] = v >= 0 ? one / (one + std::exp(-v)) : std::exp(v) / (one + std::exp(v)); } break;
    case 3: for (int64_t i = 0; i < n; i++) y[i] = std::tanh(y[i] + b); break;
  }
}

enum class ConvPath { Im2col, Direct, Channels, Winograd };

// The float32 forward's path. Measured on one Zen 4 core (thread CPU time, best of 15, batch 32,
// relu): a 1->32 3x3 conv on 28x28 (reduction 9) ran 150-165 us direct against 285-320 im2col +
// GEMM and 340 channel-vectorised (its transposes weigh on a 9-step reduction); 32->64 3x3 on
// 13x13 (reduction 288) 1400-1520 us channel-vectorised against 1630-1690 im2col + GEMM and
// 1570-1640 direct; at reductions of 36 and 144 the three were within 10-20%.
// Winograd F(2x2, 3x3) takes the 3x3 convs with 16 or more channels in and out: MNIST's 32->64
// on 13x13 at batch 32 ran 1065-1075 us against 1345 channel-vectorised on one core (best of
// 400), 573 against 698 on two; one image (its 16 GEMMs spread over two threads) p50 61-63 us
// against 66-83 channel-vectorised and 78 direct.
// LATHE_CONV_KERNEL (read once) forces a path for tests and benchmarks: "im2col", "channels",
// "winograd", or a direct kernel family ("avx512", "avx2", "portable", which also turns
// "channels" and "winograd" off, and picks the pooled conv's kernel of that family, none for
// portable); a forced path that does not cover a shape falls back to im2col + GEMM.
const std::string& forcedPath() {
  static const std::string forced = [] {
    const char* e = std::getenv("LATHE_CONV_KERNEL");
    if (e && *e && std::strcmp(e, "im2col") != 0 && std::strcmp(e, "channels") != 0 && std::strcmp(e, "winograd") != 0) {
      conv2dDirectForceKernel(e);
      conv2dPooledForceKernel(e);
    }
    return std::string(e ? e : "");
  }();
  return forced;
}

ConvPath floatPath(const Conv2dShape& s) {
  const std::string& forced = forcedPath();
  if (forced == "im2col") return ConvPath::Im2col;
  if ((forced.empty() || forced == "winograd") && conv2dWinogradTakes(s)) return ConvPath::Winograd;
  if (forced == "winograd") return ConvPath::Im2col;
  const bool direct = forced != "channels" && conv2dDirectTakes(s);
  // Under 16 output channels most of each channel vector would be padding.
  const bool channels = (forced.empty() || forced == "channels") && s.O >= 16 && conv2dChannelsTakes(s);
  if (direct && s.Cg * s.KH * s.KW <= 32) return ConvPath::Direct;
  if (channels) return ConvPath::Channels;
  return direct ? ConvPath::Direct : ConvPath::Im2col;
}


// im2col + GEMM, image by image. With `after` (float32, N >= the pool's size) each image's
// output goes to convImageOutput's scratch and is pooled from there.
template <typename T>
void conv2dIm2col(const T* x, const T* w, const T* bias, int act, T* y, const Conv2dShape& s, ThreadPool& pool,
                  const PoolAfter* after) {
  const int64_t K = s.Cg * s.KH * s.KW, P = s.OH * s.OW, Og = s.O / s.groups;
  // Images spread over the pool; a batch smaller than the pool (one request at a time, when
  // serving) goes image by image instead, each GEMM spreading itself.
  const bool perImage = s.N >= pool.size();
  auto image = [&](int64_t n) {
    thread_local std::vector<T> col;
    col.resize(colSize(s));
    T* yn;
    if constexpr (std::is_same_v<T, float>) yn = convImageOutput(y, n, s.O * P, after);
    else yn = y + n * s.O * P;
    for (int64_t g = 0; g < s.groups; g++) {
      im2col(x + n * s.C * s.H * s.W, col.data(), s, g * s.Cg);
      // y[n, g*Og..] [Og, P] = W_g [Og, K] x col [K, P]
      T* yg = yn + g * Og * P;
      gemm(false, false, Og, P, K, w + g * Og * K, K, col.data(), P, yg, P, false, perImage ? nullptr : &pool);
      // The epilogue while the image's output is still in cache: two passes over memory fewer.
      if (bias || act != 0)
        for (int64_t o = 0; o < Og; o++) biasActivationRow(yg + o * P, P, bias ? bias[g * Og + o] : T(0), act);
    }
    if constexpr (std::is_same_v<T, float>)
      if (after) poolImage(yn, n, *after, pool);
  };
  if (perImage) pool.run(s.N, image);
  else
    for (int64_t n = 0; n < s.N; n++) image(n);
}

}  // namespace

template <typename T>
void conv2d(const T* x, const T* w, const T* bias, int act, T* y, const Conv2dShape& s, ThreadPool& pool) {
  if constexpr (std::is_same_v<T, float>) {
    switch (floatPath(s)) {
      case ConvPath::Direct: return conv2dDirect(x, w, bias, act, y, s, pool);
      case ConvPath::Channels: return conv2dChannels(x, w, bias, act, y, s, pool);
      case ConvPath::Winograd: return conv2dWinograd(x, w, bias, act, y, s, pool);
      case ConvPath::Im2col: break;
    }
  }
  conv2dIm2col<T>(x, w, bias, act, y, s, pool, nullptr);
}

float* convImageOutput(float* y, int64_t n, int64_t imageSize, const PoolAfter* after) {
  if (!after) return y + n * imageSize;
  thread_local std::vector<float> scratch;
  scratch.resize(imageSize);
  return scratch.data();
}

void poolImage(const float* convOut, int64_t n, const PoolAfter& after, ThreadPool& pool) {
  const Pool2dShape& p = after.shape;
  maxPool2d<float>(convOut, after.y + n * p.planes * p.OH * p.OW, nullptr, p, pool);
}

void conv2dMaxPool(const float* x, const float* w, const float* bias, int act, const Conv2dShape& s,
                   const PoolAfter& after, ThreadPool& pool) {
  // The direct conv's shapes with 2x2 pooling, pooled in registers (a forced direct family
  // forces the pooled kernel of that family, or none for portable: see forcedPath).
  if (floatPath(s) == ConvPath::Direct && conv2dPooledTakes(s, after.shape, act))
    return conv2dPooled(x, w, bias, act, s, after, pool);
  // Fewer images than threads: the conv splits single images over the pool, which leaves no
  // thread a per-image scratch to pool from, except Winograd's (its images run on the calling
  // thread, their products spread over the pool), which pools as it does for a batch.
  if (s.N < pool.size() && floatPath(s) != ConvPath::Winograd) {
    std::vector<float> y(s.N * s.O * s.OH * s.OW);
    conv2d<float>(x, w, bias, act, y.data(), s, pool);
    Pool2dShape all = after.shape;
    all.planes = s.N * s.O;
    return maxPool2d<float>(y.data(), after.y, nullptr, all, pool);
  }
  switch (floatPath(s)) {
    case ConvPath::Direct: return conv2dDirect(x, w, bias, act, nullptr, s, pool, &after);
    case ConvPath::Channels: return conv2dChannels(x, w, bias, act, nullptr, s, pool, &after);
    case ConvPath::Winograd: return conv2dWinograd(x, w, bias, act, nullptr, s, pool, &after);
    case ConvPath::Im2col: return conv2dIm2col<float>(x, w, bias, act, nullptr, s, pool, &after);
  }
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

namespace {

// The max-pooling rule in one place: the first cell of a window is taken; later ones when
// larger, or when NaN and the running max is not (NaN propagates, the first NaN wins). Ties
// keep the earlier cell in row-major window order, as PyTorch's argmax does.
template <typename T>
inline bool takes(T v, T best) {
  return (v > best) | ((v != v) & (best == best));
}

// 2x2 windows, stride 2, no padding: almost every CNN's pooling. Each output reads two adjacent
// cells of two rows with no per-cell bounds or loop setup (the general loop below pays that per
// window cell, and 13-wide rows made it 5-10x slower). Both loops are branch-free so that they
// vectorise: data-dependent branches mispredict on real activations.
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
// max(a, b) that returns NaN when either is: vmaxps gives its second operand when one is NaN.
__attribute__((target("avx512f"))) inline __m512 maxNan(__m512 a, __m512 b) {
  return _mm512_mask_mov_ps(_mm512_max_ps(a, b), _mm512_cmp_ps_mask(a, a, _CMP_UNORD_Q), a);
}

// The inference 2x2 row with AVX-512: 16 outputs from 32 columns of each input row, the two rows'
// max first, then even and odd columns separated by a permute. Rows of 5 to 13 outputs (MNIST
// CNNs) are one masked step, where the generic loop spent its time in setup and remainders.
__attribute__((target("avx512f"), always_inline)) inline void maxPool2x2RowAvx512(const float* r0, const float* r1,
                                                                                    float* yo, int64_t OW) {
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
  for (int64_t ow = 0; ow < OW; ow += 16) {
    const int64_t n = OW - ow < 16 ? OW - ow : 16;  // outputs this step; they read 2n columns
    const __mmask16 lo = static_cast<__mmask16>(n >= 8 ? 0xFFFF : (1u << (2 * n)) - 1);
    const float *a = r0 + 2 * ow, *b = r1 + 2 * ow;
    const __m512 v0 = maxNan(_mm512_maskz_loadu_ps(lo, a), _mm512_maskz_loadu_ps(lo, b));
    __m512 m;
    if (n <= 8) {  // one vector of input columns (5-wide outputs: MNIST's second pooling)
      m = maxNan(_mm512_permutexvar_ps(even, v0), _mm512_permutexvar_ps(odd, v0));
    } else {
      const __mmask16 hi = static_cast<__mmask16>((1u << (2 * (n - 8))) - 1);
      const __m512 v1 = maxNan(_mm512_maskz_loadu_ps(hi, a + 16), _mm512_maskz_loadu_ps(hi, b + 16));
      m = maxNan(_mm512_permutex2var_ps(v0, even, v1), _mm512_permutex2var_ps(v0, odd, v1));
    }
    _mm512_mask_storeu_ps(yo + ow, static_cast<__mmask16>((1u << n) - 1), m);
  }
}

// Whole planes at inference, the row above inlined: no call, CPU check or loop setup per output
// row, which had been most of the time. Outputs up to 8 wide go two rows per vector (rows oh
// and oh + 1 lie side by side in y). MNIST's CNN at batch 32 on one core (thread CPU time, best
// of 21): 32 x 26x26 planes per image 98 -> 54-77 us, 64 x 11x11 planes 72 -> 24 us.
__attribute__((target("avx512f"))) void maxPool2x2PlanesAvx512(const float* x, float* y, int64_t planes, int64_t H,
                                                               int64_t W, int64_t OH, int64_t OW) {
  if (OW > 8) {
    for (int64_t p = 0; p < planes; p++, x += H * W)
      for (int64_t oh = 0; oh < OH; oh++, y += OW) maxPool2x2RowAvx512(x + 2 * oh * W, x + (2 * oh + 1) * W, y, OW);
    return;
  }
  // Output lane i < OW takes columns 2i, 2i+1 of the upper pair of input rows (vector a);
  // lane OW + i those of the lower pair (vector b, lanes 16 on in the permutes).
  alignas(64) int32_t even[16];
  for (int i = 0; i < 16; i++) even[i] = i < OW ? 2 * i : i < 2 * OW ? 16 + 2 * (i - OW) : 0;
  const __m512i evenIdx = _mm512_load_si512(even), oddIdx = _mm512_add_epi32(evenIdx, _mm512_set1_epi32(1));
  const __mmask16 in = static_cast<__mmask16>((1u << (2 * OW)) - 1);  // 2*OW input columns, 2*OW outputs
  for (int64_t p = 0; p < planes; p++, x += H * W) {
    int64_t oh = 0;
    for (; oh + 2 <= OH; oh += 2, y += 2 * OW) {
      const float* r = x + 2 * oh * W;
      const __m512 a = maxNan(_mm512_maskz_loadu_ps(in, r), _mm512_maskz_loadu_ps(in, r + W));
      const __m512 b = maxNan(_mm512_maskz_loadu_ps(in, r + 2 * W), _mm512_maskz_loadu_ps(in, r + 3 * W));
      _mm512_mask_storeu_ps(y, in, maxNan(_mm512_permutex2var_ps(a, evenIdx, b), _mm512_permutex2var_ps(a, oddIdx, b)));
    }
    if (oh < OH) {
      maxPool2x2RowAvx512(x + 2 * oh * W, x + (2 * oh + 1) * W, y, OW);
      y += OW;
    }
  }
}
#endif

template <typename T>
void maxPool2x2Row(const T* __restrict r0, const T* __restrict r1, T* __restrict yo, int32_t* __restrict ao, int32_t base0,
                   int32_t W, int64_t OW) {
  // Inference: values only; a NaN anywhere in the window makes the output NaN. (float32 with
  // AVX-512 goes through maxPool2x2PlanesAvx512 instead.)
  if (!ao) {
    for (int64_t ow = 0; ow < OW; ow++) {
      const T a = r0[2 * ow], b = r0[2 * ow + 1], c = r1[2 * ow], d = r1[2 * ow + 1];
      T m = b > a ? b : a;
      m = c > m ? c : m;
      m = d > m ? d : m;
      const bool nan = (a != a) | (b != b) | (c != c) | (d != d);
      yo[ow] = nan ? std::numeric_limits<T>::quiet_NaN() : m;
    }
    return;
  }
  for (int64_t ow = 0; ow < OW; ow++) {
    yo[ow] = r0[2 * ow];
    ao[ow] = base0 + int32_t(2 * ow);
  }
  // The other three cells in row-major order, each a pass over the row as in the general loop.
  const T* cells[3] = {r0 + 1, r1, r1 + 1};
  const int32_t offsets[3] = {base0 + 1, base0 + W, base0 + W + 1};
  for (int i = 0; i < 3; i++) {
    const T* __restrict cell = cells[i];
    const int32_t off = offsets[i];
    for (int64_t ow = 0; ow < OW; ow++) {
      const T v = cell[2 * ow];
      const T b = yo[ow];
      const bool take = takes(v, b);
      yo[ow] = take ? v : b;
      ao[ow] = take ? off + int32_t(2 * ow) : ao[ow];
    }
  }
}

}  // namespace

template <typename T>
void maxPool2d(const T* x, T* y, int32_t* argmax, const Pool2dShape& s, ThreadPool& pool) {
  // Window cells outer, output columns inner: each column's running max is independent, so the
  // inner loop has no dependency chain and no branches, and vectorises (7x over a loop per
  // window, whose data-dependent compares mispredict).
  const int64_t W = s.W, H = s.H, OW = s.OW, sw = s.sw;
  const bool twoByTwo = s.KH == 2 && s.KW == 2 && s.sh == 2 && sw == 2 && s.ph == 0 && s.pw == 0;
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  if constexpr (std::is_same_v<T, float>) {
    static const bool avx512 = __builtin_cpu_supports("avx512f");
    if (twoByTwo && !argmax && avx512) {
      pool.parallelFor(s.planes, 16, [&](int64_t p0, int64_t p1) {
        maxPool2x2PlanesAvx512(x + p0 * H * W, y + p0 * s.OH * OW, p1 - p0, H, W, s.OH, OW);
      });
      return;
    }
  }
#endif
  pool.parallelFor(s.planes, 16, [&](int64_t p0, int64_t p1) {
    std::vector<int32_t> scratch(argmax || twoByTwo ? 0 : OW);  // inference: the running argmax of one row only
    for (int64_t p = p0; p < p1; p++) {
      const T* src = x + p * H * W;
      for (int64_t oh = 0; oh < s.OH; oh++) {
        T* __restrict yo = y + (p * s.OH + oh) * OW;
        if (twoByTwo) {
          const int64_t ih = 2 * oh;
          maxPool2x2Row(src + ih * W, src + (ih + 1) * W, yo, argmax ? argmax + (p * s.OH + oh) * OW : nullptr,
                        int32_t(ih * W), int32_t(W), OW);
          continue;
        }
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
              const bool take = (a < 0) | takes(v, b);
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
  template void conv2d<T>(const T*, const T*, const T*, int, T*, const Conv2dShape&, ThreadPool&); \
  template void conv2dGradInput<T>(const T*, const T*, T*, const Conv2dShape&, ThreadPool&);   \
  template void conv2dGradWeight<T>(const T*, const T*, T*, const Conv2dShape&, ThreadPool&);  \
  template void maxPool2d<T>(const T*, T*, int32_t*, const Pool2dShape&, ThreadPool&);         \
  template void maxPool2dGrad<T>(const T*, const int32_t*, T*, const Pool2dShape&);            \
  template void avgPool2d<T>(const T*, T*, const Pool2dShape&, bool, ThreadPool&);
LATHE_INSTANTIATE(float)
LATHE_INSTANTIATE(double)

}  // namespace lathe
