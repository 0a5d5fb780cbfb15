// Int8 GEMM for quantized inference: u8 activations x s8 weights with exact int32 accumulation,
// the weights packed once per layer, and the dequantize/requantize output stage fused in.
#pragma once
#include <cstdint>
#include <memory>

#include "../threadpool.h"

namespace lathe {

// Weights B (s8, op(B) is [K,N]) packed once into the layout every qgemm kernel reads: panels of
// kQgemmNR columns, each ceil(K/4) groups of 4 consecutive k-values per column (the 4 bytes one
// int32 lane of vpdpbusd multiplies), K padded with zeros. colSum[n] = sum_k B[k,n] (over the
// real K) turns the activations' zero point into a per-column correction:
//   sum_k (A[m,k] - z) B[k,n] = sum_k A[m,k] B[k,n] - z colSum[n].
// The layout does not depend on the CPU, so a packed B may be cached and shared by threads.
constexpr int kQgemmNR = 32;

struct QPackedB {
  int64_t K = 0, N = 0;
  int64_t kGroups = 0;  // ceil(K/4)
  int64_t panels = 0;   // ceil(N/kQgemmNR)
  std::shared_ptr<int8_t> data;     // panels * kGroups * kQgemmNR * 4 bytes, 64-byte aligned
  std::shared_ptr<int32_t> colSum;  // panels * kQgemmNR (zero past N)
  // Conv weights whose kernel rows are not whole 4-byte groups (KW*C % 4 != 0: MNIST's first
  // conv, 3 x 1 bytes) packed again with each row zero-padded to whole groups (K = KH *
  // ceil(KW*C/4) * 4), so a direct conv reads each row as whole groups from the image in place,
  // the bytes past the row meeting zero weights; else null.
  std::shared_ptr<const QPackedB> paddedRows;
  const int8_t* panel(int64_t p) const { return data.get() + p * kGroups * kQgemmNR * 4; }
};

// Packs op(B): B stored [K,N] with row stride ldb, or [N,K] when transB (PyTorch/ONNX Linear
// weights, [out,in]).
QPackedB qgemmPackB(bool transB, int64_t K, int64_t N, const int8_t* B, int64_t ldb);

// All products are exact: the int32 result is sum_k (A[m,k] - aZero) * B[k,n] for every input
// as long as K <= 65793 (then |result| <= 255*128*K < 2^31); larger K stays exact while the
// true sums fit in int32. A is row-major [M,K] (row stride lda); C row-major with row stride
// ldc, only written. pool == nullptr runs on the calling thread; small products run there too.
void qgemmU8S8(int64_t M, const uint8_t* A, int64_t lda, uint8_t aZero, const QPackedB& B, int32_t* C,
               int64_t ldc, ThreadPool* pool);

// Unpacked convenience form (packs B for this one call): C[M,N] = sum_k (A - aZero) * B[K,N].
void qgemmU8S8(int64_t M, int64_t N, int64_t K, const uint8_t* A, int64_t lda, uint8_t aZero, const int8_t* B,
               int64_t ldb, int32_t* C, int64_t ldc, ThreadPool* pool);

// Fused dequantization: C[m,n] = float(acc[m,n]) * (aScale * bScale[n]) + bias[n], with acc the
// exact int32 sum above, bScale the per-output-channel weight scales (length N) and bias
// optional (nullptr: none); then max(0, C) where relu (NaN stays NaN). The int32 sums never
// leave registers except when K spans several cache blocks (K > 2048), when C's own memory holds
// them between blocks. C must not alias A.
void qgemmU8S8Dequant(int64_t M, const uint8_t* A, int64_t lda, uint8_t aZero, float aScale,
                      const QPackedB& B, const float* bScale, const float* bias, float* C, int64_t ldc,
                      ThreadPool* pool, bool relu = false);

// Direct int8 convolution, stride 1 and no dilation, reading one channels-last uint8 image in
// place (no patch matrix, no packing): image is [Hp][Wp][C], padding included and holding aZero;
// B packed by qPackConvWeights (K = KH*KW*C ordered kh, kw, c). Output pixel (oh, ow) goes to
// row oh*Wp + ow of out (row stride ldc), dequantized as qgemmU8S8Dequant's; the Wp - OW rows
// after each output line may be written with values that mean nothing. The image is read up to
// its last byte and no further. Returns false, writing nothing, where the kernel has no direct
// tile (only AVX-512 VNNI has) or a kernel row's KW*C bytes are not whole 4-byte groups; the
// caller then builds patches for qgemmU8S8Dequant.
bool qconvDirectU8S8Dequant(const uint8_t* image, int64_t Wp, int64_t C, int64_t KH, int64_t KW, int64_t OH, int64_t OW,
                            uint8_t aZero, float aScale, const QPackedB& B, const float* bScale, const float* bias,
                            float* out, int64_t ldc, ThreadPool* pool);
// Whether qconvDirectU8S8Dequant runs for a kernel row of KW*C bytes with the kernel in use.
bool qconvDirectSupported(int64_t C, int64_t KW);

// The direct convolution with a 2x2, stride-2 max pool after it, pooled before dequantizing:
// only the conv outputs the pool reads are computed, and only the pooled ones leave registers.
// The image is channels last, [Hp][Wp][C] bytes (padding included, holding aZero); a kernel
// row is read as rowGroups 4-byte groups from its first pixel on; B holds KH * rowGroups groups:
// B from qPackConvWeights where KW*C is whole groups (rowGroups = KW*C/4), else its paddedRows
// (rowGroups = ceil(KW*C/4)), and then the last row of the image is read up to
// rowGroups*4 - KW*C bytes past its end, which the caller keeps readable. Pooled pixel (ph, pw)
// goes to row ph*PW + pw of out (row stride ldc), through max(0, y) when relu. The pool is taken
// on the int32 sums: the caller makes sure aScale * bScale is finite and not negative. Returns
// false, writing nothing, where the kernel has no pooled tile (only AVX-512 VNNI has).
bool qconvPooledU8S8Dequant(const uint8_t* image, int64_t Wp, int64_t C, int64_t KH, int64_t rowGroups, int64_t PH,
                            int64_t PW, uint8_t aZero, float aScale, const QPackedB& B, const float* bScale, const float* bias,
                            bool relu, float* out, int64_t ldc, ThreadPool* pool);
bool qconvPooledSupported();

// The kernel runtime dispatch picked (or that was forced): "avx512vnni", "avx2" or "portable".
const char* qgemmKernelName();
// For tests and benchmarks: force one kernel ("avx512vnni", "avx2", "portable"); nullptr restores
// automatic dispatch. Returns false (changing nothing) when unknown or this CPU cannot run it.
bool qgemmForceKernel(const char* name);

}  // namespace lathe
