// Fused attention for bf16 (the FlashAttention-2 algorithm): forward with a saved fp32
// logsumexp, backward with recomputation. Tensor cores through mma.sync m16n8k16 (sm_80+; tuned
// for H100/H200, sm_90a). Self-contained: no cuBLAS, no allocation, no Tessera runtime calls.
//
// Math (per batch b, head h; i indexes queries, j keys):
//   S = scale * Q K^T,  P = softmax_j(S masked),  O = P V,  L_i = log(sum_j exp(S_ij)) (natural log)
//   dV = P^T dO,  dP = dO V^T,  dS = P * (dP - rowsum(dO * O)),  dQ = scale * dS K,  dK = scale * dS^T Q
//
// Layout: Q, O, dO, dQ are [b, seqQ, h, d] and K, V, dK, dV are [b, seqK, h, d] bf16 *views* with
// element strides given for the batch, seq and head dimensions; the head dimension d is
// contiguous (stride 1). A Megatron sequence-first [s, b, h, d] tensor is passed without a copy as
// {batch = h*d, seq = b*h*d, head = d}. Every base pointer must be 16-byte aligned and every stride
// a multiple of 8 elements (16-byte rows). L (the logsumexp) is fp32, contiguous [b, h, seqQ].
//
// Supported: d in {64, 128}; any seqQ, seqK >= 1 (ragged tails are masked); softmax scale > 0;
// causal or not. Causal masking keeps key j for query i iff j <= i + (seqK - seqQ), i.e. aligned at
// the bottom-right like FlashAttention-2; it needs seqK >= seqQ. With seqQ == seqK this is the
// usual lower-triangular mask, identical to Megatron's upper-triangular "masked_fill" mask.
// No dropout: this path is only valid with attention dropout 0. No attention bias / ALiBi, no
// padding masks, no GQA/MQA (K and V have as many heads as Q).
// Numerics: fp32 accumulation and softmax; P and dS are rounded to bf16 as tensor-core operands;
// dQ is accumulated in fp32 with atomics (run-to-run bit differences in dQ are possible).
//
// Launchers return cudaSuccess, cudaErrorInvalidValue (see flashAttentionCheck* for the reason) or
// the launch error. They never synchronize and never allocate.
#pragma once
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

namespace ts::cuda::flash {

// Element strides of a [b, s, h, d] view (the d stride is 1).
struct FlashStrides {
  int64_t batch = 0, seq = 0, head = 0;
};

struct FlashParams {
  const __nv_bfloat16* q = nullptr;  // [b, seqQ, h, d]
  const __nv_bfloat16* k = nullptr;  // [b, seqK, h, d]
  const __nv_bfloat16* v = nullptr;  // [b, seqK, h, d]
  __nv_bfloat16* o = nullptr;        // [b, seqQ, h, d]   output
  float* lse = nullptr;              // [b, h, seqQ] fp32 contiguous, output (needed by the backward)
  FlashStrides qStride, kStride, vStride, oStride;
  int batch = 0, heads = 0, seqQ = 0, seqK = 0, headDim = 0;
  float scale = 0.0f;  // softmax scale, usually 1/sqrt(d); must be > 0
  bool causal = false;
  int variant = 0;  // tuning only: tile shape, 0 (default), 1 or 2 (see flash_attention.cu)
};

struct FlashBwdParams {
  const __nv_bfloat16* q = nullptr;   // as in the forward
  const __nv_bfloat16* k = nullptr;
  const __nv_bfloat16* v = nullptr;
  const __nv_bfloat16* o = nullptr;   // the forward's output
  const __nv_bfloat16* dO = nullptr;  // [b, seqQ, h, d] gradient of O
  const float* lse = nullptr;         // the forward's L, [b, h, seqQ]
  __nv_bfloat16* dq = nullptr;        // [b, seqQ, h, d] outputs (overwritten, not accumulated)
  __nv_bfloat16* dk = nullptr;        // [b, seqK, h, d]
  __nv_bfloat16* dv = nullptr;        // [b, seqK, h, d]
  FlashStrides qStride, kStride, vStride, oStride, dOStride, dqStride, dkStride, dvStride;
  int batch = 0, heads = 0, seqQ = 0, seqK = 0, headDim = 0;
  float scale = 0.0f;
  bool causal = false;
  int variant = 0;  // tuning only: query tile, 0 (default, 64 rows) or 1 (32 rows)
  // Device scratch of flashAttentionBackwardWorkspaceBytes(...) bytes, 256-byte aligned, owned by
  // the caller; contents on entry do not matter. Layout: fp32 dQ accumulator [b, h, seqQ, d], then
  // (at the next 256-byte boundary) fp32 D = rowsum(dO * O) [b, h, seqQ].
  void* workspace = nullptr;
};

// Bytes of backward workspace: 4*b*h*seqQ*d + 4*b*h*seqQ, each part rounded up to 256 bytes.
size_t flashAttentionBackwardWorkspaceBytes(int batch, int heads, int seqQ, int headDim);

// nullptr when the parameters are supported, else a sentence saying why not.
const char* flashAttentionCheck(const FlashParams& p);
const char* flashAttentionCheckBackward(const FlashBwdParams& p);

// Forward: writes O and L. Enqueued on `stream`.
cudaError_t flashAttentionForward(const FlashParams& p, cudaStream_t stream);
// Backward: three kernels (D = rowsum(dO*O) and zeroing of the dQ accumulator; the fused dK/dV
// kernel with fp32 atomic dQ accumulation; dQ conversion to bf16). Enqueued on `stream`.
cudaError_t flashAttentionBackward(const FlashBwdParams& p, cudaStream_t stream);

}  // namespace ts::cuda::flash
