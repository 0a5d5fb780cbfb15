// The pooled convolution's register tile (conv_pooled.h), written once against a vector-traits
// class S and compiled per ISA: each ISA file defines LATHE_POOLED_TARGET and includes this
// inside an anonymous namespace of its own, as conv_direct_kernel.h is.
//
// S provides: V (a vector of W floats), zero(), loadu, storeu, bcast(p), fma(a, b, c), add,
// relu (max(0, v) that keeps NaN), poolStep(best, v) (max pooling's rule, conv.cc's `takes`,
// lane by lane: v when larger, or when NaN and best is not) and transpose(src, lds, rows,
// cols, dst, ldd) (dst[j * ldd + i] = src[i * lds + j]).
#ifndef LATHE_POOLED_TARGET
#error "define LATHE_POOLED_TARGET before including conv_pooled_kernel.h"
#endif

// The pooled 2W channels of block w/bias at the window whose first conv position reads x + at.
// The sums run k = 0..K-1 from zero with the bias added after, as conv_direct's tile does, so
// every conv output is the same float.
template <class S>
LATHE_POOLED_TARGET void windowTile(const conv_pooled::Plan& p, const float* x, int64_t at, const float* w,
                                    const float* bias, float* out) {
  using V = typename S::V;
  constexpr int W = S::W;
  // Every loop over the accumulators fully unrolled: indexed at run time they would live in
  // memory, stored on every reduction step.
  V acc[4][2];
#pragma GCC unroll 4
  for (int i = 0; i < 4; i++) acc[i][0] = acc[i][1] = S::zero();
  const float* cell[4];
#pragma GCC unroll 4
  for (int i = 0; i < 4; i++) cell[i] = x + at + p.cell[i];
  const int32_t* koff = p.koff.data();
  const int64_t K = p.K;
  for (int64_t k = 0; k < K; k++, w += 2 * W) {
    const V w0 = S::loadu(w), w1 = S::loadu(w + W);
    const int32_t ko = koff[k];
#pragma GCC unroll 4
    for (int i = 0; i < 4; i++) {
      const V v = S::bcast(cell[i] + ko);
      acc[i][0] = S::fma(w0, v, acc[i][0]);
      acc[i][1] = S::fma(w1, v, acc[i][1]);
    }
  }
  const bool relu = p.relu;
#pragma GCC unroll 2
  for (int h = 0; h < 2; h++) {
    const V b = S::loadu(bias + h * W);
    V best = S::zero();
#pragma GCC unroll 4
    for (int i = 0; i < 4; i++) {
      V o = S::add(acc[i][h], b);
      if (relu) o = S::relu(o);
      best = i == 0 ? o : S::poolStep(best, o);
    }
    S::storeu(out + h * W, best);
  }
}

// Pooled rows [r0, r1) of one image into its NCHW output y: block by block, the pooled vectors
// position-major into a small stage that the transpose turns into the block's planes.
template <class S>
LATHE_POOLED_TARGET void pooledRows(const conv_pooled::Plan& p, const float* x, float* y, int64_t r0, int64_t r1) {
  constexpr int64_t B = 2 * S::W;
  const int64_t Q = p.PH * p.PW, q0 = r0 * p.PW, q1 = r1 * p.PW;
  thread_local std::vector<float> stage;  // [q1 - q0][B]: one block's pooled channels, position-major
  stage.resize((q1 - q0) * B);
  for (int64_t b = 0; b < p.blocks; b++) {
    const float* w = p.weights.data() + b * p.K * B;
    const float* bias = p.bias.data() + b * B;
    for (int64_t r = r0; r < r1; r++)
      for (int64_t c = 0; c < p.PW; c++)
        windowTile<S>(p, x, r * p.rowStep + c * p.colStep, w, bias, stage.data() + (r * p.PW + c - q0) * B);
    const int64_t channels = std::min<int64_t>(B, p.O - b * B);
    S::transpose(stage.data(), B, q1 - q0, channels, y + b * B * Q + q0, Q);
  }
}
