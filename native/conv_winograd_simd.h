// Winograd F(2x2, 3x3), channels-last inside, written against a small vector-traits class V
// (conv_winograd_avx512.cc: 16 lanes, conv_winograd_avx2.cc: 8). Per group of images: the input
// transform V = B^T d B of every 4x4 input block, 16 GEMMs M = V U over the input channels
// (U = G g G^T, the weights transformed once per call), and the output transform Y = A^T M A
// with bias and activation. The transforms run on vectors of channels, so every load and store
// is a whole vector; the image goes channels-last on the way in and back to NCHW on the way out
// through V::transpose. Included by one ISA file each, after it defines LATHE_WINOGRAD_TARGET;
// everything sits in an anonymous namespace so each ISA's copy stays private to its file.
#ifndef LATHE_WINOGRAD_TARGET
#error "define LATHE_WINOGRAD_TARGET before including conv_winograd_simd.h"
#endif
#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "conv_direct.h"
#include "conv_winograd.h"
#include "gemm/gemm.h"

namespace lathe {
namespace {

// F(2x2, 3x3): 16 products for 4 outputs against the direct conv's 36. F(4x4, 3x3) (36 for 16)
// ran MNIST's second conv 1.3x faster again, but its transforms' coefficients (up to 8 and 1/24)
// cost it 10-20x the rounding error: 1.7e-5 of the output's scale on random data, against 1.3e-6.
constexpr int kM = 2, kN = kM + 2, kXi = kN * kN;
// Images per group: enough block rows for the GEMMs to fill their tiles (36 per MNIST image),
// with V and M of a group within this many floats (512 KB, half of Zen 4's L2) so they stay in
// cache between the phases (1, 2 or 4 images measured alike on MNIST).
constexpr int64_t kMaxGroupImages = 4;
constexpr int64_t kMaxGroupFloats = 1 << 17;
// A group's 16 products are spread over the pool (when there are fewer groups than threads)
// only from this many flops each: below it, moving V and M between the cores costs more than
// the product (see winogradRun).
constexpr double kSpreadMinProductFlops = 1.0e6;

inline int64_t roundUp(int64_t a, int64_t b) { return (a + b - 1) / b * b; }

struct Geometry {
  int64_t C, O, H, W, OH, OW, ph, pw;
  int64_t Cp, Op;     // channels rounded up to whole vectors
  int64_t TH, TW, T;  // m x m output blocks down, across, and per image
  int64_t Hp, Wp;     // the zero-padded input every block reads inside: m*TH+2 x m*TW+2
};

template <typename V>
Geometry geometryOf(const Conv2dShape& s) {
  Geometry g{s.C, s.O, s.H, s.W, s.OH, s.OW, s.ph, s.pw, roundUp(s.C, V::kLanes), roundUp(s.O, V::kLanes),
             (s.OH + kM - 1) / kM, (s.OW + kM - 1) / kM, 0, 0, 0};
  g.T = g.TH * g.TW;
  g.Hp = kM * g.TH + 2;
  g.Wp = kM * g.TW + 2;
  return g;
}

int64_t groupImages(const Geometry& g) { return std::min(kMaxGroupImages, kMaxGroupFloats / (kXi * (g.Cp + g.Op) * g.T)); }

// The distance between V's (or M's) matrices, in floats: a multiple of 4 KB plus one cache line.
// The transforms touch all 36 at once; 4 KB apart they would share one set of the L1 cache and
// evict each other on every access (measured 8x slower on F(2x2)'s output transform).
int64_t matrixStride(int64_t floats) { return roundUp(floats, 1024) + 16; }

// G x for the three values x of a kernel column (or a row of G g), a vector of kernels at a time
// in double: G = [1 0 0; .5 .5 .5; .5 -.5 .5; 0 0 1].
template <typename V, typename D = typename V::D>
LATHE_WINOGRAD_TARGET inline void gColumn(D x0, D x1, D x2, D u[kN]) {
  const D half = V::dset(0.5);
  u[0] = x0;
  u[1] = V::dmul(V::dadd(V::dadd(x0, x1), x2), half);
  u[2] = V::dmul(V::dadd(V::dsub(x0, x1), x2), half);
  u[3] = x2;
}

// G g G^T for a vector of kernels, k[t] holding tap t of each (t = 3 * row + column).
template <typename V, typename D = typename V::D>
LATHE_WINOGRAD_TARGET inline void transformKernels(const D k[9], D u[kXi]) {
  D gg[kN][3];  // G g, column by column
  for (int j = 0; j < 3; j++) {
    D col[kN];
    gColumn<V>(k[j], k[3 + j], k[6 + j], col);
    for (int i = 0; i < kN; i++) gg[i][j] = col[i];
  }
  for (int i = 0; i < kN; i++) gColumn<V>(gg[i][0], gg[i][1], gg[i][2], u + i * kN);
}

// U's entries for input channel c, a vector of output channels at a time, from the taps laid out
// [C * 9][O] (taps[(c * 9 + t) * O + o]): loads and stores are whole vectors along o.
template <typename V, typename D = typename V::D>
LATHE_WINOGRAD_TARGET void transformChannel(const float* taps, const Geometry& g, int64_t c, float* U, int64_t uStride) {
  for (int64_t o = 0; o < g.O; o += V::kLanes) {
    const int64_t n = std::min<int64_t>(V::kLanes, g.O - o);
    D lo[9], hi[9];
    for (int t = 0; t < 9; t++) V::widen(V::loadN(taps + (c * 9 + t) * g.O + o, n), lo[t], hi[t]);
    D ulo[kXi], uhi[kXi];
    transformKernels<V>(lo, ulo);
    transformKernels<V>(hi, uhi);
    for (int xi = 0; xi < kXi; xi++) V::storeN(U + xi * uStride + c * g.Op + o, V::narrow(ulo[xi], uhi[xi]), n);  // rounded to float once
  }
}

// U[xi] (uStride floats apart) [c][o] = (G g G^T)[xi] for the 3x3 kernel g = w[o][c], rows
// c >= C zero; computed in double and rounded to float once. The weights go [O][C * 9] ->
// [C * 9][O] first, so the transform runs on vectors of output channels; spread over the
// pool by input channel. One kernel at a time, scalar, it was the largest part of a single
// image's conv (MNIST's conv2: 18% of its samples against the GEMMs' 16%).
template <typename V>
void transformWeights(const float* w, const Geometry& g, float* U, int64_t uStride, ThreadPool& pool) {
  std::vector<float> taps(static_cast<size_t>(g.C * 9 * g.O));
  V::transpose(w, g.C * 9, g.O, g.C * 9, taps.data(), g.O);
  pool.parallelFor(g.Cp, 4, [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; c++) {
      if (c >= g.C) {
        for (int xi = 0; xi < kXi; xi++) std::memset(U + xi * uStride + c * g.Op, 0, sizeof(float) * g.Op);
        continue;
      }
      transformChannel<V>(taps.data(), g, c, U, uStride);
    }
  });
}

// The transformed weights of the last few convs the calling thread ran, each beside a copy of
// the weights it came from: a call whose weights equal a copy byte for byte reuses its U, so a
// served model transforms each conv's weights once (the transform and its transpose had been
// ~5% of the perf samples of MNIST's CNN at one image, one thread). Weights changed in place (Adam's fused step) or new ones at a reused
// address differ from the copy and are transformed again; training pays a memcmp that stops at
// the first changed byte, and a copy. Up to kPreparedSlots convs a thread, of at most
// kMaxPreparedWeights floats each (U is ~1.8x that); larger ones are transformed on every call.
struct Prepared {
  int64_t C = 0, O = 0;  // 0: an empty slot (or the scratch one), which no call matches
  std::vector<float> weights, U;
};
constexpr int kPreparedSlots = 4;
constexpr int64_t kMaxPreparedWeights = 256 * 1024;

template <typename V>
const float* preparedWeights(const float* w, const Geometry& g, int64_t uStride, ThreadPool& pool) {
  thread_local Prepared slots[kPreparedSlots], scratch;
  thread_local int next = 0;
  const int64_t n = g.O * g.C * 9;
  for (const Prepared& p : slots)
    if (p.C == g.C && p.O == g.O && std::memcmp(p.weights.data(), w, sizeof(float) * n) == 0) return p.U.data();
  const bool keep = n <= kMaxPreparedWeights;
  Prepared& p = keep ? slots[next] : scratch;
  if (keep) {
    next = (next + 1) % kPreparedSlots;
    p.weights.assign(w, w + n);
  }
  p.C = keep ? g.C : 0;
  p.O = keep ? g.O : 0;
  p.U.resize(kXi * uStride);
  transformWeights<V>(w, g, p.U.data(), uStride, pool);
  return p.U.data();
}

// B^T d for one column of 4 input vectors, B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1].
template <typename V, typename F = typename V::F>
LATHE_WINOGRAD_TARGET inline void inputRows(const F d[kN], F o[kN]) {
  o[0] = V::sub(d[0], d[2]);
  o[1] = V::add(d[1], d[2]);
  o[2] = V::sub(d[2], d[1]);
  o[3] = V::sub(d[1], d[3]);
}

// A^T m for one column of 4 vectors, A^T = [1 1 1 0; 0 1 -1 -1].
template <typename V, typename F = typename V::F>
LATHE_WINOGRAD_TARGET inline void outputRows(const F m[kN], F y[kM]) {
  y[0] = V::add(V::add(m[0], m[1]), m[2]);
  y[1] = V::sub(V::sub(m[1], m[2]), m[3]);
}

// V[xi][t0 + block][c] for every block of one channels-last padded image xc [Hp * Wp][Cp].
template <typename V, typename F = typename V::F>
LATHE_WINOGRAD_TARGET void inputTransform(const float* xc, float* Vt, const Geometry& g, int64_t t0, int64_t step) {
  for (int64_t th = 0; th < g.TH; th++)
    for (int64_t tw = 0; tw < g.TW; tw++) {
      const float* base = xc + (kM * th * g.Wp + kM * tw) * g.Cp;
      float* v = Vt + (t0 + th * g.TW + tw) * g.Cp;
      for (int64_t c = 0; c < g.Cp; c += V::kLanes) {
        F rows[kN][kN];  // (B^T d)[i][b]
        for (int b = 0; b < kN; b++) {
          F d[kN], o[kN];
          for (int a = 0; a < kN; a++) d[a] = V::load(base + (a * g.Wp + b) * g.Cp + c);
          inputRows<V>(d, o);
          for (int i = 0; i < kN; i++) rows[i][b] = o[i];
        }
        for (int i = 0; i < kN; i++) {
          F o[kN];
          inputRows<V>(rows[i], o);
          for (int j = 0; j < kN; j++) V::store(v + (i * kN + j) * step + c, o[j]);
        }
      }
    }
}

// One block's 2x2 outputs for the channel vector at o, from its 16 products m (step floats
// apart): (A^T m A) + bias b, relu in registers when asked.
template <typename V, typename F = typename V::F>
LATHE_WINOGRAD_TARGET inline void blockOutputs(const float* m, int64_t step, int64_t o, F b, bool relu, F out[kM][kM]) {
  F half[kM][kN];  // (A^T m)[i][b]
  for (int col = 0; col < kN; col++) {
    F v[kN], y[kM];
    for (int a = 0; a < kN; a++) v[a] = V::load(m + (a * kN + col) * step + o);
    outputRows<V>(v, y);
    for (int i = 0; i < kM; i++) half[i][col] = y[i];
  }
  for (int i = 0; i < kM; i++) {
    F y[kM];
    outputRows<V>(half[i], y);
    for (int j = 0; j < kM; j++) {
      out[i][j] = V::add(y[j], b);
      if (relu) out[i][j] = V::max(V::zero(), out[i][j]);  // zero first: NaN stays NaN, as in the other conv paths
    }
  }
}

// One image's outputs, channels-last into stage [OH * OW][Op]: (A^T m A) + bias per block, relu
// in registers (other activations after, by the caller); blocks past the edge are cut.
template <typename V, typename F = typename V::F>
LATHE_WINOGRAD_TARGET void outputTransform(const float* M, const float* bias, bool relu, float* stage, const Geometry& g,
                                           int64_t t0, int64_t step) {
  for (int64_t th = 0; th < g.TH; th++)
    for (int64_t tw = 0; tw < g.TW; tw++) {
      const float* m = M + (t0 + th * g.TW + tw) * g.Op;
      const int64_t rows = std::min<int64_t>(kM, g.OH - kM * th), cols = std::min<int64_t>(kM, g.OW - kM * tw);
      for (int64_t o = 0; o < g.Op; o += V::kLanes) {
        const F b = bias ? V::loadN(bias + o, std::min<int64_t>(V::kLanes, g.O - o)) : V::zero();
        F out[kM][kM];
        blockOutputs<V>(m, step, o, b, relu, out);
        for (int i = 0; i < rows; i++)
          for (int j = 0; j < cols; j++) V::store(stage + ((kM * th + i) * g.OW + kM * tw + j) * g.Op + o, out[i][j]);
      }
    }
}

// Max pooling's rule (conv.cc's `takes`), lane by lane: v replaces the running best when larger,
// or when NaN and best is not, so the first NaN in a window wins.
template <typename V, typename F = typename V::F>
LATHE_WINOGRAD_TARGET inline F poolStep(F best, F v) {
  return V::select(V::orMask(V::greater(v, best), V::andMask(V::isNan(v), V::notNan(best))), v, best);
}

// Whether the pooling after the conv is 2x2 windows at stride 2 without padding: then each
// Winograd output block is one pooling window (both start at (0, 0) and step by 2), and a
// block's four outputs are pooled in registers. A sigmoid or tanh runs after the transform, so
// only linear and relu qualify.
bool poolsInBlocks(const Conv2dShape& s, const PoolAfter* after, int act) {
  if (!after || act > 1) return false;
  const Pool2dShape& p = after->shape;
  return p.KH == 2 && p.KW == 2 && p.sh == 2 && p.sw == 2 && p.ph == 0 && p.pw == 0 && p.OH == s.OH / 2 && p.OW == s.OW / 2;
}

// One image's pooled outputs, channels-last into stage [TH * TW][Op], g's blocks being those
// inside the pooled extent (the floor of half the output; see winogradRun): each block's
// (A^T m A) + bias, relu, then the max of its four outputs in row-major order, as max pooling
// takes them.
template <typename V, typename F = typename V::F>
LATHE_WINOGRAD_TARGET void pooledOutputTransform(const float* M, const float* bias, bool relu, float* stage, const Geometry& g,
                                                 int64_t t0, int64_t step) {
  for (int64_t th = 0; th < g.TH; th++)
    for (int64_t tw = 0; tw < g.TW; tw++) {
      const float* m = M + (t0 + th * g.TW + tw) * g.Op;
      for (int64_t o = 0; o < g.Op; o += V::kLanes) {
        const F b = bias ? V::loadN(bias + o, std::min<int64_t>(V::kLanes, g.O - o)) : V::zero();
        F out[kM][kM];
        blockOutputs<V>(m, step, o, b, relu, out);
        F best = out[0][0];
        for (int i = 0; i < kM; i++)
          for (int j = i == 0 ? 1 : 0; j < kM; j++) best = poolStep<V>(best, out[i][j]);
        V::store(stage + (th * g.TW + tw) * g.Op + o, best);
      }
    }
}

// 3x3, stride 1, dilation 1, one group; enough channels for the GEMMs to run near peak (at
// least 16 in and out), and a group of at least one image within kMaxGroupFloats.
template <typename V>
bool winogradTakes(const Conv2dShape& s) {
  if (s.KH != 3 || s.KW != 3 || s.sh != 1 || s.sw != 1 || s.dh != 1 || s.dw != 1 || s.groups != 1) return false;
  if (s.C < 16 || s.O < 16 || s.OH < 1 || s.OW < 1) return false;
  return groupImages(geometryOf<V>(s)) >= 1;
}

template <typename V>
void winogradRun(const float* x, const float* w, const float* bias, int act, float* y, const Conv2dShape& s,
                 ThreadPool& pool, const PoolAfter* after) {
  const bool pooled = poolsInBlocks(s, after, act);
  Geometry g = geometryOf<V>(s);
  if (pooled) {
    // Only the blocks inside the pooled extent are transformed, multiplied and pooled: with an
    // odd output the last block row and column would feed no pooling window (MNIST's conv2, 11x11
    // out, 5x5 pooled: 25 blocks an image instead of 36). xc keeps the full padded size.
    g.TH = after->shape.OH;
    g.TW = after->shape.OW;
    g.T = g.TH * g.TW;
  }
  const int64_t uStride = matrixStride(g.Cp * g.Op);
  // The calling thread's (a pointer: the tasks below run on workers, whose slots are their own).
  const float* const U = preparedWeights<V>(w, g, uStride, pool);
  const int64_t G = groupImages(g), groups = (s.N + G - 1) / G;
  const int64_t inSize = g.C * g.H * g.W, P = g.OH * g.OW, outSize = g.O * P;
  // Fewer groups than threads (a single image, when serving): the groups run one by one and
  // each spreads its 16 GEMMs over the pool, each thread keeping its share of U in its cache,
  // when the products are large enough to pay for moving V to the other threads and M back.
  // MNIST's conv2 for one or two images (products of 25-50 x 64 x 32) is not: its CNN's predict
  // at batch 1, medians of alternating blocks in one process on the 2-vCPU Zen 5, 67 -> 62 us
  // without spreading (59 with the first conv's rows not split either), batch 2 81 -> 69.
  const bool fewGroups = groups < pool.size();
  auto group = [&](int64_t grp) {
    const int64_t n0 = grp * G, images = std::min(G, s.N - n0), GT = images * g.T;
    const bool spreadProducts = fewGroups && 2.0 * GT * g.O * g.Cp >= kSpreadMinProductFlops;
    const int64_t vStride = matrixStride(GT * g.Cp), mStride = matrixStride(GT * g.Op);
    thread_local std::vector<float> xc, pixels, Vbuf, Mbuf, stage;
    xc.assign(g.Hp * g.Wp * g.Cp, 0.0f);  // the padding, and channels past C, stay zero
    if (g.Cp == g.C) pixels.resize(g.H * g.W * g.Cp);  // every entry written below
    else pixels.assign(g.H * g.W * g.Cp, 0.0f);         // channels past C stay zero
    Vbuf.resize(kXi * vStride);
    Mbuf.resize(kXi * mStride);
    stage.resize(P * g.Op);
    float *const Vt = Vbuf.data(), *const M = Mbuf.data();  // pointers: workers running the products have their own Vbuf
    for (int64_t i = 0; i < images; i++) {
      // The whole image [C][H * W] -> [H * W][Cp] in one transpose, then its rows into the
      // padded xc. Row by row ([C][W] each) the transpose's blocks covered only W / 8 of W's
      // columns and the rest went element by element, missing cache as they read the image
      // (MNIST's conv2, W = 13: 9% of the CNN's time at batch 32).
      V::transpose(x + (n0 + i) * inSize, g.H * g.W, g.C, g.H * g.W, pixels.data(), g.Cp);
      const int64_t rows = std::min(g.H, g.Hp - g.ph), cols = std::min(g.W, g.Wp - g.pw);
      for (int64_t h = 0; h < rows; h++)
        std::memcpy(xc.data() + ((h + g.ph) * g.Wp + g.pw) * g.Cp, pixels.data() + h * g.W * g.Cp, sizeof(float) * cols * g.Cp);
      inputTransform<V>(xc.data(), Vt, g, i * g.T, vStride);
    }
    // M[xi] [GT x O] = V[xi] [GT x Cp] x U[xi] [Cp x O], each on one thread.
    auto product = [&](int64_t xi) {
      sgemm(false, false, GT, g.O, g.Cp, Vt + xi * vStride, g.Cp, U + xi * uStride, g.Op, M + xi * mStride, g.Op, false, nullptr);
    };
    if (spreadProducts) pool.run(kXi, product);
    else
      for (int xi = 0; xi < kXi; xi++) product(xi);
    for (int64_t i = 0; i < images; i++) {
      if (pooled) {  // pooled in the blocks, channels-last; only the pooled output is transposed
        pooledOutputTransform<V>(M, bias, act == 1, stage.data(), g, i * g.T, mStride);
        V::transpose(stage.data(), g.Op, g.T, g.O, after->y + (n0 + i) * g.O * g.T, g.T);
        continue;
      }
      float* yn = convImageOutput(y, n0 + i, outSize, after);
      outputTransform<V>(M, bias, act == 1, stage.data(), g, i * g.T, mStride);
      V::transpose(stage.data(), g.Op, P, g.O, yn, P);
      if (act >= 2) conv_direct::activateRows(yn, outSize, act);
      if (after) poolImage(yn, n0 + i, *after, pool);
    }
  };
  if (fewGroups)
    for (int64_t grp = 0; grp < groups; grp++) group(grp);
  else
    pool.run(groups, group);
}

}  // namespace
}  // namespace lathe
