// The N-API surface of the native backend: thin wrappers that unpack typed arrays and call
// the kernels. TypeScript (src/backends/native) allocates every output, so memory stays
// garbage-collected and owned by JS; C++ only reads and writes it during a call.
#include <napi.h>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <string>
#include <type_traits>
#include <vector>

#include "gemm/gemm.h"
#include "napi_args.h"
#include "kernels.h"

namespace lathe {
namespace {

// Shapes and strides travel as one Float64Array: [rank, shape, `arrays` more rank-long lists,
// then `extra` numbers]. Its length is checked, so a malformed call cannot read past it.
std::vector<int64_t> geometryArg(const Napi::CallbackInfo& info, size_t i, int arrays, int extra) {
  Array g = arrayArg(info, i);
  const double* d = static_cast<const double*>(g.data);
  const int64_t rank = g.length > 0 ? static_cast<int64_t>(d[0]) : -1;
  if (rank < 0 || rank > kMaxRank || g.length != static_cast<size_t>(1 + rank * (1 + arrays) + extra)) {
    throw Napi::RangeError::New(info.Env(), "lathe native: malformed geometry");
  }
  std::vector<int64_t> out(g.length);
  for (size_t k = 0; k < g.length; k++) out[k] = static_cast<int64_t>(d[k]);
  return out;
}

bool isF32(const Array& a) { return a.type == napi_float32_array; }

// Every index must lie in [0, n): the op layer checks too, but a bad one here would write out of bounds.
void checkIndices(const Napi::CallbackInfo& info, const Array& index, int64_t n) {
  const int32_t* ix = static_cast<const int32_t*>(index.data);
  for (size_t i = 0; i < index.length; i++) {
    if (ix[i] < 0 || ix[i] >= n) throw Napi::RangeError::New(info.Env(), "lathe native: index " + std::to_string(ix[i]) + " out of range");
  }
}

Napi::Value Info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  Napi::Array unaryOps = Napi::Array::New(env, kUnaryOpCount);
  for (int i = 0; i < kUnaryOpCount; i++) unaryOps.Set(i, kUnaryOps[i]);
  Napi::Array binaryOps = Napi::Array::New(env, kBinaryOpCount);
  for (int i = 0; i < kBinaryOpCount; i++) binaryOps.Set(i, kBinaryOps[i]);
  o.Set("unaryOps", unaryOps);
  o.Set("binaryOps", binaryOps);
  o.Set("gemmKernel", sgemmKernelName());
  o.Set("threads", acquirePool()->size());
  return o;
}

void SetThreads(const Napi::CallbackInfo& info) { setDefaultPoolThreads(static_cast<int>(intArg(info, 0))); }
void SetSerial(const Napi::CallbackInfo& info) { setCallerSerial(info[0].ToBoolean().Value()); }
void WakeThreads(const Napi::CallbackInfo&) { wakeDefaultPool(); }

// A key for linear's weightsKey never handed out before in this process: worker threads load
// their own copy of the JS side but share the GEMM's prepacked weights, so keys come from here.
Napi::Value NewWeightsKey(const Napi::CallbackInfo& info) {
  static std::atomic<int64_t> last{0};
  return Napi::Number::New(info.Env(), double(++last));
}

// Lowers the calling thread to the pool workers' niceness: for a worker_threads thread that runs
// models beside the main thread's event loop (the "lathe-worker" serving runtime), so the loop
// preempts its compute as it does the pool's.
void LowerThreadPriority(const Napi::CallbackInfo&) { lowerThreadPriority(kBackgroundNice); }

// unary(code, x, out, param)
void Unary(const Napi::CallbackInfo& info) {
  const auto pool = acquirePool();  // held for the whole kernel (setNumThreads may swap it)
  Array x = arrayArg(info, 1), y = arrayArg(info, 2);
  const int op = static_cast<int>(intArg(info, 0));
  const double p = info[3].As<Napi::Number>().DoubleValue();
  if (isF32(x)) unary<float>(op, (const float*)x.data, (float*)y.data, x.length, float(p), *pool);
  else unary<double>(op, (const double*)x.data, (double*)y.data, x.length, p, *pool);
}

// binary(code, a, b, out, geometry = [rank, shape, strides of a, strides of b])
void Binary(const Napi::CallbackInfo& info) {
  const auto pool = acquirePool();  // held for the whole kernel (setNumThreads may swap it)
  const int op = static_cast<int>(intArg(info, 0));
  Array a = arrayArg(info, 1), b = arrayArg(info, 2), out = arrayArg(info, 3);
  auto g = geometryArg(info, 4, 2, 0);
  const int rank = static_cast<int>(g[0]);
  const int64_t *shape = g.data() + 1, *sa = shape + rank, *sb = sa + rank;
  uint8_t* ob = out.type == napi_uint8_array ? (uint8_t*)out.data : nullptr;
  if (isF32(a)) binary<float>(op, (const float*)a.data, (const float*)b.data, (float*)out.data, ob, rank, shape, sa, sb, *pool);
  else binary<double>(op, (const double*)a.data, (const double*)b.data, (double*)out.data, ob, rank, shape, sa, sb, *pool);
}

// where(cond, a, b, out, geometry = [rank, shape, strides of cond, of a, of b])
void Where(const Napi::CallbackInfo& info) {
  Array c = arrayArg(info, 0), a = arrayArg(info, 1), b = arrayArg(info, 2), out = arrayArg(info, 3);
  auto g = geometryArg(info, 4, 3, 0);
  const int rank = static_cast<int>(g[0]);
  const int64_t *shape = g.data() + 1, *sc = shape + rank, *sa = sc + rank, *sb = sa + rank;
  if (isF32(a)) where<float>((const uint8_t*)c.data, (const float*)a.data, (const float*)b.data, (float*)out.data, rank, shape, sc, sa, sb);
  else where<double>((const uint8_t*)c.data, (const double*)a.data, (const double*)b.data, (double*)out.data, rank, shape, sc, sa, sb);
}

// reduce(code, x, out, outer, n, inner)
void Reduce(const Napi::CallbackInfo& info) {
  const auto pool = acquirePool();  // held for the whole kernel (setNumThreads may swap it)
  const int op = static_cast<int>(intArg(info, 0));
  Array x = arrayArg(info, 1), out = arrayArg(info, 2);
  const int64_t outer = intArg(info, 3), n = intArg(info, 4), inner = intArg(info, 5);
  if (isF32(x)) reduce<float>(op, (const float*)x.data, (float*)out.data, outer, n, inner, *pool);
  else reduce<double>(op, (const double*)x.data, (double*)out.data, outer, n, inner, *pool);
}

// argReduce(isMax, x, out, outer, n, inner)
void ArgReduce(const Napi::CallbackInfo& info) {
  const bool isMax = boolArg(info, 0);
  Array x = arrayArg(info, 1), out = arrayArg(info, 2);
  const int64_t outer = intArg(info, 3), n = intArg(info, 4), inner = intArg(info, 5);
  if (isF32(x)) argReduce<float>(isMax, (const float*)x.data, (int32_t*)out.data, outer, n, inner);
  else argReduce<double>(isMax, (const double*)x.data, (int32_t*)out.data, outer, n, inner);
}

// softmax(x, out, outer, n, inner, log)
void Softmax(const Napi::CallbackInfo& info) {
  const auto pool = acquirePool();  // held for the whole kernel (setNumThreads may swap it)
  Array x = arrayArg(info, 0), out = arrayArg(info, 1);
  const int64_t outer = intArg(info, 2), n = intArg(info, 3), inner = intArg(info, 4);
  const bool log = boolArg(info, 5);
  if (isF32(x)) softmax<float>((const float*)x.data, (float*)out.data, outer, n, inner, log, *pool);
  else softmax<double>((const double*)x.data, (double*)out.data, outer, n, inner, log, *pool);
}

// Async kernels run in order on one background thread of Lathe's own (the executor), not on
// libuv's threads: those also serve fs, dns and crypto, which must not queue behind a GEMM.
// The executor runs below the event loop's priority, so the loop's thread wins the cores; the
// kernel itself spreads over the async pool, which leaves one core to the loop. A thread-safe function per call brings the result
// back to the JS thread and keeps the process alive until then.
class AsyncExecutor {
 public:
  static AsyncExecutor& instance() {
    static AsyncExecutor* executor = new AsyncExecutor();  // never destroyed: its thread may outlive exit handlers
    return *executor;
  }

