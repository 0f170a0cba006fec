// CPU LayerNorm (rms = false) and RMSNorm (rms = true) over the last dimension, + backward.
// Statistics in acc_t (fp32; fp64 for f64 inputs), saved per row as fp32 mean and rstd.
//   LayerNorm: xhat = (x - mean) * rstd, rstd = 1 / sqrt(var + eps), var biased (two passes)
//   RMSNorm:   xhat = x * rstd,          rstd = 1 / sqrt(mean(x^2) + eps)
//   y = xhat * w + b (w, b optional)
#include <algorithm>
#include <cmath>

#include "core/kernels.h"
#include "core/ops.h"
#include "cpu/dispatch.h"
#include "cpu/threadpool.h"

namespace ts::cpu {
namespace {

constexpr int64_t kColumnBlock = 256;

// Dispatches the row dtype T and the weight dtype W; A is the accumulation type of T.
template <typename F>
void dispatchNorm(DType dtype, DType wDtype, const char* what, const F& f) {
  TS_CPU_DISPATCH_FLOAT(dtype, what, [&](auto tx) {
    TS_CPU_DISPATCH_FLOAT(wDtype, what, [&](auto tw) { f(tx, tw); });
  });
}

}  // namespace

void norm(const NormParams& p) {
  dispatchNorm(p.dtype, p.wDtype, "norm", [&](auto tx, auto tw) {
    using T = TS_TYPE(tx);
    using W = TS_TYPE(tw);
    using A = acc_t<T>;
    const T* x = static_cast<const T*>(p.x);
    const W* w = static_cast<const W*>(p.w);
    const W* b = static_cast<const W*>(p.b);
    T* out = static_cast<T*>(p.out);
    const int64_t n = p.cols;
    parallelFor(p.rows, rowsPerTask(n), [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        const T* xr = x + r * n;
        T* yr = out + r * n;
        A mean = 0, sq = 0;
        if (p.rms) {
          for (int64_t c = 0; c < n; ++c) {
            A v = load<T, A>(xr[c]);
            sq += v * v;
          }
        } else {
          for (int64_t c = 0; c < n; ++c) mean += load<T, A>(xr[c]);
          mean /= A(n);
          for (int64_t c = 0; c < n; ++c) {
            A d = load<T, A>(xr[c]) - mean;
            sq += d * d;
          }
        }
        const A rstd = A(1) / m_sqrt(sq / A(n) + A(p.eps));
        if (p.mean) p.mean[r] = float(mean);  // 0 for RMSNorm
        p.rstd[r] = float(rstd);
        for (int64_t c = 0; c < n; ++c) {
          A v = (load<T, A>(xr[c]) - mean) * rstd;
          if (w) v *= load<W, A>(w[c]);
          if (b) v += load<W, A>(b[c]);
          yr[c] = store<T, A>(v);
        }
      }
    });
  });
}

// With g = gy * w and xhat as above (statistics from the saved fp32 mean/rstd):
//   LayerNorm: gx = rstd * (g - mean(g) - xhat * mean(g * xhat))
//   RMSNorm:   gx = rstd * (g - xhat * mean(g * xhat))
//   gw = sum over rows of gy * xhat, gb = sum over rows of gy
void normBackward(const NormBackwardParams& p) {
  dispatchNorm(p.dtype, p.wDtype, "normBackward", [&](auto tx, auto tw) {
    using T = TS_TYPE(tx);
    using W = TS_TYPE(tw);
    using A = acc_t<T>;
    const T* gy = static_cast<const T*>(p.gy);
    const T* x = static_cast<const T*>(p.x);
    const W* w = static_cast<const W*>(p.w);
    T* gx = static_cast<T*>(p.gx);
    const int64_t n = p.cols;
    auto rowMean = [&](int64_t r) { return p.rms ? A(0) : A(p.mean[r]); };

    parallelFor(p.rows, rowsPerTask(n), [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        const T* gr = gy + r * n;
        const T* xr = x + r * n;
        const A mu = rowMean(r), rstd = A(p.rstd[r]);
        A sumG = 0, sumGX = 0;
        for (int64_t c = 0; c < n; ++c) {
          A g = load<T, A>(gr[c]) * (w ? load<W, A>(w[c]) : A(1));
          sumG += g;
          sumGX += g * (load<T, A>(xr[c]) - mu) * rstd;
        }
        const A meanG = p.rms ? A(0) : sumG / A(n), meanGX = sumGX / A(n);
        for (int64_t c = 0; c < n; ++c) {
          A g = load<T, A>(gr[c]) * (w ? load<W, A>(w[c]) : A(1));
          A xhat = (load<T, A>(xr[c]) - mu) * rstd;
          gx[r * n + c] = store<T, A>(rstd * (g - meanG - xhat * meanGX));
        }
      }
    });

    if (!p.gw && !p.gb) return;
    // Column sums: each work item owns a block of columns and walks every row, so the result
    // does not depend on the thread count.
    const int64_t blocks = (n + kColumnBlock - 1) / kColumnBlock;
    parallelFor(blocks, 1, [&](int64_t b0, int64_t b1) {
      for (int64_t blk = b0; blk < b1; ++blk) {
        const int64_t c0 = blk * kColumnBlock, width = std::min(kColumnBlock, n - c0);
        A accW[kColumnBlock] = {}, accB[kColumnBlock] = {};
        for (int64_t r = 0; r < p.rows; ++r) {
          const T* gr = gy + r * n + c0;
          const T* xr = x + r * n + c0;
          const A mu = rowMean(r), rstd = A(p.rstd[r]);
          for (int64_t c = 0; c < width; ++c) {
            A g = load<T, A>(gr[c]);
            accW[c] += g * (load<T, A>(xr[c]) - mu) * rstd;
            accB[c] += g;
          }
        }
        for (int64_t c = 0; c < width; ++c) {
          if (p.gw) p.gw[c0 + c] = float(accW[c]);
          if (p.gb) p.gb[c0 + c] = float(accB[c]);
        }
      }
    });
  });
}

}  // namespace ts::cpu
