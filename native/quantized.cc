// Quantized Dense forwards and the quantization passes the convolutions share: quantize the
// input (one pass), run the int8 GEMM with its fused dequantization, then the activation. See
// quantized.h; the convolutions are in quantized_conv.cc.
#include "quantized.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <mutex>
#include <vector>

#include "quantize_avx512.h"
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
// The same with AVX-512 at full width (the compiler's clone uses 256-bit vectors and divides):
// 64 values at a time packed into one 64-byte store (four masked narrowing stores cost a quarter
// more), then 16 at a time.
__attribute__((target("avx512f,avx512bw,avx512vl"))) int quantizeSpanAvx512(const float* x, uint8_t* q, int64_t n, float scale, float zeroPoint) {
  const Quantizer16 quantizer = quantizer16(scale, zeroPoint);
  const __m512 zero = _mm512_setzero_ps();
  // packus interleaves the four vectors by 128-bit lane: lane l of the result holds vector l's
  // 16 values after this permute of its dwords.
  const __m512i order = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
  __mmask16 bad = 0;
  int64_t i = 0;
  for (; i + 64 <= n; i += 64) {
    __m512i r[4];
    for (int j = 0; j < 4; j++) {
      const __m512 v = _mm512_loadu_ps(x + i + 16 * j);
      bad |= _mm512_cmp_ps_mask(_mm512_sub_ps(v, v), zero, _CMP_NEQ_UQ);
      r[j] = _mm512_cvtps_epi32(quantize16(quantizer, v));  // 0..255: the packs saturate nothing
    }
    const __m512i bytes = _mm512_packus_epi16(_mm512_packus_epi32(r[0], r[1]), _mm512_packus_epi32(r[2], r[3]));
    _mm512_storeu_si512(q + i, _mm512_permutexvar_epi32(order, bytes));
  }
  for (; i < n; i += 16) {
    const __mmask16 m = n - i >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << (n - i)) - 1);
    const __m512 v = _mm512_maskz_loadu_ps(m, x + i);
    bad |= _mm512_mask_cmp_ps_mask(m, _mm512_sub_ps(v, v), zero, _CMP_NEQ_UQ);  // v - v is NaN for NaN and +-Inf
    _mm_mask_storeu_epi8(q + i, m, _mm512_cvtusepi32_epi8(_mm512_cvtps_epi32(quantize16(quantizer, v))));
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

// The smallest and largest of n bytes, 64 at a time (GCC's own vectorization of the plain loop
// used 16-byte SSE2 vectors: 0.9 us of a 16 us int8 MLP predict at batch 32, dynamic).
__attribute__((target("avx512f,avx512bw"))) void byteRangeAvx512(const uint8_t* v, int64_t n, uint8_t* lo, uint8_t* hi) {
  __m512i a = _mm512_set1_epi8(char(0xFF)), b = _mm512_setzero_si512();
  for (int64_t i = 0; i < n; i += 64) {
    const __mmask64 m = n - i >= 64 ? ~__mmask64(0) : (__mmask64(1) << (n - i)) - 1;
    const __m512i x = _mm512_maskz_loadu_epi8(m, v + i);
    a = _mm512_mask_min_epu8(a, m, a, x);
    b = _mm512_mask_max_epu8(b, m, b, x);
  }
  alignas(64) uint8_t la[64], lb[64];
  _mm512_store_si512(la, a);
  _mm512_store_si512(lb, b);
  *lo = *std::min_element(la, la + 64);
  *hi = *std::max_element(lb, lb + 64);
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

}  // namespace

int quantizeValues(const float* x, uint8_t* q, int64_t n, float scale, float zeroPoint) {
  static const bool avx512 = __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl");
  return avx512 ? quantizeSpanAvx512(x, q, n, scale, zeroPoint) : quantizeSpan(x, q, n, scale, zeroPoint);
}
#else
}  // namespace

int quantizeValues(const float* x, uint8_t* q, int64_t n, float scale, float zeroPoint) { return quantizeSpan(x, q, n, scale, zeroPoint); }
#endif

namespace {
float activate(float v, int act) {
  switch (act) {
    case 1: return v < 0.0f ? 0.0f : v;  // NaN stays NaN
    case 2: return v >= 0.0f ? 1.0f / (1.0f + std::exp(-v)) : std::exp(v) / (1.0f + std::exp(v));
    case 3: return std::tanh(v);
    default: return v;
  }
}
}  // namespace

void activateSpan(float* y, int64_t n, int act) {
  if (act == 1) {
    for (int64_t i = 0; i < n; i++) y[i] = y[i] < 0.0f ? 0.0f : y[i];
  } else if (act != 0) {
    for (int64_t i = 0; i < n; i++) y[i] = activate(y[i], act);
  }
}

