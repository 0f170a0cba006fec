// CPU pointwise kernels: fill, arange, random, cast, unary (+ backward), binary, where, strided
// copy, accumulate, dropout (+ backward).
#include <cmath>
#include <limits>

#include "core/kernels.h"
#include "core/ops.h"
#include "core/philox.h"
#include "cpu/dispatch.h"
#include "cpu/strided.h"
#include "cpu/threadpool.h"

namespace ts::cpu {

void fill(const FillParams& p) {
  TS_CPU_DISPATCH_ALL(p.dtype, "fill", [&](auto t_) {
    using scalar_t = TS_TYPE(t_);
    using A = acc_t<scalar_t>;
    scalar_t v = store<scalar_t, A>(A(p.value));
    scalar_t* out = static_cast<scalar_t*>(p.out);
    parallelFor(p.n, kPointwiseGrain, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) out[i] = v;
    });
  });
}

void arange(const ArangeParams& p) {
  TS_CPU_DISPATCH_ALL(p.dtype, "arange", [&](auto t_) {
    using scalar_t = TS_TYPE(t_);
    scalar_t* out = static_cast<scalar_t*>(p.out);
    parallelFor(p.n, kPointwiseGrain, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) {
        // Explicit fma: the CUDA kernel computes the same, whatever either compiler contracts.
        double v = std::fma(double(i), p.step, p.start);
        if constexpr (std::is_integral_v<scalar_t>) out[i] = store<scalar_t, int64_t>(int64_t(v));
        else out[i] = store<scalar_t, double>(v);
      }
    });
  });
}

void random(const RandomParams& p) {
  TS_CPU_DISPATCH_FLOAT(p.dtype, "random", [&](auto t_) {
    using scalar_t = TS_TYPE(t_);
    scalar_t* out = static_cast<scalar_t*>(p.out);
    parallelFor(p.n, kPointwiseGrain, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) {
        float r = p.kind == 0 ? philoxUniform(p.seed, p.counter, uint64_t(i)) : philoxNormal(p.seed, p.counter, uint64_t(i));
        double v = p.kind == 0 ? std::fma(p.b - p.a, double(r), p.a) : std::fma(p.b, double(r), p.a);  // as on CUDA
        out[i] = store<scalar_t, double>(v);
      }
    });
  });
}

namespace {
// Float -> integer: truncates toward zero, saturating at the type's range, NaN -> 0 (the CUDA cast
// does the same), where a plain C++ conversion of an out-of-range value is undefined.
template <typename O>
O truncSaturate(double v) {
  if (v != v) return O(0);
  if (v <= double(std::numeric_limits<O>::min())) return std::numeric_limits<O>::min();
  if (v >= double(std::numeric_limits<O>::max())) return std::numeric_limits<O>::max();
  return O(v);
}
}  // namespace

void cast(const CastParams& p) {
  TS_CPU_DISPATCH_ALL(p.srcDtype, "cast", [&](auto t_) {
    using scalar_t = TS_TYPE(t_);
    using S = scalar_t;
    const S* src = static_cast<const S*>(p.src);
    TS_CPU_DISPATCH_ALL(p.outDtype, "cast", [&](auto t_) {
      using scalar_t = TS_TYPE(t_);
      using O = scalar_t;
      O* out = static_cast<O*>(p.out);
      parallelFor(p.n, kPointwiseGrain, [&](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i) {
          if constexpr (std::is_integral_v<S> && std::is_integral_v<O>) {
            out[i] = std::is_same_v<O, uint8_t> ? O(src[i] != 0) : O(src[i]);
          } else if constexpr (std::is_integral_v<O> && !std::is_same_v<O, uint8_t>) {
            out[i] = truncSaturate<O>(load<S, double>(src[i]));
          } else {
            out[i] = store<O, double>(load<S, double>(src[i]));
          }
        }
      });
    });
  });
}