  void push(std::function<void()> job) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      queue_.push_back(std::move(job));
    }
    cv_.notify_one();
  }

 private:
  AsyncExecutor() {
    std::thread([this] { loop(); }).detach();
  }

  void loop() {
    lowerThreadPriority(kBackgroundNice);
    for (;;) {
      std::function<void()> job;
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [&] { return !queue_.empty(); });
        job = std::move(queue_.front());
        queue_.pop_front();
      }
      job();
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;
};

// What a finished async kernel hands back to the JS thread.
struct AsyncResult {
  Napi::Promise::Deferred deferred;
  std::vector<Napi::ObjectReference> keepAlive;  // the typed arrays the kernel reads and writes
  Napi::ThreadSafeFunction toJs;
  std::string error;
};

Napi::Value runAsync(const Napi::CallbackInfo& info, std::function<void()> job) {
  Napi::Env env = info.Env();
  auto* result = new AsyncResult{Napi::Promise::Deferred::New(env), {}, {}, {}};
  for (size_t i = 0; i < info.Length(); i++) {
    if (info[i].IsTypedArray()) result->keepAlive.push_back(Napi::Persistent(info[i].As<Napi::Object>()));
  }
  result->toJs = Napi::ThreadSafeFunction::New(env, Napi::Function::New(env, [](const Napi::CallbackInfo&) {}), "lathe.kernel", 0, 1);
  Napi::Promise promise = result->deferred.Promise();
  AsyncExecutor::instance().push([result, job = std::move(job)] {
    try {
      job();
    } catch (const std::exception& e) {
      result->error = e.what();
    } catch (...) {
      result->error = "lathe native: unknown error in an async kernel";
    }
    result->toJs.BlockingCall(result, [](Napi::Env env, Napi::Function, AsyncResult* r) {
      if (r->error.empty()) r->deferred.Resolve(env.Undefined());
      else r->deferred.Reject(Napi::Error::New(env, r->error).Value());
      r->toJs.Release();
      delete r;  // drops the typed-array references, on the JS thread
    });
  });
  return promise;
}

