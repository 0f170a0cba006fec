// CUDA reduce: sum, mean, max, min over the middle dimension of [outer, size, inner], with the
// CPU kernel's semantics (cpu/reduce.cpp): acc type fp32/fp64/int64, first index on ties, NaN wins.
//   inner == 1: rows are contiguous. Short rows take one warp each; long rows take a block, and
//     when there are too few rows to fill the GPU each row is split over several blocks whose
//     partial results a second kernel combines. 16-byte loads after a scalar head up to alignment.
//   inner > 1: threadIdx.x walks adjacent columns (coalesced), threadIdx.y splits the size axis;
//     the y partials combine in shared memory in a fixed order. Sums of 16-bit/f32 columns with
//     aligned rows read 16-byte packs of adjacent columns instead (bias gradients).
#include <algorithm>
#include <cmath>

#include "core/kernels.h"
#include "core/ops.h"
#include "cuda/rows.cuh"

namespace ts::cuda {
namespace {
using namespace rows;

// Running state of one reduction. Sum ignores indices; Max/Min keep the value and its index and
// break ties (and NaN against NaN) towards the smaller index, so any merge order gives one answer.
template <int Op, typename C>
struct Reducer {
  static constexpr bool kSum = Op == reduce::Sum || Op == reduce::Mean;
  C v = C(0);
  int64_t i = -1;  // -1: nothing seen yet (max/min)

