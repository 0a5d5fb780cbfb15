// Internal contract between the int8 GEMM driver (qgemm.cc) and its per-ISA tiles. Packed A
// slivers: kGroups groups of mr*4 bytes (row i's 4 consecutive k-values at i*4); packed B
// panels: see QPackedB in qgemm.h.
#pragma once
#include <cstdint>

#include "qgemm.h"

namespace lathe {
namespace qgemm_internal {

// What the last K block of a tile does with its sums. Pointers are at the tile's first column.
struct OutStage {
  const int32_t* colSum;  // readable for kQgemmNR entries (QPackedB pads it)
  int32_t aZero;
  float aScale;
  const float* bScale;    // nullptr: C is int32; else C is float, only n entries read
  const float* bias;      // nullptr: no bias; only n entries read
  bool relu = false;      // float output only: max(0, y) after the bias (NaN stays NaN)
};

struct Kernel {
  const char* name;
  int mr;                  // register tile rows (columns are kQgemmNR)
  int64_t mc, kc, nc;      // cache blocks: rows, k-values (multiple of 4), columns
  // C[m x n] of the tile, m <= mr, n <= kQgemmNR: int32 sums over kGroups groups of A sliver x B
  // panel, added to the int32 partials already in C when acc. When last, subtracts
  // aZero*colSum and writes the output stage's type; otherwise C holds int32 partials (in the
  // float output's memory too: same size).
  void (*tile)(int64_t kGroups, const uint8_t* A, const int8_t* B, void* C, int64_t ldc, bool acc, bool last,
               const OutStage& out, int m, int n);
  // Bytes per packed A value: 1 (uint8), or 2 when the tile wants A already widened to int16
  // (the AVX2 tile: it then broadcasts a row's 4 values with one load instead of a load and two
  // shuffles per row per column pass). The tile's A then points at int16 slivers, same order.
  int aWidth = 1;
  // Below this many operations (2 x M x N x K) a product runs on the calling thread: a worker's
  // wake-up, and moving A and C between the cores' caches, cost more than it saves. Tied to the
  // tile's speed, as gemm.cc's bar for float (3e6) is to sgemm's.
  double parallelMinOps = 6.0e6;
  // The direct convolution's tile (qconvDirectU8S8Dequant), or nullptr where the kernel has none:
  // C[m x n] (float, output stage applied) from A read in place, row i at A + i * rowStride,
  // k in `segments` runs of groupsPerSegment 4-byte groups, segmentStride bytes apart, B a whole
  // packed panel (all of K).
  void (*tileDirect)(int64_t segments, int64_t groupsPerSegment, int64_t segmentStride, int64_t rowStride,
                     const uint8_t* A, const int8_t* B, void* C, int64_t ldc, const OutStage& out, int m, int n) = nullptr;
  // The direct convolution with a 2x2 stride-2 max pool after it, or nullptr: C[m x n] for m <=
  // pooledMR pooled pixels, pooled pixel i at C + i * ldc the max of the int32 sums of rows 2i and
  // 2i + 1 (rows rowStride apart, k read as tileDirect's) in two lines lineStride apart, then the
  // output stage. The max of the sums is taken before dequantizing: the output stage rises
  // monotonically (its scale is never negative), so this is the max of the dequantized values.
  void (*tilePooled)(int64_t segments, int64_t groupsPerSegment, int64_t segmentStride, int64_t rowStride, int64_t lineStride,
                     const uint8_t* A, const int8_t* B, void* C, int64_t ldc, const OutStage& out, int m, int n) = nullptr;
  int pooledMR = 0;
};

// nullptr when not compiled in or this CPU lacks the ISA.
const Kernel* kernelAvx512Vnni();
const Kernel* kernelAvx2();
const Kernel* kernelPortable();

}  // namespace qgemm_internal
}  // namespace lathe