namespace {

template <typename F>
void dispatchUnary(int op, const F& f) {
  switch (op) {
#define TS_CASE(k) case k: f(std::integral_constant<int, k>{}); return;
    TS_CASE(0) TS_CASE(1) TS_CASE(2) TS_CASE(3) TS_CASE(4) TS_CASE(5) TS_CASE(6) TS_CASE(7) TS_CASE(8) TS_CASE(9)
    TS_CASE(10) TS_CASE(11) TS_CASE(12) TS_CASE(13) TS_CASE(14) TS_CASE(15) TS_CASE(16) TS_CASE(17) TS_CASE(18)
    TS_CASE(19)
#undef TS_CASE
  }
  throw Error(strcat("unary: unknown op ", op));
}

template <typename F>
void dispatchBinary(int op, const F& f) {
  switch (op) {
#define TS_CASE(k) case k: f(std::integral_constant<int, k>{}); return;
    TS_CASE(0) TS_CASE(1) TS_CASE(2) TS_CASE(3) TS_CASE(4) TS_CASE(5) TS_CASE(6) TS_CASE(7) TS_CASE(8) TS_CASE(9)
    TS_CASE(10) TS_CASE(11) TS_CASE(12) TS_CASE(13) TS_CASE(14)
#undef TS_CASE
  }
  throw Error(strcat("binary: unknown op ", op));
}

bool isContiguous(int ndim, const int64_t* shape, const int64_t* strides) {
  int64_t expect = 1;
  for (int d = ndim - 1; d >= 0; --d) {
    if (shape[d] != 1 && strides[d] != expect) return false;
    expect *= shape[d];
  }
  return true;
}

}  // namespace

void unaryOp(const UnaryParams& p) {
  TS_CPU_DISPATCH_ALL(p.dtype, "unary", [&](auto t_) {
    using scalar_t = TS_TYPE(t_);
    using T = scalar_t;
    using A = acc_t<T>;
    const T* x = static_cast<const T*>(p.x);
    T* out = static_cast<T*>(p.out);
    A alpha = A(p.alpha), beta = A(p.beta);
    dispatchUnary(p.op, [&](auto opc) {
      constexpr int Op = decltype(opc)::value;
      if constexpr (std::is_integral_v<A>) {
        if constexpr (Op == unary::Neg || Op == unary::Abs || Op == unary::Affine || Op == unary::Square ||
                      Op == unary::Sign || Op == unary::Clamp || Op == unary::Relu) {
          parallelFor(p.n, kPointwiseGrain, [&](int64_t b, int64_t e) {
            for (int64_t i = b; i < e; ++i) out[i] = T(unaryApply<Op, A>(A(x[i]), alpha, beta));
          });
        } else {
          throw Error("unary: this op needs a floating dtype");
        }
      } else {
        parallelFor(p.n, kPointwiseGrain, [&](int64_t b, int64_t e) {
          for (int64_t i = b; i < e; ++i) out[i] = store<T, A>(unaryApply<Op, A>(load<T, A>(x[i]), alpha, beta));
        });
      }
    });
  });
}

void unaryBackward(const UnaryBackwardParams& p) {
  TS_CPU_DISPATCH_FLOAT(p.dtype, "unaryBackward", [&](auto t_) {
    using scalar_t = TS_TYPE(t_);
    using T = scalar_t;
    using A = acc_t<T>;
    const T* x = static_cast<const T*>(p.x);
    const T* gy = static_cast<const T*>(p.gy);
    T* gx = static_cast<T*>(p.gx);
    A alpha = A(p.alpha), beta = A(p.beta);
    dispatchUnary(p.op, [&](auto opc) {
      constexpr int Op = decltype(opc)::value;
      parallelFor(p.n, kPointwiseGrain, [&](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i)
          gx[i] = store<T, A>(unaryGrad<Op, A>(load<T, A>(x[i]), load<T, A>(gy[i]), alpha, beta));
      });
    });
  });
}

void binaryOp(const BinaryParams& p) {
  TS_CPU_DISPATCH_ALL(p.dtype, "binary", [&](auto t_) {
    using scalar_t = TS_TYPE(t_);
    using T = scalar_t;
    using A = acc_t<T>;
    const T* a = static_cast<const T*>(p.a);
    const T* b = static_cast<const T*>(p.b);
    dispatchBinary(p.op, [&](auto opc) {
      constexpr int Op = decltype(opc)::value;
      if constexpr (std::is_integral_v<A> && (Op == binary::Div || Op == binary::Pow)) {
        throw Error("binary: division and pow need a floating dtype");
      } else {
        auto run = [&](auto* out) {
          using O = std::remove_pointer_t<decltype(out)>;
          bool dense = isContiguous(p.ndim, p.shape, p.aStrides) && isContiguous(p.ndim, p.shape, p.bStrides);
          if (dense) {
            parallelFor(p.n, kPointwiseGrain, [&](int64_t lo, int64_t hi) {
              for (int64_t i = lo; i < hi; ++i)
                out[i] = store<O, A>(binaryApply<Op, A>(load<T, A>(a[i]), load<T, A>(b[i])));
            });
            return;
          }
          const int64_t* strides[2] = {p.aStrides, p.bStrides};
          parallelFor(p.n, kPointwiseGrain, [&](int64_t lo, int64_t hi) {
            forEachStrided<2>(p.ndim, p.shape, strides, lo, hi, [&](int64_t i, const int64_t* off) {
              out[i] = store<O, A>(binaryApply<Op, A>(load<T, A>(a[off[0]]), load<T, A>(b[off[1]])));
            });
          });
        };
        if (binary::isComparison(Op)) run(static_cast<uint8_t*>(p.out));
        else run(static_cast<T*>(p.out));
      }
    });
  });
}

