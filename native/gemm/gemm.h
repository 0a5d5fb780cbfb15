// Public GEMM entry points for Lathe: packed, cache-blocked, register-tiled matrix multiply
// with runtime dispatch to AVX-512, AVX2+FMA or portable micro-kernels.
#pragma once
#include <cstdint>

#include "../threadpool.h"

namespace lathe {

// Row-major. C[M,N] = op(A)[M,K] * op(B)[K,N] (+ C if accumulate). op(X) = X^T when the flag is
// set, read through strides (a transpose is never materialised).
// lda/ldb/ldc are row strides in elements of the stored matrices (A stored as [M,K] or, when
// transA, as [K,M]; B stored as [K,N] or, when transB, as [N,K]).
// Without accumulate, C is only written (it may hold garbage or NaN on entry). K == 0 gives
// C = 0 (or leaves C unchanged when accumulating). pool == nullptr runs on the calling thread;
// small products run there too, whatever the pool.
void sgemm(bool transA, bool transB, int64_t M, int64_t N, int64_t K, const float* A, int64_t lda,
           const float* B, int64_t ldb, float* C, int64_t ldc, bool accumulate, ThreadPool* pool);
void dgemm(bool transA, bool transB, int64_t M, int64_t N, int64_t K, const double* A, int64_t lda,
           const double* B, int64_t ldb, double* C, int64_t ldc, bool accumulate, ThreadPool* pool);

// C[M,N] = act(A[M,K] B[K,N] + bias), bias [N] per column: a dense layer's forward in one pass,
// the bias and activation applied to each tile of C as its last K block leaves the registers,
// while it is in L1. act as biasActivation (0 linear, 1 relu, 2 sigmoid, 3 tanh), with the same
// formulas (native/bias_activation.h), so the result equals sgemm then biasActivation bit for bit.
// A nonzero weightsKey names B's contents (a layer's weights): a key seen before finds B packed
// once and kept (gemm/prepacked.h). The caller must never reuse a key for other contents.
void sgemmBiasActivation(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* B, int64_t ldb,
                         float* C, int64_t ldc, const float* bias, int act, ThreadPool* pool, uint64_t weightsKey = 0);

// An A of raw values v (uint8 pixels or float32) that the product reads as float(v) * scale +
// offset, in float arithmetic as scaleShift (a Rescaling layer before a Dense one): each block
// of A is converted as the product reaches it, so no rescaled copy of the whole input is written.
struct RescaledInput {
  const void* values;
  bool uint8;  // else float32
  float scale, offset;
};

// sgemmBiasActivation on A = rescale(values): equal bit for bit to scaleShift then sgemmBiasActivation.
void sgemmRescaledBiasActivation(int64_t M, int64_t N, int64_t K, const RescaledInput& A, int64_t lda, const float* B,
                                 int64_t ldb, float* C, int64_t ldc, const float* bias, int act, ThreadPool* pool,
                                 uint64_t weightsKey = 0);

// The micro-kernel family runtime dispatch picked (or that was forced): "avx512", "avx2" or
// "portable".
const char* sgemmKernelName();
const char* dgemmKernelName();

// For tests and benchmarks: force sgemm and dgemm onto one kernel family ("avx512", "avx2",
// "portable"); nullptr restores automatic dispatch. Returns false (and changes nothing) when the
// name is unknown or this CPU/build cannot run it. Not meant to be flipped while a GEMM runs.
bool gemmForceKernel(const char* name);

}  // namespace lathe
