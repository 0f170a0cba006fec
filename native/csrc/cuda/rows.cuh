// Shared by the CUDA row kernels (reduce, softmax, norm, cross entropy): 16-byte packs, warp and
// row reductions, an online max/sum, and the launch shape for rows kept in registers.
#pragma once
#include <cstddef>
#include <cstdlib>
#include <string>
#include <cstdint>
#include <type_traits>

#include "cuda/common.cuh"

namespace ts::cuda::rows {

template <int N> using Int = std::integral_constant<int, N>;
template <typename T> using AccT = typename DevAcc<T>::type;

// Elements of T in one 16-byte access.
template <typename T> constexpr int kVec = int(16 / sizeof(T));

// N elements of T moved as one aligned access (16 bytes when N == kVec<T>).
template <typename T, int N>
struct alignas(sizeof(T) * N) Pack {
  T v[N];
};

template <int N, typename T, typename C>
__device__ __forceinline__ void loadPack(const T* p, C* out) {
  const Pack<T, N> pk = *reinterpret_cast<const Pack<T, N>*>(p);
#pragma unroll
  for (int i = 0; i < N; ++i) out[i] = toAcc<T, C>(pk.v[i]);
}

template <int N, typename T, typename C>
__device__ __forceinline__ void storePack(T* p, const C* in) {
  Pack<T, N> pk;
#pragma unroll
  for (int i = 0; i < N; ++i) pk.v[i] = fromAcc<T, C>(in[i]);
  *reinterpret_cast<Pack<T, N>*>(p) = pk;
}

inline bool aligned(const void* p, size_t bytes) { return p == nullptr || reinterpret_cast<uintptr_t>(p) % bytes == 0; }

// exp for the row kernels: the hardware exp2 path for fp32 (about 2^-21 relative error, far inside
// the fp32 tolerances; inf, -inf and NaN behave like expf), full precision for fp64.
__device__ __forceinline__ float rowExp(float x) { return __expf(x); }
__device__ __forceinline__ double rowExp(double x) { return exp(x); }

// ---- reductions ---------------------------------------------------------------------------------
struct SumOp {
  template <typename C> __device__ __forceinline__ C operator()(C a, C b) const { return a + b; }
};
// Like std::max on the host: a NaN argument in second place is ignored. Kernels whose max feeds
// exp() still end in NaN for rows holding NaN, as the CPU kernels do.
struct MaxOp {
  template <typename C> __device__ __forceinline__ C operator()(C a, C b) const { return a < b ? b : a; }
};

template <typename C, typename Op>
__device__ __forceinline__ C warpReduce(C v, Op op) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v = op(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}

// All threads of one row get op over the row: a row is blockDim.x threads (a multiple of 32) and
// threadIdx.y picks the row within the block. `red` holds 32 values. When a row spans several
// warps this synchronizes the block, so every thread of the block must call it.
template <typename C, typename Op>
__device__ __forceinline__ C rowReduce(C v, Op op, C* red) {
  v = warpReduce(v, op);
  if (blockDim.x == 32) return v;
  const int warps = blockDim.x >> 5, base = threadIdx.y * warps;
  __syncthreads();  // the previous reduction's readers are done with `red`
  if ((threadIdx.x & 31) == 0) red[base + (threadIdx.x >> 5)] = v;
  __syncthreads();
  C r = red[base];
  for (int w = 1; w < warps; ++w) r = op(r, red[base + w]);  // the same order everywhere
  return r;
}

template <typename C>
__device__ __forceinline__ C rowSum(C v, C* red) { return rowReduce(v, SumOp{}, red); }
template <typename C>
__device__ __forceinline__ C rowMax(C v, C* red) { return rowReduce(v, MaxOp{}, red); }

// Two sums at once (one pair of barriers); `red` holds 64 values.
template <typename C>
__device__ __forceinline__ void rowSum2(C& a, C& b, C* red) {
  a = warpReduce(a, SumOp{});
  b = warpReduce(b, SumOp{});
  if (blockDim.x == 32) return;
  const int warps = blockDim.x >> 5, base = threadIdx.y * warps, w = threadIdx.x >> 5;
  __syncthreads();
  if ((threadIdx.x & 31) == 0) {
    red[base + w] = a;
    red[32 + base + w] = b;
  }
  __syncthreads();
  a = red[base];
  b = red[32 + base];
  for (int i = 1; i < warps; ++i) {
    a += red[base + i];
    b += red[32 + base + i];
  }
}

// Running max m and sum s of exp(v - m), merged in any order (log-sum-exp = m + log(s)).
// -inf values add nothing; a NaN makes s NaN, so the result is NaN as on the CPU.
template <typename C>
struct MaxSum {
  C m = -C(INFINITY), s = C(0);

