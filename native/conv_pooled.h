// A short-reduction convolution with its 2x2 max pooling fused in registers (a CNN's first
// layer on grey or RGB images, then MaxPool2D(2)): each register tile is one pooling window's
// four conv positions x 16 output channels, pooled before anything is stored, so the conv's
// output (4x what the pooling keeps) is never written. conv.cc's conv2dMaxPool calls it when
// conv2dPooledTakes() says so.
#pragma once
#include "kernels.h"

namespace lathe {

// AVX2+FMA without AVX-512 (where it was measured against the direct conv); one group; a
// reduction Cg*KH*KW of at most 32; linear or relu; pooling 2x2 at stride 2 without padding
// over the whole windows of the conv's output (the floor of half of it).
bool conv2dPooledTakes(const Conv2dShape& s, const Pool2dShape& pool, int act);

// after.y = maxpool(act(conv(x, w) + bias)): the same values, bit for bit, as conv2dDirect
// followed by maxPool2d (the same sums in the same order, the same NaN rule).
void conv2dPooled(const float* x, const float* w, const float* bias, int act, const Conv2dShape& s,
                  const PoolAfter& after, ThreadPool& pool);

}  // namespace lathe