// The matmul job, unpacked on the calling thread so that argument errors throw synchronously.
std::function<void()> matmulJob(const Napi::CallbackInfo& info, bool async) {
  const auto pool = async ? acquireAsyncPool() : acquirePool();  // held for the whole kernel (setNumThreads may swap it)
  Array a = arrayArg(info, 0), b = arrayArg(info, 1), out = arrayArg(info, 2), oa = arrayArg(info, 3), ob = arrayArg(info, 4);
  const int64_t M = intArg(info, 5), N = intArg(info, 6), K = intArg(info, 7);
  const bool tA = boolArg(info, 8), tB = boolArg(info, 9);
  std::vector<int64_t> offA(oa.length), offB(ob.length);
  for (size_t i = 0; i < oa.length; i++) offA[i] = static_cast<int64_t>(((const double*)oa.data)[i]);
  for (size_t i = 0; i < ob.length; i++) offB[i] = static_cast<int64_t>(((const double*)ob.data)[i]);
  return [=]() {
    const int64_t batch = static_cast<int64_t>(offA.size());
    if (a.type == napi_float32_array) batchedMatmul<float>((const float*)a.data, (const float*)b.data, (float*)out.data, batch, offA.data(), offB.data(), M, N, K, tA, tB, *pool);
    else batchedMatmul<double>((const double*)a.data, (const double*)b.data, (double*)out.data, batch, offA.data(), offB.data(), M, N, K, tA, tB, *pool);
  };
}

// linear(x [M,K], w [K,N], bias [N], out [M,N], M, N, K, act, weightsKey): float32 out = act(x w + bias) in one
// GEMM pass. weightsKey (0: none) names w's contents for the GEMM's prepacked weights (gemm/prepacked.h).
void Linear(const Napi::CallbackInfo& info) {
  const auto pool = acquirePool();  // held for the whole kernel (setNumThreads may swap it)
  Array x = arrayArg(info, 0), w = arrayArg(info, 1), bias = arrayArg(info, 2), out = arrayArg(info, 3);
  const int64_t M = intArg(info, 4), N = intArg(info, 5), K = intArg(info, 6);
  const int act = static_cast<int>(intArg(info, 7));
  const int64_t weightsKey = intArg(info, 8);
  // With a scale and offset (arguments 9, 10), x holds raw uint8 or float32 values that the
  // product reads rescaled: a Rescaling layer fused into the Dense after it.
  const bool rescaled = info.Length() > 10;
  const bool xOk = x.type == napi_float32_array || (rescaled && x.type == napi_uint8_array);
  const bool f32 = xOk && w.type == napi_float32_array && bias.type == w.type && out.type == w.type;
  if (!f32 || x.length != static_cast<size_t>(M * K) || w.length != static_cast<size_t>(K * N) ||
      bias.length != static_cast<size_t>(N) || out.length != static_cast<size_t>(M * N)) {
    throw Napi::RangeError::New(info.Env(), "lathe native: linear needs x [M,K] (float32, or uint8 when rescaled), float32 w [K,N], bias [N] and out [M,N]");
  }
  if (act < 0 || act > 3) throw Napi::RangeError::New(info.Env(), "lathe native: unknown activation " + std::to_string(act));
  if (rescaled) {
    const RescaledInput input{x.data, x.type == napi_uint8_array, float(info[9].As<Napi::Number>().DoubleValue()), float(info[10].As<Napi::Number>().DoubleValue())};
    sgemmRescaledBiasActivation(M, N, K, input, K, (const float*)w.data, N, (float*)out.data, N, (const float*)bias.data, act, pool.get(), uint64_t(weightsKey));
    return;
  }
  sgemmBiasActivation(M, N, K, (const float*)x.data, K, (const float*)w.data, N, (float*)out.data, N, (const float*)bias.data, act, pool.get(), uint64_t(weightsKey));
}

// matmul(a, b, out, offsetsA, offsetsB, M, N, K, transA, transB); offsets are Float64Arrays, one per batch entry
void Matmul(const Napi::CallbackInfo& info) { matmulJob(info, false)(); }

// matmulAsync(same arguments) -> Promise<void>
Napi::Value MatmulAsync(const Napi::CallbackInfo& info) { return runAsync(info, matmulJob(info, true)); }


}  // namespace

// The conv2d job: which 0 forward (x, w -> y), 1 grad input (dy, w -> dx), 2 grad weight (dy, x -> dw).
std::function<void()> convJob(const Napi::CallbackInfo& info, bool async) {
  const auto pool = async ? acquireAsyncPool() : acquirePool();  // held for the whole kernel (setNumThreads may swap it)
  const int which = static_cast<int>(intArg(info, 0));
  Array a = arrayArg(info, 1), b = arrayArg(info, 2), out = arrayArg(info, 3);
  const auto s = shapeArg<Conv2dShape>(info, 4);
  // The forward's epilogue: a bias per output channel (an empty array: none) and an activation.
  const Array bias = which == 0 && info.Length() > 5 ? arrayArg(info, 5) : Array{nullptr, 0, a.type};
  const int act = which == 0 && info.Length() > 6 ? static_cast<int>(intArg(info, 6)) : 0;
  if (bias.length != 0 && (bias.length != static_cast<size_t>(s.O) || bias.type != a.type)) {
    throw Napi::RangeError::New(info.Env(), "lathe native: conv2d's bias must hold one value per output channel, in the input's dtype");
  }
  if (act < 0 || act > 3) throw Napi::RangeError::New(info.Env(), "lathe native: unknown activation " + std::to_string(act));
  // Inference's max pooling of the output (geometry: one image's planes): `out` is then the pooled output.
  if (which == 0 && info.Length() > 7) {
    const auto p = shapeArg<Pool2dShape>(info, 7);
    if (a.type != napi_float32_array || p.planes != s.O || p.H != s.OH || p.W != s.OW ||
        out.length != static_cast<size_t>(s.N * p.planes * p.OH * p.OW)) {
      throw Napi::RangeError::New(info.Env(), "lathe native: conv2d's pooling must be float32 and fit the conv's output and `out`");
    }
    return [=]() { conv2dMaxPool((const float*)a.data, (const float*)b.data, bias.length ? (const float*)bias.data : nullptr, act, s, PoolAfter{p, (float*)out.data}, *pool); };
  }
  return [=]() {
    auto run = [&](auto* p) {
      using T = std::remove_pointer_t<decltype(p)>;
      const T *pa = (const T*)a.data, *pb = (const T*)b.data;
      T* po = (T*)out.data;
      if (which == 0) conv2d<T>(pa, pb, bias.length ? (const T*)bias.data : nullptr, act, po, s, *pool);
      else if (which == 1) conv2dGradInput<T>(pa, pb, po, s, *pool);
      else conv2dGradWeight<T>(pa, pb, po, s, *pool);
    };
    if (a.type == napi_float32_array) run((float*)nullptr);
    else run((double*)nullptr);
  };
}