  template <int N>
  __device__ __forceinline__ void add(const C (&v)[N]) {
    C mx = m;
#pragma unroll
    for (int i = 0; i < N; ++i) mx = mx < v[i] ? v[i] : mx;
    if (mx == -C(INFINITY)) {  // only -inf (adds nothing) or NaN (poisons s) so far
#pragma unroll
      for (int i = 0; i < N; ++i) s = v[i] != v[i] ? v[i] : s;
      return;
    }
    C t = s * rowExp(m - mx);
#pragma unroll
    for (int i = 0; i < N; ++i) t += rowExp(v[i] - mx);
    m = mx;
    s = t;
  }
  __device__ __forceinline__ void add(C v) {
    C one[1] = {v};
    add(one);
  }
  __device__ __forceinline__ void merge(C om, C os) {
    C mx = m < om ? om : m;
    if (mx == -C(INFINITY)) {  // both empty: s is 0 or NaN
      s += os;
      return;
    }
    s = (s == C(0) ? C(0) : s * rowExp(m - mx)) + (os == C(0) ? C(0) : os * rowExp(om - mx));
    m = mx;
  }
};

// Merges the MaxSum of every thread of a row (see rowReduce); `red` holds 64 values.
template <typename C>
__device__ __forceinline__ MaxSum<C> rowMaxSum(MaxSum<C> ms, C* red) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) {
    C om = __shfl_xor_sync(0xffffffffu, ms.m, o), os = __shfl_xor_sync(0xffffffffu, ms.s, o);
    ms.merge(om, os);
  }
  if (blockDim.x == 32) return ms;
  const int warps = blockDim.x >> 5, base = threadIdx.y * warps, w = threadIdx.x >> 5;
  __syncthreads();
  if ((threadIdx.x & 31) == 0) {
    red[base + w] = ms.m;
    red[32 + base + w] = ms.s;
  }
  __syncthreads();
  MaxSum<C> r;
  for (int i = 0; i < warps; ++i) r.merge(red[base + i], red[32 + base + i]);
  return r;
}

// ---- walking a row with 16-byte packs -----------------------------------------------------------
// A row of n elements split as `head` scalar elements up to a 16-byte boundary, `body` elements
// in whole packs, and a scalar tail. When the pointers given disagree on their offset within 16
// bytes, everything is scalar (head = n).
struct Peel {
  int64_t head, body;
};
template <typename T>
__device__ __forceinline__ Peel peel(int64_t n, const T* p, const void* q = nullptr, const void* r = nullptr) {
  const uintptr_t a = reinterpret_cast<uintptr_t>(p);
  const bool same = (q == nullptr || ((a ^ reinterpret_cast<uintptr_t>(q)) & 15) == 0) &&
                    (r == nullptr || ((a ^ reinterpret_cast<uintptr_t>(r)) & 15) == 0);
  int64_t head = same ? int64_t(((16 - (a & 15)) & 15) / sizeof(T)) : n;
  head = head < n ? head : n;
  return {head, (n - head) / kVec<T> * kVec<T>};
}

// ---- launch shapes for rows kept in registers ---------------------------------------------------
// Each thread holds E elements of its row (E / VEC packs, pack k at column (k * threads + t) * VEC),
// so one row is at most threads * E long. Rows up to 1024 elements take one warp (4 rows a block);
// longer rows take a block of up to 512 threads. E is 8, 16 or 32.
struct RowShape {
  int elems = 0, threads = 0, rowsPerBlock = 0;
};
constexpr int64_t kMaxRegisterRow = 512 * 32;

