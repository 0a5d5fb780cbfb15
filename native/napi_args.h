// Unpacking N-API arguments for the binding files: typed arrays (their data, length and type),
// numbers, and fixed-layout geometry structs. Errors throw JS TypeError/RangeError.
#pragma once
#include <napi.h>

#include <cstdint>
#include <string>

namespace lathe {

struct Array {
  void* data;
  size_t length;
  napi_typedarray_type type;
};

inline Array arrayArg(const Napi::CallbackInfo& info, size_t i) {
  napi_typedarray_type type;
  size_t length;
  void* data;
  napi_value buffer;
  size_t offset;
  if (i >= info.Length() || !info[i].IsTypedArray()) {
    throw Napi::TypeError::New(info.Env(), "lathe native: argument " + std::to_string(i) + " must be a typed array");
  }
  napi_get_typedarray_info(info.Env(), info[i], &type, &length, &data, &buffer, &offset);
  return {data, length, type};
}

inline int64_t intArg(const Napi::CallbackInfo& info, size_t i) { return info[i].As<Napi::Number>().Int64Value(); }
inline bool boolArg(const Napi::CallbackInfo& info, size_t i) { return info[i].As<Napi::Boolean>().Value(); }

// The conv geometry travels as a Float64Array in Conv2dShape's field order.
template <typename S>
S shapeArg(const Napi::CallbackInfo& info, size_t i) {
  Array g = arrayArg(info, i);
  constexpr size_t n = sizeof(S) / sizeof(int64_t);
  if (g.type != napi_float64_array || g.length != n) throw Napi::RangeError::New(info.Env(), "lathe native: geometry needs a Float64Array of " + std::to_string(n) + " numbers");
  S s;
  int64_t* f = reinterpret_cast<int64_t*>(&s);
  for (size_t k = 0; k < n; k++) f[k] = static_cast<int64_t>(static_cast<const double*>(g.data)[k]);
  return s;
}

}  // namespace lathe
