// Shared by the CUDA LayerNorm / RMSNorm files: norm.cu (the general kernels and the entry points)
// and norm_warp.cu (warp-row kernels for bf16/f16/f32 rows in 16-byte packs, tried first).
#pragma once
#include "core/kernels.h"
#include "core/ops.h"
#include "cuda/rows.cuh"

namespace ts::cuda::norms {
using namespace rows;

template <typename T, typename W>
struct Fwd {
  const T* x; const W* w; const W* b; T* y; float* mean; float* rstd;
  int64_t rows; int64_t cols; double eps; bool rms;
};

template <typename T, typename W>
struct Bwd {
  const T* gy; const T* x; const W* w; const float* mean; const float* rstd; T* gx;
  int64_t rows; int64_t cols; bool rms;
};

// y = (x - mean) * rstd * w + b for N consecutive columns starting at c (v holds x on entry).
template <int N, typename W, typename C>
__device__ __forceinline__ void affine(C* v, const W* w, const W* b, int64_t c, C mean, C rstd) {
  C wv[N], bv[N];
  if (w) loadPack<N>(w + c, wv);
  if (b) loadPack<N>(b + c, bv);
#pragma unroll
  for (int i = 0; i < N; ++i) v[i] = (v[i] - mean) * rstd * (w ? wv[i] : C(1)) + (b ? bv[i] : C(0));
}

// A stream-ordered scratch buffer (none for 0 bytes), freed stream-ordered when it goes out of scope.
struct Scratch {
  cudaStream_t stream;
  void* p = nullptr;
  Scratch(size_t bytes, cudaStream_t s) : stream(s) {
    if (bytes) TS_CUDA_CHECK(cudaMallocAsync(&p, bytes, s), "normBackward (scratch)");
  }
  ~Scratch() {
    if (p) cudaFreeAsync(p, stream);
  }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
};

// gw[c] = sum over p of partW[p * cols + c], gb likewise from partB, in a fixed order (norm.cu); a
// null output is skipped.
void sumPartialRows(const float* partW, const float* partB, int64_t parts, int64_t cols, float* gw, float* gb,
                    cudaStream_t s);

// The warp-row kernels (norm_warp.cu): false, having launched nothing, for the cases they leave to
// norm.cu's kernels.
bool warpRowsNorm(const NormParams& p);
bool warpRowsNormBackward(const NormBackwardParams& p);

}  // namespace ts::cuda::norms