inline RowShape rowShape(int64_t cols) {
  auto blockOf = [&](int e) { return RowShape{e, int((cols + 32 * e - 1) / (32 * e)) * 32, 1}; };
  if (cols <= 32 * 8) return {8, 32, 4};
  if (cols <= 32 * 16) return {16, 32, 4};
  if (cols <= 32 * 32) return {32, 32, 4};
  if (cols <= 512 * 16) return blockOf(16);
  if (cols <= kMaxRegisterRow) return blockOf(32);
  return {};
}

// Calls launch(Int<VEC>, Int<E>, grid, block) for `rows` rows of `cols` elements; VEC is kVec<T>
// when `vectorize` (the caller checked alignment and cols % VEC), else 1. False when the rows are
// too long for registers.
template <typename T, typename F>
bool launchRows(int64_t rows, int64_t cols, bool vectorize, const F& launch) {
  const RowShape s = rowShape(cols);
  if (s.elems == 0) return false;
  const dim3 block(unsigned(s.threads), unsigned(s.rowsPerBlock));
  const dim3 grid(unsigned((rows + s.rowsPerBlock - 1) / s.rowsPerBlock));
  auto withElems = [&](auto vec) {
    switch (s.elems) {
      case 8: launch(vec, Int<8>{}, grid, block); break;
      case 16: launch(vec, Int<16>{}, grid, block); break;
      default: launch(vec, Int<32>{}, grid, block); break;
    }
  };
  if (vectorize) withElems(Int<kVec<T>>{});
  else withElems(Int<1>{});
  return true;
}

// ---- persistent, pipelined rows -----------------------------------------------------------------
// A block of (tpr, slots) threads: each row slot (threadIdx.y) is tpr threads walking rows
// blockIdx.x * slots + slot, + gridDim.x * slots, ... Each thread copies its own 16-byte packs of
// the rows ahead into its own part of shared memory with cp.async (a few rows in flight without
// spending registers), waits for the oldest, and reads back only what it copied itself, so the
// staging needs no barrier. Row reductions synchronize one slot only (named barrier 1 + slot).

__device__ __forceinline__ uint32_t smemAddr(const void* p) { return uint32_t(__cvta_generic_to_shared(p)); }

#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ < 800
// No cp.async before sm_80: plain synchronous copies (the waits are then no-ops).
__device__ __forceinline__ void cpAsync16(void* dst, const void* src) {
  *reinterpret_cast<uint4*>(dst) = *reinterpret_cast<const uint4*>(src);
}
__device__ __forceinline__ void cpAsync4(void* dst, const void* src) {
  *reinterpret_cast<uint32_t*>(dst) = *reinterpret_cast<const uint32_t*>(src);
}
__device__ __forceinline__ void cpAsyncCommit() {}
template <int N> __device__ __forceinline__ void cpAsyncWait() {}
#else
// 16 bytes, global -> shared, bypassing L1 (src and dst 16-byte aligned).
__device__ __forceinline__ void cpAsync16(void* dst, const void* src) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16;\n" ::"r"(smemAddr(dst)), "l"(src) : "memory");
}
// 4 bytes (src and dst 4-byte aligned).
__device__ __forceinline__ void cpAsync4(void* dst, const void* src) {
  asm volatile("cp.async.ca.shared.global [%0], [%1], 4;\n" ::"r"(smemAddr(dst)), "l"(src) : "memory");
}
__device__ __forceinline__ void cpAsyncCommit() { asm volatile("cp.async.commit_group;\n" ::: "memory"); }
// Waits until at most N of this thread's committed groups are still in flight; what the completed
// groups wrote is then visible to this thread.
template <int N> __device__ __forceinline__ void cpAsyncWait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(N) : "memory");
}
#endif

// Barrier `id` (1..15) over `threads` threads (a multiple of 32) that all call it.
__device__ __forceinline__ void barSync(int id, int threads) {
  asm volatile("bar.sync %0, %1;\n" ::"r"(id), "r"(threads) : "memory");
}

// Most row slots of a pipelined block: each slot with more than one warp owns a named barrier
// (ids 1..15; 0 is __syncthreads).
constexpr int kMaxSlots = 15;

