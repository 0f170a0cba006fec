// CUDA fused scale + mask + softmax over attention scores (Megatron's FusedScaleMaskSoftmax) and
// its backward, fp32 inside. One warp per row with the row in registers up to kMaxRegisterCols
// columns (16-byte accesses when aligned), else one block per row reading the scores three times.
// Replaces the unfused upcast, scale, masked fill, softmax and downcast: one read, one write.
#include <type_traits>

#include "core/kernels.h"
#include "core/ops.h"
#include "cuda/rows.cuh"

namespace ts::cuda {
namespace {

constexpr float kMaskedScore = -10000.0f;  // Megatron's fill value for masked scores
constexpr int kWarpsPerBlock = 4;
constexpr int kMaxRegisterCols = 2048;
constexpr int kLongRowThreads = 256;

template <typename T> using Acc = typename DevAcc<T>::type;

using rows::loadPack;
using rows::storePack;

template <typename C> __device__ __forceinline__ C warpSum(C v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}
template <typename C> __device__ __forceinline__ C warpMax(C v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v = max(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}

__device__ __forceinline__ float fastExp(float x) { return __expf(x); }
__device__ __forceinline__ double fastExp(double x) { return exp(x); }

// Where a row's mask comes from: the causal limit and the user mask's row (or null).
struct RowMask {
  int64_t lastVisible;  // keys after this column are masked (causal); cols - 1 when not causal
  const uint8_t* m;
  __device__ __forceinline__ bool masked(int64_t c) const { return c > lastVisible || (m != nullptr && m[c] != 0); }
};

__device__ __forceinline__ RowMask rowMask(const AttentionMask& a, int64_t cols, int64_t row) {
  const int64_t qi = row % a.sq, bi = row / (a.sq * a.heads);
  RowMask r;
  r.lastVisible = a.causal ? qi + (cols - a.sq) : cols - 1;
  r.m = a.mask ? a.mask + bi * a.maskBatchStride + qi * a.maskRowStride : nullptr;
  return r;
}

// Lane l holds packs k = 0..E/VEC-1 at columns (k * 32 + l) * VEC.
template <typename T, int VEC, int E>
__global__ void __launch_bounds__(32 * kWarpsPerBlock) maskedSoftmaxWarpKernel(MaskedSoftmaxParams p) {
  using C = Acc<T>;
  constexpr int P = E / VEC;
  const int64_t row = int64_t(blockIdx.x) * kWarpsPerBlock + threadIdx.y;
  if (row >= p.rows) return;
  const int cols = int(p.cols), lane = threadIdx.x;
  const T* x = static_cast<const T*>(p.x) + row * cols;
  T* y = static_cast<T*>(p.out) + row * cols;
  const RowMask rm = rowMask(p.m, p.cols, row);
  const C scale = C(p.scale);

  C v[E];
  C mx = -C(INFINITY);
#pragma unroll
  for (int k = 0; k < P; ++k) {
    const int c = (k * 32 + lane) * VEC;
    if (c < cols) {
      loadPack<VEC>(x + c, v + k * VEC);
#pragma unroll
      for (int i = 0; i < VEC; ++i) {
        C s = rm.masked(c + i) ? C(kMaskedScore) : v[k * VEC + i] * scale;
        v[k * VEC + i] = s;
        mx = max(mx, s);
      }
    }
  }
  mx = warpMax(mx);
  C sum = 0;
#pragma unroll
  for (int k = 0; k < P; ++k) {
    if ((k * 32 + lane) * VEC < cols) {
#pragma unroll
      for (int i = 0; i < VEC; ++i) {
        v[k * VEC + i] = fastExp(v[k * VEC + i] - mx);
        sum += v[k * VEC + i];
      }
    }
  }
  const C inv = C(1) / warpSum(sum);
#pragma unroll
  for (int k = 0; k < P; ++k) {
    const int c = (k * 32 + lane) * VEC;
    if (c < cols) {
#pragma unroll
      for (int i = 0; i < VEC; ++i) v[k * VEC + i] *= inv;
      storePack<VEC>(y + c, v + k * VEC);
    }
  }
}

template <typename T, int VEC, int E>
__global__ void __launch_bounds__(32 * kWarpsPerBlock) maskedSoftmaxBackwardWarpKernel(MaskedSoftmaxBackwardParams p) {
  using C = Acc<T>;
  constexpr int P = E / VEC;
  const int64_t row = int64_t(blockIdx.x) * kWarpsPerBlock + threadIdx.y;
  if (row >= p.rows) return;
  const int cols = int(p.cols), lane = threadIdx.x;
  const T* y = static_cast<const T*>(p.y) + row * cols;
  const T* gy = static_cast<const T*>(p.gy) + row * cols;
  T* gx = static_cast<T*>(p.gx) + row * cols;

  C yv[E], g[E];
  C dot = 0;
#pragma unroll
  for (int k = 0; k < P; ++k) {
    const int c = (k * 32 + lane) * VEC;
    if (c < cols) {
      loadPack<VEC>(y + c, yv + k * VEC);
      loadPack<VEC>(gy + c, g + k * VEC);
#pragma unroll
      for (int i = 0; i < VEC; ++i) dot += yv[k * VEC + i] * g[k * VEC + i];
    }
  }
  dot = warpSum(dot);
  const C scale = C(p.scale);
  const RowMask rm = rowMask(p.m, p.cols, row);
#pragma unroll
  for (int k = 0; k < P; ++k) {
    const int c = (k * 32 + lane) * VEC;
    if (c < cols) {
#pragma unroll
      for (int i = 0; i < VEC; ++i)
        g[k * VEC + i] = rm.masked(c + i) ? C(0) : scale * yv[k * VEC + i] * (g[k * VEC + i] - dot);
      storePack<VEC>(gx + c, g + k * VEC);
    }
  }
}

// A block-wide reduction through shared memory (blockDim.x a multiple of 32, at most 1024);
// identity is op's neutral value (lanes past the last warp contribute it).
template <typename C, typename Op>
__device__ C blockReduce(C v, C* red, Op op, C identity) {
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32, warps = blockDim.x / 32;
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v = op(v, __shfl_xor_sync(0xffffffffu, v, o));
  __syncthreads();  // red may still be read by an earlier reduction
  if (lane == 0) red[warp] = v;
  __syncthreads();
  v = lane < warps ? red[lane] : identity;
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v = op(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}

struct MaxOp {
  template <typename C> __device__ C operator()(C a, C b) const { return max(a, b); }
};
struct SumOp {
  template <typename C> __device__ C operator()(C a, C b) const { return a + b; }
};

template <typename T>
__global__ void __launch_bounds__(kLongRowThreads) maskedSoftmaxLongKernel(MaskedSoftmaxParams p) {
  using C = Acc<T>;
  __shared__ C red[32];
  const int64_t row = blockIdx.x, cols = p.cols;
  const T* x = static_cast<const T*>(p.x) + row * cols;
  T* y = static_cast<T*>(p.out) + row * cols;
  const RowMask rm = rowMask(p.m, p.cols, row);
  const C scale = C(p.scale);
  auto score = [&](int64_t c) { return rm.masked(c) ? C(kMaskedScore) : toAcc<T, C>(x[c]) * scale; };
  C mx = -C(INFINITY);
  for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) mx = max(mx, score(c));
  mx = blockReduce(mx, red, MaxOp{}, -C(INFINITY));
  C sum = 0;
  for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) sum += fastExp(score(c) - mx);
  const C inv = C(1) / blockReduce(sum, red, SumOp{}, C(0));
  for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) y[c] = fromAcc<T, C>(fastExp(score(c) - mx) * inv);
}

template <typename T>
__global__ void __launch_bounds__(kLongRowThreads) maskedSoftmaxBackwardLongKernel(MaskedSoftmaxBackwardParams p) {
  using C = Acc<T>;
  __shared__ C red[32];
  const int64_t row = blockIdx.x, cols = p.cols;
  const T* y = static_cast<const T*>(p.y) + row * cols;
  const T* gy = static_cast<const T*>(p.gy) + row * cols;
  T* gx = static_cast<T*>(p.gx) + row * cols;
  C dot = 0;
  for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) dot += toAcc<T, C>(y[c]) * toAcc<T, C>(gy[c]);
  dot = blockReduce(dot, red, SumOp{}, C(0));
  const C scale = C(p.scale);
  const RowMask rm = rowMask(p.m, p.cols, row);
  for (int64_t c = threadIdx.x; c < cols; c += blockDim.x)
    gx[c] = fromAcc<T, C>(rm.masked(c) ? C(0) : scale * toAcc<T, C>(y[c]) * (toAcc<T, C>(gy[c]) - dot));
}

