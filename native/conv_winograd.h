// Winograd F(2x2, 3x3) float32 convolution (Lavin & Gray, 2015): each 2x2 block of outputs from
// a 4x4 block of input through 16 elementwise products in a transformed domain, so a 3x3 conv
// costs 16/36 of the direct method's multiplies (plus the transforms). The products over input
// channels are 16 GEMMs per group of images, on lathe's sgemm. conv.cc's conv2d<float> calls it
// when conv2dWinogradTakes() says so.
#pragma once
#include "kernels.h"

namespace lathe {

// AVX-512 or AVX2+FMA present; 3x3, stride 1, dilation 1, one group; enough channels for the
// GEMMs to run near peak (at least 16 in and out). Groups of images spread over the pool; a batch
// of fewer groups than threads (one image) spreads each group's 16 GEMMs instead.
bool conv2dWinogradTakes(const Conv2dShape& s);

// y = act(conv(x, w) + bias), as conv2d<float>; with `after`, each image pooled into after->y.
// Rounding differs from the direct conv's by a few ulps of the largest partial sums (1-2e-6 of
// the output's scale), and a non-finite input reaches all four outputs of its 2x2 blocks (as in
// cuDNN's Winograd).
void conv2dWinograd(const float* x, const float* w, const float* bias, int act, float* y, const Conv2dShape& s,
                    ThreadPool& pool, const PoolAfter* after = nullptr);

namespace winograd {

// One ISA's copy of the algorithm (conv_winograd_simd.h compiled in conv_winograd_<isa>.cc).
struct Kernel {
  const char* name;
  bool (*takes)(const Conv2dShape& s);
  void (*run)(const float* x, const float* w, const float* bias, int act, float* y, const Conv2dShape& s,
              ThreadPool& pool, const PoolAfter* after);
};
const Kernel* kernelAvx512();  // nullptr when not compiled in or the CPU lacks it
const Kernel* kernelAvx2();

}  // namespace winograd

}  // namespace lathe
