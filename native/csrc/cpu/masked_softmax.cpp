// CPU fused scale + mask + softmax (Megatron's FusedScaleMaskSoftmax) and its backward, one
// attention-score row per work item, math in acc_t (fp32 for 16-bit inputs, fp64 for f64).
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "core/kernels.h"
#include "core/ops.h"
#include "cpu/dispatch.h"
#include "cpu/threadpool.h"

namespace ts::cpu {
namespace {

constexpr double kMaskedScore = -10000.0;  // Megatron's fill value for masked scores

// One row's mask: the causal limit and the user mask's row (or null).
struct RowMask {
  int64_t lastVisible;  // keys after this column are masked
  const uint8_t* m;
  bool masked(int64_t j) const { return j > lastVisible || (m && m[j]); }
};

RowMask rowMask(const AttentionMask& a, int64_t cols, int64_t row) {
  const int64_t qi = row % a.sq, bi = row / (a.sq * a.heads);
  return {a.causal ? qi + (cols - a.sq) : cols - 1, a.mask ? a.mask + bi * a.maskBatchStride + qi * a.maskRowStride : nullptr};
}

template <typename T, typename A>
void maskedSoftmaxRow(const MaskedSoftmaxParams& p, int64_t row, A* buf) {
  const int64_t n = p.cols;
  const T* x = static_cast<const T*>(p.x) + row * n;
  T* y = static_cast<T*>(p.out) + row * n;
  const RowMask rm = rowMask(p.m, n, row);
  const A scale = A(p.scale);
  A mx = -std::numeric_limits<A>::infinity();
  for (int64_t j = 0; j < n; ++j) {
    buf[j] = rm.masked(j) ? A(kMaskedScore) : load<T, A>(x[j]) * scale;
    mx = std::max(mx, buf[j]);
  }
  A sum = 0;
  for (int64_t j = 0; j < n; ++j) {
    buf[j] = m_exp(buf[j] - mx);
    sum += buf[j];
  }
  const A inv = A(1) / sum;
  for (int64_t j = 0; j < n; ++j) y[j] = store<T, A>(buf[j] * inv);
}

template <typename T, typename A>
void maskedSoftmaxBackwardRow(const MaskedSoftmaxBackwardParams& p, int64_t row) {
  const int64_t n = p.cols;
  const T* y = static_cast<const T*>(p.y) + row * n;
  const T* gy = static_cast<const T*>(p.gy) + row * n;
  T* gx = static_cast<T*>(p.gx) + row * n;
  A dot = 0;
  for (int64_t j = 0; j < n; ++j) dot += load<T, A>(gy[j]) * load<T, A>(y[j]);
  const A scale = A(p.scale);
  const RowMask rm = rowMask(p.m, n, row);
  for (int64_t j = 0; j < n; ++j)
    gx[j] = store<T, A>(rm.masked(j) ? A(0) : scale * load<T, A>(y[j]) * (load<T, A>(gy[j]) - dot));
}

}  // namespace

void maskedSoftmax(const MaskedSoftmaxParams& p) {
  if (p.rows == 0 || p.cols == 0) return;
  TS_CPU_DISPATCH_FLOAT(p.dtype, "maskedSoftmax", [&](auto t) {
    using T = TS_TYPE(t);
    using A = acc_t<T>;
    parallelFor(p.rows, rowsPerTask(p.cols), [&](int64_t b, int64_t e) {
      std::vector<A> buf(size_t(p.cols));
      for (int64_t r = b; r < e; ++r) maskedSoftmaxRow<T, A>(p, r, buf.data());
    });
  });
}

void maskedSoftmaxBackward(const MaskedSoftmaxBackwardParams& p) {
  if (p.rows == 0 || p.cols == 0) return;
  TS_CPU_DISPATCH_FLOAT(p.dtype, "maskedSoftmaxBackward", [&](auto t) {
    using T = TS_TYPE(t);
    using A = acc_t<T>;
    parallelFor(p.rows, rowsPerTask(p.cols), [&](int64_t b, int64_t e) {
      for (int64_t r = b; r < e; ++r) maskedSoftmaxBackwardRow<T, A>(p, r);
    });
  });
}

}  // namespace ts::cpu
