// CPU multi-tensor optimizer kernels, the reference for cuda/optim.cu. Work is split the way the
// CUDA kernels split it: every tensor into chunks of kChunk elements, all chunks of all tensors in
// one parallel loop, so many small tensors still use every thread. Norm partial sums are kept per
// chunk and added in chunk order, so the result does not depend on the thread count.
#include <algorithm>
#include <vector>

#include "core/optim_kernels.h"
#include "cpu/dispatch.h"
#include "cpu/threadpool.h"

namespace ts::cpu {
namespace {

constexpr int64_t kChunk = 16384;

// firstChunk[i] = index of tensor i's first chunk; the last entry is the total.
template <typename GetN>
std::vector<int64_t> chunkStarts(int64_t count, const GetN& sizeOf) {
  std::vector<int64_t> starts(size_t(count) + 1, 0);
  for (int64_t i = 0; i < count; ++i) starts[size_t(i) + 1] = starts[size_t(i)] + (sizeOf(i) + kChunk - 1) / kChunk;
  return starts;
}

// Calls fn(tensorIndex, begin, end) for every chunk, in parallel.
template <typename F>
void forEachChunk(const std::vector<int64_t>& starts, const std::vector<int64_t>& sizes, const F& fn) {
  int64_t total = starts.back();
  parallelFor(total, 1, [&](int64_t b, int64_t e) {
    for (int64_t c = b; c < e; ++c) {
      int64_t t = int64_t(std::upper_bound(starts.begin(), starts.end(), c) - starts.begin()) - 1;
      int64_t begin = (c - starts[size_t(t)]) * kChunk;
      fn(t, c, begin, std::min(begin + kChunk, sizes[size_t(t)]));
    }
  });
}

template <typename Span>
std::vector<int64_t> sizesOf(const Span* tensors, int64_t count) {
  std::vector<int64_t> sizes(static_cast<size_t>(count));
  for (int64_t i = 0; i < count; ++i) sizes[size_t(i)] = tensors[i].n;
  return sizes;
}

}  // namespace

void multiTensorAdam(const MultiTensorAdamParams& p) {
  std::vector<int64_t> sizes = sizesOf(p.tensors, p.count);
  std::vector<int64_t> starts = chunkStarts(p.count, [&](int64_t i) { return sizes[size_t(i)]; });
  TS_CPU_DISPATCH_FLOAT(p.paramDtype, "multiTensorAdam", [&](auto pt) {
    using P = TS_TYPE(pt);
    TS_CPU_DISPATCH_FLOAT(p.gradDtype, "multiTensorAdam", [&](auto gt) {
      using G = TS_TYPE(gt);
      forEachChunk(starts, sizes, [&](int64_t t, int64_t, int64_t b, int64_t e) {
        const AdamTensor& x = p.tensors[t];
        P* param = static_cast<P*>(x.param);
        const G* grad = static_cast<const G*>(x.grad);
        for (int64_t i = b; i < e; ++i) {
          float w = x.main ? x.main[i] : load<P, float>(param[i]);
          adamElement(w, x.expAvg[i], x.expAvgSq[i], load<G, float>(grad[i]), p.s);
          if (x.main) x.main[i] = w;
          param[i] = store<P, float>(w);
        }
      });
    });
  });
}

void multiTensorSquaredNorm(const MultiTensorSquaredNormParams& p) {
  std::vector<int64_t> sizes = sizesOf(p.tensors, p.count);
  std::vector<int64_t> starts = chunkStarts(p.count, [&](int64_t i) { return sizes[size_t(i)]; });
  std::vector<double> partial(size_t(starts.back()), 0.0);
  TS_CPU_DISPATCH_FLOAT(p.dtype, "multiTensorSquaredNorm", [&](auto tt) {
    using T = TS_TYPE(tt);
    forEachChunk(starts, sizes, [&](int64_t t, int64_t c, int64_t b, int64_t e) {
      const T* x = static_cast<const T*>(p.tensors[t].data);
      double acc = 0.0;
      for (int64_t i = b; i < e; ++i) {
        double v = load<T, double>(x[i]);
        acc += v * v;
      }
      partial[size_t(c)] = acc;
    });
  });
  double total = 0.0;
  for (double v : partial) total += v;
  p.out[0] = p.accumulate ? float(double(p.out[0]) + total) : float(total);
}

void multiTensorScale(const MultiTensorScaleParams& p) {
  std::vector<int64_t> sizes = sizesOf(p.tensors, p.count);
  std::vector<int64_t> starts = chunkStarts(p.count, [&](int64_t i) { return sizes[size_t(i)]; });
  TS_CPU_DISPATCH_FLOAT(p.dtype, "multiTensorScale", [&](auto tt) {
    using T = TS_TYPE(tt);
    using A = acc_t<T>;
    A scale = A(p.scale);
    forEachChunk(starts, sizes, [&](int64_t t, int64_t, int64_t b, int64_t e) {
      T* x = static_cast<T*>(p.tensors[t].data);
      for (int64_t i = b; i < e; ++i) x[i] = store<T, A>(load<T, A>(x[i]) * scale);
    });
  });
}

}  // namespace ts::cpu