// op over the tpr threads of this row slot, for K values at once; every thread of the slot gets
// the results. `red` holds 2 * K * 32 values in two halves used alternately (`phase`, flipped by
// the caller after each call): a warp can only overwrite a half after passing the next call's
// barrier, which every warp of the slot reaches only after reading that half, so one barrier per
// call suffices. Warps are combined in the same order everywhere.
template <int K, typename C, typename Op>
__device__ __forceinline__ void slotReduce(C (&v)[K], Op op, C* red, int& phase) {
#pragma unroll
  for (int k = 0; k < K; ++k) v[k] = warpReduce(v[k], op);
  const int tpr = blockDim.x;
  if (tpr == 32) return;
  const int wpr = tpr >> 5, base = threadIdx.y * wpr;
  C* half = red + phase * (K * 32);
  phase ^= 1;
  if ((threadIdx.x & 31) == 0) {
#pragma unroll
    for (int k = 0; k < K; ++k) half[k * 32 + base + (threadIdx.x >> 5)] = v[k];
  }
  barSync(1 + int(threadIdx.y), tpr);
#pragma unroll
  for (int k = 0; k < K; ++k) {
    C r = half[k * 32 + base];
    for (int w = 1; w < wpr; ++w) r = op(r, half[k * 32 + base + w]);
    v[k] = r;
  }
}

// Launch shape of a pipelined row kernel: tpr threads (a multiple of 32, at most 1024) cover a row
// with `elems` elements each; slots fill a block of up to 1024 threads (at most kMaxSlots when a
// row spans several warps, for the named barriers; no more than there are rows).
struct PipeShape {
  int tpr = 0, slots = 0;
};
inline PipeShape pipeShape(int64_t rows, int64_t cols, int elems) {
  const int64_t tpr = (cols + 32 * int64_t(elems) - 1) / (32 * int64_t(elems)) * 32;
  if (tpr > 1024) return {};
  int64_t slots = 1024 / tpr;
  if (tpr > 32 && slots > kMaxSlots) slots = kMaxSlots;
  if (slots > rows) slots = rows;
  return {int(tpr), int(slots < 1 ? 1 : slots)};
}

// Whether the pipelined (cp.async) row kernels may run: TESSERA_ROW_PIPELINE=0 turns them off and
// the register-row kernels run instead (for comparisons, or to rule them out).
inline bool pipelinedRows() {
  static const bool on = [] {
    const char* v = std::getenv("TESSERA_ROW_PIPELINE");
    return v == nullptr || std::string(v) != "0";
  }();
  return on;
}

// The most dynamic shared memory one block may use on the current device.
inline size_t maxBlockSmem(int device) {
  thread_local int seenDevice = -1, bytes = 0;
  if (device != seenDevice) {
    TS_CUDA_CHECK(cudaDeviceGetAttribute(&bytes, cudaDevAttrMaxSharedMemoryPerBlockOptin, device), "row kernel launch");
    seenDevice = device;
  }
  return size_t(bytes);
}

// Blocks of `kernel` resident per multiprocessor with `threads` threads and `smem` bytes of dynamic
// shared memory (0 when the block does not fit). The kernel is first allowed the device's most
// dynamic shared memory beside its static shared memory (the same value from every caller). Remembered per thread for the last
// (kernel, device, threads, smem) asked about, so repeated launches stay cheap on the host.
template <typename K>
int residentBlocks(K kernel, int threads, size_t smem) {
  struct Seen {
    const void* fn = nullptr;
    int device = -1, threads = 0, blocks = 0;
    size_t smem = 0;
  };
  thread_local Seen seen;
  int device = 0;
  TS_CUDA_CHECK(cudaGetDevice(&device), "row kernel launch");
  const void* fn = reinterpret_cast<const void*>(kernel);
  if (seen.fn == fn && seen.device == device && seen.threads == threads && seen.smem == smem) return seen.blocks;
  // Static and dynamic shared memory together may not pass the device's per-block limit.
  cudaFuncAttributes attr;
  TS_CUDA_CHECK(cudaFuncGetAttributes(&attr, kernel), "row kernel launch (attributes)");
  const size_t most = maxBlockSmem(device) - attr.sharedSizeBytes;
  if (smem > most) return 0;
  if (smem > 0)
    TS_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, int(most)),
                  "row kernel launch (shared memory)");
  int blocks = 0;
  TS_CUDA_CHECK(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&blocks, kernel, threads, smem), "row kernel launch");
  seen = {fn, device, threads, blocks, smem};
  return blocks;
}

}  // namespace ts::cuda::rows
