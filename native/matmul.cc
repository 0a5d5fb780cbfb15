// Batched matmul on top of the GEMM: one call per batch entry. Batches of small matrices
// (attention) spread over the pool by batch; large ones let the GEMM use the pool inside.
#include "gemm/gemm.h"
#include "kernels.h"

namespace lathe {

namespace {
inline void gemmOne(const float* A, const float* B, float* C, int64_t M, int64_t N, int64_t K, bool tA, bool tB,
                    ThreadPool* pool) {
  sgemm(tA, tB, M, N, K, A, tA ? M : K, B, tB ? K : N, C, N, false, pool);
}
inline void gemmOne(const double* A, const double* B, double* C, int64_t M, int64_t N, int64_t K, bool tA, bool tB,
                    ThreadPool* pool) {
  dgemm(tA, tB, M, N, K, A, tA ? M : K, B, tB ? K : N, C, N, false, pool);
}
}  // namespace

template <typename T>
void batchedMatmul(const T* A, const T* B, T* C, int64_t batch, const int64_t* offA, const int64_t* offB, int64_t M,
                   int64_t N, int64_t K, bool transA, bool transB, ThreadPool& pool) {
  const double flopsEach = 2.0 * M * N * K;
  if (batch == 1 || flopsEach > 4e6) {
    for (int64_t b = 0; b < batch; b++) gemmOne(A + offA[b], B + offB[b], C + b * M * N, M, N, K, transA, transB, &pool);
    return;
  }
  pool.run(batch, [&](int64_t b) { gemmOne(A + offA[b], B + offB[b], C + b * M * N, M, N, K, transA, transB, nullptr); });
}

template void batchedMatmul<float>(const float*, const float*, float*, int64_t, const int64_t*, const int64_t*,
                                   int64_t, int64_t, int64_t, bool, bool, ThreadPool&);
template void batchedMatmul<double>(const double*, const double*, double*, int64_t, const int64_t*, const int64_t*,
                                    int64_t, int64_t, int64_t, bool, bool, ThreadPool&);

}  // namespace lathe
