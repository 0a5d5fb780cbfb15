// Quantized Dense and Conv2D forwards: quantize the input (one pass), run the int8 GEMM with
// its fused dequantization, then the activation. See quantized.h.
#include "quantized.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <mutex>
#include <vector>

#include "transpose_avx2.h"
#include "transpose_avx512.h"
#include "vector_math.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace lathe {

namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

// The range of x's finite values, widened to hold 0. Non-finite values count as 0 here, so one
// bad row of a batch does not spoil the others' scale (its own output is NaN).
LATHE_VECTOR_CLONES void finiteRange(const float* __restrict x, int64_t n, float* lo, float* hi) {
  // Sixteen independent lanes: a float min/max reduction does not vectorize without fast-math,
  // lanes that never meet until the end do.
  float a[16] = {}, b[16] = {};
  int64_t i = 0;
  for (; i + 16 <= n; i += 16)
    for (int j = 0; j < 16; j++) {
      const float v = (x[i + j] - x[i + j] == 0.0f) ? x[i + j] : 0.0f;
      a[j] = v < a[j] ? v : a[j];
      b[j] = v > b[j] ? v : b[j];
    }
  for (; i < n; i++) {
    const float v = (x[i] - x[i] == 0.0f) ? x[i] : 0.0f;
    a[0] = v < a[0] ? v : a[0];
    b[0] = v > b[0] ? v : b[0];
  }
  *lo = *std::min_element(a, a + 16);
  *hi = *std::max_element(b, b + 16);
}

// Quantizes n values (ONNX QuantizeLinear: division, then round half to even, which rint does
// in the default rounding mode); returns nonzero when any value is NaN or infinite.
LATHE_VECTOR_CLONES int quantizeSpan(const float* __restrict x, uint8_t* __restrict q, int64_t n, float scale, float zeroPoint) {
  int bad = 0;
  for (int64_t i = 0; i < n; i++) {
    const float v = x[i];
    bad |= !(v - v == 0.0f);
    float r = std::rint(v / scale) + zeroPoint;
    r = r > 0.0f ? r : 0.0f;  // NaN lands here too, and its row is marked
    r = r < 255.0f ? r : 255.0f;
    q[i] = static_cast<uint8_t>(static_cast<int32_t>(r));
  }
  return bad;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
// The same with AVX-512 at full width (the compiler's clone uses 256-bit vectors): the division
// bounds this loop, and 16 lanes halve it.
__attribute__((target("avx512f,avx512bw,avx512vl"))) int quantizeSpanAvx512(const float* x, uint8_t* q, int64_t n, float scale, float zeroPoint) {
  const __m512 s = _mm512_set1_ps(scale), z = _mm512_set1_ps(zeroPoint), zero = _mm512_setzero_ps(), top = _mm512_set1_ps(255.0f);
  __mmask16 bad = 0;
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = n - i >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << (n - i)) - 1);
    const __m512 v = _mm512_maskz_loadu_ps(m, x + i);
    bad |= _mm512_mask_cmp_ps_mask(m, _mm512_sub_ps(v, v), zero, _CMP_NEQ_UQ);  // v - v is NaN for NaN and +-Inf
    __m512 r = _mm512_add_ps(_mm512_roundscale_ps(_mm512_div_ps(v, s), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC), z);
    r = _mm512_min_ps(_mm512_max_ps(r, zero), top);  // max(NaN, 0) is 0: the second operand
    _mm_mask_storeu_epi8(q + i, m, _mm512_cvtusepi32_epi8(_mm512_cvtps_epi32(r)));
  }
  return bad != 0;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
__attribute__((target("avx512f,avx512bw,avx512vbmi"))) void lookUpVbmi(const uint8_t* table, const uint8_t* v, uint8_t* q, int64_t n) {
  const __m512i t0 = _mm512_loadu_si512(table), t1 = _mm512_loadu_si512(table + 64);
  const __m512i t2 = _mm512_loadu_si512(table + 128), t3 = _mm512_loadu_si512(table + 192);
  for (int64_t i = 0; i < n; i += 64) {
    const __mmask64 m = n - i >= 64 ? ~__mmask64(0) : (__mmask64(1) << (n - i)) - 1;
    const __m512i idx = _mm512_maskz_loadu_epi8(m, v + i);
    const __m512i low = _mm512_permutex2var_epi8(t0, idx, t1);   // entries 0..127 by the low 7 bits
    const __m512i high = _mm512_permutex2var_epi8(t2, idx, t3);  // entries 128..255
    _mm512_mask_storeu_epi8(q + i, m, _mm512_mask_blend_epi8(_mm512_movepi8_mask(idx), low, high));
  }
}