using rows::Int;

// Calls launch(Int<VEC>, Int<E>) with the smallest register width E (elements per lane) that holds
// `cols` columns; false when the row is too long for registers.
template <typename T, typename F>
bool pickWidth(int64_t cols, bool vec, F&& launch) {
  if (cols > kMaxRegisterCols) return false;
  constexpr int V = int(16 / sizeof(T));
  auto go = [&](auto v) {
    constexpr int VEC = decltype(v)::value;
    constexpr int E0 = VEC > 8 ? VEC : 8;
    if (cols <= 32 * E0) launch(v, Int<E0>{});
    else if (cols <= 32 * 16) launch(v, Int<(16 > E0 ? 16 : E0)>{});
    else if (cols <= 32 * 32) launch(v, Int<32>{});
    else launch(v, Int<64>{});
  };
  if (vec) go(Int<V>{});
  else go(Int<1>{});
  return true;
}

template <typename T>
bool aligned16(const T* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; }

}  // namespace

void maskedSoftmax(const MaskedSoftmaxParams& p) {
  if (p.rows == 0 || p.cols == 0) return;
  TS_CUDA_DISPATCH_FLOAT(p.dtype, "maskedSoftmax", [&](auto t) {
    using T = TS_TYPE(t);
    const T* x = static_cast<const T*>(p.x);
    T* y = static_cast<T*>(p.out);
    cudaStream_t s = stream();
    const bool vec = p.cols % int64_t(16 / sizeof(T)) == 0 && aligned16(x) && aligned16(y);
    const dim3 block(32, kWarpsPerBlock);
    const unsigned grid = unsigned((p.rows + kWarpsPerBlock - 1) / kWarpsPerBlock);
    const bool inRegisters = pickWidth<T>(p.cols, vec, [&](auto v, auto e) {
      maskedSoftmaxWarpKernel<T, decltype(v)::value, decltype(e)::value><<<grid, block, 0, s>>>(p);
    });
    if (!inRegisters) maskedSoftmaxLongKernel<T><<<unsigned(p.rows), kLongRowThreads, 0, s>>>(p);
    checkLaunch("maskedSoftmax");
  });
}

