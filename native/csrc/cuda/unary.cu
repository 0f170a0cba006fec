// CUDA unary ops and their backward: y = f(x) and gx = gy * f'(x), with the scalar math of
// core/ops.h (unaryApply / unaryGrad) computed in fp32 (fp64 for f64, int64 for integers).
#include "cuda/pointwise.cuh"

namespace ts::cuda {
namespace {

template <int Op, typename T>
struct UnaryF {
  using A = typename DevAcc<T>::type;
  const T* x;
  T* out;
  A alpha, beta;

  template <int N> using Regs = Pack<T, N>;
  template <int N> __device__ Regs<N> load(int64_t i) const { return loadPack<N>(x + i); }
  template <int N> __device__ void store(int64_t i, const Regs<N>& r) const {
    Pack<T, N> y;
#pragma unroll
    for (int k = 0; k < N; ++k) y.v[k] = fromAcc<T, A>(unaryApply<Op, A>(toAcc<T, A>(r.v[k]), alpha, beta));
    storePack<N>(out + i, y);
  }
};

template <int Op, typename T>
struct UnaryGradF {
  using A = typename DevAcc<T>::type;
  const T* x;
  const T* gy;
  T* gx;
  A alpha, beta;

  template <int N> struct Regs { Pack<T, N> x, gy; };
  template <int N> __device__ Regs<N> load(int64_t i) const { return {loadPack<N>(x + i), loadPack<N>(gy + i)}; }
  template <int N> __device__ void store(int64_t i, const Regs<N>& r) const {
    Pack<T, N> g;
#pragma unroll
    for (int k = 0; k < N; ++k)
      g.v[k] = fromAcc<T, A>(unaryGrad<Op, A>(toAcc<T, A>(r.x.v[k]), toAcc<T, A>(r.gy.v[k]), alpha, beta));
    storePack<N>(gx + i, g);
  }
};

// The unary ops that stay in the integers (as on the CPU: core/ops.h unaryIntegerOk).
template <int Op> constexpr bool integerOk() {
  return Op == unary::Neg || Op == unary::Abs || Op == unary::Affine || Op == unary::Square || Op == unary::Sign ||
         Op == unary::Clamp || Op == unary::Relu;
}

}  // namespace

void unaryOp(const UnaryParams& p) {
  TS_CUDA_DISPATCH_ALL(p.dtype, "unary", [&](auto t_) {
    using T = TS_TYPE(t_);
    using A = typename DevAcc<T>::type;
    if constexpr (std::is_same_v<T, uint8_t>) {
      throw Error("unary: unary math on bool tensors is not supported; cast first");
    } else {
      dispatchUnaryOp(p.op, [&](auto opc) {
        if constexpr (std::is_integral_v<A> && !integerOk<decltype(opc)::value>()) {
          throw Error("unary: this op needs a floating dtype");
        } else {
          constexpr int N = packWidth<T>();
          UnaryF<decltype(opc)::value, T> f{static_cast<const T*>(p.x), static_cast<T*>(p.out), A(p.alpha), A(p.beta)};
          bool aligned = packAligned<T, N>(p.x) && packAligned<T, N>(p.out);
          launchVec<N, unrollFor(16)>("unary", f, p.n, aligned);
        }
      });
    }
  });
}

void unaryBackward(const UnaryBackwardParams& p) {
  TS_CUDA_DISPATCH_FLOAT(p.dtype, "unaryBackward", [&](auto t_) {
    using T = TS_TYPE(t_);
    using A = typename DevAcc<T>::type;
    dispatchUnaryOp(p.op, [&](auto opc) {
      constexpr int Op = decltype(opc)::value;
      constexpr int N = packWidth<T>();
      UnaryGradF<Op, T> f{static_cast<const T*>(p.x), static_cast<const T*>(p.gy), static_cast<T*>(p.gx), A(p.alpha),
                          A(p.beta)};
      bool aligned = packAligned<T, N>(p.x) && packAligned<T, N>(p.gy) && packAligned<T, N>(p.gx);
      launchVec<N, unrollFor(32)>("unaryBackward", f, p.n, aligned);
    });
  });
}

}  // namespace ts::cuda