// conv2d(which, a, b, out, geometry[, bias, activation[, pool geometry]])
void Conv2d(const Napi::CallbackInfo& info) { convJob(info, false)(); }

// conv2dAsync(same arguments) -> Promise<void>
Napi::Value Conv2dAsync(const Napi::CallbackInfo& info) { return runAsync(info, convJob(info, true)); }

// pool2d(which: 0 max forward (x -> y, argmax), 1 max backward (dy, argmax -> dx), 2 avg forward, 3 avg backward, a, out, argmax, geometry)
void Pool2d(const Napi::CallbackInfo& info) {
  const auto pool = acquirePool();  // held for the whole kernel (setNumThreads may swap it)
  const int which = static_cast<int>(intArg(info, 0));
  Array a = arrayArg(info, 1), out = arrayArg(info, 2), arg = arrayArg(info, 3);
  const auto s = shapeArg<Pool2dShape>(info, 4);
  auto run = [&](auto* p) {
    using T = std::remove_pointer_t<decltype(p)>;
    const T* pa = (const T*)a.data;
    T* po = (T*)out.data;
    int32_t* pi = arg.length > 0 ? (int32_t*)arg.data : nullptr;  // forward without argmax: inference
    if (which == 1 && pi == nullptr) throw Napi::RangeError::New(info.Env(), "lathe native: max pooling's gradient needs the argmax");
    if (which == 0) maxPool2d<T>(pa, po, pi, s, *pool);
    else if (which == 1) maxPool2dGrad<T>(pa, pi, po, s);
    else avgPool2d<T>(pa, po, s, which == 3, *pool);
  };
  if (isF32(a)) run((float*)nullptr);
  else run((double*)nullptr);
}

// adamUpdate(p, g, m, v, [lr, beta1, beta2, epsilon, weightDecay, biasCorrection1, biasCorrection2, decoupled])
void AdamUpdate(const Napi::CallbackInfo& info) {
  const auto pool = acquirePool();  // held for the whole kernel (setNumThreads may swap it)
  Array p = arrayArg(info, 0), g = arrayArg(info, 1), m = arrayArg(info, 2), v = arrayArg(info, 3), hy = arrayArg(info, 4);
  const double* d = static_cast<const double*>(hy.data);
  if (hy.length != 8) throw Napi::RangeError::New(info.Env(), "lathe native: adamUpdate needs 8 constants");
  const AdamHyper h{d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7] != 0};
  if (isF32(p)) adamUpdate<float>((float*)p.data, (const float*)g.data, (float*)m.data, (float*)v.data, p.length, h, *pool);
  else adamUpdate<double>((double*)p.data, (const double*)g.data, (double*)m.data, (double*)v.data, p.length, h, *pool);
}

size_t elementSize(napi_typedarray_type t) {
  switch (t) {
    case napi_float64_array: return 8;
    case napi_float32_array:
    case napi_int32_array:
    case napi_uint32_array: return 4;
    default: return 1;
  }
}

// stridedCopy(src, dst, geometry = [rank, shape, src strides, dst strides, srcOffset, dstOffset])
void StridedCopy(const Napi::CallbackInfo& info) {
  Array src = arrayArg(info, 0), dst = arrayArg(info, 1);
  auto g = geometryArg(info, 2, 2, 2);
  const int rank = static_cast<int>(g[0]);
  const int64_t *shape = g.data() + 1, *ss = shape + rank, *ds = ss + rank;
  const int64_t so = ds[rank], dof = ds[rank + 1];
  switch (elementSize(src.type)) {
    case 8: return stridedCopy<uint64_t>((const uint64_t*)src.data, (uint64_t*)dst.data, rank, shape, ss, so, ds, dof);
    case 4: return stridedCopy<uint32_t>((const uint32_t*)src.data, (uint32_t*)dst.data, rank, shape, ss, so, ds, dof);
    default: return stridedCopy<uint8_t>((const uint8_t*)src.data, (uint8_t*)dst.data, rank, shape, ss, so, ds, dof);
  }
}

// indexSelect(x, index, out, outer, n, inner) and indexAdd(src, index, out, outer, n, inner)
void IndexSelect(const Napi::CallbackInfo& info) {
  Array x = arrayArg(info, 0), idx = arrayArg(info, 1), out = arrayArg(info, 2);
  const int64_t outer = intArg(info, 3), n = intArg(info, 4), inner = intArg(info, 5), m = idx.length;
  checkIndices(info, idx, n);
  const int32_t* ix = (const int32_t*)idx.data;
  switch (elementSize(x.type)) {
    case 8: return indexSelect<uint64_t>((const uint64_t*)x.data, ix, (uint64_t*)out.data, outer, n, inner, m);
    case 4: return indexSelect<uint32_t>((const uint32_t*)x.data, ix, (uint32_t*)out.data, outer, n, inner, m);
    default: return indexSelect<uint8_t>((const uint8_t*)x.data, ix, (uint8_t*)out.data, outer, n, inner, m);
  }
}