void where(const WhereParams& p) {
  TS_CPU_DISPATCH_ALL(p.dtype, "where", [&](auto t_) {
    using scalar_t = TS_TYPE(t_);
    using T = scalar_t;
    const uint8_t* c = static_cast<const uint8_t*>(p.cond);
    const T* a = static_cast<const T*>(p.a);
    const T* b = static_cast<const T*>(p.b);
    T* out = static_cast<T*>(p.out);
    const int64_t* strides[3] = {p.condStrides, p.aStrides, p.bStrides};
    parallelFor(p.n, kPointwiseGrain, [&](int64_t lo, int64_t hi) {
      forEachStrided<3>(p.ndim, p.shape, strides, lo, hi, [&](int64_t i, const int64_t* off) {
        out[i] = c[off[0]] ? a[off[1]] : b[off[2]];
      });
    });
  });
}

void copyStrided(const CopyParams& p) {
  auto run = [&](auto tag) {
    using T = decltype(tag);
    const T* src = static_cast<const T*>(p.src);
    T* out = static_cast<T*>(p.out);
    const int64_t* strides[2] = {p.srcStrides, p.outStrides};
    parallelFor(p.n, kPointwiseGrain, [&](int64_t lo, int64_t hi) {
      forEachStrided<2>(p.ndim, p.shape, strides, lo, hi,
                        [&](int64_t, const int64_t* off) { out[off[1]] = src[off[0]]; });
    });
  };
  // A copy only moves bytes: dispatch on the element size.
  switch (elemSize(p.dtype)) {
    case 1: run(uint8_t{}); break;
    case 2: run(uint16_t{}); break;
    case 4: run(uint32_t{}); break;
    case 8: run(uint64_t{}); break;
    default: throw Error("copyStrided: unsupported element size");
  }
}

void accumulate(const AccumulateParams& p) {
  TS_CPU_DISPATCH_FLOAT(p.dstDtype, "accumulate", [&](auto t_) {
    using scalar_t = TS_TYPE(t_);
    using D = scalar_t;
    D* dst = static_cast<D*>(p.dst);
    TS_CPU_DISPATCH_FLOAT(p.srcDtype, "accumulate", [&](auto t_) {
      using scalar_t = TS_TYPE(t_);
      using S = scalar_t;
      using A = std::conditional_t<std::is_same_v<D, double> || std::is_same_v<S, double>, double, float>;
      const S* src = static_cast<const S*>(p.src);
      A alpha = A(p.alpha);
      parallelFor(p.n, kPointwiseGrain, [&](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i) dst[i] = store<D, A>(load<D, A>(dst[i]) + alpha * load<S, A>(src[i]));
      });
    });
  });
}

void dropout(const DropoutParams& p) {
  TS_CPU_DISPATCH_FLOAT(p.dtype, "dropout", [&](auto t_) {
    using scalar_t = TS_TYPE(t_);
    using T = scalar_t;
    using A = acc_t<T>;
    const T* x = static_cast<const T*>(p.x);
    T* out = static_cast<T*>(p.out);
    A scale = A(1) / A(1 - p.p);
    float keepProb = float(1 - p.p);
    parallelFor(p.n, kPointwiseGrain, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) {
        bool keep = philoxUniform(p.seed, p.counter, uint64_t(i)) < keepProb;
        p.mask[i] = keep;
        out[i] = store<T, A>(keep ? load<T, A>(x[i]) * scale : A(0));
      }
    });
  });
}

void maskedScale(const MaskedScaleParams& p) {
  TS_CPU_DISPATCH_FLOAT(p.dtype, "maskedScale", [&](auto t_) {
    using scalar_t = TS_TYPE(t_);
    using T = scalar_t;
    using A = acc_t<T>;
    const T* gy = static_cast<const T*>(p.gy);
    T* gx = static_cast<T*>(p.gx);
    A scale = A(p.scale);
    parallelFor(p.n, kPointwiseGrain, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) gx[i] = store<T, A>(p.mask[i] ? load<T, A>(gy[i]) * scale : A(0));
    });
  });
}

}  // namespace ts::cpu
