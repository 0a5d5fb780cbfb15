// Weights packed once for the GEMM's tiles, as ONNX Runtime prepacks a model's constant
// initializers: a dense layer at inference multiplies by the same B on every call, and packing
// it again each time cost ~5% of the MNIST MLP's predict at batch 256 (both threads pack all of
// B). The caller names B's contents with a key that changes whenever they may have changed (the
// JS side: one per storage and in-place write, src/backends/native/index.ts); the key alone
// decides, so a key must never be reused for other contents.
#pragma once
#include <cstdint>
#include <memory>

#include "blocking.h"
#include "gemm_internal.h"

namespace lathe {
namespace gemm_prepacked {

// B [K, N] (row stride ldb) packed for kernel `kernel`: K in blocks of kcBlock rows (the driver's
// evenBlock(K, kc)), each block [kcBlock][nPad] of NR-wide slivers, as packB lays out a panel.
// The panel of columns jc.. in the block starting at row pc is at data + pc * nPad + jc * kc,
// on a cache line as the driver's per-call packing puts it.
struct PackedB {
  const gemm_internal::Kernel<float>* kernel;
  const float* source;
  int64_t K, N, ldb, kcBlock, nPad;
  float* data;
  gemm_blocking::PackBuffer storage;  // holds data
};

// The packed B for `key`, or null when the caller should pack as usual: the first request for a
// key only notes it (a weight used once, as in training, is never packed twice), the second
// packs and keeps it while the cache has room (kMaxBytes in all; an entry unused for a while
// makes room for a new one). Thread-safe; the pointer stays valid while the caller holds it.
std::shared_ptr<const PackedB> lookup(uint64_t key, const gemm_internal::Kernel<float>& kernel, int64_t kcBlock,
                                      const float* B, int64_t ldb, int64_t K, int64_t N);

}  // namespace gemm_prepacked
}  // namespace lathe
