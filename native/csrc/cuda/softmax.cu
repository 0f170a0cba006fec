// CUDA softmax and log-softmax (+ backward) over the middle dimension of [outer, size, inner],
// math in fp32 (fp64 for f64). 16-bit rows of up to 16384 elements in 16-byte packs take a
// persistent, pipelined forward kernel (rows.cuh); otherwise three paths:
//   inner == 1, size <= kMaxRegisterRow: the row stays in registers between the max, sum and
//     output passes (one warp per row up to 1024 elements, else one block), 16-byte accesses
//     when the tensors are aligned and size is a multiple of the pack;
//   inner == 1, longer rows: one block per row, online max/sum, then the output pass (2 reads);
//   inner > 1: one thread per column, adjacent threads on adjacent columns.
#include "core/kernels.h"
#include "core/ops.h"
#include "cuda/rows.cuh"

namespace ts::cuda {
namespace {
using namespace rows;

template <typename T, int VEC, int E>
__global__ void __launch_bounds__(512) softmaxRowsKernel(const T* __restrict__ x, T* __restrict__ y, int64_t rows,
                                                         int cols, bool log) {
  using C = AccT<T>;
  constexpr int P = E / VEC;
  __shared__ C red[32];
  const int64_t row = int64_t(blockIdx.x) * blockDim.y + threadIdx.y;
  if (row >= rows) return;  // whole rows only: a row spanning warps is alone in its block
  x += row * cols;
  y += row * cols;

  C v[E];
  C mx = -C(INFINITY);
#pragma unroll
  for (int k = 0; k < P; ++k) {
    const int c = (k * int(blockDim.x) + int(threadIdx.x)) * VEC;
    if (c < cols) {
      loadPack<VEC>(x + c, v + k * VEC);
#pragma unroll
      for (int i = 0; i < VEC; ++i) mx = MaxOp{}(mx, v[k * VEC + i]);
    }
  }
  mx = rowMax(mx, red);

  // softmax keeps exp(v - max) in v; log-softmax keeps v - max.
  C sum = 0;
#pragma unroll
  for (int k = 0; k < P; ++k) {
    if ((k * int(blockDim.x) + int(threadIdx.x)) * VEC < cols) {
#pragma unroll
      for (int i = 0; i < VEC; ++i) {
        C d = v[k * VEC + i] - mx, e = rowExp(d);
        v[k * VEC + i] = log ? d : e;
        sum += e;
      }
    }
  }
  sum = rowSum(sum, red);
  const C scale = C(1) / sum, shift = m_log(sum);

#pragma unroll
  for (int k = 0; k < P; ++k) {
    const int c = (k * int(blockDim.x) + int(threadIdx.x)) * VEC;
    if (c < cols) {
#pragma unroll
      for (int i = 0; i < VEC; ++i) v[k * VEC + i] = log ? v[k * VEC + i] - shift : v[k * VEC + i] * scale;
      storePack<VEC>(y + c, v + k * VEC);
    }
  }
}

// The same for 16-bit rows of up to kPipePacks * 8 * 1024 elements in 16-byte packs: a persistent
// grid of pipelined blocks (rows.cuh); each thread owns kPipePacks packs of its slot's rows and
// keeps cp.async copies of kPipeStages - 1 rows ahead in shared memory.
constexpr int kPipePacks = 2;
constexpr int kPipeStages = 4;

template <typename T>
__global__ void __launch_bounds__(1024, 1) softmaxRowsPipeKernel(const T* __restrict__ x, T* __restrict__ y,
                                                                 int64_t rows, int cols, bool log) {
  static_assert(sizeof(T) == 2, "16-bit rows only");
  constexpr int V = kVec<T>, P = kPipePacks, S = kPipeStages, E = P * V;
  extern __shared__ __align__(16) unsigned char smem[];
  __shared__ float red[2 * 32];
  const int tpr = blockDim.x, t = threadIdx.x, nthreads = tpr * int(blockDim.y);
  const int tid = int(threadIdx.y) * tpr + t;
  Pack<T, V>* packs = reinterpret_cast<Pack<T, V>*>(smem);  // [S][P][nthreads]
  auto at = [&](int s, int k) { return packs + (s * P + k) * nthreads + tid; };
  auto colOf = [&](int k) { return (k * tpr + t) * V; };

  const int64_t stride = int64_t(gridDim.x) * blockDim.y;
  const int64_t first = int64_t(blockIdx.x) * blockDim.y + threadIdx.y;
  auto issue = [&](int64_t r, int s) {
    if (r < rows) {
#pragma unroll
      for (int k = 0; k < P; ++k)
        if (colOf(k) < cols) cpAsync16(at(s, k), x + r * cols + colOf(k));
    }
    cpAsyncCommit();
  };

#pragma unroll
  for (int s = 0; s < S - 1; ++s) issue(first + s * stride, s);
  int s = 0, phase = 0;
  for (int64_t r = first; r < rows; r += stride) {
    issue(r + (S - 1) * stride, s == 0 ? S - 1 : s - 1);  // the stage read in the previous iteration
    cpAsyncWait<S - 1>();                                   // row r has landed
    float v[E];
    float mx[1] = {-INFINITY};
#pragma unroll
    for (int k = 0; k < P; ++k) {
      if (colOf(k) < cols) {
        const Pack<T, V> raw = *at(s, k);
#pragma unroll
        for (int i = 0; i < V; ++i) {
          v[k * V + i] = toAcc<T, float>(raw.v[i]);
          mx[0] = MaxOp{}(mx[0], v[k * V + i]);
        }
      }
    }
    slotReduce(mx, MaxOp{}, red, phase);

    // softmax keeps exp(v - max) in v; log-softmax keeps v - max.
    float sum[1] = {0.0f};
#pragma unroll
    for (int k = 0; k < P; ++k) {
      if (colOf(k) < cols) {
#pragma unroll
        for (int i = 0; i < V; ++i) {
          const float d = v[k * V + i] - mx[0], e = rowExp(d);
          v[k * V + i] = log ? d : e;
          sum[0] += e;
        }
      }
    }
    slotReduce(sum, SumOp{}, red, phase);
    const float scale = 1.0f / sum[0], shift = m_log(sum[0]);
#pragma unroll
    for (int k = 0; k < P; ++k) {
      if (colOf(k) < cols) {
#pragma unroll
        for (int i = 0; i < V; ++i) v[k * V + i] = log ? v[k * V + i] - shift : v[k * V + i] * scale;
        storePack<V>(y + r * cols + colOf(k), v + k * V);
      }
    }
    s = s + 1 == S ? 0 : s + 1;
  }
  cpAsyncWait<0>();  // (only empty groups can be left)
}

template <typename T, int VEC, int E>
__global__ void __launch_bounds__(512) softmaxBackwardRowsKernel(const T* __restrict__ y, const T* __restrict__ gy,
                                                                 T* __restrict__ gx, int64_t rows, int cols, bool log) {
  using C = AccT<T>;
  constexpr int P = E / VEC;
  __shared__ C red[32];
  const int64_t row = int64_t(blockIdx.x) * blockDim.y + threadIdx.y;
  if (row >= rows) return;
  y += row * cols;
  gy += row * cols;
  gx += row * cols;

  C yv[E], g[E];
  C dot = 0;  // sum(gy * y) for softmax, sum(gy) for log-softmax
#pragma unroll
  for (int k = 0; k < P; ++k) {
    const int c = (k * int(blockDim.x) + int(threadIdx.x)) * VEC;
    if (c < cols) {
      loadPack<VEC>(y + c, yv + k * VEC);
      loadPack<VEC>(gy + c, g + k * VEC);
#pragma unroll
      for (int i = 0; i < VEC; ++i) dot += log ? g[k * VEC + i] : g[k * VEC + i] * yv[k * VEC + i];
    }
  }
  dot = rowSum(dot, red);

#pragma unroll
  for (int k = 0; k < P; ++k) {
    const int c = (k * int(blockDim.x) + int(threadIdx.x)) * VEC;
    if (c < cols) {
#pragma unroll
      for (int i = 0; i < VEC; ++i) {
        const C a = yv[k * VEC + i], b = g[k * VEC + i];
        g[k * VEC + i] = log ? b - rowExp(a) * dot : a * (b - dot);
      }
      storePack<VEC>(gx + c, g + k * VEC);
    }
  }
}

// ---- rows too long for registers: one block per row -------------------------------------------
constexpr int kLongRowThreads = 512;

template <typename T>
__global__ void __launch_bounds__(kLongRowThreads) softmaxLongRowsKernel(const T* __restrict__ x, T* __restrict__ y,
                                                                         int64_t cols, bool log) {
  using C = AccT<T>;
  constexpr int V = kVec<T>;
  __shared__ C red[64];
  x += int64_t(blockIdx.x) * cols;
  y += int64_t(blockIdx.x) * cols;
  const int t = threadIdx.x, nt = blockDim.x;
  const Peel pl = peel(cols, x, y);

  MaxSum<C> ms;
  for (int64_t c = t; c < pl.head; c += nt) ms.add(toAcc<T, C>(x[c]));
  for (int64_t c = pl.head + int64_t(t) * V; c < pl.head + pl.body; c += int64_t(nt) * V) {
    C v[V];
    loadPack<V>(x + c, v);
    ms.add(v);
  }
  for (int64_t c = pl.head + pl.body + t; c < cols; c += nt) ms.add(toAcc<T, C>(x[c]));
  ms = rowMaxSum(ms, red);
  const C mx = ms.m, scale = C(1) / ms.s, shift = ms.m + m_log(ms.s);

  auto f = [&](C v) { return log ? v - shift : rowExp(v - mx) * scale; };
  for (int64_t c = t; c < pl.head; c += nt) y[c] = fromAcc<T, C>(f(toAcc<T, C>(x[c])));
  for (int64_t c = pl.head + int64_t(t) * V; c < pl.head + pl.body; c += int64_t(nt) * V) {
    C v[V];
    loadPack<V>(x + c, v);
#pragma unroll
    for (int i = 0; i < V; ++i) v[i] = f(v[i]);
    storePack<V>(y + c, v);
  }
  for (int64_t c = pl.head + pl.body + t; c < cols; c += nt) y[c] = fromAcc<T, C>(f(toAcc<T, C>(x[c])));
}

template <typename T>
__global__ void __launch_bounds__(kLongRowThreads) softmaxBackwardLongRowsKernel(const T* __restrict__ y,
                                                                                 const T* __restrict__ gy,
                                                                                 T* __restrict__ gx, int64_t cols,
                                                                                 bool log) {
  using C = AccT<T>;
  constexpr int V = kVec<T>;
  __shared__ C red[32];
  const int64_t off = int64_t(blockIdx.x) * cols;
  y += off;
  gy += off;
  gx += off;
  const int t = threadIdx.x, nt = blockDim.x;
  const Peel pl = peel(cols, y, gy, gx);
  const int64_t bodyEnd = pl.head + pl.body;

  C dot = 0;
  auto addDot = [&](C a, C g) { dot += log ? g : g * a; };
  for (int64_t c = t; c < pl.head; c += nt) addDot(toAcc<T, C>(y[c]), toAcc<T, C>(gy[c]));
  for (int64_t c = pl.head + int64_t(t) * V; c < bodyEnd; c += int64_t(nt) * V) {
    C a[V], g[V];
    loadPack<V>(y + c, a);
    loadPack<V>(gy + c, g);
#pragma unroll
    for (int i = 0; i < V; ++i) addDot(a[i], g[i]);
  }
  for (int64_t c = bodyEnd + t; c < cols; c += nt) addDot(toAcc<T, C>(y[c]), toAcc<T, C>(gy[c]));
  dot = rowSum(dot, red);

  auto grad = [&](C a, C g) { return log ? g - rowExp(a) * dot : a * (g - dot); };
  for (int64_t c = t; c < pl.head; c += nt) gx[c] = fromAcc<T, C>(grad(toAcc<T, C>(y[c]), toAcc<T, C>(gy[c])));
  for (int64_t c = pl.head + int64_t(t) * V; c < bodyEnd; c += int64_t(nt) * V) {
    C a[V], g[V];
    loadPack<V>(y + c, a);
    loadPack<V>(gy + c, g);
#pragma unroll
    for (int i = 0; i < V; ++i) g[i] = grad(a[i], g[i]);
    storePack<V>(gx + c, g);
  }
  for (int64_t c = bodyEnd + t; c < cols; c += nt) gx[c] = fromAcc<T, C>(grad(toAcc<T, C>(y[c]), toAcc<T, C>(gy[c])));
}

// ---- inner > 1: thread per (outer, inner) column ------------------------------------------------
template <typename T>
__global__ void softmaxColumnsKernel(const T* __restrict__ x, T* __restrict__ y, int64_t outer, int64_t size,
                                     int64_t inner, bool log) {
  using C = AccT<T>;
  const int64_t n = outer * inner;
  for (int64_t idx = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; idx < n; idx += int64_t(gridDim.x) * blockDim.x) {
    const int64_t base = (idx / inner) * size * inner + idx % inner;
    MaxSum<C> ms;
    for (int64_t j = 0; j < size; ++j) ms.add(toAcc<T, C>(x[base + j * inner]));
    const C scale = C(1) / ms.s, shift = ms.m + m_log(ms.s);
    for (int64_t j = 0; j < size; ++j) {
      const C v = toAcc<T, C>(x[base + j * inner]);
      y[base + j * inner] = fromAcc<T, C>(log ? v - shift : rowExp(v - ms.m) * scale);
    }
  }
}

template <typename T>
__global__ void softmaxBackwardColumnsKernel(const T* __restrict__ y, const T* __restrict__ gy, T* __restrict__ gx,
                                             int64_t outer, int64_t size, int64_t inner, bool log) {
  using C = AccT<T>;
  const int64_t n = outer * inner;
  for (int64_t idx = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; idx < n; idx += int64_t(gridDim.x) * blockDim.x) {
    const int64_t base = (idx / inner) * size * inner + idx % inner;
    C dot = 0;
    for (int64_t j = 0; j < size; ++j) {
      const C g = toAcc<T, C>(gy[base + j * inner]);
      dot += log ? g : g * toAcc<T, C>(y[base + j * inner]);
    }
    for (int64_t j = 0; j < size; ++j) {
      const int64_t k = base + j * inner;
      const C a = toAcc<T, C>(y[k]), b = toAcc<T, C>(gy[k]);
      gx[k] = fromAcc<T, C>(log ? b - rowExp(a) * dot : a * (b - dot));
    }
  }
}

constexpr int kColumnThreads = 256;

}  // namespace

void softmax(const SoftmaxParams& p) {
  if (p.outer == 0 || p.size == 0 || p.inner == 0) return;
  TS_CUDA_DISPATCH_FLOAT(p.dtype, "softmax", [&](auto t) {
    using T = TS_TYPE(t);
    const T* x = static_cast<const T*>(p.x);
    T* y = static_cast<T*>(p.out);
    cudaStream_t s = stream();
    if (p.inner > 1) {
      softmaxColumnsKernel<T><<<blocksFor(p.outer * p.inner, kColumnThreads), kColumnThreads, 0, s>>>(
          x, y, p.outer, p.size, p.inner, p.log);
      checkLaunch("softmax");
      return;
    }
    const bool vec = p.size % kVec<T> == 0 && aligned(x, 16) && aligned(y, 16);
    if constexpr (sizeof(T) == 2) {
      const PipeShape shape = pipeShape(p.outer, p.size, kPipePacks * kVec<T>);
      if (vec && shape.tpr > 0 && pipelinedRows()) {
        auto kernel = softmaxRowsPipeKernel<T>;
        const int threads = shape.tpr * shape.slots;
        const size_t smem = size_t(kPipeStages) * kPipePacks * threads * sizeof(Pack<T, kVec<T>>);
        const int perSM = residentBlocks(kernel, threads, smem);
        if (perSM > 0) {
          const int64_t want = (p.outer + shape.slots - 1) / shape.slots;
          const int64_t blocks = want < int64_t(perSM) * multiprocessorCount() ? want : int64_t(perSM) * multiprocessorCount();
          kernel<<<unsigned(blocks), dim3(unsigned(shape.tpr), unsigned(shape.slots)), smem, s>>>(x, y, p.outer,
                                                                                                int(p.size), p.log);
          checkLaunch("softmax");
          return;
        }
      }
    }
    const bool inRegisters = launchRows<T>(p.outer, p.size, vec, [&](auto v, auto e, dim3 grid, dim3 block) {
      softmaxRowsKernel<T, decltype(v)::value, decltype(e)::value><<<grid, block, 0, s>>>(x, y, p.outer, int(p.size), p.log);
    });
    if (!inRegisters)
      softmaxLongRowsKernel<T><<<unsigned(p.outer), kLongRowThreads, 0, s>>>(x, y, p.size, p.log);
    checkLaunch("softmax");
  });
}

void softmaxBackward(const SoftmaxBackwardParams& p) {
  if (p.outer == 0 || p.size == 0 || p.inner == 0) return;
  TS_CUDA_DISPATCH_FLOAT(p.dtype, "softmaxBackward", [&](auto t) {
    using T = TS_TYPE(t);
    const T* y = static_cast<const T*>(p.y);
    const T* gy = static_cast<const T*>(p.gy);
    T* gx = static_cast<T*>(p.gx);
    cudaStream_t s = stream();
    if (p.inner > 1) {
      softmaxBackwardColumnsKernel<T><<<blocksFor(p.outer * p.inner, kColumnThreads), kColumnThreads, 0, s>>>(
          y, gy, gx, p.outer, p.size, p.inner, p.log);
      checkLaunch("softmaxBackward");
      return;
    }
    const bool vec = p.size % kVec<T> == 0 && aligned(y, 16) && aligned(gy, 16) && aligned(gx, 16);
    const bool inRegisters = launchRows<T>(p.outer, p.size, vec, [&](auto v, auto e, dim3 grid, dim3 block) {
      softmaxBackwardRowsKernel<T, decltype(v)::value, decltype(e)::value>
          <<<grid, block, 0, s>>>(y, gy, gx, p.outer, int(p.size), p.log);
    });
    if (!inRegisters)
      softmaxBackwardLongRowsKernel<T><<<unsigned(p.outer), kLongRowThreads, 0, s>>>(y, gy, gx, p.size, p.log);
    checkLaunch("softmaxBackward");
  });
}

}  // namespace ts::cuda
