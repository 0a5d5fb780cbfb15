// A short-reduction convolution with its 2x2 max pooling fused in registers (a CNN's first
// layer on grey or RGB images, then MaxPool2D(2)): each register tile is one pooling window's
// four conv positions x 2 vectors of output channels, pooled before anything is stored, so the
// conv's output (4x what the pooling keeps) is never written. conv.cc's conv2dMaxPool calls it
// when conv2dPooledTakes() says so.
#pragma once
#include <cstdint>
#include <vector>

#include "kernels.h"

namespace lathe {

// AVX-512 or AVX2+FMA; one group; a reduction Cg*KH*KW of at most 32 (the direct conv's AVX2
// limit; longer ones go to im2col + GEMM or Winograd); linear or relu; pooling 2x2 at stride 2
// without padding over the whole windows of the conv's output (the floor of half of it).
bool conv2dPooledTakes(const Conv2dShape& s, const Pool2dShape& pool, int act);

// after.y = maxpool(act(conv(x, w) + bias)): the same values, bit for bit, as conv2dDirect
// followed by maxPool2d (the same sums in the same order, the same NaN rule).
void conv2dPooled(const float* x, const float* w, const float* bias, int act, const Conv2dShape& s,
                  const PoolAfter& after, ThreadPool& pool);

// For tests and benchmarks: "avx512" or "avx2" runs that kernel (where the CPU can), any other
// name none (conv2dPooledTakes then declines); nullptr restores automatic dispatch.
void conv2dPooledForceKernel(const char* name);

namespace conv_pooled {

// Everything a kernel needs, worked out once per call.
struct Plan {
  int64_t K, O, blocks, PH, PW;  // reduction, output channels, blocks of 2 vectors of them, pooled extent
  bool relu;
  std::vector<int32_t> koff;   // [K]: input offset of reduction step (c, kh, kw)
  int32_t cell[4];             // input offsets of a window's 4 conv positions, row-major
  int64_t rowStep, colStep;    // input offset from one window to the next down, across
  std::vector<float> weights;  // [blocks][K][block], channels past O zero
  std::vector<float> bias;     // [blocks * block]
};

// An ISA's kernel: pooled rows [r0, r1) of one image (x: as the plan's offsets see it) into its
// NCHW output y.
struct Kernel {
  int block;  // output channels per register tile: 2 vectors
  void (*rows)(const Plan& p, const float* x, float* y, int64_t r0, int64_t r1);
};

const Kernel* kernelAvx512();  // nullptr when not compiled in or the CPU lacks it
const Kernel* kernelAvx2();

}  // namespace conv_pooled
}  // namespace lathe