void maskedSoftmaxBackward(const MaskedSoftmaxBackwardParams& p) {
  if (p.rows == 0 || p.cols == 0) return;
  TS_CUDA_DISPATCH_FLOAT(p.dtype, "maskedSoftmaxBackward", [&](auto t) {
    using T = TS_TYPE(t);
    const T* y = static_cast<const T*>(p.y);
    const T* gy = static_cast<const T*>(p.gy);
    T* gx = static_cast<T*>(p.gx);
    cudaStream_t s = stream();
    const bool vec = p.cols % int64_t(16 / sizeof(T)) == 0 && aligned16(y) && aligned16(gy) && aligned16(gx);
    const dim3 block(32, kWarpsPerBlock);
    const unsigned grid = unsigned((p.rows + kWarpsPerBlock - 1) / kWarpsPerBlock);
    const bool inRegisters = pickWidth<T>(p.cols, vec, [&](auto v, auto e) {
      maskedSoftmaxBackwardWarpKernel<T, decltype(v)::value, decltype(e)::value><<<grid, block, 0, s>>>(p);
    });
    if (!inRegisters) maskedSoftmaxBackwardLongKernel<T><<<unsigned(p.rows), kLongRowThreads, 0, s>>>(p);
    checkLaunch("maskedSoftmaxBackward");
  });
}

}  // namespace ts::cuda
