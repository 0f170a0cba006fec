// CUDA fill, arange, cast, accumulate and maskedScale: contiguous, vectorized (cuda/pointwise.cuh).
// Each converts exactly as its CPU twin in cpu/elementwise.cpp, so results match bit for bit
// (accumulate up to rounding).
#include <limits>

#include "cuda/pointwise.cuh"

namespace ts::cuda {
namespace {

template <typename T> constexpr bool kIsBool = std::is_same_v<T, uint8_t>;

// The element fill() writes for `v`, converted on the host as the CPU kernel converts it
// (integers truncate through int64; bool is int64(v) != 0; 16-bit floats round from float).
template <typename T>
T hostValue(double v) {
  if constexpr (kIsBool<T>) {
    return uint8_t(int64_t(v) != 0);
  } else if constexpr (std::is_integral_v<T>) {
    return T(int64_t(v));
  } else if constexpr (std::is_same_v<T, __half>) {
    __half_raw r;
    r.x = floatToF16(float(v));
    return __half(r);
  } else if constexpr (std::is_same_v<T, __nv_bfloat16>) {
    __nv_bfloat16_raw r;
    r.x = floatToBf16(float(v));
    return __nv_bfloat16(r);
  } else {
    return T(v);
  }
}

template <typename T>
struct FillF {
  T* out;
  T value;
  template <int N> struct Regs {};
  template <int N> __device__ Regs<N> load(int64_t) const { return {}; }
  template <int N> __device__ void store(int64_t i, const Regs<N>&) const { storePack<N>(out + i, splat<N>(value)); }
};

template <typename T>
struct ArangeF {
  T* out;
  double start, step;
  template <int N> struct Regs {};
  template <int N> __device__ Regs<N> load(int64_t) const { return {}; }
  template <int N> __device__ void store(int64_t i, const Regs<N>&) const {
    Pack<T, N> y;
#pragma unroll
    for (int k = 0; k < N; ++k) {
      double v = fma(double(i + k), step, start);  // the CPU kernel's fma, bit for bit
      if constexpr (std::is_integral_v<T>) y.v[k] = fromAcc<T, int64_t>(int64_t(v));
      else y.v[k] = fromAcc<T, double>(v);
    }
    storePack<N>(out + i, y);
  }
};

// Float -> integer as the CPU does it: truncate toward zero, saturate at the range, NaN -> 0. (The
// hardware conversions disagree on NaN: f32 -> i32 gives 0, f64 -> i32 and any -> i64 give INT_MIN.)
template <typename O, typename A>
__device__ __forceinline__ O truncSaturate(A v) {
  if (v != v) return O(0);
  if (v <= A(std::numeric_limits<O>::min())) return std::numeric_limits<O>::min();
  if (v >= A(std::numeric_limits<O>::max())) return std::numeric_limits<O>::max();
  return O(v);
}

// One element of cast<S -> O> with the CPU's semantics: integer -> integer directly (bool: != 0);
// float -> integer truncates and saturates; anything else through fp32, or fp64 when either side is
// f64 or the source is i64 (the CPU converts through double, and i64 -> double -> float rounds twice).
template <typename S, typename O>
__device__ __forceinline__ O castOne(S v) {
  if constexpr (std::is_integral_v<S> && std::is_integral_v<O>) {
    if constexpr (kIsBool<O>) return O(v != 0);
    else return O(v);
  } else if constexpr (std::is_integral_v<O> && !kIsBool<O>) {
    if constexpr (std::is_same_v<S, double>) return truncSaturate<O>(v);
    else return truncSaturate<O>(toAcc<S, float>(v));  // exact in fp32, as in the CPU's fp64
  } else if constexpr (std::is_same_v<S, double> || std::is_same_v<O, double> || std::is_same_v<S, int64_t>) {
    return fromAcc<O, double>(toAcc<S, double>(v));
  } else {
    return fromAcc<O, float>(toAcc<S, float>(v));
  }
}

template <typename S, typename O>
struct CastF {
  const S* src;
  O* out;
  template <int N> using Regs = Pack<S, N>;
  template <int N> __device__ Regs<N> load(int64_t i) const { return loadPack<N>(src + i); }
  template <int N> __device__ void store(int64_t i, const Regs<N>& r) const {
    Pack<O, N> y;
#pragma unroll
    for (int k = 0; k < N; ++k) y.v[k] = castOne<S, O>(r.v[k]);
    storePack<N>(out + i, y);
  }
};

template <typename D, typename S>
struct AccumulateF {
  using A = std::conditional_t<std::is_same_v<D, double> || std::is_same_v<S, double>, double, float>;
  D* dst;
  const S* src;
  A alpha;
  template <int N> struct Regs { Pack<D, N> d; Pack<S, N> s; };
  template <int N> __device__ Regs<N> load(int64_t i) const { return {loadPack<N>(dst + i), loadPack<N>(src + i)}; }
  template <int N> __device__ void store(int64_t i, const Regs<N>& r) const {
    Pack<D, N> y;
#pragma unroll
    for (int k = 0; k < N; ++k) y.v[k] = fromAcc<D, A>(fma(alpha, toAcc<S, A>(r.s.v[k]), toAcc<D, A>(r.d.v[k])));
    storePack<N>(dst + i, y);
  }
};

template <typename T>
struct MaskedScaleF {
  using A = typename DevAcc<T>::type;
  const T* gy;
  const uint8_t* mask;
  T* gx;
  A scale;
  template <int N> struct Regs { Pack<T, N> g; Pack<uint8_t, N> m; };
  template <int N> __device__ Regs<N> load(int64_t i) const { return {loadPack<N>(gy + i), loadPack<N>(mask + i)}; }
  template <int N> __device__ void store(int64_t i, const Regs<N>& r) const {
    Pack<T, N> y;
#pragma unroll
    for (int k = 0; k < N; ++k) y.v[k] = fromAcc<T, A>(r.m.v[k] ? toAcc<T, A>(r.g.v[k]) * scale : A(0));
    storePack<N>(gx + i, y);
  }
};

}  // namespace

void fill(const FillParams& p) {
  TS_CUDA_DISPATCH_ALL(p.dtype, "fill", [&](auto t_) {
    using T = TS_TYPE(t_);
    constexpr int N = packWidth<T>();
    FillF<T> f{static_cast<T*>(p.out), hostValue<T>(p.value)};
    launchVec<N, 4>("fill", f, p.n, packAligned<T, N>(p.out));
  });
}

void arange(const ArangeParams& p) {
  TS_CUDA_DISPATCH_ALL(p.dtype, "arange", [&](auto t_) {
    using T = TS_TYPE(t_);
    constexpr int N = packWidth<T>();
    launchVec<N, 4>("arange", ArangeF<T>{static_cast<T*>(p.out), p.start, p.step}, p.n, packAligned<T, N>(p.out));
  });
}

void cast(const CastParams& p) {
  TS_CUDA_DISPATCH_ALL(p.srcDtype, "cast", [&](auto ts_) {
    using S = TS_TYPE(ts_);
    TS_CUDA_DISPATCH_ALL(p.outDtype, "cast", [&](auto to_) {
      using O = TS_TYPE(to_);
      constexpr int N = packWidth<S, O>();
      bool aligned = packAligned<S, N>(p.src) && packAligned<O, N>(p.out);
      CastF<S, O> f{static_cast<const S*>(p.src), static_cast<O*>(p.out)};
      launchVec<N, unrollFor(N * int(sizeof(S)))>("cast", f, p.n, aligned);
    });
  });
}

void accumulate(const AccumulateParams& p) {
  TS_CUDA_DISPATCH_FLOAT(p.dstDtype, "accumulate", [&](auto td_) {
    using D = TS_TYPE(td_);
    TS_CUDA_DISPATCH_FLOAT(p.srcDtype, "accumulate", [&](auto ts_) {
      using S = TS_TYPE(ts_);
      using F = AccumulateF<D, S>;
      constexpr int N = packWidth<D, S>();
      bool aligned = packAligned<D, N>(p.dst) && packAligned<S, N>(p.src);
      F f{static_cast<D*>(p.dst), static_cast<const S*>(p.src), typename F::A(p.alpha)};
      launchVec<N, unrollFor(N * int(sizeof(D) + sizeof(S)))>("accumulate", f, p.n, aligned);
    });
  });
}

void maskedScale(const MaskedScaleParams& p) {
  TS_CUDA_DISPATCH_FLOAT(p.dtype, "maskedScale", [&](auto t_) {
    using T = TS_TYPE(t_);
    using F = MaskedScaleF<T>;
    constexpr int N = packWidth<T>();
    bool aligned = packAligned<T, N>(p.gy) && packAligned<uint8_t, N>(p.mask) && packAligned<T, N>(p.gx);
    F f{static_cast<const T*>(p.gy), p.mask, static_cast<T*>(p.gx), typename F::A(p.scale)};
    launchVec<N, unrollFor(N * int(sizeof(T) + 1))>("maskedScale", f, p.n, aligned);
  });
}

}  // namespace ts::cuda
