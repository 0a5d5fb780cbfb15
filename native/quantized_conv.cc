// Quantized Conv2D forward (quantized.h). Each image is quantized channels-last, then either
// convolved in place by the direct int8 tile (stride 1, AVX-512 VNNI: no patch matrix, no
// packing) or turned into patches for the int8 GEMM; the output is dequantized in the GEMM,
// pooled while still channels-last where a 2x2 max pool follows, transposed to NCHW, activated.
#include <algorithm>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <vector>

#include "quantize_avx512.h"
#include "quantized.h"
#include "quantized_conv_image.h"
#include "transpose_avx2.h"
#include "transpose_avx512.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace lathe {

using qconv::paddedImage;
using qconv::pooledConvImage;
using qconv::pooledTileCovers;
using qconv::transpose;

namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

// A copy of a few bytes: patches rows are 1 to ~200 bytes, where a memcpy call per row costs
// more than the copy.
inline void copyBytes(uint8_t* __restrict dst, const uint8_t* __restrict src, int64_t n) {
  if (n >= 32) {
    std::memcpy(dst, src, n);
    return;
  }
  for (int64_t i = 0; i < n; i++) dst[i] = src[i];
}

inline void fillBytes(uint8_t* dst, uint8_t v, int64_t n) {
  for (int64_t i = 0; i < n; i++) dst[i] = v;
}

// One image's patches, channels last: rows[p][(kh*KW + kw)*C + c] = xq[ih][iw][c] for output
// pixel p, or the zero point outside the image.
void im2row(const uint8_t* xq, uint8_t* rows, const Conv2dShape& s, uint8_t zp) {
  const int64_t C = s.C, run = s.KW * C;
  uint8_t* r = rows;
  for (int64_t oh = 0; oh < s.OH; oh++)
    for (int64_t ow = 0; ow < s.OW; ow++) {
      const int64_t iw0 = ow * s.sw - s.pw;
      const bool rowInside = s.dw == 1 && iw0 >= 0 && iw0 + s.KW <= s.W;
      for (int64_t kh = 0; kh < s.KH; kh++) {
        const int64_t ih = oh * s.sh - s.ph + kh * s.dh;
        if (ih < 0 || ih >= s.H) {
          fillBytes(r, zp, run);
          r += run;
          continue;
        }
        const uint8_t* src = xq + ih * s.W * C;
        if (rowInside) {
          copyBytes(r, src + iw0 * C, run);
          r += run;
          continue;
        }
        for (int64_t kw = 0; kw < s.KW; kw++, r += C) {
          const int64_t iw = iw0 + kw * s.dw;
          if (iw < 0 || iw >= s.W) fillBytes(r, zp, C);
          else copyBytes(r, src + iw * C, C);
        }
      }
    }
}

}  // namespace

namespace qconv {

// dst[j * ldd + i] = src[i * lds + j] for i < rows, j < cols: a float matrix transposed (the
// conv's NCHW <-> channels-last changes), in 16 x 16 blocks with AVX-512, 8 x 8 with AVX2.
void transpose(const float* src, int64_t lds, int64_t rows, int64_t cols, float* dst, int64_t ldd) {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  static const bool avx512 = __builtin_cpu_supports("avx512f"), avx2 = __builtin_cpu_supports("avx2");
  if (avx512) return transposeFloats(src, lds, rows, cols, dst, ldd);
  if (avx2) return transposeFloatsAvx2(src, lds, rows, cols, dst, ldd);
#endif
  for (int64_t r = 0; r < rows; r++)
    for (int64_t c = 0; c < cols; c++) dst[c * ldd + r] = src[r * lds + c];
}

}  // namespace qconv

