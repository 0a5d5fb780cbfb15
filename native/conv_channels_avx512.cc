// Direct float32 convolution vectorised over output channels, for long reductions (a CNN's
// later layers: 32 input channels x 3x3 = 288): a register tile of 6 positions x 4 vectors of
// 16 channels, each reduction step 4 weight loads and 6 input broadcasts for 24 FMAs (the GEMM
// tile's ratio), read straight from the NCHW image, so there is no im2col buffer to write and
// read back and no packing per image. Tiles leave position-major into a small staging buffer
// that 16x16 transposes turn into the NCHW planes (scattering each tile's vectors instead cost
// 15-25%: 73 against 98 GFLOP/s on one core).
#include "conv_channels.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <vector>

#define LATHE_CONV_TARGET __attribute__((target("avx512f,fma")))

namespace lathe {
namespace {

constexpr int kLanes = 16;
constexpr int kBlock = 64;  // output channels per block: 4 vectors
// 256 KiB: a quarter of Zen 4's L2.
constexpr int64_t kMaxImageFloats = 64 * 1024;

struct ChannelPlan {
  int64_t K, O, P, blocks;
  std::vector<int32_t> koff;   // [K]: input offset of reduction step (c, kh, kw)
  std::vector<int32_t> poff;   // [P rounded up to the tile]: input offset of position p (the last repeated)
  std::vector<float> weights;  // [blocks][K][kBlock], channels past O zero
  std::vector<float> bias;     // [blocks * kBlock]
  bool relu;
};

// NP positions x NV vectors of channels, left position-major in `stage` (row p holds the
// block's 64 channels of position p): contiguous stores, transposed to NCHW per block below.
template <int NP, int NV>
LATHE_CONV_TARGET void channelTile(const ChannelPlan& p, const float* x, const float* w, const float* bias,
                                   float* stage, int64_t p0) {
  __m512 acc[NP][NV];
  for (int i = 0; i < NP; i++)
    for (int v = 0; v < NV; v++) acc[i][v] = _mm512_setzero_ps();
  const float* xs[NP];
  for (int i = 0; i < NP; i++) xs[i] = x + p.poff[p0 + i];
  const int32_t* koff = p.koff.data();
  for (int64_t k = 0; k < p.K; k++, w += kBlock) {
    __m512 wv[NV];
    for (int v = 0; v < NV; v++) wv[v] = _mm512_loadu_ps(w + v * kLanes);
    const int32_t ko = koff[k];
    for (int i = 0; i < NP; i++) {
      const __m512 b = _mm512_set1_ps(xs[i][ko]);
      for (int v = 0; v < NV; v++) acc[i][v] = _mm512_fmadd_ps(b, wv[v], acc[i][v]);
    }
  }
  for (int v = 0; v < NV; v++) {
    const __m512 b = _mm512_loadu_ps(bias + v * kLanes);
    for (int i = 0; i < NP; i++) {
      __m512 o = _mm512_add_ps(acc[i][v], b);
      if (p.relu) o = _mm512_max_ps(_mm512_setzero_ps(), o);  // zero first: NaN stays NaN
      _mm512_storeu_ps(stage + (p0 + i) * kBlock + v * kLanes, o);
    }
  }
}

// 16 positions x 16 channels of `stage` (rows kBlock apart) to y's channel planes (P apart):
// channel c gets its 16 positions as one store, masked to the positions that exist; channels
// from `channels` on are not stored.
LATHE_CONV_TARGET void transpose16(const float* stage, float* y, int64_t P, __mmask16 positions, int channels) {
  __m512 r[16], t[16];
  for (int i = 0; i < 16; i++) r[i] = _mm512_loadu_ps(stage + i * kBlock);
  for (int i = 0; i < 8; i++) {
    t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
  }
  for (int i = 0; i < 4; i++) {  // r[4i + j], 128-bit lane L: column 4L + j of rows 4i..4i+3
    r[4 * i] = _mm512_shuffle_ps(t[4 * i], t[4 * i + 2], 0x44);
    r[4 * i + 1] = _mm512_shuffle_ps(t[4 * i], t[4 * i + 2], 0xEE);
    r[4 * i + 2] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0x44);
    r[4 * i + 3] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0xEE);
  }
  for (int j = 0; j < 4; j++) {
    t[j] = _mm512_shuffle_f32x4(r[j], r[4 + j], 0x88);
    t[4 + j] = _mm512_shuffle_f32x4(r[j], r[4 + j], 0xDD);
    t[8 + j] = _mm512_shuffle_f32x4(r[8 + j], r[12 + j], 0x88);
    t[12 + j] = _mm512_shuffle_f32x4(r[8 + j], r[12 + j], 0xDD);
  }
  for (int j = 0; j < 4; j++) {  // column c = 4L + j
    r[j] = _mm512_shuffle_f32x4(t[j], t[8 + j], 0x88);
    r[8 + j] = _mm512_shuffle_f32x4(t[j], t[8 + j], 0xDD);
    r[4 + j] = _mm512_shuffle_f32x4(t[4 + j], t[12 + j], 0x88);
    r[12 + j] = _mm512_shuffle_f32x4(t[4 + j], t[12 + j], 0xDD);
  }
  for (int c = 0; c < 16; c++)
    if (c < channels) _mm512_mask_storeu_ps(y + c * P, positions, r[c]);
}

