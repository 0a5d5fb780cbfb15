// Internal contract between the GEMM driver (gemm.cc) and the per-ISA kernel files: each ISA
// file fills a Kernel table with its register tile, cache blocks, packing routines and tile.
#pragma once
#include <cstdint>

namespace lathe {
namespace gemm_internal {

// Packed layouts (the driver allocates them 64-byte aligned):
//   A block [mc x kc] -> ceil(mc/MR) slivers, each kc steps of MR contiguous values of one column
//   of op(A); rows past mc are zero.
//   B block [kc x nc] -> ceil(nc/NR) panels, each kc steps of NR contiguous values of one row of
//   op(B); columns past nc are zero.
template <typename T>
struct Kernel {
  const char* name;
  int mr, nr;          // register tile of C
  int64_t mc, kc, nc;  // cache blocks (mc is a multiple of mr, nc of nr)
  // A row-major B is read in place, unpacked, when op(A) has at most bInPlaceRows rows or B at
  // most bInPlaceElems elements (gemm.cc's packing rule; measured per ISA, see each file).
  int64_t bInPlaceRows, bInPlaceElems;
  // A points at op(A)(0,0) of the block: stored [mc,kc] with row stride lda, or [kc,mc] if trans.
  void (*packA)(bool trans, const T* A, int64_t lda, int64_t mc, int64_t kc, T* dst);
  // B points at op(B)(0,0) of the block: stored [kc,nc] with row stride ldb, or [nc,kc] if trans.
  void (*packB)(bool trans, const T* B, int64_t ldb, int64_t kc, int64_t nc, T* dst);
  // C[m x n] (+)= A[m x kc] * B[kc x n], m <= mr, n <= nr; with accumulate false C is only
  // written. A(i,k) is A[k*as + i] (a packed sliver has as = mr) and B's row k is contiguous at
  // B + k*bs (a packed panel has bs = nr). Only the m x n corner of unpacked operands is read.
  void (*tile)(int64_t kc, const T* A, int64_t as, const T* B, int64_t bs, T* C, int64_t ldc,
               bool accumulate, int m, int n);
  // The same with A(i,k) at A[i*as + k]: a row-major A (or a rescaled block of it) read in
  // place, for K <= rowAMaxK (measured per ISA). Null: a row-major A is always packed.
  void (*tileRowA)(int64_t kc, const T* A, int64_t as, const T* B, int64_t bs, T* C, int64_t ldc,
                   bool accumulate, int m, int n);
  int64_t rowAMaxK;
};

// Each returns nullptr when that ISA is not compiled in (non-x86 builds) or the CPU lacks it.
const Kernel<float>* sgemmKernelAvx512();
const Kernel<double>* dgemmKernelAvx512();
const Kernel<float>* sgemmKernelAvx2();
const Kernel<double>* dgemmKernelAvx2();
const Kernel<float>* sgemmKernelPortable();
const Kernel<double>* dgemmKernelPortable();

}  // namespace gemm_internal
}  // namespace lathe
