// The N-API surface of the quantized kernels. Packed int8 weights live in C++ (the layout the
// int8 GEMM reads) behind an External that JS holds: the garbage collector frees them.
#include <napi.h>

#include <cmath>
#include <initializer_list>
#include <string>
#include <vector>

#include "napi_args.h"
#include "quantized.h"

namespace lathe {

namespace {

void expect(const Napi::CallbackInfo& info, bool ok, const std::string& what) {
  if (!ok) throw Napi::RangeError::New(info.Env(), "lathe native: " + what);
}

// Marks the addon's packed weights, so that no other External passes for them.
constexpr napi_type_tag kPackedTag = {0x6c61746865717062ULL, 0x61636b6564763101ULL};

Napi::Value wrapPacked(Napi::Env env, QPackedB packed) {
  const auto size = [](const QPackedB& p) { return p.panels * p.kGroups * kQgemmNR * 4 + p.panels * kQgemmNR * 4; };
  const int64_t bytes = size(packed) + (packed.paddedRows ? size(*packed.paddedRows) : 0);
  Napi::MemoryManagement::AdjustExternalMemory(env, bytes);
  auto external = Napi::External<QPackedB>::New(env, new QPackedB(std::move(packed)), [bytes](Napi::Env e, QPackedB* p) {
    Napi::MemoryManagement::AdjustExternalMemory(e, -bytes);
    delete p;
  });
  NAPI_THROW_IF_FAILED(env, napi_type_tag_object(env, external, &kPackedTag), Napi::Value());
  return external;
}

const QPackedB& packedArg(const Napi::CallbackInfo& info, size_t i) {
  bool tagged = false;
  if (info[i].IsExternal()) napi_check_object_type_tag(info.Env(), info[i], &kPackedTag, &tagged);
  if (!tagged) throw Napi::TypeError::New(info.Env(), "lathe native: argument " + std::to_string(i) + " must be packed int8 weights");
  return *info[i].As<Napi::External<QPackedB>>().Data();
}

// The input's quantization from (scale, zeroPoint): scale <= 0 means dynamic (nullptr).
const QuantParams* inputArg(const Napi::CallbackInfo& info, size_t i, QuantParams* storage) {
  const double scale = info[i].As<Napi::Number>().DoubleValue();
  const int64_t zero = intArg(info, i + 1);
  if (!(scale > 0)) return nullptr;
  expect(info, zero >= 0 && zero <= 255 && std::isfinite(scale), "the input's zero point must be in 0..255 and its scale finite");
  *storage = {static_cast<float>(scale), static_cast<uint8_t>(zero)};
  return storage;
}

// qPackWeights(w: Int8Array, K, N, transB) -> packed: op(w) is [K, N]; w is [N, K] when transB.
Napi::Value QPackWeights(const Napi::CallbackInfo& info) {
  Array w = arrayArg(info, 0);
  const int64_t K = intArg(info, 1), N = intArg(info, 2);
  const bool transB = boolArg(info, 3);
  expect(info, w.type == napi_int8_array && K > 0 && N > 0 && w.length == static_cast<size_t>(K * N), "qPackWeights: expected an Int8Array of K*N values");
  return wrapPacked(info.Env(), qgemmPackB(transB, K, N, static_cast<const int8_t*>(w.data), transB ? K : N));
}

// qPackConvWeights(w: Int8Array, O, C, KH, KW) -> packed
Napi::Value QPackConvWeights(const Napi::CallbackInfo& info) {
  Array w = arrayArg(info, 0);
  const int64_t O = intArg(info, 1), C = intArg(info, 2), KH = intArg(info, 3), KW = intArg(info, 4);
  expect(info, w.type == napi_int8_array && O > 0 && C > 0 && KH > 0 && KW > 0 && w.length == static_cast<size_t>(O * C * KH * KW),
         "qPackConvWeights: expected an Int8Array of O*C*KH*KW values");
  return wrapPacked(info.Env(), qPackConvWeights(static_cast<const int8_t*>(w.data), O, C, KH, KW));
}

// Checks the per-channel scales and the bias (empty: none) against N outputs.
void checkEpilogue(const Napi::CallbackInfo& info, const Array& scale, const Array& bias, int64_t N, int act) {
  expect(info, scale.type == napi_float32_array && scale.length == static_cast<size_t>(N), "the weight scales must be a Float32Array, one per output channel");
  expect(info, bias.length == 0 || (bias.type == napi_float32_array && bias.length == static_cast<size_t>(N)), "the bias must be a Float32Array, one per output channel");
  expect(info, act >= 0 && act <= 3, "unknown activation " + std::to_string(act));
}

// qLinear(x: Float32Array [M,K], M, K, packed, wScale, bias, act, inScale, inZero, out [M,N][, scale, offset])
// With scale and offset, x is a Uint8Array of raw values read as x * scale + offset (a Rescaling before the layer).
void QLinear(const Napi::CallbackInfo& info) {
  const auto pool = acquirePool();
  Array x = arrayArg(info, 0);
  const int64_t M = intArg(info, 1), K = intArg(info, 2);
  const QPackedB& w = packedArg(info, 3);
  Array scale = arrayArg(info, 4), bias = arrayArg(info, 5), out = arrayArg(info, 9);
  const int act = static_cast<int>(intArg(info, 6));
  QuantParams storage;
  const QuantParams* input = inputArg(info, 7, &storage);
  const bool rescaled = info.Length() > 11;
  expect(info, x.type == (rescaled ? napi_uint8_array : napi_float32_array) && M >= 0 && K == w.K && x.length == static_cast<size_t>(M * K),
         rescaled ? "qLinear: a rescaled x must be a Uint8Array [M, K] with the weights' K" : "qLinear: x must be a Float32Array [M, K] with the weights' K");
  expect(info, out.type == napi_float32_array && out.length == static_cast<size_t>(M * w.N), "qLinear: out must be a Float32Array [M, N]");
  checkEpilogue(info, scale, bias, w.N, act);
  if (M == 0) return;
  if (rescaled) {
    return quantizedLinearRescaled(static_cast<const uint8_t*>(x.data), M, K, float(info[10].As<Napi::Number>().DoubleValue()),
                                   float(info[11].As<Napi::Number>().DoubleValue()), input, w, static_cast<const float*>(scale.data),
                                   bias.length ? static_cast<const float*>(bias.data) : nullptr, act, static_cast<float*>(out.data), *pool);
  }
  quantizedLinear(static_cast<const float*>(x.data), M, K, input, w, static_cast<const float*>(scale.data),
                  bias.length ? static_cast<const float*>(bias.data) : nullptr, act, static_cast<float*>(out.data), *pool);
}

// A shape's element count in double: products of int64 sizes can overflow, and a count past
// 2^53 matches no array length anyway.
double elements(std::initializer_list<int64_t> dims) {
  double n = 1;
  for (const int64_t d : dims) n *= static_cast<double>(d);
  return n;
}

// The checks qConv2d and qConvBlocks share: every size positive (and at most 2^31, so sums and
// products of two stay in int64), the geometry against the packed weights, the output extent
// (the kernels read the image where the geometry says, the direct tiles up to its last byte: an
// extent it does not imply would read past it), and the pooling's.
void checkConv(const Napi::CallbackInfo& info, const std::string& op, const Conv2dShape& s, const QPackedB& w, const Pool2dShape* ps) {
  constexpr int64_t kMax = int64_t(1) << 31;
  const auto size = [](int64_t d) { return d >= 1 && d <= kMax; };
  const auto pad = [](int64_t d) { return d >= 0 && d <= kMax; };
  expect(info, s.groups == 1 && pad(s.N) && size(s.C) && size(s.H) && size(s.W) && size(s.O) && size(s.KH) && size(s.KW) &&
               elements({s.C, s.KH, s.KW}) == static_cast<double>(w.K) && s.O == w.N,
         op + ": the geometry does not match the packed weights (sizes at least 1, groups 1)");
  // (in + 2 pad - dil (k - 1) - 1) / stride + 1, floored: no output where the kernel does not fit.
  const auto extent = [](int64_t in, int64_t k, int64_t stride, int64_t pad, int64_t dil) {
    const int64_t span = in + 2 * pad - dil * (k - 1) - 1;
    return span < 0 ? 0 : span / stride + 1;
  };
  expect(info, size(s.sh) && size(s.sw) && size(s.dh) && size(s.dw) && pad(s.ph) && pad(s.pw) && s.OH == extent(s.H, s.KH, s.sh, s.ph, s.dh) &&
               s.OW == extent(s.W, s.KW, s.sw, s.pw, s.dw),
         op + ": the output extent must follow from the input, kernel, stride, padding and dilation");
  if (!ps) return;
  // The pooled extent as the windows imply (floor, as maxPool2d): the 2x2 pooling reads the
  // conv's output only that far, and the pooled tile computes only what it reads.
  expect(info, ps->planes == s.O && ps->H == s.OH && ps->W == s.OW && size(ps->KH) && size(ps->KW) && size(ps->sh) && size(ps->sw) && pad(ps->ph) &&
               pad(ps->pw) && ps->OH == extent(ps->H, ps->KH, ps->sh, ps->ph, 1) && ps->OW == extent(ps->W, ps->KW, ps->sw, ps->pw, 1),
         op + ": the pooling must fit the conv's output, its extent following from the window, stride and padding");
}

// qConv2d(x: Float32Array [N,C,H,W], geometry (Conv2dShape's fields), packed, wScale, bias, act,
// inScale, inZero, out[, pooling]). With pooling (one image's max-pooling geometry, Pool2dShape's
// fields), out is the pooled output.
void QConv2d(const Napi::CallbackInfo& info) {
  const auto pool = acquirePool();
  Array x = arrayArg(info, 0);
  const auto s = shapeArg<Conv2dShape>(info, 1);
  const QPackedB& w = packedArg(info, 2);
  Array scale = arrayArg(info, 3), bias = arrayArg(info, 4), out = arrayArg(info, 8);
  const int act = static_cast<int>(intArg(info, 5));
  QuantParams storage;
  const QuantParams* input = inputArg(info, 6, &storage);
  const bool pooled = info.Length() > 9;
  const Pool2dShape ps = pooled ? shapeArg<Pool2dShape>(info, 9) : Pool2dShape{};
  checkConv(info, "qConv2d", s, w, pooled ? &ps : nullptr);
  expect(info, x.type == napi_float32_array && static_cast<double>(x.length) == elements({s.N, s.C, s.H, s.W}), "qConv2d: x must be a Float32Array [N, C, H, W]");
  const double outSize = pooled ? elements({s.N, s.O, ps.OH, ps.OW}) : elements({s.N, s.O, s.OH, s.OW});
  expect(info, out.type == napi_float32_array && static_cast<double>(out.length) == outSize, "qConv2d: out must be a Float32Array [N, O, OH, OW] (pooled: [N, O, pooled H, pooled W])");
  checkEpilogue(info, scale, bias, s.O, act);
  if (s.N == 0 || s.OH <= 0 || s.OW <= 0 || (pooled && (ps.OH == 0 || ps.OW == 0))) return;
  const PoolAfter after{ps, static_cast<float*>(out.data)};
  quantizedConv2d(static_cast<const float*>(x.data), s, input, w, static_cast<const float*>(scale.data),
                  bias.length ? static_cast<const float*>(bias.data) : nullptr, act, pooled ? nullptr : static_cast<float*>(out.data), *pool,
                  pooled ? &after : nullptr);
}

// qConvBlocks(x: Float32Array [N,C,H,W], N, out, scale, offset, then per block: geometry, packed,
// wScale, bias, act, inScale, inZero, pooling) -> out, the last block's pooled output. Each
// block's input is the previous block's pooled output. A Uint8Array x is read as x * scale + offset
// (a Rescaling before the first conv); scale and offset are ignored for a Float32Array.
void QConvBlocks(const Napi::CallbackInfo& info) {
  constexpr size_t kArgs = 8;
  const auto pool = acquirePool();
  Array x = arrayArg(info, 0), out = arrayArg(info, 2);
  const int64_t N = intArg(info, 1);
  expect(info, info.Length() > 5 && (info.Length() - 5) % kArgs == 0, "qConvBlocks: expected 8 arguments per block");
  const int count = static_cast<int>((info.Length() - 5) / kArgs);
  const bool rescaled = x.type == napi_uint8_array;
  const RescaledInput r{static_cast<const uint8_t*>(x.data), static_cast<float>(info[3].As<Napi::Number>().DoubleValue()),
                        static_cast<float>(info[4].As<Napi::Number>().DoubleValue())};
  std::vector<QConvBlock> blocks(static_cast<size_t>(count));
  std::vector<QuantParams> inputs(static_cast<size_t>(count));
  for (int k = 0; k < count; k++) {
    const size_t a = 5 + k * kArgs;
    QConvBlock& b = blocks[k];
    b.s = shapeArg<Conv2dShape>(info, a);
    b.s.N = N;
    b.w = &packedArg(info, a + 1);
    Array scale = arrayArg(info, a + 2), bias = arrayArg(info, a + 3);
    b.act = static_cast<int>(intArg(info, a + 4));
    b.input = inputArg(info, a + 5, &inputs[k]);
    b.pool = shapeArg<Pool2dShape>(info, a + 7);
    checkConv(info, "qConvBlocks", b.s, *b.w, &b.pool);
    checkEpilogue(info, scale, bias, b.s.O, b.act);
    b.wScale = static_cast<const float*>(scale.data);
    b.bias = bias.length ? static_cast<const float*>(bias.data) : nullptr;
    if (k == 0) continue;
    const QConvBlock& prev = blocks[k - 1];
    expect(info, b.s.C == prev.s.O && b.s.H == prev.pool.OH && b.s.W == prev.pool.OW, "qConvBlocks: a block's input must be the previous block's pooled output");
  }
  const QConvBlock& first = blocks[0];
  const QConvBlock& last = blocks[count - 1];
  expect(info, (x.type == napi_float32_array || rescaled) && static_cast<double>(x.length) == elements({N, first.s.C, first.s.H, first.s.W}),
         "qConvBlocks: x must be a Float32Array or Uint8Array [N, C, H, W]");
  expect(info, out.type == napi_float32_array && static_cast<double>(out.length) == elements({N, last.s.O, last.pool.OH, last.pool.OW}),
         "qConvBlocks: out must be a Float32Array [N, O, pooled H, pooled W] of the last block");
  // An empty extent can only be the last block's (a block's input sizes are at least 1): out is empty.
  if (N == 0 || last.pool.OH == 0 || last.pool.OW == 0) return;
  quantizedConvBlocks(rescaled ? nullptr : static_cast<const float*>(x.data), N, blocks.data(), count, static_cast<float*>(out.data), *pool,
                      rescaled ? &r : nullptr);
}

// qGemmInt32(a: Uint8Array [M,K], M, aZero, packed, out: Int32Array [M,N]): the exact integer
// product, for tests and benchmarks.
void QGemmInt32(const Napi::CallbackInfo& info) {
  const auto pool = acquirePool();
  Array a = arrayArg(info, 0), out = arrayArg(info, 4);
  const int64_t M = intArg(info, 1), zero = intArg(info, 2);
  const QPackedB& w = packedArg(info, 3);
  expect(info, a.type == napi_uint8_array && a.length == static_cast<size_t>(M * w.K) && zero >= 0 && zero <= 255, "qGemmInt32: a must be a Uint8Array [M, K], the zero point in 0..255");
  expect(info, out.type == napi_int32_array && out.length == static_cast<size_t>(M * w.N), "qGemmInt32: out must be an Int32Array [M, N]");
  if (M > 0) qgemmU8S8(M, static_cast<const uint8_t*>(a.data), w.K, static_cast<uint8_t>(zero), w, static_cast<int32_t*>(out.data), w.N, pool.get());
}

// quantizeU8(x: Float32Array, out: Uint8Array, scale, zeroPoint); scale <= 0: dynamic. Returns
// [scale, zeroPoint] used.
Napi::Value QuantizeU8(const Napi::CallbackInfo& info) {
  const auto pool = acquirePool();
  Array x = arrayArg(info, 0), out = arrayArg(info, 1);
  expect(info, x.type == napi_float32_array && out.type == napi_uint8_array && x.length == out.length, "quantizeU8: expected a Float32Array and a Uint8Array of one length");
  QuantParams storage;
  const QuantParams* input = inputArg(info, 2, &storage);
  const QuantParams p = input ? *input : dynamicQuantParams(static_cast<const float*>(x.data), x.length, *pool);
  quantizeU8(static_cast<const float*>(x.data), static_cast<uint8_t*>(out.data), x.length, p, *pool);
  Napi::Array used = Napi::Array::New(info.Env(), 2);
  used.Set(0u, Napi::Number::New(info.Env(), p.scale));
  used.Set(1u, Napi::Number::New(info.Env(), p.zeroPoint));
  return used;
}

// qgemmKernel(force?: string) -> the int8 kernel in use; a name forces one (tests), "" restores dispatch.
Napi::Value QgemmKernel(const Napi::CallbackInfo& info) {
  if (info.Length() > 0 && info[0].IsString()) {
    const std::string name = info[0].As<Napi::String>().Utf8Value();
    if (!qgemmForceKernel(name.empty() ? nullptr : name.c_str())) throw Napi::Error::New(info.Env(), "lathe native: this CPU cannot run the int8 kernel " + name);
  }
  return Napi::String::New(info.Env(), qgemmKernelName());
}

}  // namespace

void registerQuantized(Napi::Env env, Napi::Object exports) {
  exports.Set("qPackWeights", Napi::Function::New(env, QPackWeights));
  exports.Set("qPackConvWeights", Napi::Function::New(env, QPackConvWeights));
  exports.Set("qLinear", Napi::Function::New(env, QLinear));
  exports.Set("qConv2d", Napi::Function::New(env, QConv2d));
  exports.Set("qConvBlocks", Napi::Function::New(env, QConvBlocks));
  exports.Set("qGemmInt32", Napi::Function::New(env, QGemmInt32));
  exports.Set("quantizeU8", Napi::Function::New(env, QuantizeU8));
  exports.Set("qgemmKernel", Napi::Function::New(env, QgemmKernel));
}

}  // namespace lathe
