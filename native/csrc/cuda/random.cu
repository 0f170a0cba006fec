// CUDA random fill and dropout with the shared Philox of core/philox.h: element i of a draw uses
// block `counter + i / 4`, lane `i % 4`, exactly as the CPU kernels, so both backends draw the same
// numbers. A thread takes whole blocks (4 elements), so each Philox block is computed once.
#include "core/philox.h"
#include "cuda/pointwise.cuh"

namespace ts::cuda {
namespace {

constexpr int kLanes = 4;  // elements per Philox block

template <typename T, int Kind>
__global__ void __launch_bounds__(kThreads)
randomKernel(T* out, int64_t n, uint64_t seed, uint64_t counter, double a, double b, bool vec) {
  const int64_t blocks = (n + kLanes - 1) / kLanes;
  for (int64_t g = int64_t(blockIdx.x) * kThreads + threadIdx.x; g < blocks; g += int64_t(gridDim.x) * kThreads) {
    const int64_t i0 = g * kLanes;
    Pack<T, kLanes> y;
    if constexpr (Kind == 0) {
      U32x4 r = philox(seed, counter + uint64_t(g));  // philoxUniform's block, drawn once for 4 lanes
#pragma unroll
      for (int k = 0; k < kLanes; ++k) y.v[k] = fromAcc<T, double>(fma(b - a, double(uint32ToUnit(r.v[k])), a));
    } else {
#pragma unroll
      for (int k = 0; k < kLanes; ++k)
        y.v[k] = fromAcc<T, double>(fma(b, double(philoxNormal(seed, counter, uint64_t(i0 + k))), a));
    }
    if (vec && i0 + kLanes <= n) {
      storePack<kLanes>(out + i0, y);
    } else {
      for (int k = 0; k < kLanes && i0 + k < n; ++k) out[i0 + k] = y.v[k];
    }
  }
}

template <typename T>
__global__ void __launch_bounds__(kThreads)
dropoutKernel(const T* x, T* out, uint8_t* mask, int64_t n, uint64_t seed, uint64_t counter, float keepProb,
              typename DevAcc<T>::type scale, bool vec) {
  using A = typename DevAcc<T>::type;
  const int64_t blocks = (n + kLanes - 1) / kLanes;
  for (int64_t g = int64_t(blockIdx.x) * kThreads + threadIdx.x; g < blocks; g += int64_t(gridDim.x) * kThreads) {
    const int64_t i0 = g * kLanes;
    const bool full = vec && i0 + kLanes <= n;
    Pack<T, kLanes> xv;
    if (full) {
      xv = loadPack<kLanes>(x + i0);
    } else {
      for (int k = 0; k < kLanes && i0 + k < n; ++k) xv.v[k] = x[i0 + k];
    }
    U32x4 r = philox(seed, counter + uint64_t(g));
    Pack<T, kLanes> y;
    Pack<uint8_t, kLanes> m;
#pragma unroll
    for (int k = 0; k < kLanes; ++k) {
      bool keep = uint32ToUnit(r.v[k]) < keepProb;  // philoxUniform(seed, counter, i0 + k) < keepProb
      m.v[k] = keep;
      y.v[k] = fromAcc<T, A>(keep ? toAcc<T, A>(xv.v[k]) * scale : A(0));
    }
    if (full) {
      storePack<kLanes>(out + i0, y);
      storePack<kLanes>(mask + i0, m);
    } else {
      for (int k = 0; k < kLanes && i0 + k < n; ++k) {
        out[i0 + k] = y.v[k];
        mask[i0 + k] = m.v[k];
      }
    }
  }
}

}  // namespace

void random(const RandomParams& p) {
  if (p.n <= 0) return;
  TS_CUDA_DISPATCH_FLOAT(p.dtype, "random", [&](auto t_) {
    using T = TS_TYPE(t_);
    T* out = static_cast<T*>(p.out);
    bool vec = packAligned<T, kLanes>(out);
    unsigned grid = waveBlocks((p.n + kLanes - 1) / kLanes, kThreads);
    if (p.kind == 0) randomKernel<T, 0><<<grid, kThreads, 0, stream()>>>(out, p.n, p.seed, p.counter, p.a, p.b, vec);
    else randomKernel<T, 1><<<grid, kThreads, 0, stream()>>>(out, p.n, p.seed, p.counter, p.a, p.b, vec);
    checkLaunch("random");
  });
}

void dropout(const DropoutParams& p) {
  if (p.n <= 0) return;
  TS_CUDA_DISPATCH_FLOAT(p.dtype, "dropout", [&](auto t_) {
    using T = TS_TYPE(t_);
    using A = typename DevAcc<T>::type;
    const T* x = static_cast<const T*>(p.x);
    T* out = static_cast<T*>(p.out);
    bool vec = packAligned<T, kLanes>(x) && packAligned<T, kLanes>(out) && packAligned<uint8_t, kLanes>(p.mask);
    A scale = A(1) / A(1 - p.p);  // as the CPU kernel computes it
    unsigned grid = waveBlocks((p.n + kLanes - 1) / kLanes, kThreads);
    dropoutKernel<T><<<grid, kThreads, 0, stream()>>>(x, out, p.mask, p.n, p.seed, p.counter, float(1 - p.p), scale, vec);
    checkLaunch("dropout");
  });
}

}  // namespace ts::cuda
