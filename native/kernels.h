// The native kernels the binding exposes, for float and double. Shapes arrive settled by the
// TypeScript op layer; these only compute. Op codes index the name lists below, which the
// binding publishes so that TypeScript maps names to codes and never relies on an order.
#pragma once
#include <cstdint>

#include "threadpool.h"

namespace lathe {

extern const char* const kUnaryOps[];
extern const int kUnaryOpCount;
extern const char* const kBinaryOps[];
extern const int kBinaryOpCount;

constexpr int kMaxRank = 16;

// y[i] = f(x[i]).
template <typename T>
void unary(int op, const T* x, T* y, int64_t n, T param, ThreadPool& pool);

// out[i] = f(a[ia], b[ib]) over `shape`, a and b read through broadcast strides (0 on broadcast axes).
// Comparison ops write 0/1 into `outBool` instead of `out`.
template <typename T>
void binary(int op, const T* a, const T* b, T* out, uint8_t* outBool, int rank, const int64_t* shape,
            const int64_t* sa, const int64_t* sb, ThreadPool& pool);

template <typename T>
void where(const uint8_t* cond, const T* a, const T* b, T* out, int rank, const int64_t* shape, const int64_t* sc,
           const int64_t* sa, const int64_t* sb);

// out[r, j] = act(x[r, j] + bias[j]); act: 0 linear, 1 relu, 2 sigmoid, 3 tanh.
// out = D(x) * scale + offset: a Rescaling layer's cast and scale in one pass (uint8 pixels in).
template <typename S, typename D>
void scaleShift(const S* x, D* out, int64_t n, double scale, double offset, ThreadPool& pool);

template <typename T>
void biasActivation(const T* x, const T* bias, T* out, int64_t rows, int64_t C, int act, ThreadPool& pool);

// x viewed as [outer, n, inner]: out[o, i] = reduce over k of x[o, k, i]. op: 0 sum, 1 max, 2 min.
template <typename T>
void reduce(int op, const T* x, T* out, int64_t outer, int64_t n, int64_t inner, ThreadPool& pool);

template <typename T>
void argReduce(bool isMax, const T* x, int32_t* out, int64_t outer, int64_t n, int64_t inner);

template <typename T>
void softmax(const T* x, T* out, int64_t outer, int64_t n, int64_t inner, bool log, ThreadPool& pool);

// Per row of x [N, C]: losses[i] = -log softmax(x_i)[labels[i]], grad_i = softmax(x_i) - onehot(labels[i]).
template <typename T>
void softmaxCrossEntropy(const T* x, const int32_t* labels, T* losses, T* grad, int64_t N, int64_t C, ThreadPool& pool);

// Batched matmul: for each batch b, C_b = op(A at offA[b]) op(B at offB[b]); C_b at b*M*N.
template <typename T>
void batchedMatmul(const T* A, const T* B, T* C, int64_t batch, const int64_t* offA, const int64_t* offB, int64_t M,
                   int64_t N, int64_t K, bool transA, bool transB, ThreadPool& pool);

// conv2d geometry, NCHW: x [N,C,H,W], w [O,Cg,KH,KW] with Cg = C/groups, y [N,O,OH,OW].
struct Conv2dShape {
  int64_t N, C, H, W, O, Cg, KH, KW, OH, OW, sh, sw, ph, pw, dh, dw, groups;
};

template <typename T>
// y = act(conv(x, w) + bias): bias [O] or nullptr; act 0 linear, 1 relu, 2 sigmoid, 3 tanh (FUSED_ACTIVATIONS' order).
void conv2d(const T* x, const T* w, const T* bias, int act, T* y, const Conv2dShape& s, ThreadPool& pool);
template <typename T>
void conv2dGradInput(const T* dy, const T* w, T* dx, const Conv2dShape& s, ThreadPool& pool);
template <typename T>
void conv2dGradWeight(const T* dy, const T* x, T* dw, const Conv2dShape& s, ThreadPool& pool);

// Pooling over `planes` = N*C planes of H x W into OH x OW.
struct Pool2dShape {
  int64_t planes, H, W, OH, OW, KH, KW, sh, sw, ph, pw;
};

template <typename T>
void maxPool2d(const T* x, T* y, int32_t* argmax, const Pool2dShape& s, ThreadPool& pool);

// Inference's conv2d then max pooling, image by image: each image's conv output goes to a
// per-thread scratch that is pooled while still in cache, so it never travels to memory and back
// (a CNN's first conv writes 4x what its pooling keeps: 22 MB at batch 256 on MNIST).
// shape.planes counts one image's planes (the conv's output channels); y is [N, O, OH', OW'].
struct PoolAfter {
  Pool2dShape shape;
  float* y;
};
// float32 only: conv2d<float>(x, w, bias, act) pooled into after.y, no argmax.
void conv2dMaxPool(const float* x, const float* w, const float* bias, int act, const Conv2dShape& s,
                   const PoolAfter& after, ThreadPool& pool);
// For the conv paths: where image n's output goes (y, or the scratch when pooling follows), and
// the pooling of that scratch into image n's pooled output. Run inside a pool task, so the
// pooling runs on the calling thread.
float* convImageOutput(float* y, int64_t n, int64_t imageSize, const PoolAfter* after);
void poolImage(const float* convOut, int64_t n, const PoolAfter& after, ThreadPool& pool);
template <typename T>
void maxPool2dGrad(const T* dy, const int32_t* argmax, T* dx, const Pool2dShape& s);
template <typename T>
void avgPool2d(const T* x, T* y, const Pool2dShape& s, bool backward, ThreadPool& pool);

// Copies the strided view (shape, srcStrides from srcOffset) into the strided view of dst.
// E is an unsigned integer of the element's size: copies move bits, whatever the dtype.
template <typename E>
void stridedCopy(const E* src, E* dst, int rank, const int64_t* shape, const int64_t* srcStrides, int64_t srcOffset,
                 const int64_t* dstStrides, int64_t dstOffset);

// x as [outer, n, inner]: out[o, j, :] = x[o, index[j], :], for j < m.
template <typename E>
void indexSelect(const E* x, const int32_t* index, E* out, int64_t outer, int64_t n, int64_t inner, int64_t m);
// The adjoint: out[o, index[j], :] += src[o, j, :] (out must start zeroed).
template <typename T>
void indexAdd(const T* src, const int32_t* index, T* out, int64_t outer, int64_t n, int64_t inner, int64_t m);

// torch.gather and its adjoint scatter-add, for an index of shape idxShape.
template <typename E>
void gather(const E* x, const int32_t* index, E* out, int rank, const int64_t* idxShape, const int64_t* xStrides, int axis);
template <typename T>
void scatterAdd(const T* src, const int32_t* index, T* out, int rank, const int64_t* idxShape, const int64_t* outStrides,
                int axis);

// Scaled dot-product attention over `heads` independent (batch, head) pairs: q and out
// [heads, Tq, D], k and v [heads, Tk, D], lse [heads, Tq] (each row's log-sum-exp of its scaled
// scores). causal masks key j from query i when j > i + (Tk - Tq); needs Tq <= Tk, D, Tk >= 1.
template <typename T>
void attentionForward(const T* q, const T* k, const T* v, T* out, T* lse, int64_t heads, int64_t Tq, int64_t Tk,
                      int64_t D, double scale, bool causal, ThreadPool& pool);
// Its gradients dq, dk, dv (written in full) from dout and the forward's out and lse.
template <typename T>
void attentionBackward(const T* dout, const T* q, const T* k, const T* v, const T* out, const T* lse, T* dq, T* dk,
                       T* dv, int64_t heads, int64_t Tq, int64_t Tk, int64_t D, double scale, bool causal,
                       ThreadPool& pool);
// The packed form: q, k and v are read in place from the fused projection qkv [B, T, 3C] (head h
// of q at column h*D, of k at C + h*D, of v at 2C + h*D), out is [B, T, C] (head h at column
// h*D), lse [B, H, T]; the backward writes dqkv [B, T, 3C] in full.
template <typename T>
void attentionPackedForward(const T* qkv, T* out, T* lse, int64_t B, int64_t H, int64_t T_, int64_t D, double scale,
                            bool causal, ThreadPool& pool);
template <typename T>
void attentionPackedBackward(const T* dout, const T* qkv, const T* out, const T* lse, T* dqkv, int64_t B, int64_t H,
                             int64_t T_, int64_t D, double scale, bool causal, ThreadPool& pool);
// A decoding step: writes the keys and values of qkv [B, T, 3C] to rows length..length+T-1 of
// kCache and vCache [B, H, capacity, D], then causal attention of the T queries over rows
// 0..length+T-1, into out [B, T, C]. Needs length + T <= capacity.
template <typename T>
void attentionCachedForward(const T* qkv, T* kCache, T* vCache, T* out, int64_t B, int64_t H, int64_t T_,
                            int64_t length, int64_t capacity, int64_t D, double scale, ThreadPool& pool);

// LayerNorm over the last axis of x [rows, C]: out = (x - mean) * rstd * gamma + beta, gamma and
// beta optional (nullptr); saves each row's mean and rstd = 1/sqrt(var + eps), biased variance.
template <typename T>
void layerNormForward(const T* x, const T* gamma, const T* beta, T* out, T* mean, T* rstd, int64_t rows, int64_t C,
                      double eps, ThreadPool& pool);
// Its gradients: dx (written in full) and, where not nullptr, dgamma and dbeta [C] (overwritten).
template <typename T>
void layerNormBackward(const T* dy, const T* x, const T* mean, const T* rstd, const T* gamma, T* dx, T* dgamma,
                       T* dbeta, int64_t rows, int64_t C, ThreadPool& pool);

// GELU, y = x Phi(x) or GPT-2's tanh approximation (approximate = true), and its backward
// dx = dy * gelu'(x), each one pass.
template <typename T>
void geluForward(const T* x, T* y, int64_t n, bool approximate, ThreadPool& pool);
template <typename T>
void geluBackward(const T* x, const T* dy, T* dx, int64_t n, bool approximate, ThreadPool& pool);

struct AdamHyper {
  double lr, beta1, beta2, epsilon, weightDecay, biasCorrection1, biasCorrection2;
  bool decoupled;
};

template <typename T>
void adamUpdate(T* p, const T* g, T* m, T* v, int64_t n, const AdamHyper& h, ThreadPool& pool);

}  // namespace lathe
