// The runtime's entry to the fused attention kernels (cuda/flash_attention.cu): converts the
// binding's parameters, checks what the kernels support (the reason becomes the error message),
// and enqueues on the current stream.
#include <cstdlib>

#include "core/kernels.h"
#include "cuda/common.cuh"
#include "cuda/flash_attention.cuh"

namespace ts::cuda {
namespace {

flash::FlashStrides strides(const int64_t (&s)[3]) {
  flash::FlashStrides f;
  f.batch = s[0];
  f.seq = s[1];
  f.head = s[2];
  return f;
}

const __nv_bfloat16* bf16In(const void* p) { return static_cast<const __nv_bfloat16*>(p); }
__nv_bfloat16* bf16Out(void* p) { return static_cast<__nv_bfloat16*>(p); }

// Tile variants (flash_attention.cu): measured on the H200 (bench/results/flash-attention-h200.txt),
// forward variant 2 is fastest at d = 64 and variant 1 at d = 128; the backward's variant 0 is.
// TESSERA_FLASH_FWD_VARIANT / TESSERA_FLASH_BWD_VARIANT override them (for measurements).
int variantFromEnv(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::atoi(v) : fallback;
}

// The fields the forward's and the backward's parameters share.
template <typename F>
void setCommon(F& f, const AttentionParams& p) {
  f.q = bf16In(p.q);
  f.k = bf16In(p.k);
  f.v = bf16In(p.v);
  f.lse = p.lse;
  f.qStride = strides(p.qStrides);
  f.kStride = strides(p.kStrides);
  f.vStride = strides(p.vStrides);
  f.oStride = strides(p.oStrides);
  f.batch = int(p.batch);
  f.heads = int(p.heads);
  f.seqQ = int(p.seqQ);
  f.seqK = int(p.seqK);
  f.headDim = int(p.headDim);
  f.scale = float(p.scale);
  f.causal = p.causal;
}

void finish(cudaError_t e, const char* op) {
  TS_CHECK(e == cudaSuccess, op, ": ", cudaGetErrorString(e));
  checkLaunch(op);
}

}  // namespace

void attention(const AttentionParams& p) {
  flash::FlashParams f;
  setCommon(f, p);
  f.o = bf16Out(p.o);
  static const int fwdVariant = variantFromEnv("TESSERA_FLASH_FWD_VARIANT", -1);
  f.variant = fwdVariant >= 0 ? fwdVariant : (f.headDim == 64 ? 2 : 1);
  const char* why = flash::flashAttentionCheck(f);
  TS_CHECK(why == nullptr, "attention: ", why ? why : "");
  finish(flash::flashAttentionForward(f, stream()), "attention");
}

void attentionBackward(const AttentionBackwardParams& p) {
  const AttentionParams& a = p.fwd;
  flash::FlashBwdParams f;
  setCommon(f, a);
  f.o = bf16In(a.o);
  f.dO = bf16In(p.dO);
  f.dq = bf16Out(p.dq);
  f.dk = bf16Out(p.dk);
  f.dv = bf16Out(p.dv);
  f.dOStride = strides(p.dOStrides);
  f.dqStride = strides(p.dqStrides);
  f.dkStride = strides(p.dkStrides);
  f.dvStride = strides(p.dvStrides);
  f.workspace = p.workspace;
  static const int bwdVariant = variantFromEnv("TESSERA_FLASH_BWD_VARIANT", 0);
  f.variant = bwdVariant;
  const char* why = flash::flashAttentionCheckBackward(f);
  TS_CHECK(why == nullptr, "attention backward: ", why ? why : "");
  finish(flash::flashAttentionBackward(f, stream()), "attention backward");
}

int64_t attentionWorkspaceBytes(int64_t batch, int64_t heads, int64_t seqQ, int64_t headDim) {
  return int64_t(flash::flashAttentionBackwardWorkspaceBytes(int(batch), int(heads), int(seqQ), int(headDim)));
}

}  // namespace ts::cuda
