// conv_pooled.h with AVX2+FMA. The tile: one pooling window's 4 conv positions x 2 vectors of 8
// output channels, 8 accumulators; each reduction step loads 2 weight vectors and broadcasts 4
// input values for 8 FMAs, straight from the NCHW image. Bias, relu and the window's max run in
// registers, and the pooled vectors go position-major into a small stage that 8x8 transposes
// turn into the NCHW planes. MNIST's CNN at batch 32 on one Zen 3 core (perf samples of the
// whole predict): its first conv and pooling went from 17% of 3870 us a call (the direct conv's
// 8-channel x 8-position tile, then maxPool2d on the conv's output) to 14% of 3420.
#include "conv_pooled.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "conv_direct.h"
#include "transpose_avx2.h"

#define LATHE_POOLED_TARGET __attribute__((target("avx2,fma")))

namespace lathe {
namespace {

constexpr int kLanes = 8;
constexpr int kBlock = 2 * kLanes;  // output channels per tile
// The direct conv's AVX2 limit (conv_direct_avx2.cc): longer reductions go to im2col + GEMM.
constexpr int64_t kMaxReduction = 32;

struct Plan {
  int64_t K, O, blocks, PH, PW;
  bool relu;
  std::vector<int32_t> koff;   // [K]: input offset of reduction step (c, kh, kw)
  int32_t cell[4];             // input offsets of a window's 4 conv positions, row-major
  int64_t rowStep, colStep;    // input offset from one window to the next down, across
  std::vector<float> weights;  // [blocks][K][kBlock], channels past O zero
  std::vector<float> bias;     // [blocks * kBlock]
};

Plan makePlan(const Conv2dShape& s, const Pool2dShape& ps, const float* w, const float* bias, int act) {
  Plan p;
  p.K = s.Cg * s.KH * s.KW;
  p.O = s.O;
  p.blocks = (s.O + kBlock - 1) / kBlock;
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
  conv_direct::blockWeights(w, bias, s.O, p.K, kBlock, p.weights, p.bias);
  return p;
}

// Max pooling's rule (conv.cc's `takes`) lane by lane: v replaces best when larger, or when NaN
// and best is not, so the first NaN of a window wins.
LATHE_POOLED_TARGET inline __m256 poolStep(__m256 best, __m256 v) {
  const __m256 larger = _mm256_cmp_ps(v, best, _CMP_GT_OQ);
  const __m256 nanOverNumber = _mm256_and_ps(_mm256_cmp_ps(v, v, _CMP_UNORD_Q), _mm256_cmp_ps(best, best, _CMP_ORD_Q));
  return _mm256_blendv_ps(best, v, _mm256_or_ps(larger, nanOverNumber));
}

// The pooled 16 channels of block w/bias at the window whose first conv position reads x + at.
// The sums run k = 0..K-1 from zero with the bias added after, as conv_direct's tile does, so
// every conv output is the same float.
LATHE_POOLED_TARGET void windowTile(const Plan& p, const float* x, int64_t at, const float* w, const float* bias,
                                    float* out) {
  // Every loop over the accumulators fully unrolled: indexed at run time they would live in
  // memory, stored on every reduction step.
  __m256 acc[4][2];
#pragma GCC unroll 4
  for (int i = 0; i < 4; i++) acc[i][0] = acc[i][1] = _mm256_setzero_ps();
  const float* cell[4];
#pragma GCC unroll 4
  for (int i = 0; i < 4; i++) cell[i] = x + at + p.cell[i];
  const int32_t* koff = p.koff.data();
  const int64_t K = p.K;
  for (int64_t k = 0; k < K; k++, w += kBlock) {
    const __m256 w0 = _mm256_loadu_ps(w), w1 = _mm256_loadu_ps(w + kLanes);
    const int32_t ko = koff[k];
#pragma GCC unroll 4
    for (int i = 0; i < 4; i++) {
      const __m256 v = _mm256_broadcast_ss(cell[i] + ko);
      acc[i][0] = _mm256_fmadd_ps(w0, v, acc[i][0]);
      acc[i][1] = _mm256_fmadd_ps(w1, v, acc[i][1]);
    }
  }
  const bool relu = p.relu;
#pragma GCC unroll 2
  for (int h = 0; h < 2; h++) {
    const __m256 b = _mm256_loadu_ps(bias + h * kLanes);
    __m256 best = _mm256_setzero_ps();
#pragma GCC unroll 4
    for (int i = 0; i < 4; i++) {
      __m256 o = _mm256_add_ps(acc[i][h], b);
      if (relu) o = _mm256_max_ps(_mm256_setzero_ps(), o);  // zero first: NaN stays NaN
      best = i == 0 ? o : poolStep(best, o);
    }
    _mm256_storeu_ps(out + h * kLanes, best);
  }
}

// Pooled rows [r0, r1) of one image (x: as the plan's offsets see it) into its NCHW output y.
LATHE_POOLED_TARGET void pooledRows(const Plan& p, const float* x, float* y, int64_t r0, int64_t r1) {
  const int64_t Q = p.PH * p.PW, q0 = r0 * p.PW, q1 = r1 * p.PW;
  thread_local std::vector<float> stage;  // [q1 - q0][kBlock]: one block's pooled channels, position-major
  stage.resize((q1 - q0) * kBlock);
  for (int64_t b = 0; b < p.blocks; b++) {
    const float* w = p.weights.data() + b * p.K * kBlock;
    const float* bias = p.bias.data() + b * kBlock;
    for (int64_t r = r0; r < r1; r++)
      for (int64_t c = 0; c < p.PW; c++)
        windowTile(p, x, r * p.rowStep + c * p.colStep, w, bias, stage.data() + (r * p.PW + c - q0) * kBlock);
    const int64_t channels = std::min<int64_t>(kBlock, p.O - b * kBlock);
    transposeFloatsAvx2(stage.data(), kBlock, q1 - q0, channels, y + b * kBlock * Q + q0, Q);
  }
}

bool cpuTakes() {
  static const bool yes = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && !conv_direct::cpuHasAvx512Fma();
  }();
  return yes;
}

}  // namespace