// The same with AVX2, 32 lookups at a time through 16 vpshufb, one per 16-entry slice of the
// table: in round t the index minus 16t, saturated past 127 for every byte not in slice t, picks
// the entry (vpshufb gives 0 for a set top bit), and the rounds OR together. About 3x the scalar
// loop, which took a fifth of the int8 MLP's native time at batch 256 on Zen 3. The last n % 32
// bytes go one by one.
__attribute__((target("avx2"))) void lookUpAvx2(const uint8_t* table, const uint8_t* v, uint8_t* q, int64_t n) {
  __m256i slices[16];
  for (int t = 0; t < 16; t++) slices[t] = _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(table + 16 * t)));
  const __m256i sixteen = _mm256_set1_epi8(16), push = _mm256_set1_epi8(0x70);
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    __m256i idx = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(v + i)), out = _mm256_setzero_si256();
    for (int t = 0; t < 16; t++, idx = _mm256_sub_epi8(idx, sixteen))
      out = _mm256_or_si256(out, _mm256_shuffle_epi8(slices[t], _mm256_adds_epu8(idx, push)));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(q + i), out);
  }
  for (; i < n; i++) q[i] = table[v[i]];
}
#endif

int quantizeValues(const float* x, uint8_t* q, int64_t n, float scale, float zeroPoint) {
  static const bool avx512 = __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl");
  return avx512 ? quantizeSpanAvx512(x, q, n, scale, zeroPoint) : quantizeSpan(x, q, n, scale, zeroPoint);
}
#else
int quantizeValues(const float* x, uint8_t* q, int64_t n, float scale, float zeroPoint) { return quantizeSpan(x, q, n, scale, zeroPoint); }
#endif

float activate(float v, int act) {
  switch (act) {
    case 1: return v < 0.0f ? 0.0f : v;  // NaN stays NaN
    case 2: return v >= 0.0f ? 1.0f / (1.0f + std::exp(-v)) : std::exp(v) / (1.0f + std::exp(v));
    case 3: return std::tanh(v);
    default: return v;
  }
}

void activateSpan(float* y, int64_t n, int act) {
  if (act == 1) {
    for (int64_t i = 0; i < n; i++) y[i] = y[i] < 0.0f ? 0.0f : y[i];
  } else if (act != 0) {
    for (int64_t i = 0; i < n; i++) y[i] = activate(y[i], act);
  }
}

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

// dst[c * rows + r] = src[r * cols + c]: a [rows, cols] float matrix transposed (the conv's
// NCHW <-> channels-last changes), in 16 x 16 blocks with AVX-512, 8 x 8 with AVX2.
void transpose(const float* src, int64_t rows, int64_t cols, float* dst) {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  static const bool avx512 = __builtin_cpu_supports("avx512f"), avx2 = __builtin_cpu_supports("avx2");
  if (avx512) return transposeFloats(src, cols, rows, cols, dst, rows);
  if (avx2) return transposeFloatsAvx2(src, cols, rows, cols, dst, rows);
#endif
  for (int64_t r = 0; r < rows; r++)
    for (int64_t c = 0; c < cols; c++) dst[c * rows + r] = src[r * cols + c];
}

}  // namespace

namespace {
// DynamicQuantizeLinear's scale and zero point for the range [lo, hi] (lo <= 0 <= hi).
QuantParams rangeParams(float lo, float hi) {
  const float scale = (hi - lo) / 255.0f;
  if (!(scale > 0.0f) || !std::isfinite(scale)) return {1.0f, 0};
  const float zp = std::rint(-lo / scale);
  return {scale, static_cast<uint8_t>(std::min(255.0f, std::max(0.0f, zp)))};
}
}  // namespace

QuantParams dynamicQuantParams(const float* x, int64_t n, ThreadPool& pool) {
  float lo = 0.0f, hi = 0.0f;
  std::mutex mu;
  pool.parallelFor(n, 1 << 16, [&](int64_t b, int64_t e) {
    float l, h;
    finiteRange(x + b, e - b, &l, &h);
    std::lock_guard<std::mutex> lock(mu);
    lo = std::min(lo, l);
    hi = std::max(hi, h);
  });
  return rangeParams(lo, hi);
}

void quantizeU8(const float* x, uint8_t* q, int64_t n, QuantParams p, ThreadPool& pool) {
  pool.parallelFor(n, 1 << 15, [&](int64_t b, int64_t e) { quantizeValues(x + b, q + b, e - b, p.scale, p.zeroPoint); });
}