  __device__ __forceinline__ static bool isNan(C a) {
    if constexpr (std::is_floating_point_v<C>) return a != a;
    else return false;
  }
  // Does (a, ia) beat (b, ib)?
  __device__ __forceinline__ static bool beats(C a, int64_t ia, C b, int64_t ib) {
    const bool an = isNan(a), bn = isNan(b);
    if (an || bn) return an && (!bn || ia < ib);
    if (a == b) return ia < ib;
    return Op == reduce::Max ? a > b : a < b;
  }
  __device__ __forceinline__ void add(C a, int64_t ia) {
    if constexpr (kSum) v += a;
    else if (i < 0 || beats(a, ia, v, i)) v = a, i = ia;
  }
  __device__ __forceinline__ void merge(C a, int64_t ia) {
    if constexpr (kSum) v += a;
    else if (ia >= 0 && (i < 0 || beats(a, ia, v, i))) v = a, i = ia;
  }
  __device__ __forceinline__ void warpMerge() {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) {
      C ov = __shfl_xor_sync(0xffffffffu, v, o);
      int64_t oi = kSum ? 0 : __shfl_xor_sync(0xffffffffu, i, o);
      merge(ov, oi);
    }
  }
};

// Writes a finished reduction: mean divides (integer sums in double), then narrows to outDtype.
template <int Op, typename C>
__device__ void writeResult(const Reducer<Op, C>& r, void* out, DType outDtype, int64_t* indices, int64_t k, int64_t size) {
  auto put = [&](auto value) {
    using V = decltype(value);
    switch (outDtype) {
      case DType::F32: static_cast<float*>(out)[k] = fromAcc<float, V>(value); break;
      case DType::F64: static_cast<double*>(out)[k] = fromAcc<double, V>(value); break;
      case DType::F16: static_cast<__half*>(out)[k] = fromAcc<__half, V>(value); break;
      case DType::BF16: static_cast<__nv_bfloat16*>(out)[k] = fromAcc<__nv_bfloat16, V>(value); break;
      case DType::I32: static_cast<int32_t*>(out)[k] = fromAcc<int32_t, V>(value); break;
      case DType::I64: static_cast<int64_t*>(out)[k] = fromAcc<int64_t, V>(value); break;
      case DType::Bool: static_cast<uint8_t*>(out)[k] = fromAcc<uint8_t, V>(value); break;
    }
  };
  if constexpr (Op == reduce::Mean) {
    if constexpr (std::is_integral_v<C>) put(double(r.v) / double(size));
    else put(r.v / C(size));
  } else {
    put(r.v);
  }
  if (indices) indices[k] = r.i;
}

// Adds x[begin, end) of one contiguous row, split over `nt` threads (this one is `t`).
template <int Op, typename T, typename C>
__device__ __forceinline__ void addRange(Reducer<Op, C>& r, const T* __restrict__ x, int64_t begin, int64_t end, int t,
                                         int nt) {
  constexpr int V = kVec<T>;
  const Peel pl = peel(end - begin, x + begin);
  const int64_t bodyEnd = begin + pl.head + pl.body;
  for (int64_t j = begin + t; j < begin + pl.head; j += nt) r.add(toAcc<T, C>(x[j]), j);
  // Two packs per step: more loads in flight.
  int64_t j = begin + pl.head + int64_t(t) * V;
  for (; j + int64_t(nt) * V < bodyEnd; j += 2 * int64_t(nt) * V) {
    C a[V], b[V];
    loadPack<V>(x + j, a);
    loadPack<V>(x + j + int64_t(nt) * V, b);
#pragma unroll
    for (int i = 0; i < V; ++i) r.add(a[i], j + i);
#pragma unroll
    for (int i = 0; i < V; ++i) r.add(b[i], j + int64_t(nt) * V + i);
  }
  if (j < bodyEnd) {
    C a[V];
    loadPack<V>(x + j, a);
#pragma unroll
    for (int i = 0; i < V; ++i) r.add(a[i], j + i);
  }
  for (int64_t k = bodyEnd + t; k < end; k += nt) r.add(toAcc<T, C>(x[k]), k);
}

// Merges the Reducers of each row of a block (blockDim.x threads per row, threadIdx.y = row);
// every thread of the row gets the result. Called once per kernel (no barrier before the write).
template <int Op, typename C>
__device__ __forceinline__ Reducer<Op, C> blockMerge(Reducer<Op, C> r, C* vals, int64_t* idx) {
  r.warpMerge();
  if (blockDim.x == 32) return r;
  const int warps = blockDim.x >> 5, base = threadIdx.y * warps, w = threadIdx.x >> 5;
  if ((threadIdx.x & 31) == 0) {
    vals[base + w] = r.v;
    idx[base + w] = r.i;
  }
  __syncthreads();
  Reducer<Op, C> out;
  out.v = vals[base];
  out.i = idx[base];
  for (int k = 1; k < warps; ++k) out.merge(vals[base + k], idx[base + k]);
  return out;
}


// Where one reduction's output goes: the final output, or a partial when a row is split.
struct Output {
  void* out;
  DType outDtype;
  int64_t* indices;
  int64_t size;   // the reduced length, for mean
  int splits;     // > 1: write partials (partV, partI) [item] instead
  void* partV;
  int64_t* partI;
};

template <int Op, typename C>
__device__ __forceinline__ void emit(const Reducer<Op, C>& r, const Output& o, int64_t k, int split) {
  if (o.splits == 1) {
    writeResult(r, o.out, o.outDtype, o.indices, k, o.size);
  } else {
    static_cast<C*>(o.partV)[k * o.splits + split] = r.v;
    if (o.partI) o.partI[k * o.splits + split] = r.i;
  }
}

// inner == 1. Item = (row, split) with blockDim.y items per block; a segment of segLen elements.
template <int Op, typename T>
__global__ void __launch_bounds__(256) reduceRowsKernel(const T* __restrict__ x, int64_t rows, int64_t segLen,
                                                        Output o) {
  using C = AccT<T>;
  __shared__ C vals[32];
  __shared__ int64_t idx[32];
  const int64_t item = int64_t(blockIdx.x) * blockDim.y + threadIdx.y;
  if (item >= rows * o.splits) return;  // whole rows only: a row spanning warps is alone in its block
  const int64_t row = item / o.splits;
  const int split = int(item % o.splits);
  const int64_t begin = split * segLen, end = min(o.size, begin + segLen);
  Reducer<Op, C> r;
  addRange(r, x + row * o.size, begin, end, threadIdx.x, blockDim.x);
  r = blockMerge(r, vals, idx);
  if (threadIdx.x == 0) emit(r, o, row, split);
}

// inner > 1. Block = (columns along x, size split along y) of one outer slice and one segment.
template <int Op, typename T>
__global__ void __launch_bounds__(256) reduceColumnsKernel(const T* __restrict__ x, int64_t inner, int64_t colBlocks,
                                                           int64_t segLen, Output o) {
  using C = AccT<T>;
  __shared__ C vals[256];
  __shared__ int64_t idx[256];
  const int64_t blk = blockIdx.x / o.splits;
  const int split = int(blockIdx.x % o.splits);
  const int64_t outerIdx = blk / colBlocks, i = (blk % colBlocks) * blockDim.x + threadIdx.x;
  const int64_t begin = split * segLen, end = min(o.size, begin + segLen);
  Reducer<Op, C> r;
  if (i < inner) {
    const T* col = x + outerIdx * o.size * inner + i;
#pragma unroll 4
    for (int64_t j = begin + threadIdx.y; j < end; j += blockDim.y) r.add(toAcc<T, C>(col[j * inner]), j);
  }
  const int slot = threadIdx.y * blockDim.x + threadIdx.x;
  vals[slot] = r.v;
  idx[slot] = r.i;
  __syncthreads();
  if (threadIdx.y == 0 && i < inner) {
    for (int y = 1; y < int(blockDim.y); ++y) r.merge(vals[y * blockDim.x + threadIdx.x], idx[y * blockDim.x + threadIdx.x]);
    emit(r, o, outerIdx * inner + i, split);
  }
}

// inner > 1, sums of 16-bit or f32 columns whose row starts are 16-byte aligned (bias gradients:
// the column sums of [rows, features]): each thread adds one 16-byte pack of V adjacent columns down
// its rows, four rows in flight, so a warp reads 512 contiguous bytes per row. Block = (32 packs,
// 8 row lanes); the lanes combine in a fixed order.
constexpr int kColLanes = 8;

template <int Op, typename T, int V>
__global__ void __launch_bounds__(32 * kColLanes) reduceColumnsVecKernel(const T* __restrict__ x, int64_t inner,
                                                                          int64_t colBlocks, int64_t segLen, Output o) {
  using C = AccT<T>;
  __shared__ C vals[kColLanes][32 * V];
  const int64_t blk = blockIdx.x / o.splits;
  const int split = int(blockIdx.x % o.splits);
  const int64_t outerIdx = blk / colBlocks, col0 = ((blk % colBlocks) * 32 + threadIdx.x) * V;
  const int64_t begin = split * segLen, end = min(o.size, begin + segLen);
  C acc[V];
#pragma unroll
  for (int i = 0; i < V; ++i) acc[i] = C(0);
  if (col0 < inner) {
    const T* base = x + outerIdx * o.size * inner + col0;
    int64_t j = begin + threadIdx.y;
    for (; j + 3 * kColLanes < end; j += 4 * kColLanes) {
      C a[V], b[V], c[V], d[V];
      loadPack<V>(base + j * inner, a);
      loadPack<V>(base + (j + kColLanes) * inner, b);
      loadPack<V>(base + (j + 2 * kColLanes) * inner, c);
      loadPack<V>(base + (j + 3 * kColLanes) * inner, d);
#pragma unroll
      for (int i = 0; i < V; ++i) acc[i] += (a[i] + b[i]) + (c[i] + d[i]);
    }
    for (; j < end; j += kColLanes) {
      C a[V];
      loadPack<V>(base + j * inner, a);
#pragma unroll
      for (int i = 0; i < V; ++i) acc[i] += a[i];
    }
  }
#pragma unroll
  for (int i = 0; i < V; ++i) vals[threadIdx.y][threadIdx.x * V + i] = acc[i];
  __syncthreads();
  if (threadIdx.y == 0 && col0 < inner) {
    for (int i = 0; i < V; ++i) {
      Reducer<Op, C> r;
      for (int y = 0; y < kColLanes; ++y) r.v += vals[y][threadIdx.x * V + i];
      emit(r, o, outerIdx * inner + col0 + i, split);
    }
  }
}

// Combines `splits` partials per output, one warp per output, in a fixed order.
template <int Op, typename C>
__global__ void __launch_bounds__(256) reduceFinishKernel(const C* __restrict__ partV, const int64_t* __restrict__ partI,
                                                          int64_t n, int splits, Output o) {
  const int64_t k = int64_t(blockIdx.x) * blockDim.y + threadIdx.y;
  if (k >= n) return;  // whole warps only
  Reducer<Op, C> r;
  for (int s = threadIdx.x; s < splits; s += 32) r.merge(partV[k * splits + s], partI ? partI[k * splits + s] : 0);
  r.warpMerge();
  if (threadIdx.x == 0) writeResult(r, o.out, o.outDtype, o.indices, k, o.size);
}

template <typename F>
void dispatchOp(int op, const F& f) {
  switch (op) {
    case reduce::Sum: f(Int<reduce::Sum>{}); return;
    case reduce::Mean: f(Int<reduce::Mean>{}); return;
    case reduce::Max: f(Int<reduce::Max>{}); return;
    case reduce::Min: f(Int<reduce::Min>{}); return;
  }
  throw Error(strcat("reduce: unknown op ", op));
}

int64_t ceilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

// Splits of the reduced axis so that about `targetBlocks` blocks run, each segment at least
// minSeg long; returns the segment length (a multiple of 16 elements, keeping packs aligned).
int64_t segmentLength(int64_t size, int64_t blocks, int64_t targetBlocks, int64_t minSeg, int* splits) {
  int64_t want = blocks >= targetBlocks ? 1 : ceilDiv(targetBlocks, blocks);
  want = std::max<int64_t>(1, std::min(want, size / minSeg));
  int64_t seg = ceilDiv(ceilDiv(size, want), 16) * 16;
  *splits = int(ceilDiv(size, seg));
  return seg;
}

constexpr int64_t kWarpRowMax = 2048;  // rows up to this long take one warp each

}  // namespace

