// The direct convolution's driver: which convolutions it takes, the plan (reduction offsets,
// row segments of each vector of positions, packed weights), the padded copy of an image when
// the conv pads, the split over the pool, and the portable scalar kernel.
#include "conv_direct.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>

namespace lathe {

using conv_direct::Kernel;
using conv_direct::Plan;
using conv_direct::Segment;

namespace conv_direct {
namespace {

// One position per "vector": the same tile, compiled at the baseline ISA. 4 channels x 4
// positions fill SSE2's 16 registers with scalars.
struct F32x1 {
  using V = float;
  using M = bool;
  static constexpr int W = 1;
  static V zero() { return 0.0f; }
  static V bcast(const float* p) { return *p; }
  static V fma(V a, V b, V c) { return a * b + c; }
  static V add(V a, V b) { return a + b; }
  static V relu(V v) { return v < 0.0f ? 0.0f : v; }  // NaN stays NaN
  static M mask(int lo, int hi) { return lo < hi; }
  static M orMask(M a, M b) { return a || b; }
  static V loadz(M m, const float* p) { return m ? *p : 0.0f; }
  static V loadu(const float* p) { return *p; }
  static void storeu(float* p, V v) { *p = v; }
  static V loadMerge(V v, M m, const float* p) { return m ? *p : v; }
  static void store(float* p, M m, V v) {
    if (m) *p = v;
  }
};

#define LATHE_CONV_TARGET
#include "conv_direct_kernel.h"
#undef LATHE_CONV_TARGET

}  // namespace

// After a kernel that added the bias; the formulas of conv.cc's epilogue.
void activateRows(float* y, int64_t n, int act) {
  if (act == 2)
    for (int64_t i = 0; i < n; i++) {
      const float v = y[i];
      y[i] = v >= 0 ? 1.0f / (1.0f + std::exp(-v)) : std::exp(v) / (1.0f + std::exp(v));
    }
  else if (act == 3)
    for (int64_t i = 0; i < n; i++) y[i] = std::tanh(y[i]);
}

int64_t rowsRead(const Conv2dShape& s) { return (s.OH - 1) * s.sh + (s.KH - 1) * s.dh + 1; }
int64_t colsRead(const Conv2dShape& s) { return (s.OW - 1) * s.sw + (s.KW - 1) * s.dw + 1; }

bool needsPadding(const Conv2dShape& s) {
  return s.ph > 0 || s.pw > 0 || rowsRead(s) > s.H || colsRead(s) > s.W;
}

// x's channels copied into a zeroed buffer with the conv's padding around them.
void padImage(const float* x, float* dst, const Conv2dShape& s) {
  const int64_t Hp = rowsRead(s), Wp = colsRead(s);
  std::memset(dst, 0, sizeof(float) * s.Cg * Hp * Wp);
  const int64_t r0 = std::max<int64_t>(0, -s.ph), r1 = std::min(s.H, Hp - s.ph);  // input rows read
  const int64_t c0 = std::max<int64_t>(0, -s.pw), c1 = std::min(s.W, Wp - s.pw);
  if (c1 <= c0) return;
  for (int64_t c = 0; c < s.Cg; c++)
    for (int64_t r = r0; r < r1; r++)
      std::memcpy(dst + (c * Hp + r + s.ph) * Wp + c0 + s.pw, x + (c * s.H + r) * s.W + c0, sizeof(float) * (c1 - c0));
}

const Kernel* kernelPortable() {
  // Never picked unless forced: one position per "vector" ran 5x slower than the portable GEMM.
  static const Kernel k = {"portable", 1, 4, 0, &directImage<F32x1, 4, 4>};
  return &k;
}

bool cpuHasAvx512Fma() {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  static const bool yes = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("fma");
  }();
  return yes;
#else
  return false;
#endif
}

int64_t pitch(const Conv2dShape& s) { return needsPadding(s) ? colsRead(s) : s.W; }
int64_t planeSize(const Conv2dShape& s) { return needsPadding(s) ? rowsRead(s) * colsRead(s) : s.H * s.W; }

std::vector<int32_t> reductionOffsets(const Conv2dShape& s) {
  const int64_t Wp = pitch(s), plane = planeSize(s);
  std::vector<int32_t> koff(s.Cg * s.KH * s.KW);
  for (int64_t c = 0; c < s.Cg; c++)
    for (int64_t kh = 0; kh < s.KH; kh++)
      for (int64_t kw = 0; kw < s.KW; kw++)
        koff[(c * s.KH + kh) * s.KW + kw] = static_cast<int32_t>(c * plane + kh * s.dh * Wp + kw * s.dw);
  return koff;
}

void blockWeights(const float* w, const float* bias, int64_t O, int64_t K, int64_t R, std::vector<float>& weights, std::vector<float>& blockBias) {
  const int64_t blocks = (O + R - 1) / R;
  weights.assign(blocks * K * R, 0.0f);
  for (int64_t o = 0; o < O; o++)
    for (int64_t k = 0; k < K; k++) weights[((o / R) * K + k) * R + o % R] = w[o * K + k];
  blockBias.assign(blocks * R, 0.0f);
  if (bias) std::copy(bias, bias + O, blockBias.begin());
}

}  // namespace conv_direct

using conv_direct::colsRead;
using conv_direct::needsPadding;
using conv_direct::padImage;
using conv_direct::rowsRead;
using conv_direct::blockWeights;
using conv_direct::pitch;
using conv_direct::planeSize;
using conv_direct::reductionOffsets;