namespace {

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
constexpr bool kCanQuantizeChannelsLast = true;

// One NCHW float image x [C][H][W] quantized (as quantizeValues) into a channels-last uint8
// image whose rows are Wp pixels apart: q[(h * Wp + w) * C + c]. The transpose and the
// quantization in one pass, 16 channels x 16 pixels at a time in registers: a float transpose
// into scratch, then a quantization pass, cost 60 us of the MNIST CNN's 500 at batch 32 on one
// core. Returns nonzero when any value is NaN or infinite.
__attribute__((target("avx512f,avx512bw,avx512vl"))) int quantizeChannelsLast(const float* x, int64_t C, int64_t H, int64_t W, int64_t Wp,
                                                                              float scale, float zeroPoint, uint8_t* q) {
  const int64_t HW = H * W;
  const Quantizer16 quantizer = quantizer16(scale, zeroPoint);
  const __m512 zero = _mm512_setzero_ps();
  __mmask16 bad = 0;
  for (int64_t c0 = 0; c0 < C; c0 += 16) {
    const int cc = static_cast<int>(std::min<int64_t>(16, C - c0));
    const __mmask16 channels = static_cast<__mmask16>((1u << cc) - 1);
    for (int64_t p0 = 0; p0 < HW; p0 += 16) {
      const int pp = static_cast<int>(std::min<int64_t>(16, HW - p0));
      const __mmask16 pixels = static_cast<__mmask16>((1u << pp) - 1);
      __m512i r[16], t[16];
      for (int i = 0; i < 16; i++)
        r[i] = i < cc ? _mm512_castps_si512(_mm512_maskz_loadu_ps(pixels, x + (c0 + i) * HW + p0)) : _mm512_setzero_si512();
      transpose16x16(r, t);  // t[j]: channels c0.. of pixel p0 + j
      int64_t h = p0 / W, w = p0 % W;
      for (int j = 0; j < pp; j++) {
        const __m512 v = _mm512_castsi512_ps(t[j]);
        bad |= _mm512_mask_cmp_ps_mask(channels, _mm512_sub_ps(v, v), zero, _CMP_NEQ_UQ);  // NaN for NaN and +-Inf
        _mm_mask_storeu_epi8(q + (h * Wp + w) * C + c0, channels, _mm512_cvtusepi32_epi8(_mm512_cvtps_epi32(quantize16(quantizer, v))));
        if (++w == W) w = 0, h++;
      }
    }
  }
  return bad != 0;
}
#else
constexpr bool kCanQuantizeChannelsLast = false;
int quantizeChannelsLast(const float*, int64_t, int64_t, int64_t, int64_t, float, float, uint8_t*) { return 0; }
#endif

// The padding of a channels-last image [Hp][Wp][C] set to the zero point (the quantized 0.0).
void fillBorder(uint8_t* q, int64_t Hp, int64_t Wp, int64_t C, int64_t ph, int64_t pw, uint8_t zp) {
  const int64_t row = Wp * C;
  if (ph > 0) {
    std::memset(q, zp, size_t(ph * row));
    std::memset(q + (Hp - ph) * row, zp, size_t(ph * row));
  }
  if (pw > 0)
    for (int64_t h = ph; h < Hp - ph; h++) {
      std::memset(q + h * row, zp, size_t(pw * C));
      std::memset(q + h * row + (Wp - pw) * C, zp, size_t(pw * C));
    }
}

// 2x2 windows, stride 2, no padding, on one image's output still channels-last (pixel (oh, ow)
// at row oh * rowPixels + ow of O channels): each pooled position the running max (first NaN
// wins, as maxPool2d) of four rows, so only the pooled quarter is transposed to NCHW and
// activated. The activations (relu, sigmoid, tanh) rise monotonically, so pooling before them
// gives the same values.
bool pooledChannelsLast(const Pool2dShape& p) {
  return p.KH == 2 && p.KW == 2 && p.sh == 2 && p.sw == 2 && p.ph == 0 && p.pw == 0;
}

// dst = the running max (first NaN wins, as maxPool2d) of the four rows a, b, c, d of O channels.
void maxOfFour(const float* a, const float* b, const float* c, const float* d, float* dst, int64_t O) {
  for (int64_t o = 0; o < O; o++) {
    float m = a[o];
    for (const float r : {b[o], c[o], d[o]}) m = (r > m) | ((r != r) & (m == m)) ? r : m;
    dst[o] = m;
  }
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
// The same 16 channels at a time: the compiler leaves the loop above scalar, with a branch per
// comparison that mispredicts on real data (it took half the int8 CNN's time).
__attribute__((target("avx512f"))) void maxOfFourAvx512(const float* a, const float* b, const float* c, const float* d, float* dst, int64_t O) {
  for (int64_t o = 0; o < O; o += 16) {
    const __mmask16 k = O - o >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << (O - o)) - 1);
    __m512 m = _mm512_maskz_loadu_ps(k, a + o);
    for (const float* r : {b, c, d}) {
      const __m512 v = _mm512_maskz_loadu_ps(k, r + o);
      const __mmask16 take = _mm512_cmp_ps_mask(v, m, _CMP_GT_OQ) | (_mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q) & _mm512_cmp_ps_mask(m, m, _CMP_ORD_Q));
      m = _mm512_mask_blend_ps(take, m, v);
    }
    _mm512_mask_storeu_ps(dst + o, k, m);
  }
}
#endif

