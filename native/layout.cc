// Layout and indexing kernels: strided copies (transpose, slice, expand, pad, concat) and
// gathers/scatters along an axis (embedding lookups and their gradients). Copies move raw
// elements, so one instantiation per element size serves every dtype.
#include <cstring>

#include "kernels.h"

namespace lathe {

template <typename E>
void stridedCopy(const E* src, E* dst, int rank, const int64_t* shape, const int64_t* srcStrides, int64_t srcOffset,
                 const int64_t* dstStrides, int64_t dstOffset) {
  int64_t total = 1;
  for (int d = 0; d < rank; d++) total *= shape[d];
  if (total == 0) return;
  if (rank == 0) {
    dst[dstOffset] = src[srcOffset];
    return;
  }
  const int64_t n = shape[rank - 1], ss = srcStrides[rank - 1], ds = dstStrides[rank - 1];
  int64_t idx[kMaxRank] = {0};
  int64_t s = srcOffset, t = dstOffset;
  for (int64_t row = 0; row < total / n; row++) {
    if (ss == 1 && ds == 1) std::memcpy(dst + t, src + s, sizeof(E) * n);
    else for (int64_t j = 0; j < n; j++) dst[t + j * ds] = src[s + j * ss];
    for (int d = rank - 2; d >= 0; d--) {
      s += srcStrides[d];
      t += dstStrides[d];
      if (++idx[d] < shape[d]) break;
      s -= srcStrides[d] * shape[d];
      t -= dstStrides[d] * shape[d];
      idx[d] = 0;
    }
  }
}

template <typename E>
void indexSelect(const E* x, const int32_t* index, E* out, int64_t outer, int64_t n, int64_t inner, int64_t m) {
  if (inner == 0) return;
  for (int64_t o = 0; o < outer; o++)
    for (int64_t j = 0; j < m; j++) std::memcpy(out + (o * m + j) * inner, x + (o * n + index[j]) * inner, sizeof(E) * inner);
}

template <typename T>
void indexAdd(const T* src, const int32_t* index, T* out, int64_t outer, int64_t n, int64_t inner, int64_t m) {
  for (int64_t o = 0; o < outer; o++)
    for (int64_t j = 0; j < m; j++) {
      T* to = out + (o * n + index[j]) * inner;
      const T* from = src + (o * m + j) * inner;
      for (int64_t i = 0; i < inner; i++) to[i] += from[i];
    }
}

// torch.gather's map: for each position p of `index` (shape idxShape), the element of the data
// tensor at p's coordinates with coordinate `axis` replaced by index[p].
template <typename F>
void alongIndex(int rank, const int64_t* idxShape, const int64_t* dataStrides, int axis, const int32_t* index, F visit) {
  int64_t total = 1;
  for (int d = 0; d < rank; d++) total *= idxShape[d];
  int64_t idx[kMaxRank] = {0};
  int64_t base = 0;
  for (int64_t p = 0; p < total; p++) {
    visit(p, base + index[p] * dataStrides[axis]);
    for (int d = rank - 1; d >= 0; d--) {
      if (d != axis) base += dataStrides[d];
      if (++idx[d] < idxShape[d]) break;
      if (d != axis) base -= dataStrides[d] * idxShape[d];
      idx[d] = 0;
    }
  }
}

template <typename E>
void gather(const E* x, const int32_t* index, E* out, int rank, const int64_t* idxShape, const int64_t* xStrides, int axis) {
  alongIndex(rank, idxShape, xStrides, axis, index, [&](int64_t p, int64_t off) { out[p] = x[off]; });
}

template <typename T>
void scatterAdd(const T* src, const int32_t* index, T* out, int rank, const int64_t* idxShape, const int64_t* outStrides,
                int axis) {
  alongIndex(rank, idxShape, outStrides, axis, index, [&](int64_t p, int64_t off) { out[off] += src[p]; });
}

#define LATHE_INSTANTIATE_RAW(E)                                                                                   \
  template void stridedCopy<E>(const E*, E*, int, const int64_t*, const int64_t*, int64_t, const int64_t*, int64_t); \
  template void indexSelect<E>(const E*, const int32_t*, E*, int64_t, int64_t, int64_t, int64_t);                   \
  template void gather<E>(const E*, const int32_t*, E*, int, const int64_t*, const int64_t*, int);
LATHE_INSTANTIATE_RAW(uint8_t)
LATHE_INSTANTIATE_RAW(uint32_t)
LATHE_INSTANTIATE_RAW(uint64_t)

#define LATHE_INSTANTIATE(T)                                                                        \
  template void indexAdd<T>(const T*, const int32_t*, T*, int64_t, int64_t, int64_t, int64_t);     \
  template void scatterAdd<T>(const T*, const int32_t*, T*, int, const int64_t*, const int64_t*, int);
LATHE_INSTANTIATE(float)
LATHE_INSTANTIATE(double)

}  // namespace lathe