namespace {

// The longest reduction any kernel takes, forced or not: the row-segment loads are rebuilt
// for every block of output channels, which long reductions do not amortise.
constexpr int64_t kDirectMaxReduction = 64;

std::atomic<const Kernel*> forced{nullptr};

const Kernel& pick() {
  if (const Kernel* f = forced.load(std::memory_order_relaxed)) return *f;
  static const Kernel* best = conv_direct::kernelAvx512()  ? conv_direct::kernelAvx512()
                              : conv_direct::kernelAvx2() ? conv_direct::kernelAvx2()
                                                          : conv_direct::kernelPortable();
  return *best;
}


// Splits vector j's positions into runs within one output row. Returns the number of runs,
// writing at most kMaxSegments of them to `out` (when given).
int segmentsOf(const Conv2dShape& s, int lanes, int64_t j, Segment* out) {
  const int64_t P = s.OH * s.OW, p0 = j * lanes, n = std::min<int64_t>(lanes, P - p0), Wp = pitch(s);
  int count = 0;
  for (int64_t lane = 0; lane < n;) {
    const int64_t pos = p0 + lane, oh = pos / s.OW, ow = pos % s.OW;
    const int64_t len = std::min(n - lane, s.OW - ow);
    if (out && count < conv_direct::kMaxSegments)
      out[count] = Segment{static_cast<int32_t>(oh * s.sh * Wp + ow - lane), static_cast<uint8_t>(lane),
                           static_cast<uint8_t>(lane + len)};
    count++;
    lane += len;
  }
  return count;
}

int maxSegments(const Conv2dShape& s, int lanes) {
  const int64_t vectors = (s.OH * s.OW + lanes - 1) / lanes;
  int most = 1;
  for (int64_t j = 0; j < vectors; j++) most = std::max(most, segmentsOf(s, lanes, j, nullptr));
  return most;
}

Plan makePlan(const Conv2dShape& s, const Kernel& kr, const float* w, const float* bias, int act) {
  Plan p;
  const int R = kr.R;
  p.K = s.Cg * s.KH * s.KW;
  p.O = s.O;
  p.P = s.OH * s.OW;
  p.vectors = (p.P + kr.lanes - 1) / kr.lanes;
  p.segments = maxSegments(s, kr.lanes);
  p.blocks = (s.O + R - 1) / R;
  p.relu = act == 1;
  p.koff = reductionOffsets(s);
  p.segs.assign(p.vectors * p.segments, Segment{0, 0, 0});
  p.full.resize(p.vectors);
  for (int64_t j = 0; j < p.vectors; j++) {
    segmentsOf(s, kr.lanes, j, p.segs.data() + j * p.segments);
    const Segment& first = p.segs[j * p.segments];
    p.full[j] = first.lo == 0 && first.hi == kr.lanes;
  }
  blockWeights(w, bias, s.O, p.K, R, p.weights, p.bias);
  return p;
}

}  // namespace

bool conv2dDirectTakes(const Conv2dShape& s) {
  const Kernel& kr = pick();
  const bool isForced = forced.load(std::memory_order_relaxed) != nullptr;
  const int64_t K = s.Cg * s.KH * s.KW;
  if (s.groups != 1 || s.sw != 1 || K > (isForced ? kDirectMaxReduction : kr.maxReduction)) return false;
  if (s.OH * s.OW <= 0 || s.O <= 0) return false;
  // Offsets are int32: the (padded) image must be addressable with them.
  if (s.Cg * std::max(planeSize(s), s.H * s.W) >= (int64_t(1) << 31)) return false;
  return maxSegments(s, kr.lanes) <= conv_direct::kMaxSegments;
}

void conv2dDirect(const float* x, const float* w, const float* bias, int act, float* y, const Conv2dShape& s,
                  ThreadPool& pool, const PoolAfter* after) {
  const Kernel& kr = pick();
  const Plan plan = makePlan(s, kr, w, bias, act);
  const bool padded = needsPadding(s);
  const int64_t inSize = s.C * s.H * s.W, outSize = s.O * plan.P;
  auto image = [&](int64_t n, int64_t b0, int64_t b1) {
    const float* src = x + n * inSize;
    if (padded) {
      thread_local std::vector<float> buf;
      buf.resize(s.Cg * planeSize(s));
      padImage(src, buf.data(), s);
      src = buf.data();
    }
    float* dst = convImageOutput(y, n, outSize, after);
    kr.image(plan, src, dst, b0, b1);
    if (act >= 2) {
      const int64_t o0 = b0 * kr.R, o1 = std::min(s.O, b1 * kr.R);
      conv_direct::activateRows(dst + o0 * plan.P, (o1 - o0) * plan.P, act);
    }
    if (after) poolImage(dst, n, *after, pool);
  };
  // Images spread over the pool; a batch smaller than the pool splits each image's channel
  // blocks instead.
  if (s.N >= pool.size()) pool.run(s.N, [&](int64_t n) { image(n, 0, plan.blocks); });
  else
    for (int64_t n = 0; n < s.N; n++)
      pool.parallelFor(plan.blocks, 1, [&](int64_t b0, int64_t b1) { image(n, b0, b1); });
}

bool conv2dDirectForceKernel(const char* name) {
  if (!name) {
    forced.store(nullptr);
    return true;
  }
  const Kernel* k = std::strcmp(name, "avx512") == 0     ? conv_direct::kernelAvx512()
                    : std::strcmp(name, "avx2") == 0     ? conv_direct::kernelAvx2()
                    : std::strcmp(name, "portable") == 0 ? conv_direct::kernelPortable()
                                                         : nullptr;
  if (!k) return false;
  forced.store(k);
  return true;
}

}  // namespace lathe