void maxPool2x2ChannelsLast(const float* acc, int64_t rowPixels, int64_t O, const Pool2dShape& p, float* pooled) {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  static const auto maxOf = __builtin_cpu_supports("avx512f") ? &maxOfFourAvx512 : &maxOfFour;
#else
  constexpr auto maxOf = &maxOfFour;
#endif
  for (int64_t ph = 0; ph < p.OH; ph++)
    for (int64_t pw = 0; pw < p.OW; pw++) {
      const float* r0 = acc + (2 * ph * rowPixels + 2 * pw) * O;
      maxOf(r0, r0 + O, r0 + rowPixels * O, r0 + (rowPixels + 1) * O, pooled + (ph * p.OW + pw) * O, O);
    }
}

// buf sized for a padded channels-last image [Hp][Wp][C] and 4 bytes past it, the border and
// those bytes at the zero point; returns where the image's inside starts.
uint8_t* paddedBuffer(const Conv2dShape& s, int64_t Hp, int64_t Wp, uint8_t zeroPoint, std::vector<uint8_t>& buf) {
  buf.resize(static_cast<size_t>(Hp * Wp * s.C + 4));
  uint8_t* xq = buf.data();
  fillBorder(xq, Hp, Wp, s.C, s.ph, s.pw, zeroPoint);
  std::memset(xq + Hp * Wp * s.C, zeroPoint, 4);
  return xq + (s.ph * Wp + s.pw) * s.C;
}

}  // namespace

namespace qconv {

// Image xn (NCHW floats, or channels-last ones [H][W][C]) quantized into buf as the padded
// channels-last image the direct tiles read, [Hp][Wp][C] with the border at the zero point, and
// 4 more bytes that a tile reading a kernel row as whole groups may touch past its end.
// bad: a value was NaN or infinite.
uint8_t* paddedImage(const float* xn, bool channelsLast, const Conv2dShape& s, int64_t Hp, int64_t Wp, const QuantParams& p,
                     std::vector<uint8_t>& buf, bool& bad) {
  uint8_t* inside = paddedBuffer(s, Hp, Wp, p.zeroPoint, buf);
  if (channelsLast || s.C == 1) {  // a line at a time: nothing to transpose
    int anyBad = 0;
    for (int64_t h = 0; h < s.H; h++) anyBad |= quantizeValues(xn + h * s.W * s.C, inside + h * Wp * s.C, s.W * s.C, p.scale, p.zeroPoint);
    bad = anyBad != 0;
  } else {
    bad = quantizeChannelsLast(xn, s.C, s.H, s.W, Wp, p.scale, p.zeroPoint, inside) != 0;
  }
  return buf.data();
}

uint8_t* paddedImageLookup(const uint8_t* vn, const Conv2dShape& s, int64_t Hp, int64_t Wp, uint8_t zeroPoint, const uint8_t* table,
                           std::vector<uint8_t>& buf) {
  uint8_t* inside = paddedBuffer(s, Hp, Wp, zeroPoint, buf);
  if (s.C == 1) {
    for (int64_t h = 0; h < s.H; h++) lookUpValues(table, vn + h * s.W, inside + h * Wp, s.W);
  } else {  // NCHW to channels-last; a first layer's few channels (RGB): no vectors to gain
    for (int64_t c = 0; c < s.C; c++)
      for (int64_t h = 0; h < s.H; h++)
        for (int64_t w = 0; w < s.W; w++) inside[(h * Wp + w) * s.C + c] = table[vn[(c * s.H + h) * s.W + w]];
  }
  return buf.data();
}

// Whether the pooled int8 tile covers this conv and the pool after it, with the input's scale
// aScale. It pools the int32 sums before dequantizing, which equals pooling after only while the
// output stage rises with the sum: every aScale * wScale finite and not negative (a quantizer
// makes them so; setWeights takes any).
bool pooledTileCovers(const Conv2dShape& s, const QPackedB& w, const Pool2dShape& pool, float aScale, const float* wScale) {
  const int64_t row = s.KW * s.C, groups = (row + 3) / 4;
  if (!kCanQuantizeChannelsLast || s.sh != 1 || s.sw != 1 || s.dh != 1 || s.dw != 1 || !pooledChannelsLast(pool) || !qconvPooledSupported()) return false;
  if (row % 4 != 0 && !(w.paddedRows && w.paddedRows->K == s.KH * groups * 4)) return false;
  for (int64_t o = 0; o < s.O; o++) {
    const float f = aScale * wScale[o];  // as the output stage computes it
    if (!(f >= 0.0f && f <= std::numeric_limits<float>::max())) return false;
  }
  return true;
}

// One padded channels-last image through the pooled tile: out [PH * PW][O], channels last,
// activated. tiles: the pool to spread the tiles over, or nullptr.
void pooledConvImage(const uint8_t* xq, const Conv2dShape& s, const QuantParams& p, const QPackedB& w, const float* wScale,
                     const float* bias, int act, const Pool2dShape& pool, float* out, ThreadPool* tiles) {
  const QPackedB& b = (s.KW * s.C) % 4 == 0 ? w : *w.paddedRows;
  if (!qconvPooledU8S8Dequant(xq, s.W + 2 * s.pw, s.C, s.KH, (s.KW * s.C + 3) / 4, pool.OH, pool.OW, p.zeroPoint, p.scale, b, wScale, bias,
                              act == 1, out, s.O, tiles))
    throw std::runtime_error("quantizedConv2d: the int8 kernel changed during the call");  // only if a test forced another
  if (act != 1) activateSpan(out, pool.OH * pool.OW * s.O, act);  // the tile applies relu
}

}  // namespace qconv

