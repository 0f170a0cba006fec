// CUDA index kernels over [outer, size, inner] views: index-select (embedding forward), index-add
// (embedding backward), gather and scatter-add. A bad index is recorded in the device error word
// (raised at the next synchronizing call) and its element or row is skipped; nothing traps.
//  - select/add over many long rows: one warp per row, 16-byte words when rows and pointers allow;
//    index-add accumulates with vector atomics (float4 on sm_90, bf16x2/half2 pairs).
//  - otherwise (short rows, few rows, gather, scatter): one thread per element, with 32-bit magic
//    division when every index fits.
#include "cuda/pointwise.cuh"

namespace ts::cuda {
namespace {

// ---- helpers -------------------------------------------------------------------------------
template <typename I>
__device__ __forceinline__ bool validIndex(const I* index, int64_t at, int64_t size, long long* err, int64_t* t) {
  *t = int64_t(index[at]);
  if (*t >= 0 && *t < size) return true;
  reportError(err, kErrIndexOutOfRange, *t, size);
  return false;
}

template <typename Idx> using DivFor = std::conditional_t<std::is_same_v<Idx, uint32_t>, DivMod32, DivMod64>;

// The two run-time divisors a flat kernel splits its element index with (each kernel says which).
template <typename Idx>
struct Divisors {
  DivFor<Idx> by0, by1;
  Idx v0, v1;
  Divisors(int64_t d0, int64_t d1) : by0(Idx(d0)), by1(Idx(d1)), v0(Idx(d0)), v1(Idx(d1)) {}
};

inline bool fitsIn31(std::initializer_list<int64_t> extents) {
  for (int64_t e : extents)
    if (e >= (int64_t(1) << 31)) return false;
  return true;
}

// Whether rows are many and long enough for a warp each.
inline bool warpPerRow(int64_t rows, int64_t unitsPerRow) {
  return unitsPerRow >= 32 && rows >= int64_t(multiprocessorCount()) * 8;
}

// Largest word (16, 8, 4, 2 or 1 bytes) that divides a row and aligns both bases.
inline int wordBytes(int64_t rowBytes, const void* a, const void* b) {
  uintptr_t bits = uintptr_t(rowBytes) | reinterpret_cast<uintptr_t>(a) | reinterpret_cast<uintptr_t>(b);
  for (int w = 16; w > 1; w /= 2)
    if (bits % uintptr_t(w) == 0) return w;
  return 1;
}

// ---- atomics: out += V source elements, converted to out's type ---------------------------------
// Vector reductions (no return value) where sm_90 has them: red.v4.f32, red.bf16x2, red.f16x2.
__device__ __forceinline__ void redAdd4(float* dst, float a, float b, float c, float d) {
#if __CUDA_ARCH__ >= 900
  asm volatile("red.global.add.v4.f32 [%0], {%1, %2, %3, %4};" ::"l"(dst), "f"(a), "f"(b), "f"(c), "f"(d) : "memory");
#else
  atomicAdd(dst, a);
  atomicAdd(dst + 1, b);
  atomicAdd(dst + 2, c);
  atomicAdd(dst + 3, d);
#endif
}
__device__ __forceinline__ void redAdd2(__nv_bfloat16* dst, __nv_bfloat16 a, __nv_bfloat16 b) {
#if __CUDA_ARCH__ >= 900
  __nv_bfloat162 v = __halves2bfloat162(a, b);
  asm volatile("red.global.add.noftz.bf16x2 [%0], %1;" ::"l"(dst), "r"(*reinterpret_cast<uint32_t*>(&v)) : "memory");
#else
  atomicAdd(reinterpret_cast<__nv_bfloat162*>(dst), __halves2bfloat162(a, b));
#endif
}
__device__ __forceinline__ void redAdd2(__half* dst, __half a, __half b) {
#if __CUDA_ARCH__ >= 900
  __half2 v = __halves2half2(a, b);
  asm volatile("red.global.add.noftz.f16x2 [%0], %1;" ::"l"(dst), "r"(*reinterpret_cast<uint32_t*>(&v)) : "memory");
#else
  atomicAdd(reinterpret_cast<__half2*>(dst), __halves2half2(a, b));
#endif
}

template <int V, typename S, typename O>
__device__ __forceinline__ void atomicAddPack(O* dst, const Pack<S, V>& s) {
  if constexpr (std::is_same_v<O, float> && V == 4) {
    redAdd4(dst, toAcc<S, float>(s.v[0]), toAcc<S, float>(s.v[1]), toAcc<S, float>(s.v[2]), toAcc<S, float>(s.v[3]));
  } else if constexpr (sizeof(O) == 2 && std::is_same_v<S, O> && V == 2) {
    redAdd2(dst, s.v[0], s.v[1]);
  } else {
    using A = std::conditional_t<std::is_same_v<O, double> || std::is_same_v<S, double>, double, float>;
#pragma unroll
    for (int k = 0; k < V; ++k) {
      if constexpr (std::is_same_v<O, float> || std::is_same_v<O, double>) atomicAdd(dst + k, O(toAcc<S, A>(s.v[k])));
      else atomicAdd(dst + k, fromAcc<O, A>(toAcc<S, A>(s.v[k])));
    }
  }
}

// ---- index-select ----------------------------------------------------------------------------
// Out row r = (o, j) copies src row (o, index[j]); rows are `units` words of W.
template <typename W, typename I>
__global__ void __launch_bounds__(kThreads)
selectRowsWarp(const W* src, const I* index, W* out, int64_t rows, int64_t nIndex, int64_t size, int64_t units,
               long long* err) {
  const int lane = threadIdx.x & 31;
  const int64_t warps = (int64_t(gridDim.x) * kThreads) / 32;
  for (int64_t r = (int64_t(blockIdx.x) * kThreads + threadIdx.x) / 32; r < rows; r += warps) {
    int64_t o = r / nIndex, t;
    if (!validIndex(index, r - o * nIndex, size, err, &t)) continue;
    const W* s = src + (o * size + t) * units;
    W* d = out + r * units;
    int64_t u = lane;
    for (; u + 96 < units; u += 128) {  // four words per lane in flight
      W a = s[u], b = s[u + 32], c = s[u + 64], e = s[u + 96];
      d[u] = a;
      d[u + 32] = b;
      d[u + 64] = c;
      d[u + 96] = e;
    }
    for (; u < units; u += 32) d[u] = s[u];
  }
}

template <typename W, typename I, typename Idx>
__global__ void __launch_bounds__(kThreads)
selectFlat(const W* src, const I* index, W* out, Idx total, Divisors<Idx> sp, int64_t size, long long* err) {
  for (Idx e = Idx(blockIdx.x) * kThreads + threadIdx.x; e < total; e += Idx(gridDim.x) * kThreads) {
    Idx r = sp.by0.div(e), u = e - r * sp.v0;  // v0: words per row
    Idx o = sp.by1.div(r), j = r - o * sp.v1;  // v1: nIndex
    int64_t t;
    if (!validIndex(index, int64_t(j), size, err, &t)) continue;
    out[e] = src[(o * Idx(size) + Idx(t)) * sp.v0 + u];
  }
}

template <typename W, typename I>
void indexSelectAs(const IndexSelectParams& p, int64_t units) {
  const W* src = static_cast<const W*>(p.src);
  W* out = static_cast<W*>(p.out);
  const I* index = static_cast<const I*>(p.index);
  const int64_t rows = p.outer * p.nIndex, total = rows * units;
  if (warpPerRow(rows, units)) {
    selectRowsWarp<W, I><<<waveBlocks(rows, kThreads / 32), kThreads, 0, stream()>>>(src, index, out, rows, p.nIndex,
                                                                                      p.size, units, errorWord());
  } else if (fitsIn31({total, p.outer * p.size * units})) {
    selectFlat<W, I, uint32_t><<<waveBlocks(total, kThreads), kThreads, 0, stream()>>>(
        src, index, out, uint32_t(total), Divisors<uint32_t>(units, p.nIndex), p.size, errorWord());
  } else {
    selectFlat<W, I, int64_t><<<waveBlocks(total, kThreads), kThreads, 0, stream()>>>(
        src, index, out, total, Divisors<int64_t>(units, p.nIndex), p.size, errorWord());
  }
  checkLaunch("indexSelect");
}

// ---- index-add -------------------------------------------------------------------------------
// Source row r = (o, j) is added into out row (o, index[j]), V elements per atomic.
template <int V, typename S, typename O, typename I>
__global__ void __launch_bounds__(kThreads)
addRowsWarp(const S* src, const I* index, O* out, int64_t rows, int64_t nIndex, int64_t size, int64_t inner,
            long long* err) {
  const int lane = threadIdx.x & 31;
  const int64_t warps = (int64_t(gridDim.x) * kThreads) / 32;
  const int64_t packs = inner / V;
  for (int64_t r = (int64_t(blockIdx.x) * kThreads + threadIdx.x) / 32; r < rows; r += warps) {
    int64_t o = r / nIndex, t;
    if (!validIndex(index, r - o * nIndex, size, err, &t)) continue;
    const S* s = src + r * inner;
    O* d = out + (o * size + t) * inner;
    int64_t v = lane;
    for (; v + 32 < packs; v += 64) {  // two loads in flight before the atomics
      Pack<S, V> a = loadPack<V>(s + v * V), b = loadPack<V>(s + (v + 32) * V);
      atomicAddPack<V>(d + v * V, a);
      atomicAddPack<V>(d + (v + 32) * V, b);
    }
    for (; v < packs; v += 32) atomicAddPack<V>(d + v * V, loadPack<V>(s + v * V));
  }
}

template <typename S, typename O, typename I, typename Idx>
__global__ void __launch_bounds__(kThreads)
addFlat(const S* src, const I* index, O* out, Idx total, Divisors<Idx> sp, int64_t size, long long* err) {
  for (Idx e = Idx(blockIdx.x) * kThreads + threadIdx.x; e < total; e += Idx(gridDim.x) * kThreads) {
    Idx r = sp.by0.div(e), i = e - r * sp.v0;  // v0: inner
    Idx o = sp.by1.div(r), j = r - o * sp.v1;  // v1: nIndex
    int64_t t;
    if (!validIndex(index, int64_t(j), size, err, &t)) continue;
    Pack<S, 1> x{{src[e]}};
    atomicAddPack<1>(out + (o * Idx(size) + Idx(t)) * sp.v0 + i, x);
  }
}

template <typename S, typename O, typename I>
void indexAddAs(const IndexAddParams& p) {
  const S* src = static_cast<const S*>(p.src);
  O* out = static_cast<O*>(p.out);
  const I* index = static_cast<const I*>(p.index);
  const int64_t rows = p.outer * p.nIndex, total = rows * p.inner;
  if (warpPerRow(rows, p.inner)) {
    unsigned grid = waveBlocks(rows, kThreads / 32);
    long long* err = errorWord();
    auto launch = [&](auto v) {
      addRowsWarp<decltype(v)::value, S, O, I><<<grid, kThreads, 0, stream()>>>(src, index, out, rows, p.nIndex, p.size,
                                                                                 p.inner, err);
    };
    // Vector atomics: float4 into f32, bf16x2 / half2 pairs when src and out share the type.
    constexpr int V = std::is_same_v<O, float> ? 4 : (sizeof(O) == 2 && std::is_same_v<S, O>) ? 2 : 1;
    if (V > 1 && p.inner % V == 0 && packAligned<O, V>(out) && packAligned<S, V>(src)) launch(std::integral_constant<int, V>{});
    else launch(std::integral_constant<int, 1>{});
  } else if (fitsIn31({total, p.outer * p.size * p.inner})) {
    addFlat<S, O, I, uint32_t><<<waveBlocks(total, kThreads), kThreads, 0, stream()>>>(
        src, index, out, uint32_t(total), Divisors<uint32_t>(p.inner, p.nIndex), p.size, errorWord());
  } else {
    addFlat<S, O, I, int64_t><<<waveBlocks(total, kThreads), kThreads, 0, stream()>>>(
        src, index, out, total, Divisors<int64_t>(p.inner, p.nIndex), p.size, errorWord());
  }
  checkLaunch("indexAdd");
}

// ---- gather / scatter-add: one index per element ----------------------------------------------
// Element e = (o, j, i) of index (and of gather's out / scatter's src) maps to (o, index[e], i).
template <typename T, typename I, typename Idx>
__global__ void __launch_bounds__(kThreads)
gatherFlat(const T* src, const I* index, T* out, Idx total, Divisors<Idx> sp, int64_t size, long long* err) {
  for (Idx e = Idx(blockIdx.x) * kThreads + threadIdx.x; e < total; e += Idx(gridDim.x) * kThreads) {
    Idx o = sp.by0.div(e);                   // v0: nIndex * inner
    Idx i = e - sp.by1.div(e) * sp.v1;       // v1: inner
    int64_t t;
    if (!validIndex(index, int64_t(e), size, err, &t)) continue;
    out[e] = src[(o * Idx(size) + Idx(t)) * sp.v1 + i];
  }
}

template <typename S, typename O, typename I, typename Idx>
__global__ void __launch_bounds__(kThreads)
scatterAddFlat(const S* src, const I* index, O* out, Idx total, Divisors<Idx> sp, int64_t size, long long* err) {
  for (Idx e = Idx(blockIdx.x) * kThreads + threadIdx.x; e < total; e += Idx(gridDim.x) * kThreads) {
    Idx o = sp.by0.div(e);                   // v0: nIndex * inner
    Idx i = e - sp.by1.div(e) * sp.v1;       // v1: inner
    int64_t t;
    if (!validIndex(index, int64_t(e), size, err, &t)) continue;
    Pack<S, 1> x{{src[e]}};
    atomicAddPack<1>(out + (o * Idx(size) + Idx(t)) * sp.v1 + i, x);
  }
}

// Launches a flat kernel over `total` elements in 32-bit math when the extents allow.
template <typename Launch>
void launchFlat(const char* name, int64_t total, int64_t nIndex, int64_t inner, int64_t srcExtent, const Launch& launch) {
  if (total <= 0) return;
  unsigned grid = waveBlocks(total, kThreads);
  if (fitsIn31({total, srcExtent})) launch(grid, uint32_t(total), Divisors<uint32_t>(nIndex * inner, inner));
  else launch(grid, total, Divisors<int64_t>(nIndex * inner, inner));
  checkLaunch(name);
}

}  // namespace

void indexSelect(const IndexSelectParams& p) {
  const int64_t rowBytes = p.inner * int64_t(elemSize(p.dtype));
  if (p.outer * p.nIndex == 0 || rowBytes == 0) return;
  TS_DISPATCH_INDEX(p.indexDtype, "indexSelect", [&](auto ti_) {
    using I = TS_TYPE(ti_);
    switch (wordBytes(rowBytes, p.src, p.out)) {  // a selection only moves bytes
      case 16: indexSelectAs<uint4, I>(p, rowBytes / 16); break;
      case 8: indexSelectAs<uint2, I>(p, rowBytes / 8); break;
      case 4: indexSelectAs<uint32_t, I>(p, rowBytes / 4); break;
      case 2: indexSelectAs<uint16_t, I>(p, rowBytes / 2); break;
      default: indexSelectAs<uint8_t, I>(p, rowBytes); break;
    }
  });
}

void indexAdd(const IndexAddParams& p) {
  if (p.outer * p.nIndex * p.inner == 0) return;
  TS_DISPATCH_INDEX(p.indexDtype, "indexAdd", [&](auto ti_) {
    using I = TS_TYPE(ti_);
    TS_CUDA_DISPATCH_FLOAT(p.outDtype, "indexAdd", [&](auto to_) {
      using O = TS_TYPE(to_);
      TS_CUDA_DISPATCH_FLOAT(p.srcDtype, "indexAdd", [&](auto ts_) { indexAddAs<TS_TYPE(ts_), O, I>(p); });
    });
  });
}

void gather(const GatherParams& p) {
  const int64_t total = p.outer * p.nIndex * p.inner;
  TS_DISPATCH_INDEX(p.indexDtype, "gather", [&](auto ti_) {
    using I = TS_TYPE(ti_);
    auto run = [&](auto tag) {  // a gather only moves elements: dispatch on their size
      using T = decltype(tag);
      const T* src = static_cast<const T*>(p.src);
      T* out = static_cast<T*>(p.out);
      const I* index = static_cast<const I*>(p.index);
      launchFlat("gather", total, p.nIndex, p.inner, p.outer * p.size * p.inner, [&](unsigned grid, auto n, auto sp) {
        gatherFlat<T, I, decltype(n)><<<grid, kThreads, 0, stream()>>>(src, index, out, n, sp, p.size, errorWord());
      });
    };
    switch (elemSize(p.dtype)) {
      case 1: run(uint8_t{}); break;
      case 2: run(uint16_t{}); break;
      case 4: run(uint32_t{}); break;
      case 8: run(uint64_t{}); break;
      default: throw Error("gather: unsupported element size");
    }
  });
}

void scatterAdd(const ScatterAddParams& p) {
  const int64_t total = p.outer * p.nIndex * p.inner;
  TS_DISPATCH_INDEX(p.indexDtype, "scatterAdd", [&](auto ti_) {
    using I = TS_TYPE(ti_);
    TS_CUDA_DISPATCH_FLOAT(p.outDtype, "scatterAdd", [&](auto to_) {
      using O = TS_TYPE(to_);
      TS_CUDA_DISPATCH_FLOAT(p.srcDtype, "scatterAdd", [&](auto ts_) {
        using S = TS_TYPE(ts_);
        const S* src = static_cast<const S*>(p.src);
        O* out = static_cast<O*>(p.out);
        const I* index = static_cast<const I*>(p.index);
        launchFlat("scatterAdd", total, p.nIndex, p.inner, p.outer * p.size * p.inner, [&](unsigned grid, auto n, auto sp) {
          scatterAddFlat<S, O, I, decltype(n)><<<grid, kThreads, 0, stream()>>>(src, index, out, n, sp, p.size,
                                                                                  errorWord());
        });
      });
    });
  });
}

}  // namespace ts::cuda