void IndexAdd(const Napi::CallbackInfo& info) {
  Array src = arrayArg(info, 0), idx = arrayArg(info, 1), out = arrayArg(info, 2);
  const int64_t outer = intArg(info, 3), n = intArg(info, 4), inner = intArg(info, 5), m = idx.length;
  checkIndices(info, idx, n);
  if (isF32(src)) indexAdd<float>((const float*)src.data, (const int32_t*)idx.data, (float*)out.data, outer, n, inner, m);
  else indexAdd<double>((const double*)src.data, (const int32_t*)idx.data, (double*)out.data, outer, n, inner, m);
}

// gather(x, index, out, geometry = [rank, index shape, x strides, axis, axis size]) and
// scatterAdd(src, index, out, geometry = [rank, index shape, out strides, axis, axis size])
void Gather(const Napi::CallbackInfo& info) {
  Array x = arrayArg(info, 0), idx = arrayArg(info, 1), out = arrayArg(info, 2);
  auto g = geometryArg(info, 3, 1, 2);
  const int rank = static_cast<int>(g[0]);
  const int64_t *shape = g.data() + 1, *st = shape + rank;
  const int axis = static_cast<int>(st[rank]);
  checkIndices(info, idx, st[rank + 1]);
  const int32_t* ix = (const int32_t*)idx.data;
  switch (elementSize(x.type)) {
    case 8: return gather<uint64_t>((const uint64_t*)x.data, ix, (uint64_t*)out.data, rank, shape, st, axis);
    case 4: return gather<uint32_t>((const uint32_t*)x.data, ix, (uint32_t*)out.data, rank, shape, st, axis);
    default: return gather<uint8_t>((const uint8_t*)x.data, ix, (uint8_t*)out.data, rank, shape, st, axis);
  }
}

void ScatterAdd(const Napi::CallbackInfo& info) {
  Array src = arrayArg(info, 0), idx = arrayArg(info, 1), out = arrayArg(info, 2);
  auto g = geometryArg(info, 3, 1, 2);
  const int rank = static_cast<int>(g[0]);
  const int64_t *shape = g.data() + 1, *st = shape + rank;
  const int axis = static_cast<int>(st[rank]);
  checkIndices(info, idx, st[rank + 1]);
  if (isF32(src)) scatterAdd<float>((const float*)src.data, (const int32_t*)idx.data, (float*)out.data, rank, shape, st, axis);
  else scatterAdd<double>((const double*)src.data, (const int32_t*)idx.data, (double*)out.data, rank, shape, st, axis);
}

// Tensors' storage is ArrayBuffers that V8 gets from calloc. glibc serves blocks above its mmap
// threshold (128 KB at first) with fresh mmaps, so every new 400 KB gradient page-faults on
// first touch and is unmapped again at GC: about 75 us of a 400 us training step here. Serving
// blocks up to 64 MB from the heap instead reuses warm memory (measured 420 -> 345 us a step).
void tuneMalloc() {
#if defined(__GLIBC__)
  mallopt(M_MMAP_THRESHOLD, 64 << 20);
  mallopt(M_TRIM_THRESHOLD, 128 << 20);
#endif
}

// scaleShift(x: Uint8Array|Int32Array|Float32Array|Float64Array, out: Float32Array|Float64Array, scale, offset)
void ScaleShift(const Napi::CallbackInfo& info) {
  const auto pool = acquirePool();  // held for the whole kernel (setNumThreads may swap it)
  Array x = arrayArg(info, 0), out = arrayArg(info, 1);
  if (x.length != out.length) throw Napi::RangeError::New(info.Env(), "lathe native: scaleShift: input and output lengths differ");
  const double scale = info[2].As<Napi::Number>().DoubleValue(), offset = info[3].As<Napi::Number>().DoubleValue();
  auto run = [&](auto* dst) {
    using D = std::remove_pointer_t<decltype(dst)>;
    D* o = (D*)out.data;
    const int64_t n = static_cast<int64_t>(x.length);
    switch (x.type) {
      case napi_uint8_array: scaleShift<uint8_t, D>((const uint8_t*)x.data, o, n, scale, offset, *pool); break;
      case napi_int8_array: scaleShift<int8_t, D>((const int8_t*)x.data, o, n, scale, offset, *pool); break;
      case napi_int32_array: scaleShift<int32_t, D>((const int32_t*)x.data, o, n, scale, offset, *pool); break;
      case napi_float32_array: scaleShift<float, D>((const float*)x.data, o, n, scale, offset, *pool); break;
      case napi_float64_array: scaleShift<double, D>((const double*)x.data, o, n, scale, offset, *pool); break;
      default: throw Napi::TypeError::New(info.Env(), "lathe native: scaleShift: unsupported input type");
    }
  };
  if (out.type == napi_float32_array) run((float*)nullptr);
  else if (out.type == napi_float64_array) run((double*)nullptr);
  else throw Napi::TypeError::New(info.Env(), "lathe native: scaleShift: the output must be float32 or float64");
}

// biasActivation(x, bias, out, act)
void BiasActivation(const Napi::CallbackInfo& info) {
  const auto pool = acquirePool();  // held for the whole kernel (setNumThreads may swap it)
  Array x = arrayArg(info, 0), b = arrayArg(info, 1), out = arrayArg(info, 2);
  const int act = static_cast<int>(intArg(info, 3));
  const int64_t C = static_cast<int64_t>(b.length), rows = C > 0 ? static_cast<int64_t>(x.length) / C : 0;
  if (isF32(x)) biasActivation<float>((const float*)x.data, (const float*)b.data, (float*)out.data, rows, C, act, *pool);
  else biasActivation<double>((const double*)x.data, (const double*)b.data, (double*)out.data, rows, C, act, *pool);
}

