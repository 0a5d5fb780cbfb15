// Branch-free float math for loops that must vectorise (glibc's expf and erff are scalar calls),
// and the attribute that compiles such a loop for AVX-512, AVX2 and plain x86-64, the loader
// picking one per CPU. Used by attention's softmax rows and GELU.
#pragma once
#include <cstdint>
#include <cstring>

#if defined(__x86_64__) && defined(__GNUC__) && defined(__linux__) && !defined(__clang__)
#define LATHE_VECTOR_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define LATHE_VECTOR_CLONES
#endif

namespace lathe {

// exp(x): Cephes' expf polynomial after x = k ln2 + r (7e-8 relative error, measured over
// [-20, 1]), clamped to expf's finite range.
inline float expPoly(float x) {
  x = x < -87.3f ? -87.3f : x;
  x = x > 88.3f ? 88.3f : x;
  const float k = (x * 1.44269504f + 12582912.0f) - 12582912.0f;  // round(x / ln 2): 1.5 * 2^23 drops the fraction
  const float r = x - k * 0.693359375f - k * -2.12194440e-4f;      // ln 2 in two parts, so r is exact
  float y = 1.9875691500e-4f;
  y = y * r + 1.3981999507e-3f;
  y = y * r + 8.3334519073e-3f;
  y = y * r + 4.1665795894e-2f;
  y = y * r + 1.6666665459e-1f;
  y = y * r + 5.0000001201e-1f;
  y = y * r * r + r + 1.0f;
  const int32_t bits = (static_cast<int32_t>(k) + 127) << 23;  // 2^k
  float twoK;
  std::memcpy(&twoK, &bits, sizeof twoK);
  return y * twoK;
}

}  // namespace lathe