bool conv2dPooledTakes(const Conv2dShape& s, const Pool2dShape& ps, int act) {
  if (!cpuTakes() || s.groups != 1 || act > 1 || s.Cg * s.KH * s.KW > kMaxReduction) return false;
  if (s.O <= 0 || s.OH < 2 || s.OW < 2) return false;
  if (ps.KH != 2 || ps.KW != 2 || ps.sh != 2 || ps.sw != 2 || ps.ph != 0 || ps.pw != 0) return false;
  if (ps.OH != s.OH / 2 || ps.OW != s.OW / 2) return false;
  // Offsets are int32: the (padded) image must be addressable with them.
  return s.Cg * std::max(conv_direct::planeSize(s), s.H * s.W) < (int64_t(1) << 31);
}

void conv2dPooled(const float* x, const float* w, const float* bias, int act, const Conv2dShape& s,
                  const PoolAfter& after, ThreadPool& pool) {
  const Plan plan = makePlan(s, after.shape, w, bias, act);
  const bool padded = conv_direct::needsPadding(s);
  const int64_t inSize = s.C * s.H * s.W, outSize = s.O * plan.PH * plan.PW;
  // Images spread over the pool; fewer images than threads (one request, when serving) split
  // each image's pooled rows instead.
  const int64_t parts = s.N >= pool.size() ? 1 : std::min<int64_t>(pool.size(), plan.PH);
  pool.run(s.N * parts, [&](int64_t t) {
    const int64_t n = t / parts, part = t % parts;
    const float* src = x + n * inSize;
    if (padded) {
      thread_local std::vector<float> buf;
      buf.resize(s.Cg * conv_direct::planeSize(s));
      conv_direct::padImage(src, buf.data(), s);
      src = buf.data();
    }
    pooledRows(plan, src, after.y + n * outSize, plan.PH * part / parts, plan.PH * (part + 1) / parts);
  });
}

}  // namespace lathe

#else

namespace lathe {
bool conv2dPooledTakes(const Conv2dShape&, const Pool2dShape&, int) { return false; }
void conv2dPooled(const float*, const float*, const float*, int, const Conv2dShape&, const PoolAfter&, ThreadPool&) {}
}  // namespace lathe

#endif