// softmaxCrossEntropy(logits, labels, losses, grad, N, C)
void SoftmaxCrossEntropy(const Napi::CallbackInfo& info) {
  const auto pool = acquirePool();  // held for the whole kernel (setNumThreads may swap it)
  Array x = arrayArg(info, 0), y = arrayArg(info, 1), losses = arrayArg(info, 2), grad = arrayArg(info, 3);
  const int64_t N = intArg(info, 4), C = intArg(info, 5);
  const int32_t* labels = (const int32_t*)y.data;
  if (isF32(x)) softmaxCrossEntropy<float>((const float*)x.data, labels, (float*)losses.data, (float*)grad.data, N, C, *pool);
  else softmaxCrossEntropy<double>((const double*)x.data, labels, (double*)losses.data, (double*)grad.data, N, C, *pool);
}

// Every array one float dtype and of its expected length (an empty one where `optional` and
// none is passed), so a malformed call cannot read or write out of bounds.
void checkFloatArrays(const Napi::CallbackInfo& info, const char* op, const std::vector<Array>& arrays,
                      const std::vector<int64_t>& lengths, const std::vector<bool>& optional) {
  for (size_t i = 0; i < arrays.size(); i++) {
    const bool absent = optional[i] && arrays[i].length == 0;
    if (arrays[i].type != arrays[0].type || (arrays[i].type != napi_float32_array && arrays[i].type != napi_float64_array) ||
        (!absent && static_cast<int64_t>(arrays[i].length) != lengths[i])) {
      throw Napi::RangeError::New(info.Env(), std::string("lathe native: ") + op + ": argument " + std::to_string(i) + " has the wrong type or length");
    }
  }
}

// layerNorm(x, gamma, beta, out, mean, rstd, rows, C, eps); an empty gamma or beta: none
void LayerNorm(const Napi::CallbackInfo& info) {
  const auto pool = acquirePool();  // held for the whole kernel (setNumThreads may swap it)
  std::vector<Array> a;
  for (size_t i = 0; i < 6; i++) a.push_back(arrayArg(info, i));
  const int64_t rows = intArg(info, 6), C = intArg(info, 7);
  const double eps = info[8].As<Napi::Number>().DoubleValue();
  checkFloatArrays(info, "layerNorm", a, {rows * C, C, C, rows * C, rows, rows}, {false, true, true, false, false, false});
  auto run = [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    auto p = [&](int i) { return a[i].length ? static_cast<T*>(a[i].data) : nullptr; };
    layerNormForward<T>(p(0), p(1), p(2), p(3), p(4), p(5), rows, C, eps, *pool);
  };
  if (isF32(a[0])) run((float*)nullptr);
  else run((double*)nullptr);
}

// layerNormGrad(dy, x, mean, rstd, gamma, dx, dgamma, dbeta, rows, C); empty gamma: none; empty dgamma or dbeta: not wanted
void LayerNormGrad(const Napi::CallbackInfo& info) {
  const auto pool = acquirePool();  // held for the whole kernel (setNumThreads may swap it)
  std::vector<Array> a;
  for (size_t i = 0; i < 8; i++) a.push_back(arrayArg(info, i));
  const int64_t rows = intArg(info, 8), C = intArg(info, 9);
  checkFloatArrays(info, "layerNormGrad", a, {rows * C, rows * C, rows, rows, C, rows * C, C, C}, {false, false, false, false, true, false, true, true});
  auto run = [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    auto p = [&](int i) { return a[i].length ? static_cast<T*>(a[i].data) : nullptr; };
    layerNormBackward<T>(p(0), p(1), p(2), p(3), p(4), p(5), p(6), p(7), rows, C, *pool);
  };
  if (isF32(a[0])) run((float*)nullptr);
  else run((double*)nullptr);
}

// gelu(x, y, approximate) and geluGrad(x, dy, dx, approximate)
void Gelu(const Napi::CallbackInfo& info) {
  const auto pool = acquirePool();  // held for the whole kernel (setNumThreads may swap it)
  Array x = arrayArg(info, 0), y = arrayArg(info, 1);
  const bool approx = boolArg(info, 2);
  const int64_t n = static_cast<int64_t>(x.length);
  checkFloatArrays(info, "gelu", {x, y}, {n, n}, {false, false});
  if (isF32(x)) geluForward<float>((const float*)x.data, (float*)y.data, n, approx, *pool);
  else geluForward<double>((const double*)x.data, (double*)y.data, n, approx, *pool);
}

void GeluGrad(const Napi::CallbackInfo& info) {
  const auto pool = acquirePool();  // held for the whole kernel (setNumThreads may swap it)
  Array x = arrayArg(info, 0), dy = arrayArg(info, 1), dx = arrayArg(info, 2);
  const bool approx = boolArg(info, 3);
  const int64_t n = static_cast<int64_t>(x.length);
  checkFloatArrays(info, "geluGrad", {x, dy, dx}, {n, n, n}, {false, false, false});
  if (isF32(x)) geluBackward<float>((const float*)x.data, (const float*)dy.data, (float*)dx.data, n, approx, *pool);
  else geluBackward<double>((const double*)x.data, (const double*)dy.data, (double*)dx.data, n, approx, *pool);
}

// The arrays of one attention call, checked against its dims (all of one float dtype, each of
// its size), so a malformed call cannot read or write out of bounds.
struct AttentionDims {
  int64_t heads, Tq, Tk, D;
};

