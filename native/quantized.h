// Quantized inference layers on the int8 GEMM (gemm/qgemm.h): a float input is quantized to
// uint8 per tensor (ONNX QuantizeLinear), multiplied by int8 weights quantized per output
// channel, and dequantized to float in the GEMM's output stage, with bias and activation.
// The output stays float, so quantized and float layers mix freely in one model.
#pragma once
#include <cstdint>

#include "gemm/qgemm.h"
#include "kernels.h"
#include "threadpool.h"

namespace lathe {

// A uint8 quantization of a float tensor: x ~ (q - zeroPoint) * scale.
struct QuantParams {
  float scale;
  uint8_t zeroPoint;
};

// ONNX DynamicQuantizeLinear's parameters for x: the range [min(0, min x), max(0, max x)] over
// 0..255. A zero range (x all zero) gives scale 1, zero point 0 instead of ONNX's scale 0, so
// that nothing divides by zero; the quantized values are zeros either way. NaN and infinities
// are left out of the range (their rows come out NaN in the layers below).
QuantParams dynamicQuantParams(const float* x, int64_t n, ThreadPool& pool);
// The same in pieces, for a range gathered span by span: a span's finite range widened to hold
// 0 (several spans' range: the min of their lows, the max of their highs), and its parameters.
void finiteValueRange(const float* x, int64_t n, float* lo, float* hi);
QuantParams rangeQuantParams(float lo, float hi);

// q[i] = saturate(roundHalfEven(x[i] / scale) + zeroPoint) to 0..255: ONNX QuantizeLinear.
void quantizeU8(const float* x, uint8_t* q, int64_t n, QuantParams p, ThreadPool& pool);

// For quantized.cc and quantized_conv.cc: quantizeU8 on the calling thread, returning nonzero
// when any value is NaN or infinite (it quantizes to 0); and y = act(y) in place.
int quantizeValues(const float* x, uint8_t* q, int64_t n, float scale, float zeroPoint);
void activateSpan(float* y, int64_t n, int act);

// act: 0 linear, 1 relu, 2 sigmoid, 3 tanh (FUSED_ACTIVATIONS' order).
// y [M, N] = act(dequant(quant(x [M, K]) W) + bias): W packed from int8 [K, N] (or [N, K]),
// wScale [N] per output channel, bias [N] or nullptr. input: the static quantization, or
// nullptr to compute it from x (dynamic). A non-finite x gives NaN rows, never garbage.
void quantizedLinear(const float* x, int64_t M, int64_t K, const QuantParams* input, const QPackedB& w,
                     const float* wScale, const float* bias, int act, float* y, ThreadPool& pool);

// quantizedLinear on x = float(v) * scale + offset for raw uint8 v [M, K] (a Rescaling layer
// before a QuantizedDense), equal bit for bit to scaleShift then quantizedLinear: the 256 values
// a pixel can take are rescaled and quantized once, and the input becomes the GEMM's uint8
// operand in one table lookup per value. Dynamic quantization takes its range from v's ends.
void quantizedLinearRescaled(const uint8_t* v, int64_t M, int64_t K, float scale, float offset, const QuantParams* input,
                             const QPackedB& w, const float* wScale, const float* bias, int act, float* y, ThreadPool& pool);

// Packs conv weights int8 [O, C, KH, KW] (groups 1) for quantizedConv2d, whose GEMM reads the
// input's patches channels-last: K ordered (kh, kw, c).
QPackedB qPackConvWeights(const int8_t* w, int64_t O, int64_t C, int64_t KH, int64_t KW);

// y [N, O, OH, OW] = act(dequant(conv(quant(x), W)) + bias), NCHW, groups 1, W packed by
// qPackConvWeights. Padding reads the zero point (the quantized 0.0).
// With `after`, each image is max-pooled into after->y instead (kernels.h's PoolAfter; 2x2
// stride-2 windows are pooled while the output is still channels-last, before the transpose).
void quantizedConv2d(const float* x, const Conv2dShape& s, const QuantParams* input, const QPackedB& w,
                     const float* wScale, const float* bias, int act, float* y, ThreadPool& pool,
                     const PoolAfter* after = nullptr);

// One block of quantizedConvBlocks: a conv (s; s.N unused) with its input's quantization
// (nullptr: dynamic, from its whole input, as quantizedConv2d), and the max pool after it
// (pool: one image's geometry, as PoolAfter's).
struct QConvBlock {
  Conv2dShape s;
  const QuantParams* input;
  const QPackedB* w;
  const float* wScale;
  const float* bias;
  int act;
  Pool2dShape pool;
};

// Blocks of a conv then a max pool (a CNN's feature layers), y the last block's pooled output,
// NCHW: the same values as quantizedConv2d with PoolAfter block after block. Where every block
// is a stride-1 conv with a 2x2 pool and the pooled int8 tile runs, the pooled outputs stay
// channels-last between blocks, quantized there for the next: with static quantization after
// the first block, each image goes through all the blocks on one thread, in cache; with a
// dynamic one, the batch goes block by block (its range is the whole input's). Otherwise the
// blocks run one after another through quantizedConv2d.
// With `rescaled`, x is nullptr and the first block reads raw uint8 v [N, C, H, W] as
// v * scale + offset (a Rescaling before the conv), equal bit for bit to scaleShift then the
// blocks: the 256 values a pixel can take are rescaled and quantized once, then looked up.
struct RescaledInput {
  const uint8_t* v;
  float scale, offset;
};
void quantizedConvBlocks(const float* x, int64_t N, const QConvBlock* blocks, int count, float* y, ThreadPool& pool,
                         const RescaledInput* rescaled = nullptr);

// q[i] = table[v[i]] (VBMI, AVX2 or scalar).
void lookUpValues(const uint8_t* table, const uint8_t* v, uint8_t* q, int64_t n);

// Raw uint8 v [n] read as v * scale + offset (a Rescaling before a quantized layer): the 256
// values a pixel can take, in scaleShift's float32 arithmetic, quantized once into a table with
// `input`, or dynamically (DynamicQuantizeLinear over the rescaled values, 0 included: their ends
// are at v's, since they rise or fall with v). Where a value is not finite there is no table:
// the caller rescales to floats() and takes its general path, which marks those rows or images.
struct RescaleTable {
  RescaleTable(const uint8_t* v, int64_t n, float scale, float offset, const QuantParams* input);
  std::vector<float> floats() const;  // values[v[i]]: exactly scaleShift's output

  const uint8_t* v;
  int64_t n;
  bool finite;
  QuantParams params{1.0f, 0};  // when finite
  float values[256];
  uint8_t table[256];  // when finite: the quantized values[v]
  bool identity = false;  // table[i] == i: pixels rescaled to [0, 1] and quantized back at scale 1/255
};

}  // namespace lathe
