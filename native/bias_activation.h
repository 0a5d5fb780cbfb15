// out[j] = act(x[j] + bias[j]) over one row: the formulas of the biasActivation kernel, shared
// with the GEMM's fused epilogue so that a Dense layer gives the same bits either way.
#pragma once
#include <cmath>
#include <cstdint>

namespace lathe {

// act 0 linear, 1 relu, 2 sigmoid, 3 tanh (FUSED_ACTIVATIONS' order). x and out may alias.
template <typename T>
inline void biasActivationRow(const T* x, const T* bias, T* out, int64_t C, int act) {
  const T one = T(1);
  switch (act) {
    case 0: for (int64_t j = 0; j < C; j++) out[j] = x[j] + bias[j]; break;
    case 1: for (int64_t j = 0; j < C; j++) { const T v = x[j] + bias[j]; out[j] = v > 0 ? v : (v == v ? T(0) : v); } break;  // NaN stays NaN
    case 2: for (int64_t j = 0; j < C; j++) { const T v = x[j] + bias[j]; out[j] = v >= 0 ? one / (one + std::exp(-v)) : std::exp(v) / (one + std::exp(v)); } break;
    case 3: for (int64_t j = 0; j < C; j++) out[j] = std::tanh(x[j] + bias[j]); break;
  }
}

}  // namespace lathe