AttentionDims attentionDims(const Napi::CallbackInfo& info, size_t first, const std::vector<Array>& arrays,
                            const std::vector<char>& kinds) {
  const AttentionDims d{intArg(info, first), intArg(info, first + 1), intArg(info, first + 2), intArg(info, first + 3)};
  if (d.heads < 0 || d.Tq < 0 || d.Tk < 1 || d.D < 1 || (info[first + 5].ToBoolean().Value() && d.Tq > d.Tk)) {
    throw Napi::RangeError::New(info.Env(), "lathe native: attention: bad dimensions");
  }
  for (size_t i = 0; i < arrays.size(); i++) {
    // q: query rows [heads, Tq, D]; k: key rows [heads, Tk, D]; l: one per query row [heads, Tq].
    const int64_t want = kinds[i] == 'q' ? d.heads * d.Tq * d.D : kinds[i] == 'k' ? d.heads * d.Tk * d.D : d.heads * d.Tq;
    if (arrays[i].type != arrays[0].type || (arrays[i].type != napi_float32_array && arrays[i].type != napi_float64_array) ||
        static_cast<int64_t>(arrays[i].length) != want) {
      throw Napi::RangeError::New(info.Env(), "lathe native: attention: argument " + std::to_string(i) + " has the wrong type or length");
    }
  }
  return d;
}

// attention(q, k, v, out, lse, heads, Tq, Tk, D, scale, causal)
void Attention(const Napi::CallbackInfo& info) {
  const auto pool = acquirePool();  // held for the whole kernel (setNumThreads may swap it)
  Array q = arrayArg(info, 0), k = arrayArg(info, 1), v = arrayArg(info, 2), out = arrayArg(info, 3), lse = arrayArg(info, 4);
  const auto d = attentionDims(info, 5, {q, k, v, out, lse}, {'q', 'k', 'k', 'q', 'l'});
  const double scale = info[9].As<Napi::Number>().DoubleValue();
  const bool causal = boolArg(info, 10);
  if (isF32(q)) attentionForward<float>((const float*)q.data, (const float*)k.data, (const float*)v.data, (float*)out.data, (float*)lse.data, d.heads, d.Tq, d.Tk, d.D, scale, causal, *pool);
  else attentionForward<double>((const double*)q.data, (const double*)k.data, (const double*)v.data, (double*)out.data, (double*)lse.data, d.heads, d.Tq, d.Tk, d.D, scale, causal, *pool);
}

// attentionGrad(dout, q, k, v, out, lse, dq, dk, dv, heads, Tq, Tk, D, scale, causal)
void AttentionGrad(const Napi::CallbackInfo& info) {
  const auto pool = acquirePool();  // held for the whole kernel (setNumThreads may swap it)
  std::vector<Array> a;
  for (size_t i = 0; i < 9; i++) a.push_back(arrayArg(info, i));
  const auto d = attentionDims(info, 9, a, {'q', 'q', 'k', 'k', 'q', 'l', 'q', 'k', 'k'});
  const double scale = info[13].As<Napi::Number>().DoubleValue();
  const bool causal = boolArg(info, 14);
  auto run = [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    auto in = [&](int i) { return static_cast<const T*>(a[i].data); };
    auto outp = [&](int i) { return static_cast<T*>(a[i].data); };
    attentionBackward<T>(in(0), in(1), in(2), in(3), in(4), in(5), outp(6), outp(7), outp(8), d.heads, d.Tq, d.Tk, d.D, scale, causal, *pool);
  };
  if (isF32(a[0])) run((float*)nullptr);
  else run((double*)nullptr);
}

// Checks one packed attention call's arrays: one float dtype, each of its size (in elements).
void checkAttentionArrays(const Napi::CallbackInfo& info, const char* op, const std::vector<Array>& arrays,
                          const std::vector<int64_t>& sizes) {
  for (size_t i = 0; i < arrays.size(); i++) {
    if (arrays[i].type != arrays[0].type || (arrays[i].type != napi_float32_array && arrays[i].type != napi_float64_array) ||
        static_cast<int64_t>(arrays[i].length) != sizes[i]) {
      throw Napi::RangeError::New(info.Env(), std::string("lathe native: ") + op + ": argument " + std::to_string(i) + " has the wrong type or length");
    }
  }
}

// attentionPacked(qkv, out, lse, B, H, T, D, scale, causal)
void AttentionPacked(const Napi::CallbackInfo& info) {
  const auto pool = acquirePool();
  Array qkv = arrayArg(info, 0), out = arrayArg(info, 1), lse = arrayArg(info, 2);
  const int64_t B = intArg(info, 3), H = intArg(info, 4), T = intArg(info, 5), D = intArg(info, 6);
  if (B < 0 || H < 1 || T < 1 || D < 1) throw Napi::RangeError::New(info.Env(), "lathe native: attentionPacked: bad dimensions");
  checkAttentionArrays(info, "attentionPacked", {qkv, out, lse}, {B * T * 3 * H * D, B * T * H * D, B * H * T});
  const double scale = info[7].As<Napi::Number>().DoubleValue();
  const bool causal = boolArg(info, 8);
  if (isF32(qkv)) attentionPackedForward<float>((const float*)qkv.data, (float*)out.data, (float*)lse.data, B, H, T, D, scale, causal, *pool);
  else attentionPackedForward<double>((const double*)qkv.data, (double*)out.data, (double*)lse.data, B, H, T, D, scale, causal, *pool);
}