namespace {
// quantizedLinear after its quantization pass: the int8 GEMM on qx [M, K] with its dequantizing
// output stage, then the activation; rows whose input held a NaN or infinity (bad) come out NaN.
void quantizedProduct(const uint8_t* qx, const uint8_t* bad, int64_t M, int64_t K, QuantParams p, const QPackedB& w,
                      const float* wScale, const float* bias, int act, float* y, ThreadPool& pool) {
  const int64_t N = w.N;
  qgemmU8S8Dequant(M, qx, K, p.zeroPoint, p.scale, w, wScale, bias, y, N, &pool);
  pool.parallelFor(M, std::max<int64_t>(1, (1 << 14) / std::max<int64_t>(N, 1)), [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; r++) {
      if (bad && bad[r]) std::fill(y + r * N, y + (r + 1) * N, kNaN);
      else activateSpan(y + r * N, N, act);
    }
  });
}

// q[i] = table[v[i]]. With AVX-512 VBMI, 64 lookups per four instructions: two 128-entry
// permutes (vpermi2b) and a blend on each byte's top bit.
void lookUp(const uint8_t* table, const uint8_t* v, uint8_t* q, int64_t n) {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  static const bool vbmi = __builtin_cpu_supports("avx512vbmi") && __builtin_cpu_supports("avx512bw");
  if (vbmi) return lookUpVbmi(table, v, q, n);
  static const bool avx2 = __builtin_cpu_supports("avx2");
  if (avx2) return lookUpAvx2(table, v, q, n);
#endif
  for (int64_t i = 0; i < n; i++) q[i] = table[v[i]];
}
}  // namespace

void quantizedLinear(const float* x, int64_t M, int64_t K, const QuantParams* input, const QPackedB& w,
                     const float* wScale, const float* bias, int act, float* y, ThreadPool& pool) {
  const QuantParams p = input ? *input : dynamicQuantParams(x, M * K, pool);
  thread_local std::vector<uint8_t> buffer;  // the caller's; workers get its address, not their own
  buffer.resize(static_cast<size_t>(M * K));
  uint8_t* qx = buffer.data();
  std::vector<uint8_t> bad(static_cast<size_t>(M));
  const int64_t grain = std::max<int64_t>(1, (1 << 14) / std::max<int64_t>(K, 1));
  pool.parallelFor(M, grain, [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; r++) bad[r] = quantizeValues(x + r * K, qx + r * K, K, p.scale, p.zeroPoint) != 0;
  });
  quantizedProduct(qx, bad.data(), M, K, p, w, wScale, bias, act, y, pool);
}

void quantizedLinearRescaled(const uint8_t* v, int64_t M, int64_t K, float scale, float offset, const QuantParams* input,
                             const QPackedB& w, const float* wScale, const float* bias, int act, float* y, ThreadPool& pool) {
  // Every value the input can take, rescaled with scaleShift's arithmetic.
  float values[256];
  for (int i = 0; i < 256; i++) values[i] = float(uint8_t(i)) * scale + offset;
  QuantParams p{1.0f, 0};
  bool finite = std::all_of(values, values + 256, [](float f) { return std::isfinite(f); });
  if (finite && input) p = *input;
  if (finite && !input) {
    // The batch's range: the rescaled values rise (or fall) with v, so their ends are at v's.
    uint8_t lo = 255, hi = 0;
    for (int64_t i = 0; i < M * K; i++) lo = std::min(lo, v[i]), hi = std::max(hi, v[i]);
    if (M * K > 0) p = rangeParams(std::min({0.0f, values[lo], values[hi]}), std::max({0.0f, values[lo], values[hi]}));
  }
  uint8_t table[256];
  if (!finite || quantizeValues(values, table, 256, p.scale, p.zeroPoint) != 0) {
    // A scale so large that some pixel rescales to infinity: the general path marks its rows.
    std::vector<float> x(static_cast<size_t>(M * K));
    for (int64_t i = 0; i < M * K; i++) x[i] = values[v[i]];
    return quantizedLinear(x.data(), M, K, input, w, wScale, bias, act, y, pool);
  }
  thread_local std::vector<uint8_t> buffer;
  buffer.resize(static_cast<size_t>(M * K));
  uint8_t* qx = buffer.data();
  pool.parallelFor(M * K, 1 << 16, [&](int64_t b, int64_t e) { lookUp(table, v + b, qx + b, e - b); });
  quantizedProduct(qx, nullptr, M, K, p, w, wScale, bias, act, y, pool);
}

QPackedB qPackConvWeights(const int8_t* w, int64_t O, int64_t C, int64_t KH, int64_t KW) {
  const int64_t K = C * KH * KW;
  std::vector<int8_t> channelsLast(static_cast<size_t>(O * K));  // [O, KH, KW, C]
  for (int64_t o = 0; o < O; o++)
    for (int64_t c = 0; c < C; c++)
      for (int64_t kh = 0; kh < KH; kh++)
        for (int64_t kw = 0; kw < KW; kw++)
          channelsLast[((o * KH + kh) * KW + kw) * C + c] = w[((o * C + c) * KH + kh) * KW + kw];
  return qgemmPackB(true, K, O, channelsLast.data(), K);
}