void reduce(const ReduceParams& p) {
  const int64_t nOut = p.outer * p.inner;
  if (nOut == 0) return;
  cudaStream_t s = stream();
  if (p.size == 0) {  // an empty sum: zero bits are 0 in every dtype
    TS_CUDA_CHECK(cudaMemsetAsync(p.out, 0, size_t(nOut) * elemSize(p.outDtype), s), "reduce");
    return;
  }
  const int64_t targetBlocks = int64_t(multiprocessorCount()) * 8;
  dispatchOp(p.op, [&](auto opc) {
    constexpr int Op = decltype(opc)::value;
    TS_CUDA_DISPATCH_ALL(p.dtype, "reduce", [&](auto t) {
      using T = TS_TYPE(t);
      using C = AccT<T>;
      const T* x = static_cast<const T*>(p.x);
      Output o{p.out, p.outDtype, p.indices, p.size, 1, nullptr, nullptr};

      // Shapes first: they decide whether partials are needed.
      constexpr bool kVecSum = (Op == reduce::Sum || Op == reduce::Mean) &&
                               (std::is_same_v<T, __nv_bfloat16> || std::is_same_v<T, __half> || std::is_same_v<T, float>);
      const bool vecColumns = kVecSum && p.inner > 1 && p.inner % kVec<T> == 0 && aligned(x, 16) && p.indices == nullptr;
      dim3 block, grid;
      int64_t segLen = p.size, colBlocks = 0;
      if (p.inner == 1) {
        if (p.size <= kWarpRowMax) {
          block = dim3(32, 8);
          grid = dim3(unsigned(ceilDiv(p.outer, 8)));
        } else {
          segLen = segmentLength(p.size, p.outer, targetBlocks, 8192, &o.splits);
          block = dim3(256, 1);
          grid = dim3(unsigned(p.outer * o.splits));
        }
      } else if (vecColumns) {
        colBlocks = ceilDiv(p.inner, 32 * kVec<T>);
        segLen = segmentLength(p.size, p.outer * colBlocks, targetBlocks, 256, &o.splits);
        block = dim3(32, kColLanes);
        grid = dim3(unsigned(p.outer * colBlocks * o.splits));
      } else {
        const unsigned by = unsigned(std::min<int64_t>(p.size, 8));
        const unsigned bx = unsigned(std::min<int64_t>(ceilDiv(p.inner, 32) * 32, std::max(32u, 256 / by / 32 * 32)));
        colBlocks = ceilDiv(p.inner, bx);
        segLen = segmentLength(p.size, p.outer * colBlocks, targetBlocks, int64_t(by) * 64, &o.splits);
        block = dim3(bx, by);
        grid = dim3(unsigned(p.outer * colBlocks * o.splits));
      }

      void* temp = nullptr;
      if (o.splits > 1) {
        const size_t vBytes = size_t(nOut) * o.splits * sizeof(C);
        const size_t iBytes = Reducer<Op, C>::kSum ? 0 : size_t(nOut) * o.splits * sizeof(int64_t);
        const size_t iOff = (vBytes + 15) / 16 * 16;
        TS_CUDA_CHECK(cudaMallocAsync(&temp, iOff + iBytes, s), "reduce (partials)");
        o.partV = temp;
        o.partI = iBytes ? reinterpret_cast<int64_t*>(static_cast<char*>(temp) + iOff) : nullptr;
      }
      if (p.inner == 1) reduceRowsKernel<Op, T><<<grid, block, 0, s>>>(x, p.outer, segLen, o);
      else if constexpr (kVecSum) {
        if (vecColumns) reduceColumnsVecKernel<Op, T, kVec<T>><<<grid, block, 0, s>>>(x, p.inner, colBlocks, segLen, o);
        else reduceColumnsKernel<Op, T><<<grid, block, 0, s>>>(x, p.inner, colBlocks, segLen, o);
      } else {
        reduceColumnsKernel<Op, T><<<grid, block, 0, s>>>(x, p.inner, colBlocks, segLen, o);
      }
      checkLaunch("reduce");
      if (temp) {
        reduceFinishKernel<Op, C><<<unsigned(ceilDiv(nOut, 8)), dim3(32, 8), 0, s>>>(
            static_cast<const C*>(o.partV), o.partI, nOut, o.splits, o);
        checkLaunch("reduce (combine)");
        TS_CUDA_CHECK(cudaFreeAsync(temp, s), "reduce (partials)");
      }
    });
  });
}

}  // namespace ts::cuda
