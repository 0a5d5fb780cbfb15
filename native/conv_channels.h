// Direct float32 convolution vectorised over output channels (AVX-512), for long reductions
// where conv_direct's position-vectorised tile loses to im2col + GEMM. conv.cc's conv2d<float>
// calls it when conv2dChannelsTakes() says so.
#pragma once
#include "conv_direct.h"

namespace lathe {

// AVX-512 present, one group, and an image small enough to stay in L2.
bool conv2dChannelsTakes(const Conv2dShape& s);

// y = act(conv(x, w) + bias), as conv2d<float>; with `after`, each image pooled into after->y instead
// (needs N >= the pool's size: images spread over the pool).
void conv2dChannels(const float* x, const float* w, const float* bias, int act, float* y, const Conv2dShape& s,
                    ThreadPool& pool, const PoolAfter* after = nullptr);

}  // namespace lathe