// Positions [q0, q1) of one output-channel block; q0 is a multiple of 16. Stage row i holds
// position q0 + i (the tiles may write up to 11 rows past q1). The tiles also pull `ahead`
// bytes (the next image, or nothing) towards L2, a share each.
template <int NV>
LATHE_CONV_TARGET void channelBlock(const ChannelPlan& p, const float* x, float* y, int64_t b, float* stage, int64_t q0,
                                    int64_t q1, const char* ahead, int64_t aheadBytes) {
  constexpr int NP = NV == 4 ? 6 : NV == 3 ? 8 : 12;  // 24 accumulators
  const int64_t rows = std::min<int64_t>(kBlock, p.O - b * kBlock);
  const float* w = p.weights.data() + b * p.K * kBlock;
  const float* bias = p.bias.data() + b * kBlock;
  float* yb = y + b * kBlock * p.P;
  const int64_t tiles = (q1 - q0 + NP - 1) / NP, lines = (aheadBytes + 63) / 64;
  for (int64_t t = 0, p0 = q0; p0 < q1; t++, p0 += NP) {
    for (int64_t l = t * lines / tiles; l < (t + 1) * lines / tiles; l++) _mm_prefetch(ahead + l * 64, _MM_HINT_T1);
    channelTile<NP, NV>(p, x, w, bias, stage - q0 * kBlock, p0);
  }
  for (int64_t p0 = q0; p0 < q1; p0 += 16) {
    const int64_t n = std::min<int64_t>(16, q1 - p0);
    const __mmask16 positions = static_cast<__mmask16>((1u << n) - 1);
    for (int v = 0; v < NV; v++)
      transpose16(stage + (p0 - q0) * kBlock + v * kLanes, yb + v * kLanes * p.P + p0, p.P, positions,
                  static_cast<int>(std::min<int64_t>(kLanes, rows - v * kLanes)));
  }
}

// Every output channel of positions [q0, q1) of one image (x as the plan's offsets see it);
// `ahead` is prefetched meanwhile (see channelBlock).
LATHE_CONV_TARGET void channelImage(const ChannelPlan& p, const float* x, float* y, int64_t q0, int64_t q1,
                                    const char* ahead, int64_t aheadBytes) {
  thread_local std::vector<float> stageBuf;
  stageBuf.resize((q1 - q0 + 32) * kBlock);
  for (int64_t b = 0; b < p.blocks; b++) {
    const int64_t rows = std::min<int64_t>(kBlock, p.O - b * kBlock);
    switch ((rows + kLanes - 1) / kLanes) {
      case 1: channelBlock<1>(p, x, y, b, stageBuf.data(), q0, q1, ahead, b == 0 ? aheadBytes : 0); break;
      case 2: channelBlock<2>(p, x, y, b, stageBuf.data(), q0, q1, ahead, b == 0 ? aheadBytes : 0); break;
      case 3: channelBlock<3>(p, x, y, b, stageBuf.data(), q0, q1, ahead, b == 0 ? aheadBytes : 0); break;
      default: channelBlock<4>(p, x, y, b, stageBuf.data(), q0, q1, ahead, b == 0 ? aheadBytes : 0); break;
    }
  }
}

