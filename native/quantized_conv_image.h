// The per-image steps of the quantized conv (quantized_conv.cc) that quantizedConvBlocks
// (quantized_conv_blocks.cc) chains: quantizing an image into the padded channels-last layout
// the direct tiles read, the pooled tile's coverage and run, and the float transpose.
#pragma once
#include <cstdint>
#include <vector>

#include "quantized.h"

namespace lathe {
namespace qconv {

// dst[j * ldd + i] = src[i * lds + j] for i < rows, j < cols (16 x 16 blocks with AVX-512).
void transpose(const float* src, int64_t lds, int64_t rows, int64_t cols, float* dst, int64_t ldd);

// Image xn (NCHW floats, or channels-last ones [H][W][C]) quantized into buf as [Hp][Wp][C]
// bytes, the border at the zero point, plus 4 bytes a tile may read past the end. bad: a value
// was NaN or infinite.
uint8_t* paddedImage(const float* xn, bool channelsLast, const Conv2dShape& s, int64_t Hp, int64_t Wp, const QuantParams& p,
                     std::vector<uint8_t>& buf, bool& bad);

// paddedImage for raw uint8 NCHW vn quantized by table lookup (q = table[v]): no value is bad.
uint8_t* paddedImageLookup(const uint8_t* vn, const Conv2dShape& s, int64_t Hp, int64_t Wp, uint8_t zeroPoint, const uint8_t* table,
                           std::vector<uint8_t>& buf);

// Whether the pooled int8 tile runs this conv and the 2x2 pool after it for an input of scale
// aScale (it pools before dequantizing: every aScale * wScale must be finite and not negative).
bool pooledTileCovers(const Conv2dShape& s, const QPackedB& w, const Pool2dShape& pool, float aScale, const float* wScale);

// One padded channels-last image through the pooled tile: out [PH * PW][O], activated. tiles:
// the pool to spread the tiles over, or nullptr.
void pooledConvImage(const uint8_t* xq, const Conv2dShape& s, const QuantParams& p, const QPackedB& w, const float* wScale,
                     const float* bias, int act, const Pool2dShape& pool, float* out, ThreadPool* tiles);

}  // namespace qconv
}  // namespace lathe
