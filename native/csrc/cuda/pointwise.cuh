// Launch machinery shared by the CUDA pointwise kernels (elementwise.cu, unary.cu, binary*.cu,
// where.cu, copy.cu, random.cu; index.cu uses its packs and division):
//  - contiguous: vecKernel runs an Op over packs of N elements (16-byte loads and stores when every
//    pointer is aligned; N = 1 otherwise), U packs per thread in flight, grid-stride over a grid of
//    one wave of resident blocks;
//  - strided: stridedKernel walks a contiguous index space and computes each operand's offset from
//    collapsed dims, with 32-bit magic-number division when the sizes allow, and packs of N along
//    the innermost dim when it is contiguous or broadcast in every operand (bias rows, masks).
#pragma once
#include <algorithm>
#include <type_traits>

#include "core/kernels.h"
#include "core/ops.h"
#include "cuda/common.cuh"

namespace ts::cuda {

constexpr int kThreads = 256;

// A grid-stride grid that fills the device once: enough resident blocks for full occupancy.
inline unsigned waveBlocks(int64_t work, int64_t perBlock) {
  int64_t cap = int64_t(multiprocessorCount()) * (2048 / kThreads);
  int64_t b = (work + perBlock - 1) / perBlock;
  return unsigned(b < 1 ? 1 : (b > cap ? cap : b));
}

// ---- packs: N elements moved with the widest aligned loads -----------------------------------
template <typename T, int N>
struct alignas(sizeof(T) * N >= 16 ? 16 : sizeof(T) * N) Pack {
  T v[N];
};

template <int Bytes> struct Word;
template <> struct Word<1> { using type = uint8_t; };
template <> struct Word<2> { using type = uint16_t; };
template <> struct Word<4> { using type = uint32_t; };
template <> struct Word<8> { using type = uint2; };
template <> struct Word<16> { using type = uint4; };

template <int N, typename T>
__device__ __forceinline__ Pack<T, N> loadPack(const T* p) {
  constexpr int bytes = int(sizeof(T)) * N;
  constexpr int w = bytes >= 16 ? 16 : bytes;
  using W = typename Word<w>::type;
  Pack<T, N> r;
#pragma unroll
  for (int k = 0; k < bytes / w; ++k) reinterpret_cast<W*>(&r)[k] = reinterpret_cast<const W*>(p)[k];
  return r;
}

template <int N, typename T>
__device__ __forceinline__ void storePack(T* p, const Pack<T, N>& r) {
  constexpr int bytes = int(sizeof(T)) * N;
  constexpr int w = bytes >= 16 ? 16 : bytes;
  using W = typename Word<w>::type;
#pragma unroll
  for (int k = 0; k < bytes / w; ++k) reinterpret_cast<W*>(p)[k] = reinterpret_cast<const W*>(&r)[k];
}

template <int N, typename T>
__device__ __forceinline__ Pack<T, N> splat(T v) {
  Pack<T, N> r;
#pragma unroll
  for (int k = 0; k < N; ++k) r.v[k] = v;
  return r;
}

// Elements per pack: 16-byte accesses for the widest operand, so no thread stores more than 16
// contiguous bytes (wider per-thread stores leave every warp store instruction half-coalesced).
template <typename... T> constexpr int packWidth() {
  constexpr size_t maxSize = std::max({sizeof(T)...});
  return int(16 / maxSize);
}
// Packs per thread in flight: about 64 bytes of loads per thread, at least one pack.
constexpr int unrollFor(int loadBytesPerPack) {
  int u = 64 / (loadBytesPerPack < 1 ? 1 : loadBytesPerPack);
  return u < 1 ? 1 : (u > 4 ? 4 : u);
}

template <typename T, int N>
inline bool packAligned(const void* p) {
  return reinterpret_cast<uintptr_t>(p) % alignof(Pack<T, N>) == 0;
}

// Op interface: `template <int N> struct Regs`, `template <int N> Regs<N> load(int64_t i) const`
// (the N elements from i) and `template <int N> void store(int64_t i, const Regs<N>&) const`.
// All loads of a thread's U packs are issued before any store, so in-place ops are safe.
template <int N, int U, typename Op>
__global__ void __launch_bounds__(kThreads) vecKernel(Op op, int64_t n) {
  using R = typename Op::template Regs<N>;
  const int64_t packs = n / N;
  const int64_t tile = int64_t(kThreads) * U;
  for (int64_t base = int64_t(blockIdx.x) * tile + threadIdx.x; base < packs; base += int64_t(gridDim.x) * tile) {
    R r[U];
#pragma unroll
    for (int u = 0; u < U; ++u)
      if (base + u * kThreads < packs) r[u] = op.template load<N>((base + u * kThreads) * N);
#pragma unroll
    for (int u = 0; u < U; ++u)
      if (base + u * kThreads < packs) op.template store<N>((base + u * kThreads) * N, r[u]);
  }
  if constexpr (N > 1) {  // the last n % N elements, one at a time
    if (blockIdx.x == gridDim.x - 1) {
      for (int64_t i = packs * N + threadIdx.x; i < n; i += kThreads) op.template store<1>(i, op.template load<1>(i));
    }
  }
}

// Runs `op` over n elements in packs of N (every pointer aligned to its pack).
template <int N, int U, typename Op>
void launchPacks(const char* name, const Op& op, int64_t n) {
  if (n <= 0) return;
  vecKernel<N, U, Op><<<waveBlocks(n / N, int64_t(kThreads) * U), kThreads, 0, stream()>>>(op, n);
  checkLaunch(name);
}

// Runs `op` over n elements: packs of N when `aligned`, else one element at a time.
template <int N, int U, typename Op>
void launchVec(const char* name, const Op& op, int64_t n, bool aligned) {
  if (aligned) launchPacks<N, U>(name, op, n);
  else launchPacks<1, 4>(name, op, n);
}

// ---- strided index math ---------------------------------------------------------------------
// Unsigned division by a run-time constant d in [1, 2^31) for dividends n < 2^31: with
// s = ceil(log2 d) and m = floor(2^32 (2^s - d) / d) + 1, n / d = (umulhi(n, m) + n) >> s.
struct DivMod32 {
  uint32_t d = 1, m = 1, s = 0;
  DivMod32() = default;
  explicit DivMod32(uint32_t divisor) : d(divisor) {
    while ((uint64_t(1) << s) < d) ++s;
    m = uint32_t(((uint64_t(1) << 32) * ((uint64_t(1) << s) - d)) / d + 1);
  }
  __device__ __forceinline__ uint32_t div(uint32_t n) const { return (__umulhi(n, m) + n) >> s; }
};
struct DivMod64 {
  int64_t d = 1;
  DivMod64() = default;
  explicit DivMod64(int64_t divisor) : d(divisor) {}
  __device__ __forceinline__ int64_t div(int64_t n) const { return n / d; }
};

// Dims with size 1 dropped and neighbours merged where every stride array allows it (d and d+1
// merge when stride[d] == stride[d+1] * shape[d+1] for all K arrays). Stored innermost first.
template <int K>
struct Collapsed {
  int ndim = 0;
  int64_t shape[kMaxDims];
  int64_t strides[K][kMaxDims];
};

template <int K>
Collapsed<K> collapse(int ndim, const int64_t* shape, const int64_t* const (&strides)[K]) {
  Collapsed<K> c;
  for (int d = ndim - 1; d >= 0; --d) {  // innermost first
    if (shape[d] == 1) continue;
    bool merge = c.ndim > 0;
    for (int k = 0; k < K && merge; ++k)
      merge = strides[k][d] == c.strides[k][c.ndim - 1] * c.shape[c.ndim - 1];
    if (merge) {
      c.shape[c.ndim - 1] *= shape[d];
    } else {
      c.shape[c.ndim] = shape[d];
      for (int k = 0; k < K; ++k) c.strides[k][c.ndim] = strides[k][d];
      ++c.ndim;
    }
  }
  return c;
}

// Whether every index and offset of the walk fits in 31 bits.
template <int K>
bool fits32(const Collapsed<K>& c) {
  const int64_t lim = int64_t(1) << 31;
  int64_t n = 1;
  for (int d = 0; d < c.ndim; ++d) n *= c.shape[d];
  if (n >= lim) return false;
  for (int k = 0; k < K; ++k) {
    int64_t extent = 1;
    for (int d = 0; d < c.ndim; ++d) extent += (c.shape[d] - 1) * c.strides[k][d];
    if (extent >= lim) return false;
  }
  return true;
}

// Offsets of K operands from a linear index of the collapsed walk (Idx: uint32_t or int64_t).
template <int K, typename Idx>
struct OffsetCalc {
  using Div = std::conditional_t<std::is_same_v<Idx, uint32_t>, DivMod32, DivMod64>;
  int ndim;
  Div div[kMaxDims];  // by shape[d], innermost first; the outermost needs none
  Idx shape[kMaxDims];
  Idx strides[K][kMaxDims];