ChannelPlan makePlan(const Conv2dShape& s, const float* w, const float* bias, int act) {
  ChannelPlan p;
  p.K = s.Cg * s.KH * s.KW;
  p.O = s.O;
  p.P = s.OH * s.OW;
  p.blocks = (s.O + kBlock - 1) / kBlock;
  p.relu = act == 1;
  const int64_t Wp = conv_direct::pitch(s);
  p.koff = conv_direct::reductionOffsets(s);
  p.poff.resize(p.P + 12);
  for (int64_t i = 0; i < p.P + 12; i++) {
    const int64_t q = std::min(i, p.P - 1), oh = q / s.OW, ow = q % s.OW;
    p.poff[i] = static_cast<int32_t>(oh * s.sh * Wp + ow * s.sw);
  }
  conv_direct::blockWeights(w, bias, s.O, p.K, kBlock, p.weights, p.bias);
  return p;
}

}  // namespace

bool conv2dChannelsTakes(const Conv2dShape& s) {
  static const bool avx512 = conv_direct::cpuHasAvx512Fma();
  if (!avx512 || s.groups != 1 || s.OH * s.OW <= 0 || s.O <= 0) return false;
  // The image is read by scalar broadcasts all over it for every tile: it must stay in L2.
  const int64_t image = s.Cg * std::max(s.H * s.W, conv_direct::rowsRead(s) * conv_direct::colsRead(s));
  return image <= kMaxImageFloats;
}

void conv2dChannels(const float* x, const float* w, const float* bias, int act, float* y, const Conv2dShape& s,
                    ThreadPool& pool, const PoolAfter* after) {
  const ChannelPlan plan = makePlan(s, w, bias, act);
  const bool padded = conv_direct::needsPadding(s);
  const int64_t inSize = s.C * s.H * s.W, outSize = s.O * plan.P;
  // Images come in groups of kGroup per task, so each thread knows its next image and brings it
  // into L2 while computing this one (at batch 256 the input no longer waits in cache: 87 against
  // 102 GFLOP/s at batch 32 before). Small groups keep the claiming dynamic, which a machine
  // shared with other work needs.
  constexpr int64_t kGroup = 4;
  auto part = [&](int64_t n, int64_t q0, int64_t q1, bool prefetchNext) {
    const float* src = x + n * inSize;
    const bool ahead = prefetchNext && !padded;
    if (padded) {
      thread_local std::vector<float> buf;
      buf.resize(s.Cg * conv_direct::rowsRead(s) * conv_direct::colsRead(s));
      conv_direct::padImage(src, buf.data(), s);
      src = buf.data();
    }
    float* dst = convImageOutput(y, n, outSize, after);
    channelImage(plan, src, dst, q0, q1, reinterpret_cast<const char*>(x + (n + 1) * inSize),
                 ahead ? sizeof(float) * inSize : 0);
    if (act >= 2)
      for (int64_t o = 0; o < s.O; o++) conv_direct::activateRows(dst + o * plan.P + q0, q1 - q0, act);
    if (after) poolImage(dst, n, *after, pool);  // only on the per-image branch: q0..q1 is the whole image
  };
  // Images spread over the pool; a batch smaller than the pool splits each image's positions
  // (in runs of 16, the transposes' width) instead.
  if (s.N >= pool.size()) {
    const int64_t groups = std::max<int64_t>(pool.size(), (s.N + kGroup - 1) / kGroup);
    pool.run(groups, [&](int64_t g) {
      const int64_t n0 = s.N * g / groups, n1 = s.N * (g + 1) / groups;
      for (int64_t n = n0; n < n1; n++) part(n, 0, plan.P, n + 1 < n1);
    });
  } else {
    for (int64_t n = 0; n < s.N; n++)
      pool.parallelFor((plan.P + 15) / 16, 1, [&](int64_t g0, int64_t g1) { part(n, g0 * 16, std::min(plan.P, g1 * 16), false); });
  }
}

}  // namespace lathe

#else

namespace lathe {
bool conv2dChannelsTakes(const Conv2dShape&) { return false; }
void conv2dChannels(const float*, const float*, const float*, int, float*, const Conv2dShape&, ThreadPool&, const PoolAfter*) {}
}  // namespace lathe

#endif
