// Portable int8 GEMM tile: plain C++ over the shared packed layouts, for CPUs without VNNI and
// as the reference the SIMD tiles are checked against. Sums wrap modulo 2^32 like vpdpbusd's
// lanes (unsigned arithmetic: no signed-overflow UB), so every kernel returns the same bits.
#include <cstring>

#include "qgemm_internal.h"

namespace lathe {
namespace qgemm_internal {
namespace {

constexpr int kMR = 4;
constexpr int NR = kQgemmNR;

void tilePortable(int64_t kGroups, const uint8_t* A, const int8_t* B, void* Cv, int64_t ldc, bool acc, bool last,
                  const OutStage& out, int m, int n) {
  uint32_t c[kMR][NR] = {};
  for (int64_t g = 0; g < kGroups; g++) {
    const uint8_t* a = A + g * kMR * 4;
    const int8_t* b = B + g * NR * 4;
    for (int i = 0; i < m; i++)
      for (int j = 0; j < NR; j++)
        for (int q = 0; q < 4; q++) c[i][j] += uint32_t(int32_t(a[i * 4 + q]) * int32_t(b[j * 4 + q]));
  }
  for (int i = 0; i < m; i++) {
    int32_t* ci = static_cast<int32_t*>(Cv) + i * ldc;  // int32 partials, or the final int32 output
    for (int j = 0; j < n; j++) {
      uint32_t s = c[i][j];
      if (acc) {
        int32_t prev;
        std::memcpy(&prev, ci + j, 4);  // partials may sit in a float buffer
        s += uint32_t(prev);
      }
      if (last) s -= uint32_t(out.aZero) * uint32_t(out.colSum[j]);
      const int32_t v = int32_t(s);
      if (last && out.bScale) {
        float f = float(v) * (out.aScale * out.bScale[j]) + (out.bias ? out.bias[j] : 0.0f);
        if (out.relu && f < 0.0f) f = 0.0f;
        std::memcpy(ci + j, &f, 4);
      } else {
        std::memcpy(ci + j, &v, 4);
      }
    }
  }
}

}  // namespace

const Kernel* kernelPortable() {
  static const Kernel k = {"portable", kMR, 64, 1024, 1024, &tilePortable};
  return &k;
}

}  // namespace qgemm_internal
}  // namespace lathe
