// CUDA multi-tensor optimizer kernels (the CPU twins are in cpu/optim.cpp). One launch covers a
// whole list of tensors: the host cuts every tensor into chunks of kChunk elements and uploads a
// table of the tensors with the index of each one's first chunk; block b finds the tensor owning
// chunk b by binary search and processes that chunk with 16-byte (or 8-byte for 16-bit types)
// loads when the tensor's pointers allow it. Adam reads the fp32 main weight, gradient and both
// moments and writes them plus the model weight in one pass, so a step moves each byte once.
#include <vector>

#include "core/optim_kernels.h"
#include "cuda/common.cuh"
#include "cuda/pointwise.cuh"

namespace ts::cuda {
namespace {

constexpr int kOptThreads = 256;
constexpr int kVec = 4;                                // elements per pack
constexpr int kUnroll = 2;                             // packs per thread in flight
constexpr int64_t kChunk = 16384;                      // elements per block
constexpr int kFinalThreads = 1024;

template <typename Entry>
struct Listed {
  Entry t;
  int64_t firstChunk;
  bool vec;  // every pointer is aligned for packs of kVec
};

template <typename T>
bool aligned(const void* p) {
  return reinterpret_cast<uintptr_t>(p) % alignof(Pack<T, kVec>) == 0;
}

// The tensor owning `chunk`: the last entry whose firstChunk <= chunk.
template <typename L>
__device__ __forceinline__ int64_t ownerOf(const L* list, int64_t count, int64_t chunk) {
  int64_t lo = 0, hi = count - 1;
  while (lo < hi) {
    int64_t mid = (lo + hi + 1) >> 1;
    if (list[mid].firstChunk <= chunk) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

// The table and `extraBytes` of scratch in one stream-ordered allocation, freed after the launches.
template <typename L>
struct DeviceTable {
  int device;
  void* mem = nullptr;
  const L* list = nullptr;
  void* extra = nullptr;

  DeviceTable(const std::vector<L>& host, size_t extraBytes) : device(currentDevice()) {
    size_t tableBytes = (host.size() * sizeof(L) + 255) / 256 * 256;
    mem = deviceAlloc(device, tableBytes + extraBytes);
    if (!host.empty()) {
      // From pageable memory the copy is staged before this call returns, so `host` may go away.
      TS_CUDA_CHECK(cudaMemcpyAsync(mem, host.data(), host.size() * sizeof(L), cudaMemcpyHostToDevice, stream()),
                    "multi-tensor table upload");
    }
    list = static_cast<const L*>(mem);
    extra = static_cast<char*>(mem) + tableBytes;
  }
  ~DeviceTable() { deviceFree(device, mem); }
  DeviceTable(const DeviceTable&) = delete;
  DeviceTable& operator=(const DeviceTable&) = delete;
};

// Lists the non-empty tensors with their first chunks; returns the total number of chunks (one
// block each, so at most 2^31 - 1: 35 trillion elements).
template <typename Entry, typename IsVec>
int64_t listChunks(const Entry* tensors, int64_t count, const IsVec& isVec, std::vector<Listed<Entry>>& out) {
  int64_t chunks = 0;
  for (int64_t i = 0; i < count; ++i) {
    if (tensors[i].n == 0) continue;
    out.push_back({tensors[i], chunks, isVec(tensors[i])});
    chunks += (tensors[i].n + kChunk - 1) / kChunk;
  }
  TS_CHECK(chunks < (int64_t(1) << 31), "multi-tensor kernels: ", chunks, " chunks exceed one launch; split the list");
  return chunks;
}

// ---- Adam ---------------------------------------------------------------------------------------

// One pack of every operand, loaded before anything is stored so that a thread's packs are all
// in flight at once.
template <typename P, typename G, int N>
struct AdamRegs {
  Pack<float, N> w, m, v;
  Pack<G, N> g;
};

template <typename P, typename G, int N>
__device__ __forceinline__ AdamRegs<P, G, N> adamLoad(const AdamTensor& x, int64_t i) {
  AdamRegs<P, G, N> r;
  r.g = loadPack<N>(static_cast<const G*>(x.grad) + i);
  r.m = loadPack<N>(x.expAvg + i);
  r.v = loadPack<N>(x.expAvgSq + i);
  if (x.main) {
    r.w = loadPack<N>(x.main + i);
  } else {
    Pack<P, N> pin = loadPack<N>(static_cast<const P*>(x.param) + i);
#pragma unroll
    for (int k = 0; k < N; ++k) r.w.v[k] = toAcc<P, float>(pin.v[k]);
  }
  return r;
}

template <typename P, typename G, int N>
__device__ __forceinline__ void adamStore(const AdamTensor& x, int64_t i, AdamRegs<P, G, N>& r, const AdamScalars& s) {
  Pack<P, N> out;
#pragma unroll
  for (int k = 0; k < N; ++k) {
    adamElement(r.w.v[k], r.m.v[k], r.v.v[k], toAcc<G, float>(r.g.v[k]), s);
    out.v[k] = fromAcc<P, float>(r.w.v[k]);
  }
  storePack<N>(x.expAvg + i, r.m);
  storePack<N>(x.expAvgSq + i, r.v);
  if (x.main) storePack<N>(x.main + i, r.w);
  storePack<N>(static_cast<P*>(x.param) + i, out);
}

template <typename P, typename G>
__global__ void __launch_bounds__(kOptThreads) adamKernel(const Listed<AdamTensor>* list, int64_t count, AdamScalars s) {
  __shared__ int64_t owner;
  const int64_t chunk = blockIdx.x;
  if (threadIdx.x == 0) owner = ownerOf(list, count, chunk);
  __syncthreads();
  const AdamTensor x = list[owner].t;
  const int64_t begin = (chunk - list[owner].firstChunk) * kChunk;
  const int64_t end = begin + kChunk < x.n ? begin + kChunk : x.n;
  int64_t tail = begin;
  if (list[owner].vec) {
    const int64_t packsEnd = begin + (end - begin) / kVec * kVec;
    for (int64_t base = begin + int64_t(threadIdx.x) * kVec; base < packsEnd; base += int64_t(kOptThreads) * kVec * kUnroll) {
      AdamRegs<P, G, kVec> r[kUnroll];
#pragma unroll
      for (int u = 0; u < kUnroll; ++u) {
        int64_t i = base + int64_t(u) * kOptThreads * kVec;
        if (i < packsEnd) r[u] = adamLoad<P, G, kVec>(x, i);
      }
#pragma unroll
      for (int u = 0; u < kUnroll; ++u) {
        int64_t i = base + int64_t(u) * kOptThreads * kVec;
        if (i < packsEnd) adamStore<P, G, kVec>(x, i, r[u], s);
      }
    }
    tail = packsEnd;
  }
  for (int64_t i = tail + threadIdx.x; i < end; i += kOptThreads) {
    AdamRegs<P, G, 1> r = adamLoad<P, G, 1>(x, i);
    adamStore<P, G, 1>(x, i, r, s);
  }
}

// ---- squared norm -----------------------------------------------------------------------------

__device__ __forceinline__ double blockSum(double v, double* red) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  const int warps = blockDim.x >> 5;
  if ((threadIdx.x & 31) == 0) red[threadIdx.x >> 5] = v;
  __syncthreads();
  double r = 0.0;
  for (int w = 0; w < warps; ++w) r += red[w];  // the same order in every thread and every run
  return r;
}

template <typename T>
__global__ void __launch_bounds__(kOptThreads) squaredNormKernel(const Listed<TensorSpan>* list, int64_t count, double* partial) {
  __shared__ int64_t owner;
  __shared__ double red[32];
  const int64_t chunk = blockIdx.x;
  if (threadIdx.x == 0) owner = ownerOf(list, count, chunk);
  __syncthreads();
  const TensorSpan x = list[owner].t;
  const T* data = static_cast<const T*>(x.data);
  const int64_t begin = (chunk - list[owner].firstChunk) * kChunk;
  const int64_t end = begin + kChunk < x.n ? begin + kChunk : x.n;
  double acc = 0.0;
  int64_t tail = begin;
  if (list[owner].vec) {
    const int64_t packsEnd = begin + (end - begin) / kVec * kVec;
    for (int64_t i = begin + int64_t(threadIdx.x) * kVec; i < packsEnd; i += int64_t(kOptThreads) * kVec) {
      Pack<T, kVec> p = loadPack<kVec>(data + i);
#pragma unroll
      for (int k = 0; k < kVec; ++k) {
        double v = toAcc<T, double>(p.v[k]);
        acc += v * v;
      }
    }
    tail = packsEnd;
  }
  for (int64_t i = tail + threadIdx.x; i < end; i += kOptThreads) {
    double v = toAcc<T, double>(data[i]);
    acc += v * v;
  }
  double total = blockSum(acc, red);
  if (threadIdx.x == 0) partial[chunk] = total;
}

__global__ void __launch_bounds__(kFinalThreads) sumPartialsKernel(const double* partial, int64_t n, float* out, bool accumulate) {
  __shared__ double red[32];
  double acc = 0.0;
  for (int64_t i = threadIdx.x; i < n; i += kFinalThreads) acc += partial[i];
  double total = blockSum(acc, red);
  if (threadIdx.x == 0) out[0] = accumulate ? float(double(out[0]) + total) : float(total);
}

// ---- scale ----------------------------------------------------------------------------------------

template <typename T>
__global__ void __launch_bounds__(kOptThreads) scaleKernel(const Listed<TensorSpan>* list, int64_t count, double scale) {
  using A = typename DevAcc<T>::type;
  __shared__ int64_t owner;
  const int64_t chunk = blockIdx.x;
  if (threadIdx.x == 0) owner = ownerOf(list, count, chunk);
  __syncthreads();
  const TensorSpan x = list[owner].t;
  T* data = static_cast<T*>(x.data);
  const A f = A(scale);
  const int64_t begin = (chunk - list[owner].firstChunk) * kChunk;
  const int64_t end = begin + kChunk < x.n ? begin + kChunk : x.n;
  int64_t tail = begin;
  if (list[owner].vec) {
    const int64_t packsEnd = begin + (end - begin) / kVec * kVec;
    for (int64_t i = begin + int64_t(threadIdx.x) * kVec; i < packsEnd; i += int64_t(kOptThreads) * kVec) {
      Pack<T, kVec> p = loadPack<kVec>(data + i);
#pragma unroll
      for (int k = 0; k < kVec; ++k) p.v[k] = fromAcc<T, A>(toAcc<T, A>(p.v[k]) * f);
      storePack<kVec>(data + i, p);
    }
    tail = packsEnd;
  }
  for (int64_t i = tail + threadIdx.x; i < end; i += kOptThreads) data[i] = fromAcc<T, A>(toAcc<T, A>(data[i]) * f);
}

}  // namespace

void multiTensorAdam(const MultiTensorAdamParams& p) {
  TS_CUDA_DISPATCH_FLOAT(p.paramDtype, "multiTensorAdam", [&](auto pt) {
    using P = TS_TYPE(pt);
    TS_CUDA_DISPATCH_FLOAT(p.gradDtype, "multiTensorAdam", [&](auto gt) {
      using G = TS_TYPE(gt);
      std::vector<Listed<AdamTensor>> host;
      int64_t chunks = listChunks(p.tensors, p.count, [](const AdamTensor& t) {
        return aligned<P>(t.param) && aligned<G>(t.grad) && aligned<float>(t.expAvg) && aligned<float>(t.expAvgSq) &&
               (t.main == nullptr || aligned<float>(t.main));
      }, host);
      if (chunks == 0) return;
      DeviceTable<Listed<AdamTensor>> table(host, 0);
      adamKernel<P, G><<<unsigned(chunks), kOptThreads, 0, stream()>>>(table.list, int64_t(host.size()), p.s);
      checkLaunch("multiTensorAdam");
    });
  });
}

void multiTensorSquaredNorm(const MultiTensorSquaredNormParams& p) {
  TS_CUDA_DISPATCH_FLOAT(p.dtype, "multiTensorSquaredNorm", [&](auto tt) {
    using T = TS_TYPE(tt);
    std::vector<Listed<TensorSpan>> host;
    int64_t chunks = listChunks(p.tensors, p.count, [](const TensorSpan& t) { return aligned<T>(t.data); }, host);
    DeviceTable<Listed<TensorSpan>> table(host, size_t(chunks) * sizeof(double));
    double* partial = static_cast<double*>(table.extra);
    if (chunks > 0) {
      squaredNormKernel<T><<<unsigned(chunks), kOptThreads, 0, stream()>>>(table.list, int64_t(host.size()), partial);
      checkLaunch("multiTensorSquaredNorm");
    }
    sumPartialsKernel<<<1, kFinalThreads, 0, stream()>>>(partial, chunks, p.out, p.accumulate);
    checkLaunch("multiTensorSquaredNorm (final sum)");
  });
}

void multiTensorScale(const MultiTensorScaleParams& p) {
  TS_CUDA_DISPATCH_FLOAT(p.dtype, "multiTensorScale", [&](auto tt) {
    using T = TS_TYPE(tt);
    std::vector<Listed<TensorSpan>> host;
    int64_t chunks = listChunks(p.tensors, p.count, [](const TensorSpan& t) { return aligned<T>(t.data); }, host);
    if (chunks == 0) return;
    DeviceTable<Listed<TensorSpan>> table(host, 0);
    scaleKernel<T><<<unsigned(chunks), kOptThreads, 0, stream()>>>(table.list, int64_t(host.size()), p.scale);
    checkLaunch("multiTensorScale");
  });
}

}  // namespace ts::cuda
