// quantizedConvBlocks (quantized.h): a CNN's quantized conv-pool blocks with the pooled int8
// tile, each image's pooled output kept channels-last between blocks (no transposes), and only
// the last block's transposed to NCHW.
#include <algorithm>
#include <array>
#include <limits>
#include <vector>

#include "quantized.h"
#include "quantized_conv_image.h"

namespace lathe {

namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

// The calling thread's buffers for the blocks' whole-batch outputs, kept between calls up to 16
// MB each: fresh pages cost more than the work (MNIST's CNN at batch 32, dynamic: 240 -> 212 us),
// and a batch of thousands must not pin its buffers for good.
class Scratch {
 public:
  std::vector<float>& operator[](int i) { return kept()[i]; }
  ~Scratch() {
    for (std::vector<float>& b : kept())
      if (b.capacity() * sizeof(float) > (size_t(16) << 20)) std::vector<float>().swap(b);
  }

 private:
  static std::array<std::vector<float>, 2>& kept() {
    thread_local std::array<std::vector<float>, 2> buffers;
    return buffers;
  }
};

// Block after block over the batch, each with quantizedConv2d and its pool (NCHW in between):
// where the pooled tile does not run.
void blockByBlock(const float* x, int64_t N, const QConvBlock* blocks, int count, const QuantParams& first, float* y, ThreadPool& pool) {
  Scratch outputs;
  const float* in = x;
  for (int k = 0; k < count; k++) {
    const QConvBlock& b = blocks[k];
    Conv2dShape s = b.s;
    s.N = N;
    std::vector<float>& next = outputs[k % 2];
    if (k + 1 < count) next.resize(static_cast<size_t>(N * s.O * b.pool.OH * b.pool.OW));
    const PoolAfter after{b.pool, k + 1 < count ? next.data() : y};
    quantizedConv2d(in, s, k == 0 ? &first : b.input, *b.w, b.wScale, b.bias, b.act, nullptr, pool, &after);
    in = after.y;
  }
}

// Image n's pooled output [PH * PW][O] transposed into y's image n, NCHW.
void storeImage(const float* pooled, const QConvBlock& last, int64_t n, float* y) {
  const int64_t pixels = last.pool.OH * last.pool.OW;
  qconv::transpose(pooled, last.s.O, pixels, last.s.O, y + n * pixels * last.s.O, pixels);
}

// The first block's input: float NCHW x, or raw uint8 pixels quantized through a RescaleTable.
struct FirstInput {
  const float* x;
  const RescaleTable* rescaled;

  // Image n, padded and channels-last, as paddedImage makes it.
  const uint8_t* image(int64_t n, const Conv2dShape& s, const QuantParams& p, std::vector<uint8_t>& buf, bool& bad) const {
    const int64_t size = s.C * s.H * s.W, Hp = s.H + 2 * s.ph, Wp = s.W + 2 * s.pw;
    if (x) return qconv::paddedImage(x + n * size, false, s, Hp, Wp, p, buf, bad);
    bad = false;
    return qconv::paddedImageLookup(rescaled->v + n * size, s, Hp, Wp, p.zeroPoint, rescaled->table, buf);
  }