namespace {
// DynamicQuantizeLinear's scale and zero point for the range [lo, hi] (lo <= 0 <= hi).
QuantParams rangeParams(float lo, float hi) {
  const float scale = (hi - lo) / 255.0f;
  if (!(scale > 0.0f) || !std::isfinite(scale)) return {1.0f, 0};
  const float zp = std::rint(-lo / scale);
  return {scale, static_cast<uint8_t>(std::min(255.0f, std::max(0.0f, zp)))};
}
}  // namespace

void finiteValueRange(const float* x, int64_t n, float* lo, float* hi) { finiteRange(x, n, lo, hi); }
QuantParams rangeQuantParams(float lo, float hi) { return rangeParams(lo, hi); }

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
// output stage (relu in it), then another activation; rows whose input held a NaN or infinity
// (bad) come out NaN.
void quantizedProduct(const uint8_t* qx, const uint8_t* bad, int64_t M, int64_t K, QuantParams p, const QPackedB& w,
                      const float* wScale, const float* bias, int act, float* y, ThreadPool& pool) {
  const int64_t N = w.N;
  qgemmU8S8Dequant(M, qx, K, p.zeroPoint, p.scale, w, wScale, bias, y, N, &pool, act == 1);
  if (!bad && (act == 0 || act == 1)) return;
  if (act == 1) act = 0;
  pool.parallelFor(M, std::max<int64_t>(1, (1 << 14) / std::max<int64_t>(N, 1)), [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; r++) {
      if (bad && bad[r]) std::fill(y + r * N, y + (r + 1) * N, kNaN);
      else activateSpan(y + r * N, N, act);
    }
  });
}

// *lo, *hi = the smallest and largest of v's n bytes.
void byteRange(const uint8_t* v, int64_t n, uint8_t* lo, uint8_t* hi) {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  static const bool avx512 = __builtin_cpu_supports("avx512bw");
  if (avx512) return byteRangeAvx512(v, n, lo, hi);
#endif
  uint8_t a = 255, b = 0;
  for (int64_t i = 0; i < n; i++) a = std::min(a, v[i]), b = std::max(b, v[i]);
  *lo = a, *hi = b;
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

void lookUpValues(const uint8_t* table, const uint8_t* v, uint8_t* q, int64_t n) { lookUp(table, v, q, n); }

RescaleTable::RescaleTable(const uint8_t* v_, int64_t n_, float scale, float offset, const QuantParams* input) : v(v_), n(n_) {
  for (int i = 0; i < 256; i++) values[i] = float(uint8_t(i)) * scale + offset;
  finite = std::all_of(values, values + 256, [](float f) { return std::isfinite(f); });
  if (!finite) return;
  if (input) {
    params = *input;
  } else if (n > 0) {
    uint8_t lo, hi;
    byteRange(v, n, &lo, &hi);
    params = rangeParams(std::min({0.0f, values[lo], values[hi]}), std::max({0.0f, values[lo], values[hi]}));
  }
  quantizeValues(values, table, 256, params.scale, params.zeroPoint);  // finite: nothing bad
  identity = true;
  for (int i = 0; i < 256; i++) identity = identity && table[i] == i;
}

std::vector<float> RescaleTable::floats() const {
  std::vector<float> x(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; i++) x[i] = values[v[i]];
  return x;
}

void quantizedLinearRescaled(const uint8_t* v, int64_t M, int64_t K, float scale, float offset, const QuantParams* input,
                             const QPackedB& w, const float* wScale, const float* bias, int act, float* y, ThreadPool& pool) {
  const RescaleTable t(v, M * K, scale, offset, input);
  if (!t.finite) {
    // A scale so large that some pixel rescales to infinity: the general path marks its rows.
    const std::vector<float> x = t.floats();
    return quantizedLinear(x.data(), M, K, input, w, wScale, bias, act, y, pool);
  }
  // An identity table (MNIST's pixels, statically or dynamically) leaves the bytes as they are:
  // the GEMM packs them straight from v, a pass over the input fewer.
  if (t.identity) return quantizedProduct(v, nullptr, M, K, t.params, w, wScale, bias, act, y, pool);
  thread_local std::vector<uint8_t> buffer;
  buffer.resize(static_cast<size_t>(M * K));
  uint8_t* qx = buffer.data();
  pool.parallelFor(M * K, 1 << 16, [&](int64_t b, int64_t e) { lookUp(t.table, v + b, qx + b, e - b); });
  quantizedProduct(qx, nullptr, M, K, t.params, w, wScale, bias, act, y, pool);
}

}  // namespace lathe
