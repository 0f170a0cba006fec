// Every kernel's parameters, and the one list of kernels that both backends implement
// (cpu/*.cpp and cuda/*.cu). Pointers here are already offset to the first element; the binding
// has checked handles, devices and bounds before a kernel runs. Shapes are row-major; "outer,
// size, inner" views a tensor as [outer, size, inner] around the dimension an op works on.
#pragma once
#include <cstdint>
#include "core/dtype.h"

namespace ts {

constexpr int kMaxDims = 8;

struct FillParams { void* out; int64_t n; DType dtype; double value; };
struct ArangeParams { void* out; int64_t n; DType dtype; double start, step; };
// kind 0: uniform in [a, b); kind 1: normal with mean a and standard deviation b.
struct RandomParams { void* out; int64_t n; DType dtype; int kind; double a, b; uint64_t seed, counter; };
struct CastParams { const void* src; DType srcDtype; void* out; DType outDtype; int64_t n; };

struct UnaryParams { int op; const void* x; void* out; int64_t n; DType dtype; double alpha, beta; };
// gx = gy * f'(x)
struct UnaryBackwardParams { int op; const void* x; const void* gy; void* gx; int64_t n; DType dtype; double alpha, beta; };

// out = a (op) b with broadcasting: strides of 0 repeat an input along a dimension. The output is
// contiguous with `shape`. Comparisons write Bool; other ops write `dtype`.
struct BinaryParams {
  int op; const void* a; const void* b; void* out;
  int ndim; int64_t shape[kMaxDims], aStrides[kMaxDims], bStrides[kMaxDims];
  int64_t n; DType dtype; DType outDtype;
};
// out = cond ? a : b (cond is Bool), broadcasting like BinaryParams.
struct WhereParams {
  const void* cond; const void* a; const void* b; void* out;
  int ndim; int64_t shape[kMaxDims], condStrides[kMaxDims], aStrides[kMaxDims], bStrides[kMaxDims];
  int64_t n; DType dtype;
};
// out[i] = src[i] over `shape`, each side with its own element strides: permutes, narrows,
// concatenation into slices, and materialising broadcasts are all this one copy.
struct CopyParams {
  const void* src; void* out;
  int ndim; int64_t shape[kMaxDims], srcStrides[kMaxDims], outStrides[kMaxDims];
  int64_t n; DType dtype;
};
// dst += alpha * src, converting src's type to dst's (e.g. a bf16 gradient into an fp32 main grad).
struct AccumulateParams { void* dst; DType dstDtype; const void* src; DType srcDtype; int64_t n; double alpha; };

// out[o, i] = reduce_j x[o, j, i]. Sum/Mean accumulate in fp32 (fp64 for f64, int64 for
// integers). Max/Min optionally write the (first) arg index as int64 into `indices`.
struct ReduceParams {
  int op; const void* x; void* out; int64_t* indices;
  int64_t outer, size, inner; DType dtype, outDtype;
};

struct SoftmaxParams { const void* x; void* out; int64_t outer, size, inner; DType dtype; bool log; };
// softmax: gx = y * (gy - sum(gy * y)); log-softmax: gx = gy - exp(y) * sum(gy)
struct SoftmaxBackwardParams { const void* y; const void* gy; void* gx; int64_t outer, size, inner; DType dtype; bool log; };

// Megatron's fused scale + mask + softmax over attention scores x [b, heads, sq, sk] (rows =
// b * heads * sq, each of sk columns), fp32 inside: y = softmax(where(masked, -10000, x * scale)).
// Column j of query row i is masked when causal and j > i + (sk - sq), or when mask (Bool, may
// be null) is set at mask[bi * maskBatchStride + i * maskRowStride + j] (strides 0 broadcast).
struct AttentionMask {
  const uint8_t* mask; int64_t sq, heads, maskBatchStride, maskRowStride; bool causal;
};
struct MaskedSoftmaxParams { const void* x; void* out; int64_t rows, cols; AttentionMask m; double scale; DType dtype; };
// gx = masked ? 0 : scale * y * (gy - sum(gy * y)) over each row (masked scores do not depend on x).
struct MaskedSoftmaxBackwardParams { const void* y; const void* gy; void* gx; int64_t rows, cols; AttentionMask m; double scale; DType dtype; };

// Row-wise LayerNorm (rms=false) or RMSNorm (rms=true) over the last dimension, statistics in fp32.
// w and b may be null (no affine / no bias). mean is unused for RMSNorm and may be null.
struct NormParams {
  const void* x; const void* w; const void* b; void* out; float* mean; float* rstd;
  int64_t rows, cols; double eps; DType dtype, wDtype; bool rms;
};
// gw and gb (fp32, length cols) are written, not accumulated; null when not wanted.
struct NormBackwardParams {
  const void* gy; const void* x; const void* w; const float* mean; const float* rstd;
  void* gx; float* gw; float* gb; int64_t rows, cols; DType dtype, wDtype; bool rms;
};

// Per-row cross entropy in fp32: loss[r] = lse[r] - (1-s) * logit[label] - s * mean(logits);
// rows whose label is ignoreIndex get loss 0. lse (log-sum-exp per row) is saved for backward.
struct CrossEntropyParams {
  const void* logits; const void* labels; DType labelDtype; float* loss; float* lse;
  int64_t rows, vocab; DType dtype; int64_t ignoreIndex; double labelSmoothing;
};
// glogits[r, v] = gloss[r] * (softmax[r, v] - (1-s) * [v == label] - s / vocab); 0 for ignored rows.
struct CrossEntropyBackwardParams {
  const void* logits; const void* labels; DType labelDtype; const float* lse; const float* gloss;
  void* glogits; int64_t rows, vocab; DType dtype; int64_t ignoreIndex; double labelSmoothing;
};

// out[o, j, i] = src[o, index[j], i]            (index-select; embedding forward with outer = 1)
struct IndexSelectParams {
  const void* src; const void* index; DType indexDtype; void* out;
  int64_t outer, size, inner, nIndex; DType dtype;
};
// out[o, index[j], i] += src[o, j, i]           (index-add; embedding backward with outer = 1)
struct IndexAddParams {
  const void* src; const void* index; DType indexDtype; void* out;
  int64_t outer, size, inner, nIndex; DType srcDtype, outDtype;
};
// out[o, j, i] = src[o, index[o, j, i], i]      (gather along the middle dimension)
struct GatherParams {
  const void* src; const void* index; DType indexDtype; void* out;
  int64_t outer, size, inner, nIndex; DType dtype;
};
// out[o, index[o, j, i], i] += src[o, j, i]     (scatter-add along the middle dimension)
struct ScatterAddParams {
  const void* src; const void* index; DType indexDtype; void* out;
  int64_t outer, size, inner, nIndex; DType srcDtype, outDtype;
};

// out = x * keep / (1 - p), keep drawn with Philox; mask (Bool) records keep.
struct DropoutParams { const void* x; void* out; uint8_t* mask; int64_t n; DType dtype; double p; uint64_t seed, counter; };
// gx = gy * mask * scale
struct MaskedScaleParams { const void* gy; const uint8_t* mask; void* gx; int64_t n; DType dtype; double scale; };

// C[b] = alpha * op(A[b]) @ op(B[b]) + beta * C[b] (+ bias[n] on every row). Row-major: op(A) is
// [m, k], op(B) is [k, n], C is [m, n]; transA means A is stored [k, m], transB means B is [n, k].
// A and B share abDtype; C may be fp32 while A/B are bf16/f16 (accumulation into a main grad).
// Accumulation is fp32 (fp64 for f64).
//
// An epilogue may follow the product (batch 1 only; see gemm_epilogue.h for the composed form):
//   GeluAux:   aux = op(A) @ op(B) (+ bias), C = gelu_tanh(aux)            (aux [m, n], C's dtype; beta 0)
//   DGelu:     C = (alpha * op(A) @ op(B)) * gelu_tanh'(aux); biasGrad[j] = sum_i C[i, j] when
//              biasGrad is set                                        (aux [m, n], C's dtype; beta 0, no bias)
//   BiasGradA: biasGrad[i] = sum_k op(A)[i, k], beside the usual product: the bias gradient of
//              a weight-gradient GEMM (op(A) = gy^T), summed by cuBLASLt as it reads A   (no bias)
enum class GemmEpilogue : int32_t { None = 0, GeluAux = 1, DGelu = 2, BiasGradA = 3 };
struct MatmulParams {
  const void* a; const void* b; void* c; const void* bias;
  int64_t m, n, k; bool transA, transB;
  int64_t batch, strideA, strideB, strideC;
  DType abDtype, cDtype, biasDtype; double alpha, beta;
  GemmEpilogue epilogue = GemmEpilogue::None;
  void* aux = nullptr;       // GeluAux writes it, DGelu reads it
  void* biasGrad = nullptr;  // DGelu (optional) and BiasGradA write it
  DType biasGradDtype = DType::F32;
};

// Fused causal/full attention (FlashAttention-2 algorithm), CUDA and bf16 only: q [b, sq, h, d],
// k and v [b, sk, h, d] and o [b, sq, h, d] as strided views (element strides for batch, seq and
// head; d contiguous), lse fp32 [b, h, sq]. The backward writes dq, dk, dv (not accumulated) and
// needs a caller-owned workspace of attentionWorkspaceBytes() bytes.
struct AttentionParams {
  const void* q; const void* k; const void* v; void* o; float* lse;
  int64_t batch, heads, seqQ, seqK, headDim;
  int64_t qStrides[3], kStrides[3], vStrides[3], oStrides[3];
  double scale; bool causal;
};
struct AttentionBackwardParams {
  AttentionParams fwd;  // q, k, v, o and lse as saved by the forward
  const void* dO; void* dq; void* dk; void* dv; void* workspace;
  int64_t dOStrides[3], dqStrides[3], dkStrides[3], dvStrides[3];
};

#define TS_KERNEL_LIST(X)                          \
  X(fill, FillParams)                              \
  X(arange, ArangeParams)                          \
  X(random, RandomParams)                          \
  X(cast, CastParams)                              \
  X(unaryOp, UnaryParams)                          \
  X(unaryBackward, UnaryBackwardParams)            \
  X(binaryOp, BinaryParams)                        \
  X(where, WhereParams)                            \
  X(copyStrided, CopyParams)                       \
  X(accumulate, AccumulateParams)                  \
  X(reduce, ReduceParams)                          \
  X(softmax, SoftmaxParams)                        \
  X(softmaxBackward, SoftmaxBackwardParams)        \
  X(maskedSoftmax, MaskedSoftmaxParams)            \
  X(maskedSoftmaxBackward, MaskedSoftmaxBackwardParams) \
  X(norm, NormParams)                              \
  X(normBackward, NormBackwardParams)              \
  X(crossEntropy, CrossEntropyParams)              \
  X(crossEntropyBackward, CrossEntropyBackwardParams) \
  X(indexSelect, IndexSelectParams)                \
  X(indexAdd, IndexAddParams)                      \
  X(gather, GatherParams)                          \
  X(scatterAdd, ScatterAddParams)                  \
  X(dropout, DropoutParams)                        \
  X(maskedScale, MaskedScaleParams)                \
  X(matmul, MatmulParams)

#define TS_DECLARE_KERNEL(name, Params) void name(const Params& p);
namespace cpu { TS_KERNEL_LIST(TS_DECLARE_KERNEL) }
#ifdef TESSERA_CUDA
namespace cuda {
TS_KERNEL_LIST(TS_DECLARE_KERNEL)
void attention(const AttentionParams& p);
void attentionBackward(const AttentionBackwardParams& p);
int64_t attentionWorkspaceBytes(int64_t batch, int64_t heads, int64_t seqQ, int64_t headDim);
}  // namespace cuda
#endif
#undef TS_DECLARE_KERNEL

}  // namespace ts