  // The input as floats (x, or the rescaled pixels in storage): the general way takes those.
  const float* floats(std::vector<float>& storage) const {
    if (x) return x;
    storage = rescaled->floats();
    return storage.data();
  }
};

void runBlocks(const FirstInput& x0, int64_t N, const QConvBlock* blocks, int count, const QuantParams& first, float* y, ThreadPool& pool) {
  const Conv2dShape& s0 = blocks[0].s;
  std::vector<float> floats;  // x0 as floats, for blockByBlock
  // A dynamic block's scale is positive and finite, so 1 checks its weight scales alone; its
  // real scale is checked once the batch's range is known.
  bool covered = true, staticAfterFirst = true;
  for (int k = 0; k < count; k++) {
    const QConvBlock& b = blocks[k];
    covered = covered && qconv::pooledTileCovers(b.s, *b.w, b.pool, k == 0 ? first.scale : b.input ? b.input->scale : 1.0f, b.wScale);
    staticAfterFirst = staticAfterFirst && (k == 0 || b.input);
  }
  if (!covered) return blockByBlock(x0.floats(floats), N, blocks, count, first, y, pool);
  const QConvBlock& last = blocks[count - 1];
  const int64_t outSize = last.s.O * last.pool.OH * last.pool.OW;
  const bool perImage = N >= pool.size();  // as quantizedConv2d: else the tiles spread over the pool
  if (staticAfterFirst) {
    // Each image through every block on one thread, its pooled outputs staying in cache.
    auto image = [&](int64_t n) {
      thread_local std::vector<uint8_t> xqBuf;
      thread_local std::vector<float> pooled[2];
      const float* in = nullptr;
      for (int k = 0; k < count; k++) {
        const QConvBlock& b = blocks[k];
        const QuantParams& p = k == 0 ? first : *b.input;
        bool bad;
        const uint8_t* xq = k == 0 ? x0.image(n, b.s, p, xqBuf, bad)
                                   : qconv::paddedImage(in, true, b.s, b.s.H + 2 * b.s.ph, b.s.W + 2 * b.s.pw, p, xqBuf, bad);
        if (bad) {
          std::fill(y + n * outSize, y + (n + 1) * outSize, kNaN);
          return;
        }
        std::vector<float>& out = pooled[k % 2];
        out.resize(static_cast<size_t>(b.pool.OH * b.pool.OW * b.s.O));
        qconv::pooledConvImage(xq, b.s, p, *b.w, b.wScale, b.bias, b.act, b.pool, out.data(), perImage ? nullptr : &pool);
        in = out.data();
      }
      storeImage(in, last, n, y);
    };
    if (perImage) pool.run(N, image);
    else
      for (int64_t n = 0; n < N; n++) image(n);
    return;
  }
  // A later block quantizes dynamically, from its whole input's range: the batch goes through
  // block by block, each block's pooled outputs kept channels-last (an image whose input held a
  // NaN or infinity comes out all NaN, and NaN is left out of the next range, as block by block).
  Scratch outputs;
  const float* in = nullptr;
  int64_t inSize = s0.C * s0.H * s0.W;
  QuantParams dynamic{1.0f, 0};     // the next block's, when it quantizes dynamically
  std::vector<float> ranges(2 * N);  // each image's output range, taken while it is in cache
  for (int k = 0; k < count; k++) {
    const QConvBlock& b = blocks[k];
    const QuantParams p = k == 0 ? first : b.input ? *b.input : dynamic;
    const bool rangeNext = k + 1 < count && !blocks[k + 1].input;
    // A range so wide that a scale product overflows: the whole run again, block by block.
    if (!qconv::pooledTileCovers(b.s, *b.w, b.pool, p.scale, b.wScale)) {
      return blockByBlock(x0.floats(floats), N, blocks, count, first, y, pool);
    }
    const int64_t pooledSize = b.pool.OH * b.pool.OW * b.s.O;
    std::vector<float>& out = outputs[k % 2];
    out.resize(static_cast<size_t>(N * pooledSize));
    auto image = [&](int64_t n) {
      thread_local std::vector<uint8_t> xqBuf;
      bool bad;
      const uint8_t* xq = k == 0 ? x0.image(n, b.s, p, xqBuf, bad)
                                 : qconv::paddedImage(in + n * inSize, true, b.s, b.s.H + 2 * b.s.ph, b.s.W + 2 * b.s.pw, p, xqBuf, bad);
      float* o = out.data() + n * pooledSize;
      if (bad) std::fill(o, o + pooledSize, kNaN);
      else qconv::pooledConvImage(xq, b.s, p, *b.w, b.wScale, b.bias, b.act, b.pool, o, perImage ? nullptr : &pool);
      if (rangeNext) finiteValueRange(o, pooledSize, &ranges[2 * n], &ranges[2 * n + 1]);
      if (k + 1 == count) storeImage(o, last, n, y);
    };
    if (perImage) pool.run(N, image);
    else
      for (int64_t n = 0; n < N; n++) image(n);
    if (rangeNext) {  // the batch's range, as dynamicQuantParams takes it over the whole output
      float lo = 0.0f, hi = 0.0f;
      for (int64_t n = 0; n < N; n++) lo = std::min(lo, ranges[2 * n]), hi = std::max(hi, ranges[2 * n + 1]);
      dynamic = rangeQuantParams(lo, hi);
    }
    in = out.data();
    inSize = pooledSize;
  }
}

}  // namespace

void quantizedConvBlocks(const float* x, int64_t N, const QConvBlock* blocks, int count, float* y, ThreadPool& pool,
                         const RescaledInput* r) {
  const int64_t size = N * blocks[0].s.C * blocks[0].s.H * blocks[0].s.W;
  if (!r) {
    const QuantParams first = blocks[0].input ? *blocks[0].input : dynamicQuantParams(x, size, pool);
    return runBlocks(FirstInput{x, nullptr}, N, blocks, count, first, y, pool);
  }
  const RescaleTable t(r->v, size, r->scale, r->offset, blocks[0].input);
  if (t.finite) return runBlocks(FirstInput{nullptr, &t}, N, blocks, count, t.params, y, pool);
  // A value that is not finite: the rescaled floats the general way, which marks their images.
  const std::vector<float> floats = t.floats();
  quantizedConvBlocks(floats.data(), N, blocks, count, y, pool);
}

}  // namespace lathe
