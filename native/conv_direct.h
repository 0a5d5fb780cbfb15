// Direct float32 convolution for convolutions with a short reduction (few input channels, like a
// CNN's first layer on grey or RGB images): no im2col buffer, the output plane vectorised over
// its flattened positions, a register tile of output channels x vectors of positions, and the
// bias and activation applied in registers before the one store. conv.cc's conv2d<float> calls it
// when conv2dDirectTakes() says so and keeps im2col + GEMM for everything else.
#pragma once
#include <cstdint>
#include <vector>

#include "kernels.h"

namespace lathe {

// Whether conv2dDirect covers this geometry on this CPU: float32, one group, stride 1 along the
// width, a reduction (Cg*KH*KW) the kernel is faster at (see Kernel::maxReduction; 64 when a
// kernel is forced), and outputs wide enough that a vector of positions spans few rows.
bool conv2dDirectTakes(const Conv2dShape& s);

// y = act(conv(x, w) + bias), as conv2d<float>; act 0 linear, 1 relu, 2 sigmoid, 3 tanh. With
// `after`, each image is pooled into after->y instead (needs N >= the pool's size).
void conv2dDirect(const float* x, const float* w, const float* bias, int act, float* y, const Conv2dShape& s,
                  ThreadPool& pool, const PoolAfter* after = nullptr);

// For tests and benchmarks: "avx512", "avx2" or "portable"; nullptr restores automatic dispatch.
// Returns false when the name is unknown or this CPU cannot run it.
bool conv2dDirectForceKernel(const char* name);

namespace conv_direct {

// One row-contiguous run of lanes in a vector of output positions: lanes [lo, hi) read input
// at base + off + lane (base: the reduction step's offset). A vector spans at most kMaxSegments
// output rows; unused segments have lo == hi.
struct Segment {
  int32_t off;
  uint8_t lo, hi;
};
constexpr int kMaxSegments = 4;

// Everything a kernel needs, worked out once per call.
struct Plan {
  int64_t K;        // reduction length Cg*KH*KW
  int64_t O, P;     // output channels, positions per output plane (OH*OW)
  int64_t vectors;  // ceil(P / lanes)
  int segments;     // segments per vector (the largest count any vector needs), 1..kMaxSegments
  int64_t blocks;   // ceil(O / R): output-channel blocks
  std::vector<int32_t> koff;     // [K]: input offset of reduction step k = (c, kh, kw)
  std::vector<Segment> segs;     // [vectors][segments]
  std::vector<uint8_t> full;     // [vectors]: 1 when the vector is one whole run of lanes
  std::vector<float> weights;    // [blocks][K][R], channels past O zero
  std::vector<float> bias;       // [blocks * R], zero when there is none
  bool relu;                     // the kernel's epilogue: bias, then relu or nothing
};

// An ISA's kernel: computes output-channel blocks [b0, b1) of one image, every position. x is
// the image as the plan's offsets see it (padded when the conv pads), y the image's output.
struct Kernel {
  const char* name;
  int lanes;  // positions per vector
  int R;      // output channels per register tile
  // The longest reduction it takes unless forced: where it measured faster than im2col + GEMM
  // on the same ISA (0: never, the portable kernel).
  int64_t maxReduction;
  void (*image)(const Plan& p, const float* x, float* y, int64_t b0, int64_t b1);
};

// The extent of the (virtually) padded image that the outputs read, and whether the image must
// be read through a zero-padded copy: when the conv pads or reads past the input.
int64_t rowsRead(const Conv2dShape& s);
int64_t colsRead(const Conv2dShape& s);
bool needsPadding(const Conv2dShape& s);
// x's Cg channels copied into dst, rowsRead x colsRead each, with the conv's zero padding.
void padImage(const float* x, float* dst, const Conv2dShape& s);
// Whether this CPU runs the AVX-512 conv kernels (AVX-512F and FMA), worked out once.
bool cpuHasAvx512Fma();
// The row pitch and plane size of the image the kernels read (the padded copy when there is one).
int64_t pitch(const Conv2dShape& s);
int64_t planeSize(const Conv2dShape& s);
// The input offset of each reduction step k = (c, kh, kw) in that image.
std::vector<int32_t> reductionOffsets(const Conv2dShape& s);
// Weights [O][K] regrouped as [blocks of R channels][K][R] and the bias as [blocks * R] (zero
// past O, and where there is no bias): the register tiles' layout.
void blockWeights(const float* w, const float* bias, int64_t O, int64_t K, int64_t R, std::vector<float>& weights,
                  std::vector<float>& blockBias);

// y[0..n) = sigmoid (act 2) or tanh (act 3) in place, conv.cc's formulas; other acts do nothing.
void activateRows(float* y, int64_t n, int act);

const Kernel* kernelAvx512();  // nullptr when not compiled in or the CPU lacks it
const Kernel* kernelAvx2();
const Kernel* kernelPortable();

}  // namespace conv_direct
}  // namespace lathe