  explicit OffsetCalc(const Collapsed<K>& c) : ndim(c.ndim) {
    for (int d = 0; d < c.ndim; ++d) {
      div[d] = Div(Idx(c.shape[d]));
      shape[d] = Idx(c.shape[d]);
      for (int k = 0; k < K; ++k) strides[k][d] = Idx(c.strides[k][d]);
    }
  }

  __device__ __forceinline__ void get(Idx i, Idx (&off)[K]) const {
#pragma unroll
    for (int k = 0; k < K; ++k) off[k] = 0;
#pragma unroll
    for (int d = 0; d < kMaxDims; ++d) {
      if (d == ndim) break;
      Idx coord = i;
      if (d + 1 < ndim) {
        Idx q = div[d].div(i);
        coord = i - q * shape[d];
        i = q;
      }
#pragma unroll
      for (int k = 0; k < K; ++k) off[k] += coord * strides[k][d];
    }
  }
};

// Strided Op interface: `template <int N> struct Regs`, `template <int N, typename Idx> Regs<N>
// load(const Idx (&off)[K]) const` and `template <int N, typename Idx> void store(Idx i, const Idx
// (&off)[K], const Regs<N>&) const`, where i is the linear index of the walk (the offset of a
// contiguous output). With N > 1 the walk moves N elements along the innermost dim at a time
// (see innerPackable): operands with inner stride 1 load packs, those with stride 0 splat one value.
template <int K, typename Idx, int N, int U, typename Op>
__global__ void __launch_bounds__(kThreads) stridedKernel(Op op, OffsetCalc<K, Idx> calc, Idx packs) {
  using R = typename Op::template Regs<N>;
  const Idx stride = Idx(gridDim.x) * kThreads * U;
  for (Idx base = Idx(blockIdx.x) * kThreads * U + threadIdx.x; base < packs; base += stride) {
    R r[U];
    Idx off[U][K];
#pragma unroll
    for (int u = 0; u < U; ++u) {
      Idx p = base + Idx(u) * kThreads;
      if (p < packs) {
        calc.get(p * N, off[u]);
        r[u] = op.template load<N>(off[u]);
      }
    }
#pragma unroll
    for (int u = 0; u < U; ++u) {
      Idx p = base + Idx(u) * kThreads;
      if (p < packs) op.template store<N>(p * N, off[u], r[u]);
    }
  }
}

// Whether the walk can move n elements at a time along its innermost dim: that dim's length is a
// multiple of n and every operand has inner stride 0 (broadcast) or 1 with an aligned base and
// other strides that are multiples of n (so every pack stays aligned).
template <int K>
bool innerPackable(const Collapsed<K>& c, int n, const bool (&aligned)[K]) {
  if (n <= 1 || c.ndim == 0 || c.shape[0] % n != 0) return false;
  for (int k = 0; k < K; ++k) {
    if (c.strides[k][0] == 0) continue;
    if (c.strides[k][0] != 1 || !aligned[k]) return false;
    for (int d = 1; d < c.ndim; ++d)
      if (c.strides[k][d] % n != 0) return false;
  }
  return true;
}

// Runs `op` over the collapsed walk, in 32-bit index math when every index and offset fits; in
// packs of N along the innermost dim when `packed` (32-bit walks only; see innerPackable).
template <int K, int N = 1, typename Op>
void launchStrided(const char* name, const Collapsed<K>& c, const Op& op, bool packed = false) {
  int64_t n = 1;
  for (int d = 0; d < c.ndim; ++d) n *= c.shape[d];
  if (n <= 0) return;
  const bool small = fits32(c);
  if constexpr (N > 1) {
    if (packed && small) {
      stridedKernel<K, uint32_t, N, 2><<<waveBlocks(n / N, kThreads * 2), kThreads, 0, stream()>>>(
          op, OffsetCalc<K, uint32_t>(c), uint32_t(n / N));
      checkLaunch(name);
      return;
    }
  }
  if (small) {
    stridedKernel<K, uint32_t, 1, 4><<<waveBlocks(n, kThreads * 4), kThreads, 0, stream()>>>(
        op, OffsetCalc<K, uint32_t>(c), uint32_t(n));
  } else {
    stridedKernel<K, int64_t, 1, 4><<<waveBlocks(n, kThreads * 4), kThreads, 0, stream()>>>(op, OffsetCalc<K, int64_t>(c), n);
  }
  checkLaunch(name);
}

// Whether strides describe the contiguous row-major layout of `shape` (size-1 dims ignored).
inline bool isContiguous(int ndim, const int64_t* shape, const int64_t* strides) {
  int64_t expect = 1;
  for (int d = ndim - 1; d >= 0; --d) {
    if (shape[d] != 1 && strides[d] != expect) return false;
    expect *= shape[d];
  }
  return true;
}
inline bool isScalar(int ndim, const int64_t* shape, const int64_t* strides) {
  for (int d = 0; d < ndim; ++d)
    if (shape[d] != 1 && strides[d] != 0) return false;
  return true;
}

// ---- op-code dispatch: calls f with std::integral_constant<int, op> ---------------------------
template <typename F>
void dispatchUnaryOp(int op, const F& f) {
  switch (op) {
#define TS_CASE(k) case k: f(std::integral_constant<int, k>{}); return;
    TS_CASE(0) TS_CASE(1) TS_CASE(2) TS_CASE(3) TS_CASE(4) TS_CASE(5) TS_CASE(6) TS_CASE(7) TS_CASE(8) TS_CASE(9)
    TS_CASE(10) TS_CASE(11) TS_CASE(12) TS_CASE(13) TS_CASE(14) TS_CASE(15) TS_CASE(16) TS_CASE(17) TS_CASE(18)
    TS_CASE(19)
#undef TS_CASE
  }
  throw Error(strcat("unary: unknown op ", op));
}
static_assert(unary::Count == 20, "dispatchUnaryOp lists every unary op");

template <typename F>
void dispatchBinaryOp(int op, const F& f) {
  switch (op) {
#define TS_CASE(k) case k: f(std::integral_constant<int, k>{}); return;
    TS_CASE(0) TS_CASE(1) TS_CASE(2) TS_CASE(3) TS_CASE(4) TS_CASE(5) TS_CASE(6) TS_CASE(7) TS_CASE(8) TS_CASE(9)
    TS_CASE(10) TS_CASE(11) TS_CASE(12) TS_CASE(13) TS_CASE(14)
#undef TS_CASE
  }
  throw Error(strcat("binary: unknown op ", op));
}
static_assert(binary::Count == 15, "dispatchBinaryOp lists every binary op");

// Unsigned integers of each element size, for kernels that only move bytes.
template <int Bytes> struct Bits;
template <> struct Bits<1> { using type = uint8_t; };
template <> struct Bits<2> { using type = uint16_t; };
template <> struct Bits<4> { using type = uint32_t; };
template <> struct Bits<8> { using type = uint64_t; };
template <> struct Bits<16> { using type = uint4; };

}  // namespace ts::cuda
