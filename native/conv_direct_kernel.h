// The direct convolution's register tile, written once against a vector-traits class S and
// compiled per ISA: each ISA file defines LATHE_CONV_TARGET (its target attribute, or nothing)
// and includes this inside an anonymous namespace of its own, so an AVX-512 copy is never
// linked into a baseline caller.
//
// S provides: V (a vector of W floats), M (a lane mask), zero(), bcast(p), fma(a, b, c), add,
// relu (max(0, v) that keeps NaN), mask(lo, hi) (lanes lo..hi-1), orMask, loadz(m, p) (masked
// lanes from p + lane, zero elsewhere), loadMerge(v, m, p) (the same into v's other lanes),
// store(p, m, v), and loadu/storeu for whole vectors.
#ifndef LATHE_CONV_TARGET
#error "define LATHE_CONV_TARGET before including conv_direct_kernel.h"
#endif

// R output channels (block b) x NV vectors of positions from v0, the accumulators in registers
// for the whole reduction. Each reduction step builds the NV input vectors (one masked load per
// row segment: the "im2col row" of those positions, never stored) and broadcasts R weights.
// FULL: every vector lies inside one output row, so plain loads and stores do (AVX2's masked
// moves are slow on AMD; a masked store took 2x the time of the whole tile's FMAs). A vector
// that spans rows still fills all its lanes (only a plane's last one falls short): it is stored
// plainly too.
template <class S, int R, int NV, int NSEG, bool FULL>
LATHE_CONV_TARGET void directTile(const conv_direct::Plan& p, const float* x, float* y, int64_t b, int64_t v0) {
  using V = typename S::V;
  using M = typename S::M;
  constexpr int W = S::W;
  M m[NV][NSEG], out[NV];
  const float* base[NV][NSEG];
  bool whole[NV];  // every lane is an output position: a vector spanning two rows stores plainly
  for (int v = 0; v < NV; v++) {
    out[v] = S::mask(0, 0);
    int lanes = 0;
    for (int s = 0; s < NSEG; s++) {
      const conv_direct::Segment& seg = p.segs[(v0 + v) * p.segments + s];
      m[v][s] = S::mask(seg.lo, seg.hi);
      base[v][s] = x + seg.off;
      out[v] = S::orMask(out[v], m[v][s]);
      lanes += seg.hi - seg.lo;
    }
    whole[v] = lanes == W;
  }
  const int32_t* koff = p.koff.data();
  const float* w = p.weights.data() + b * p.K * R;
  V acc[R][NV];
#pragma GCC unroll 32
  for (int r = 0; r < R; r++)
#pragma GCC unroll 4
    for (int v = 0; v < NV; v++) acc[r][v] = S::zero();
  for (int64_t k = 0; k < p.K; k++, w += R) {
    const int32_t ko = koff[k];
    V in[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; v++) {
      if constexpr (FULL) {
        in[v] = S::loadu(base[v][0] + ko);
      } else {
        in[v] = S::loadz(m[v][0], base[v][0] + ko);
#pragma GCC unroll 4
        for (int s = 1; s < NSEG; s++) in[v] = S::loadMerge(in[v], m[v][s], base[v][s] + ko);
      }
    }
#pragma GCC unroll 32
    for (int r = 0; r < R; r++) {
      const V bw = S::bcast(w + r);
#pragma GCC unroll 4
      for (int v = 0; v < NV; v++) acc[r][v] = S::fma(bw, in[v], acc[r][v]);
    }
  }
  // The bias after the sum, as the im2col path adds it, so both round alike.
  const int rows = static_cast<int>(p.O - b * R < R ? p.O - b * R : R);
  const float* bias = p.bias.data() + b * R;
  float* yb = y + b * R * p.P + v0 * W;
#pragma GCC unroll 32
  for (int r = 0; r < R; r++) {
    if (r >= rows) break;
    const V bb = S::bcast(bias + r);
#pragma GCC unroll 4
    for (int v = 0; v < NV; v++) {
      V o = S::add(acc[r][v], bb);
      if (p.relu) o = S::relu(o);
      if (FULL || whole[v]) S::storeu(yb + r * p.P + v * W, o);
      else S::store(yb + r * p.P + v * W, out[v], o);
    }
  }
}

// Channel blocks [b0, b1) of one image, each swept tile by tile along its R output planes.
// Block by block, not tile by tile across all blocks: R planes written at once instead of
// every channel's, which the cache and its prefetchers follow far better once the output
// outgrows the cache (MNIST's first conv at batch 256, one thread: 2.1 against 3.0 ms).
template <class S, int R, int NV, int NSEG>
LATHE_CONV_TARGET void directBlocks(const conv_direct::Plan& p, const float* x, float* y, int64_t b0, int64_t b1) {
  static_assert(NV >= 1 && NV <= 4, "the ragged last tile below covers up to 3 vectors");
  for (int64_t b = b0; b < b1; b++) {
    int64_t v0 = 0;
    for (; v0 + NV <= p.vectors; v0 += NV) {
      bool full = true;
      for (int v = 0; v < NV; v++) full = full && p.full[v0 + v];
      if (full) directTile<S, R, NV, 1, true>(p, x, y, b, v0);
      else directTile<S, R, NV, NSEG, false>(p, x, y, b, v0);
    }
    const int64_t rest = p.vectors - v0;
    if constexpr (NV > 1) if (rest == 1) directTile<S, R, 1, NSEG, false>(p, x, y, b, v0);
    if constexpr (NV > 2) if (rest == 2) directTile<S, R, 2, NSEG, false>(p, x, y, b, v0);
    if constexpr (NV > 3) if (rest == 3) directTile<S, R, 3, NSEG, false>(p, x, y, b, v0);
  }
}

template <class S, int R, int NV>
LATHE_CONV_TARGET void directImage(const conv_direct::Plan& p, const float* x, float* y, int64_t b0, int64_t b1) {
  switch (p.segments) {
    case 1: return directBlocks<S, R, NV, 1>(p, x, y, b0, b1);
    case 2: return directBlocks<S, R, NV, 2>(p, x, y, b0, b1);
    case 3: return directBlocks<S, R, NV, 3>(p, x, y, b0, b1);
    default: return directBlocks<S, R, NV, 4>(p, x, y, b0, b1);
  }
}