// attentionPackedGrad(dout, qkv, out, lse, dqkv, B, H, T, D, scale, causal)
void AttentionPackedGrad(const Napi::CallbackInfo& info) {
  const auto pool = acquirePool();
  std::vector<Array> a;
  for (size_t i = 0; i < 5; i++) a.push_back(arrayArg(info, i));
  const int64_t B = intArg(info, 5), H = intArg(info, 6), T = intArg(info, 7), D = intArg(info, 8);
  if (B < 0 || H < 1 || T < 1 || D < 1) throw Napi::RangeError::New(info.Env(), "lathe native: attentionPackedGrad: bad dimensions");
  const int64_t o = B * T * H * D;
  checkAttentionArrays(info, "attentionPackedGrad", a, {o, 3 * o, o, B * H * T, 3 * o});
  const double scale = info[9].As<Napi::Number>().DoubleValue();
  const bool causal = boolArg(info, 10);
  auto run = [&](auto* tag) {
    using F = std::remove_pointer_t<decltype(tag)>;
    auto in = [&](int i) { return static_cast<const F*>(a[i].data); };
    attentionPackedBackward<F>(in(0), in(1), in(2), in(3), static_cast<F*>(a[4].data), B, H, T, D, scale, causal, *pool);
  };
  if (isF32(a[0])) run((float*)nullptr);
  else run((double*)nullptr);
}

// attentionCached(qkv, kCache, vCache, out, B, H, T, length, capacity, D, scale)
void AttentionCached(const Napi::CallbackInfo& info) {
  const auto pool = acquirePool();
  Array qkv = arrayArg(info, 0), kc = arrayArg(info, 1), vc = arrayArg(info, 2), out = arrayArg(info, 3);
  const int64_t B = intArg(info, 4), H = intArg(info, 5), T = intArg(info, 6), L = intArg(info, 7), cap = intArg(info, 8), D = intArg(info, 9);
  if (B < 0 || H < 1 || T < 1 || D < 1 || L < 0 || L + T > cap) throw Napi::RangeError::New(info.Env(), "lathe native: attentionCached: bad dimensions");
  const int64_t C = H * D;
  checkAttentionArrays(info, "attentionCached", {qkv, kc, vc, out}, {B * T * 3 * C, B * H * cap * D, B * H * cap * D, B * T * C});
  const double scale = info[10].As<Napi::Number>().DoubleValue();
  if (isF32(qkv)) attentionCachedForward<float>((const float*)qkv.data, (float*)kc.data, (float*)vc.data, (float*)out.data, B, H, T, L, cap, D, scale, *pool);
  else attentionCachedForward<double>((const double*)qkv.data, (double*)kc.data, (double*)vc.data, (double*)out.data, B, H, T, L, cap, D, scale, *pool);
}

void registerQuantized(Napi::Env env, Napi::Object exports);  // quantized_binding.cc

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  tuneMalloc();
  registerQuantized(env, exports);
  exports.Set("softmaxCrossEntropy", Napi::Function::New(env, SoftmaxCrossEntropy));
  exports.Set("attention", Napi::Function::New(env, Attention));
  exports.Set("attentionGrad", Napi::Function::New(env, AttentionGrad));
  exports.Set("attentionPacked", Napi::Function::New(env, AttentionPacked));
  exports.Set("attentionPackedGrad", Napi::Function::New(env, AttentionPackedGrad));
  exports.Set("attentionCached", Napi::Function::New(env, AttentionCached));
  exports.Set("layerNorm", Napi::Function::New(env, LayerNorm));
  exports.Set("layerNormGrad", Napi::Function::New(env, LayerNormGrad));
  exports.Set("gelu", Napi::Function::New(env, Gelu));
  exports.Set("geluGrad", Napi::Function::New(env, GeluGrad));
  exports.Set("biasActivation", Napi::Function::New(env, BiasActivation));
  exports.Set("linear", Napi::Function::New(env, Linear));
  exports.Set("newWeightsKey", Napi::Function::New(env, NewWeightsKey));
  exports.Set("lowerThreadPriority", Napi::Function::New(env, LowerThreadPriority));
  exports.Set("scaleShift", Napi::Function::New(env, ScaleShift));
  exports.Set("stridedCopy", Napi::Function::New(env, StridedCopy));
  exports.Set("indexSelect", Napi::Function::New(env, IndexSelect));
  exports.Set("indexAdd", Napi::Function::New(env, IndexAdd));
  exports.Set("gather", Napi::Function::New(env, Gather));
  exports.Set("scatterAdd", Napi::Function::New(env, ScatterAdd));
  exports.Set("adamUpdate", Napi::Function::New(env, AdamUpdate));
  exports.Set("conv2d", Napi::Function::New(env, Conv2d));
  exports.Set("conv2dAsync", Napi::Function::New(env, Conv2dAsync));
  exports.Set("pool2d", Napi::Function::New(env, Pool2d));
  exports.Set("info", Napi::Function::New(env, Info));
  exports.Set("setThreads", Napi::Function::New(env, SetThreads));
  exports.Set("setSerial", Napi::Function::New(env, SetSerial));
  exports.Set("wakeThreads", Napi::Function::New(env, WakeThreads));
  exports.Set("unary", Napi::Function::New(env, Unary));
  exports.Set("binary", Napi::Function::New(env, Binary));
  exports.Set("where", Napi::Function::New(env, Where));
  exports.Set("reduce", Napi::Function::New(env, Reduce));
  exports.Set("argReduce", Napi::Function::New(env, ArgReduce));
  exports.Set("softmax", Napi::Function::New(env, Softmax));
  exports.Set("matmul", Napi::Function::New(env, Matmul));
  exports.Set("matmulAsync", Napi::Function::New(env, MatmulAsync));
  return exports;
}

}  // namespace lathe

static Napi::Object InitAddon(Napi::Env env, Napi::Object exports) { return lathe::Init(env, exports); }
NODE_API_MODULE(lathe_native, InitAddon)