QPackedB qPackConvWeights(const int8_t* w, int64_t O, int64_t C, int64_t KH, int64_t KW) {
  // [O, KH, row] with a row of KW*C bytes ordered kw, c, padded with zeros to `row` bytes.
  auto channelsLast = [&](int64_t row) {
    std::vector<int8_t> v(static_cast<size_t>(O * KH * row), 0);
    for (int64_t o = 0; o < O; o++)
      for (int64_t c = 0; c < C; c++)
        for (int64_t kh = 0; kh < KH; kh++)
          for (int64_t kw = 0; kw < KW; kw++) v[(o * KH + kh) * row + kw * C + c] = w[((o * C + c) * KH + kh) * KW + kw];
    return v;
  };
  const int64_t K = C * KH * KW, row = KW * C, paddedRow = (row + 3) / 4 * 4;
  QPackedB packed = qgemmPackB(true, K, O, channelsLast(row).data(), K);
  if (paddedRow != row) packed.paddedRows = std::make_shared<const QPackedB>(qgemmPackB(true, KH * paddedRow, O, channelsLast(paddedRow).data(), KH * paddedRow));
  return packed;
}

void quantizedConv2d(const float* x, const Conv2dShape& s, const QuantParams* input, const QPackedB& w,
                     const float* wScale, const float* bias, int act, float* y, ThreadPool& pool, const PoolAfter* after) {
  const int64_t HW = s.H * s.W, P = s.OH * s.OW, K = s.C * s.KH * s.KW, O = s.O;
  const QuantParams p = input ? *input : dynamicQuantParams(x, s.N * s.C * HW, pool);
  // Images spread over the pool, as in the float conv2d; a batch smaller than the pool goes
  // image by image on the calling thread, each GEMM spreading itself (where it is large enough),
  // and each image pooled as in a batch (MNIST's int8 CNN at batch 1 had run its conv whole,
  // then pooled it apart).
  const bool perImage = s.N >= pool.size();
  // The direct tile reads the padded image in place; its output lines are Wp pixels apart (the
  // last Wp - OW of each hold nothing), against OW for the patches' GEMM.
  const bool stride1 = kCanQuantizeChannelsLast && s.sh == 1 && s.sw == 1 && s.dh == 1 && s.dw == 1;
  // With a 2x2 pool after it, a stride-1 conv pools in registers and computes only what the pool
  // reads, whatever its kernel row's width (rows not whole groups read B.paddedRows).
  const bool channelsLastPool = after && pooledChannelsLast(after->shape);
  const bool pooledDirect = channelsLastPool && pooledTileCovers(s, w, after->shape, p.scale, wScale);
  const bool direct = stride1 && !pooledDirect && qconvDirectSupported(s.C, s.KW);
  const int64_t Hp = s.H + 2 * s.ph, Wp = s.W + 2 * s.pw;
  const int64_t rows = direct ? (s.OH - 1) * Wp + s.OW : P;
  auto image = [&](int64_t n) {
    // Per-thread scratch, fetched once: thread_local lookups inside the loops cost 5% alone.
    thread_local std::vector<uint8_t> xqBuf, patchesBuf;
    thread_local std::vector<float> accBuf, channelsLastBuf, pooledBuf;
    const float* xn = x + n * s.C * HW;
    const int64_t pooledSize = after ? O * after->shape.OH * after->shape.OW : 0;
    float* yn = channelsLastPool ? after->y + n * pooledSize : convImageOutput(y, n, O * P, after);
    if (!pooledDirect) accBuf.resize(static_cast<size_t>(rows * O));  // the conv's output, before pooling
    float* acc = accBuf.data();
    bool bad;
    int64_t rowPixels = s.OW;  // output rows apart in acc
    if (pooledDirect) {
      uint8_t* xq = paddedImage(xn, false, s, Hp, Wp, p, xqBuf, bad);
      pooledBuf.resize(static_cast<size_t>(pooledSize));
      if (!bad) pooledConvImage(xq, s, p, w, wScale, bias, act, after->shape, pooledBuf.data(), perImage ? nullptr : &pool);
    } else if (direct) {
      uint8_t* xq = paddedImage(xn, false, s, Hp, Wp, p, xqBuf, bad);
      // It declines only if a test forced another int8 kernel since qconvDirectSupported.
      if (!bad && !qconvDirectU8S8Dequant(xq, Wp, s.C, s.KH, s.KW, s.OH, s.OW, p.zeroPoint, p.scale, w, wScale, bias, acc, O, perImage ? nullptr : &pool))
        throw std::runtime_error("quantizedConv2d: the int8 kernel changed during the call");
      rowPixels = Wp;
    } else {
      // Channels last first (a float transpose), then one contiguous quantization pass.
      xqBuf.resize(static_cast<size_t>(HW * s.C));
      uint8_t* xq = xqBuf.data();
      const float* src = xn;
      if (s.C > 1) {
        channelsLastBuf.resize(static_cast<size_t>(HW * s.C));
        transpose(xn, HW, s.C, HW, channelsLastBuf.data(), s.C);
        src = channelsLastBuf.data();
      }
      bad = quantizeValues(src, xq, s.C * HW, p.scale, p.zeroPoint) != 0;
      if (!bad) {
        patchesBuf.resize(static_cast<size_t>(P * K));
        im2row(xq, patchesBuf.data(), s, p.zeroPoint);
        qgemmU8S8Dequant(P, patchesBuf.data(), K, p.zeroPoint, p.scale, w, wScale, bias, acc, O, perImage ? nullptr : &pool);
      }
    }
    if (bad) {
      std::fill(yn, yn + (channelsLastPool ? pooledSize : O * P), kNaN);
      if (after && !channelsLastPool) poolImage(yn, n, *after, pool);
      return;
    }
    if (channelsLastPool) {
      pooledBuf.resize(static_cast<size_t>(pooledSize));
      if (!pooledDirect) maxPool2x2ChannelsLast(acc, rowPixels, O, after->shape, pooledBuf.data());
      transpose(pooledBuf.data(), O, pooledSize / O, O, yn, pooledSize / O);  // [PH * PW, O] -> [O, PH * PW]
      if (!pooledDirect) activateSpan(yn, pooledSize, act);  // pooledConvImage activated its output
      return;
    }
    if (rowPixels == s.OW) transpose(acc, O, P, O, yn, P);  // [P, O] -> [O, P]
    else
      for (int64_t oh = 0; oh < s.OH; oh++) transpose(acc + oh * rowPixels * O, O, s.OW, O, yn + oh * s.OW, P);
    activateSpan(yn, O * P, act);
    if (after) poolImage(yn, n, *after, pool);
  };
  if (perImage) pool.run(s.N, image);
  else
    for (int64_t n = 0; n < s.N; n++) image(n);
}

}  // namespace lathe
