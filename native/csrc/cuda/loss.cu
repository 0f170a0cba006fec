// CUDA cross entropy over rows of logits [rows, vocab] (+ backward), with the CPU kernel's math
// (cpu/loss.cpp). One block per row. The forward reads the logits once: an online max/sum gives
// the log-sum-exp, and the plain sum for label smoothing comes along. Accesses are 16-byte packs
// between a scalar head (up to 16-byte alignment) and a scalar tail, so any vocab size and row
// offset vectorizes. A label outside [0, vocab) that is not ignoreIndex is recorded in the device
// error word and its row is skipped (the next synchronizing call raises it).
#include <algorithm>

#include "core/kernels.h"
#include "core/ops.h"
#include "cuda/rows.cuh"

namespace ts::cuda {
namespace {
using namespace rows;

template <typename T, typename L>
struct CeArgs {
  const T* logits; const L* labels; int64_t vocab; int64_t ignoreIndex; double smoothing; long long* err;
};

// The row's label, or -1 after recording an out-of-range one (the caller then skips the row).
template <typename T, typename L>
__device__ __forceinline__ int64_t rowLabel(const CeArgs<T, L>& a, int64_t row, bool* ignored) {
  const int64_t label = int64_t(a.labels[row]);
  *ignored = label == a.ignoreIndex;
  if (!*ignored && (label < 0 || label >= a.vocab)) {
    if (threadIdx.x == 0) reportError(a.err, kErrLabelOutOfRange, label, a.vocab);
    return -1;
  }
  return label;
}

template <typename T, typename L>
__global__ void __launch_bounds__(512) crossEntropyKernel(CeArgs<T, L> a, float* __restrict__ loss, float* __restrict__ lse) {
  using C = AccT<T>;
  constexpr int V = kVec<T>;
  __shared__ C red[64];
  const int64_t row = blockIdx.x;
  bool ignored;
  const int64_t label = rowLabel(a, row, &ignored);
  if (label < 0 && !ignored) return;  // the whole block: the label is per row
  const T* x = a.logits + row * a.vocab;
  const int t = threadIdx.x, nt = blockDim.x;
  const bool smooth = a.smoothing != 0;

  MaxSum<C> ms;
  C sum = 0;
  const Peel pl = peel(a.vocab, x);
  const int64_t bodyEnd = pl.head + pl.body, step = int64_t(nt) * V;
  for (int64_t c = t; c < pl.head; c += nt) {
    const C v = toAcc<T, C>(x[c]);
    ms.add(v);
    sum += v;
  }
  // Two packs per step: more loads in flight.
  int64_t c = pl.head + int64_t(t) * V;
  for (; c + step < bodyEnd; c += 2 * step) {
    C v[V], w[V];
    loadPack<V>(x + c, v);
    loadPack<V>(x + c + step, w);
    ms.add(v);
    ms.add(w);
    if (smooth)
#pragma unroll
      for (int i = 0; i < V; ++i) sum += v[i] + w[i];
  }
  if (c < bodyEnd) {
    C v[V];
    loadPack<V>(x + c, v);
    ms.add(v);
    if (smooth)
#pragma unroll
      for (int i = 0; i < V; ++i) sum += v[i];
  }
  for (int64_t k = bodyEnd + t; k < a.vocab; k += nt) {
    const C v = toAcc<T, C>(x[k]);
    ms.add(v);
    sum += v;
  }
  ms = rowMaxSum(ms, red);
  if (smooth) sum = rowSum(sum, red);
  if (t == 0) {
    const C s = C(a.smoothing), l = ms.m + m_log(ms.s);
    lse[row] = float(l);
    loss[row] = ignored ? 0.0f : float(l - (C(1) - s) * toAcc<T, C>(x[label]) - s * sum / C(a.vocab));
  }
}

template <typename T, typename L>
__global__ void __launch_bounds__(512) crossEntropyBackwardKernel(CeArgs<T, L> a, const float* __restrict__ lse,
                                                                  const float* __restrict__ gloss, T* __restrict__ glogits) {
  using C = AccT<T>;
  constexpr int V = kVec<T>;
  const int64_t row = blockIdx.x;
  bool ignored;
  const int64_t label = rowLabel(a, row, &ignored);
  if (label < 0 && !ignored) return;
  const T* x = a.logits + row * a.vocab;
  T* g = glogits + row * a.vocab;
  const int t = threadIdx.x, nt = blockDim.x;
  const C s = C(a.smoothing), uniform = s / C(a.vocab), hit = C(1) - s;
  const C scale = ignored ? C(0) : C(gloss[row]), shift = ignored ? C(0) : C(lse[row]);
  auto grad = [&](C v, int64_t k) {
    if (ignored) return C(0);  // zeros without reading the logits
    return scale * (rowExp(v - shift) - uniform - (k == label ? hit : C(0)));
  };

  const Peel pl = peel(a.vocab, x, g);
  const int64_t bodyEnd = pl.head + pl.body;
  auto at = [&](int64_t k) { return ignored ? C(0) : toAcc<T, C>(x[k]); };
  for (int64_t k = t; k < pl.head; k += nt) g[k] = fromAcc<T, C>(grad(at(k), k));
  for (int64_t k = pl.head + int64_t(t) * V; k < bodyEnd; k += int64_t(nt) * V) {
    C v[V] = {};
    if (!ignored) loadPack<V>(x + k, v);
#pragma unroll
    for (int i = 0; i < V; ++i) v[i] = grad(v[i], k + i);
    storePack<V>(g + k, v);
  }
  for (int64_t k = bodyEnd + t; k < a.vocab; k += nt) g[k] = fromAcc<T, C>(grad(at(k), k));
}

// Enough threads for about four packs each, at most 512.
template <typename T>
unsigned threadsFor(int64_t vocab) {
  const int64_t perThread = int64_t(kVec<T>) * 4;
  return unsigned(std::clamp<int64_t>((vocab + 32 * perThread - 1) / (32 * perThread) * 32, 32, 512));
}

template <typename F>
void dispatchCe(DType dtype, DType labelDtype, const char* what, const F& f) {
  TS_CUDA_DISPATCH_FLOAT(dtype, what, [&](auto tx) {
    TS_DISPATCH_INDEX(labelDtype, what, [&](auto tl) { f(tx, tl); });
  });
}

}  // namespace

void crossEntropy(const CrossEntropyParams& p) {
  if (p.rows == 0) return;
  dispatchCe(p.dtype, p.labelDtype, "crossEntropy", [&](auto tx, auto tl) {
    using T = TS_TYPE(tx);
    using L = TS_TYPE(tl);
    const CeArgs<T, L> a{static_cast<const T*>(p.logits), static_cast<const L*>(p.labels), p.vocab,
                         p.ignoreIndex, p.labelSmoothing, errorWord()};
    crossEntropyKernel<T, L><<<unsigned(p.rows), threadsFor<T>(p.vocab), 0, stream()>>>(a, p.loss, p.lse);
    checkLaunch("crossEntropy");
  });
}

void crossEntropyBackward(const CrossEntropyBackwardParams& p) {
  if (p.rows == 0) return;
  dispatchCe(p.dtype, p.labelDtype, "crossEntropyBackward", [&](auto tx, auto tl) {
    using T = TS_TYPE(tx);
    using L = TS_TYPE(tl);
    const CeArgs<T, L> a{static_cast<const T*>(p.logits), static_cast<const L*>(p.labels), p.vocab,
                         p.ignoreIndex, p.labelSmoothing, errorWord()};
    crossEntropyBackwardKernel<T, L><<<unsigned(p.rows), threadsFor<T>(p.vocab), 0, stream()>>>(
        a, p.lse, p.gloss, static_cast<T*>(p.glogits));
    checkLaunch("crossEntropyBackward");
  });
}

}  // namespace ts::cuda
