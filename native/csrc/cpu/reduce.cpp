// CPU reduce: sum, mean, max and min over the middle dimension of [outer, size, inner].
// Sums accumulate in acc_t (fp32 for f32/bf16/f16, fp64 for f64, int64 for integers and bool, so
// a bool sum counts trues). Max/min compare in acc_t too (exact for every dtype), keep the first
// index on ties, and let NaN win like PyTorch: the first NaN is the result and its index.
#include <algorithm>
#include <cmath>
#include <type_traits>

#include "core/kernels.h"
#include "core/ops.h"
#include "cpu/dispatch.h"
#include "cpu/threadpool.h"

namespace ts::cpu {
namespace {

// Columns of one outer slice reduced together when inner > 1: the accumulators live on the stack
// and the inner loop runs over adjacent elements, so it vectorizes.
constexpr int64_t kColumnBlock = 256;
// Independent accumulators for a contiguous row: breaks the add dependency chain (speed) and
// sums in a few interleaved partials (slightly less rounding error than one long chain).
constexpr int kLanes = 8;

template <typename A>
inline bool isNan(A v) {
  if constexpr (std::is_floating_point_v<A>) return std::isnan(v);
  else return false;
}

// True when `v` should replace `best` as the running max (IsMax) or min.
template <bool IsMax, typename A>
inline bool better(A v, A best) {
  if (isNan(best)) return false;
  if (isNan(v)) return true;
  return IsMax ? v > best : v < best;
}

// Sum or mean of an accumulated value, narrowed to the output type. Integer sums divide in double.
template <typename O, typename A>
O finish(A sum, int64_t count, bool mean) {
  if (!mean) return store<O, A>(sum);
  if constexpr (std::is_integral_v<A>) return store<O, double>(count ? double(sum) / double(count) : 0.0);
  else return store<O, A>(count ? sum / A(count) : A(0));
}

template <typename T, typename A>
A sumRow(const T* x, int64_t n) {
  A lanes[kLanes] = {};
  int64_t j = 0;
  for (; j + kLanes <= n; j += kLanes)
    for (int l = 0; l < kLanes; ++l) lanes[l] += load<T, A>(x[j + l]);
  A s = A(0);
  for (int l = 0; l < kLanes; ++l) s += lanes[l];
  for (; j < n; ++j) s += load<T, A>(x[j]);
  return s;
}

// out[o, i] for i in [i0, i1) of one outer slice, each column accumulated down the size axis.
template <typename T, typename A, typename O>
void sumColumns(const ReduceParams& p, const T* x, O* out, int64_t i0, int64_t i1, bool mean) {
  A acc[kColumnBlock] = {};
  const int64_t w = i1 - i0;
  for (int64_t j = 0; j < p.size; ++j) {
    const T* row = x + j * p.inner + i0;
    for (int64_t i = 0; i < w; ++i) acc[i] += load<T, A>(row[i]);
  }
  for (int64_t i = 0; i < w; ++i) out[i0 + i] = finish<O, A>(acc[i], p.size, mean);
}

template <bool IsMax, typename T, typename A, typename O>
void extremeColumns(const ReduceParams& p, const T* x, O* out, int64_t* idx, int64_t i0, int64_t i1) {
  A best[kColumnBlock];
  int64_t at[kColumnBlock] = {};
  const int64_t w = i1 - i0;
  for (int64_t i = 0; i < w; ++i) best[i] = load<T, A>(x[i0 + i]);
  for (int64_t j = 1; j < p.size; ++j) {
    const T* row = x + j * p.inner + i0;
    for (int64_t i = 0; i < w; ++i) {
      A v = load<T, A>(row[i]);
      if (better<IsMax>(v, best[i])) {
        best[i] = v;
        at[i] = j;
      }
    }
  }
  for (int64_t i = 0; i < w; ++i) {
    out[i0 + i] = store<O, A>(best[i]);
    if (idx) idx[i0 + i] = at[i];
  }
}

template <bool IsMax, typename T, typename A>
A extremeRow(const T* x, int64_t n, int64_t* at) {
  A best = load<T, A>(x[0]);
  int64_t where = 0;
  for (int64_t j = 1; j < n; ++j) {
    A v = load<T, A>(x[j]);
    if (better<IsMax>(v, best)) {
      best = v;
      where = j;
    }
  }
  *at = where;
  return best;
}

}  // namespace

void reduce(const ReduceParams& p) {
  TS_CPU_DISPATCH_ALL(p.dtype, "reduce", [&](auto tx) {
    using T = TS_TYPE(tx);
    using A = acc_t<T>;
    const T* x = static_cast<const T*>(p.x);
    TS_CPU_DISPATCH_ALL(p.outDtype, "reduce", [&](auto to) {
      using O = TS_TYPE(to);
      O* out = static_cast<O*>(p.out);
      const bool isSum = p.op == reduce::Sum || p.op == reduce::Mean;
      const bool mean = p.op == reduce::Mean;
      const bool isMax = p.op == reduce::Max;
      if (p.inner == 1) {
        // Contiguous rows: one row per work item.
        parallelFor(p.outer, rowsPerTask(p.size),
                    [&](int64_t b, int64_t e) {
                      for (int64_t o = b; o < e; ++o) {
                        const T* row = x + o * p.size;
                        if (isSum) {
                          out[o] = finish<O, A>(sumRow<T, A>(row, p.size), p.size, mean);
                        } else {
                          int64_t at;
                          A v = isMax ? extremeRow<true, T, A>(row, p.size, &at) : extremeRow<false, T, A>(row, p.size, &at);
                          out[o] = store<O, A>(v);
                          if (p.indices) p.indices[o] = at;
                        }
                      }
                    });
        return;
      }
      // Strided columns: work items are (outer slice, block of kColumnBlock columns).
      const int64_t blocks = (p.inner + kColumnBlock - 1) / kColumnBlock;
      const int64_t itemCost = std::max<int64_t>(1, p.size * std::min(p.inner, kColumnBlock));
      parallelFor(p.outer * blocks, std::max<int64_t>(1, kPointwiseGrain / itemCost), [&](int64_t b, int64_t e) {
        for (int64_t item = b; item < e; ++item) {
          const int64_t o = item / blocks, i0 = (item % blocks) * kColumnBlock;
          const int64_t i1 = std::min(p.inner, i0 + kColumnBlock);
          const T* xs = x + o * p.size * p.inner;
          O* os = out + o * p.inner;
          int64_t* is = p.indices ? p.indices + o * p.inner : nullptr;
          if (isSum) sumColumns<T, A, O>(p, xs, os, i0, i1, mean);
          else if (isMax) extremeColumns<true, T, A, O>(p, xs, os, is, i0, i1);
          else extremeColumns<false, T, A, O>(p, xs, os, is, i0, i1);
        }
      });
    });
  });
}

}  // namespace ts::cpu
