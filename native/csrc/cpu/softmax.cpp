// CPU softmax and log-softmax (+ backward) over the middle dimension of [outer, size, inner].
// Math in acc_t (fp32 for f32/bf16/f16, fp64 for f64); the max is subtracted before exp.
// Contiguous rows (inner == 1) run one row per work item; otherwise a work item is one outer slice
// and a block of adjacent columns, walked down the size axis so the inner loops vectorize.
#include <algorithm>
#include <cmath>
#include <limits>

#include "core/kernels.h"
#include "core/ops.h"
#include "cpu/dispatch.h"
#include "cpu/threadpool.h"

namespace ts::cpu {
namespace {

constexpr int64_t kColumnBlock = 128;

// Runs row(offset) for each contiguous line when inner == 1, else cols(offset, width) for each
// block of adjacent columns of one outer slice (offsets in elements), spread over the pool.
template <typename RowFn, typename ColFn>
void forEachLine(int64_t outer, int64_t size, int64_t inner, const RowFn& row, const ColFn& cols) {
  if (inner == 1) {
    parallelFor(outer, rowsPerTask(size), [&](int64_t b, int64_t e) {
      for (int64_t o = b; o < e; ++o) row(o * size);
    });
    return;
  }
  const int64_t blocks = (inner + kColumnBlock - 1) / kColumnBlock;
  parallelFor(outer * blocks, rowsPerTask(size * std::min(inner, kColumnBlock)), [&](int64_t b, int64_t e) {
    for (int64_t item = b; item < e; ++item) {
      const int64_t o = item / blocks, i0 = (item % blocks) * kColumnBlock;
      cols(o * size * inner + i0, std::min(kColumnBlock, inner - i0));
    }
  });
}

template <typename T, typename A>
void softmaxRow(const T* x, T* y, int64_t n, bool log) {
  A mx = -std::numeric_limits<A>::infinity();
  for (int64_t j = 0; j < n; ++j) mx = std::max(mx, load<T, A>(x[j]));
  A sum = 0;
  for (int64_t j = 0; j < n; ++j) sum += m_exp(load<T, A>(x[j]) - mx);
  if (log) {
    const A shift = mx + m_log(sum);
    for (int64_t j = 0; j < n; ++j) y[j] = store<T, A>(load<T, A>(x[j]) - shift);
  } else {
    const A inv = A(1) / sum;
    for (int64_t j = 0; j < n; ++j) y[j] = store<T, A>(m_exp(load<T, A>(x[j]) - mx) * inv);
  }
}

// w adjacent columns starting at x, each a softmax line of `size` elements `inner` apart.
template <typename T, typename A>
void softmaxColumns(const T* x, T* y, int64_t size, int64_t inner, int64_t w, bool log) {
  A mx[kColumnBlock], sum[kColumnBlock];
  std::fill(mx, mx + w, -std::numeric_limits<A>::infinity());
  std::fill(sum, sum + w, A(0));
  for (int64_t j = 0; j < size; ++j)
    for (int64_t i = 0; i < w; ++i) mx[i] = std::max(mx[i], load<T, A>(x[j * inner + i]));
  for (int64_t j = 0; j < size; ++j)
    for (int64_t i = 0; i < w; ++i) sum[i] += m_exp(load<T, A>(x[j * inner + i]) - mx[i]);
  for (int64_t i = 0; i < w; ++i) {
    if (log) mx[i] += m_log(sum[i]);  // mx becomes the log-sum-exp
    else sum[i] = A(1) / sum[i];      // sum becomes its reciprocal
  }
  for (int64_t j = 0; j < size; ++j)
    for (int64_t i = 0; i < w; ++i) {
      A v = load<T, A>(x[j * inner + i]);
      y[j * inner + i] = store<T, A>(log ? v - mx[i] : m_exp(v - mx[i]) * sum[i]);
    }
}

// softmax: gx = y * (gy - sum(gy * y)); log-softmax: gx = gy - exp(y) * sum(gy)
template <typename T, typename A>
void backwardRow(const T* y, const T* gy, T* gx, int64_t n, bool log) {
  A dot = 0;
  for (int64_t j = 0; j < n; ++j) dot += log ? load<T, A>(gy[j]) : load<T, A>(gy[j]) * load<T, A>(y[j]);
  for (int64_t j = 0; j < n; ++j) {
    A yv = load<T, A>(y[j]), g = load<T, A>(gy[j]);
    gx[j] = store<T, A>(log ? g - m_exp(yv) * dot : yv * (g - dot));
  }
}

template <typename T, typename A>
void backwardColumns(const T* y, const T* gy, T* gx, int64_t size, int64_t inner, int64_t w, bool log) {
  A dot[kColumnBlock];
  std::fill(dot, dot + w, A(0));
  for (int64_t j = 0; j < size; ++j)
    for (int64_t i = 0; i < w; ++i) {
      A g = load<T, A>(gy[j * inner + i]);
      dot[i] += log ? g : g * load<T, A>(y[j * inner + i]);
    }
  for (int64_t j = 0; j < size; ++j)
    for (int64_t i = 0; i < w; ++i) {
      A yv = load<T, A>(y[j * inner + i]), g = load<T, A>(gy[j * inner + i]);
      gx[j * inner + i] = store<T, A>(log ? g - m_exp(yv) * dot[i] : yv * (g - dot[i]));
    }
}

}  // namespace

void softmax(const SoftmaxParams& p) {
  if (p.size == 0) return;
  TS_CPU_DISPATCH_FLOAT(p.dtype, "softmax", [&](auto t) {
    using T = TS_TYPE(t);
    using A = acc_t<T>;
    const T* x = static_cast<const T*>(p.x);
    T* y = static_cast<T*>(p.out);
    forEachLine(
        p.outer, p.size, p.inner, [&](int64_t off) { softmaxRow<T, A>(x + off, y + off, p.size, p.log); },
        [&](int64_t off, int64_t w) { softmaxColumns<T, A>(x + off, y + off, p.size, p.inner, w, p.log); });
  });
}

void softmaxBackward(const SoftmaxBackwardParams& p) {
  if (p.size == 0) return;
  TS_CPU_DISPATCH_FLOAT(p.dtype, "softmaxBackward", [&](auto t) {
    using T = TS_TYPE(t);
    using A = acc_t<T>;
    const T* y = static_cast<const T*>(p.y);
    const T* gy = static_cast<const T*>(p.gy);
    T* gx = static_cast<T*>(p.gx);
    forEachLine(
        p.outer, p.size, p.inner, [&](int64_t off) { backwardRow<T, A>(y + off, gy + off, gx + off, p.size, p.log); },
        [&](int64_t off, int64_t w) {
          backwardColumns<T, A>(y + off, gy + off, gx + off, p.size, p.inner, w, p.log);
        });
  });
}

}  // namespace ts::cpu
