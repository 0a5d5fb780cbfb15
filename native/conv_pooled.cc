// conv_pooled.h: the plan and the dispatch; the register tiles are in conv_pooled_kernel.h,
// compiled per ISA by conv_pooled_avx512.cc and conv_pooled_avx2.cc.
#include "conv_pooled.h"

#include <algorithm>
#include <cstring>

#include "conv_direct.h"

namespace lathe {
namespace {

// The direct conv's AVX2 limit (conv_direct_avx2.cc): longer reductions go to im2col + GEMM.
constexpr int64_t kMaxReduction = 32;
// One image's rows are split over the pool from this many flops (sgemm's bar for a split).
constexpr double kSplitMinImageFlops = 3.0e6;

const conv_pooled::Kernel* forced = nullptr;
bool isForced = false;

const conv_pooled::Kernel* kernel() {
  static const conv_pooled::Kernel* best = conv_pooled::kernelAvx512() ? conv_pooled::kernelAvx512() : conv_pooled::kernelAvx2();
  return isForced ? forced : best;
}

conv_pooled::Plan makePlan(const Conv2dShape& s, const Pool2dShape& ps, const float* w, const float* bias, int act,
                           int64_t block) {
  conv_pooled::Plan p;
  p.K = s.Cg * s.KH * s.KW;
  p.O = s.O;
  p.blocks = (s.O + block - 1) / block;
  p.PH = ps.OH;
  p.PW = ps.OW;
  p.relu = act == 1;
  p.koff = conv_direct::reductionOffsets(s);
  const int64_t Wp = conv_direct::pitch(s);
  const int64_t down = s.sh * Wp, across = s.sw;  // one conv position to the next
  p.cell[0] = 0;
  p.cell[1] = static_cast<int32_t>(across);
  p.cell[2] = static_cast<int32_t>(down);
  p.cell[3] = static_cast<int32_t>(down + across);
  p.rowStep = 2 * down;
  p.colStep = 2 * across;
  conv_direct::blockWeights(w, bias, s.O, p.K, block, p.weights, p.bias);
  return p;
}

}  // namespace

void conv2dPooledForceKernel(const char* name) {
  isForced = name != nullptr;
  forced = !name ? nullptr
           : std::strcmp(name, "avx512") == 0 ? conv_pooled::kernelAvx512()
           : std::strcmp(name, "avx2") == 0   ? conv_pooled::kernelAvx2()
                                              : nullptr;
}

bool conv2dPooledTakes(const Conv2dShape& s, const Pool2dShape& ps, int act) {
  if (!kernel() || s.groups != 1 || act > 1 || s.Cg * s.KH * s.KW > kMaxReduction) return false;
  if (s.O <= 0 || s.OH < 2 || s.OW < 2) return false;
  if (ps.KH != 2 || ps.KW != 2 || ps.sh != 2 || ps.sw != 2 || ps.ph != 0 || ps.pw != 0) return false;
  if (ps.OH != s.OH / 2 || ps.OW != s.OW / 2) return false;
  // Offsets are int32: the (padded) image must be addressable with them.
  return s.Cg * std::max(conv_direct::planeSize(s), s.H * s.W) < (int64_t(1) << 31);
}

void conv2dPooled(const float* x, const float* w, const float* bias, int act, const Conv2dShape& s,
                  const PoolAfter& after, ThreadPool& pool) {
  const conv_pooled::Kernel& k = *kernel();
  const conv_pooled::Plan plan = makePlan(s, after.shape, w, bias, act, k.block);
  const bool padded = conv_direct::needsPadding(s);
  const int64_t inSize = s.C * s.H * s.W, outSize = s.O * plan.PH * plan.PW;
  // Images spread over the pool; fewer images than threads (one request, when serving) split
  // each image's pooled rows instead, where an image is worth it: MNIST's first conv (0.4 MFLOP
  // an image) ran faster on one thread than split (see conv_winograd_simd.h's spreading).
  const double imageFlops = 2.0 * s.O * s.OH * s.OW * plan.K;
  const int64_t parts = s.N >= pool.size() || imageFlops < kSplitMinImageFlops ? 1 : std::min<int64_t>(pool.size(), plan.PH);
  pool.run(s.N * parts, [&](int64_t t) {
    const int64_t n = t / parts, part = t % parts;
    const float* src = x + n * inSize;
    if (padded) {
      thread_local std::vector<float> buf;
      buf.resize(s.Cg * conv_direct::planeSize(s));
      conv_direct::padImage(src, buf.data(), s);
      src = buf.data();
    }
    k.rows(plan, src, after.y + n * outSize, plan.PH * part / parts, plan.PH * (part + 1) / parts);
  });
}

}  // namespace lathe