namespace {
// 2x2 windows, stride 2, no padding, on one image's output still channels-last ([OH * OW][O]):
// each pooled position the running max (first NaN wins, as maxPool2d) of four rows of O
// channels, so only the pooled quarter is transposed to NCHW and activated. The activations
// (relu, sigmoid, tanh) rise monotonically, so pooling before them gives the same values.
bool pooledChannelsLast(const PoolAfter& a) {
  const Pool2dShape& p = a.shape;
  return p.KH == 2 && p.KW == 2 && p.sh == 2 && p.sw == 2 && p.ph == 0 && p.pw == 0;
}

void maxPool2x2ChannelsLast(const float* acc, int64_t OW, int64_t O, const Pool2dShape& p, float* pooled) {
  for (int64_t ph = 0; ph < p.OH; ph++)
    for (int64_t pw = 0; pw < p.OW; pw++) {
      const float* r0 = acc + (2 * ph * OW + 2 * pw) * O;
      const float* rows[3] = {r0 + O, r0 + OW * O, r0 + (OW + 1) * O};
      float* dst = pooled + (ph * p.OW + pw) * O;
      for (int64_t o = 0; o < O; o++) dst[o] = r0[o];
      for (const float* r : rows)
        for (int64_t o = 0; o < O; o++) dst[o] = (r[o] > dst[o]) | ((r[o] != r[o]) & (dst[o] == dst[o])) ? r[o] : dst[o];
    }
}
}  // namespace

void quantizedConv2d(const float* x, const Conv2dShape& s, const QuantParams* input, const QPackedB& w,
                     const float* wScale, const float* bias, int act, float* y, ThreadPool& pool, const PoolAfter* after) {
  const int64_t HW = s.H * s.W, P = s.OH * s.OW, K = s.C * s.KH * s.KW, O = s.O;
  const QuantParams p = input ? *input : dynamicQuantParams(x, s.N * s.C * HW, pool);
  // Images spread over the pool, as in the float conv2d; a batch smaller than the pool goes
  // image by image on the calling thread, each GEMM spreading itself (where it is large enough),
  // and each image pooled as in a batch (MNIST's int8 CNN at batch 1 had run its conv whole,
  // then pooled it apart).
  const bool perImage = s.N >= pool.size();
  auto image = [&](int64_t n) {
    // Per-thread scratch, fetched once: thread_local lookups inside the loops cost 5% alone.
    thread_local std::vector<uint8_t> xqBuf, rowsBuf;
    thread_local std::vector<float> accBuf, channelsLastBuf;
    xqBuf.resize(static_cast<size_t>(HW * s.C));
    rowsBuf.resize(static_cast<size_t>(P * K));
    accBuf.resize(static_cast<size_t>(P * O));
    channelsLastBuf.resize(static_cast<size_t>(s.C > 1 ? HW * s.C : 0));
    uint8_t *xq = xqBuf.data(), *rows = rowsBuf.data();
    float *acc = accBuf.data(), *channelsLast = channelsLastBuf.data();
    const float* xn = x + n * s.C * HW;
    const bool channelsLastPool = after && pooledChannelsLast(*after);
    const int64_t pooledSize = after ? O * after->shape.OH * after->shape.OW : 0;
    float* yn = channelsLastPool ? after->y + n * pooledSize : convImageOutput(y, n, O * P, after);
    // Channels last first (a float transpose), then one contiguous quantization pass.
    const float* src = xn;
    if (s.C > 1) {
      transpose(xn, s.C, HW, channelsLast);
      src = channelsLast;
    }
    if (quantizeValues(src, xq, s.C * HW, p.scale, p.zeroPoint)) {
      std::fill(yn, yn + (channelsLastPool ? pooledSize : O * P), kNaN);
      if (after && !channelsLastPool) poolImage(yn, n, *after, pool);
      return;
    }
    im2row(xq, rows, s, p.zeroPoint);
    qgemmU8S8Dequant(P, rows, K, p.zeroPoint, p.scale, w, wScale, bias, acc, O, perImage ? nullptr : &pool);
    if (channelsLastPool) {
      thread_local std::vector<float> pooledBuf;
      pooledBuf.resize(static_cast<size_t>(pooledSize));
      maxPool2x2ChannelsLast(acc, s.OW, O, after->shape, pooledBuf.data());
      transpose(pooledBuf.data(), pooledSize / O, O, yn);  // [PH * PW, O] -> [O, PH * PW]
      activateSpan(yn, pooledSize, act);
      return;
    }
    transpose(acc, P, O, yn);  // [P, O] -> [O, P]
    activateSpan(yn, O * P, act);
    if (after) poolImage(yn, n, *after, pool);
  };
  if (perImage) pool.run(s.N, image);
  else
    for (int64_t n = 0; n < s.N; n++) image(n);
}

}  // namespace lathe
