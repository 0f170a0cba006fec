// CUDA binary ops, shared by binary.cu (floating dtypes) and binary_int.cu (integers and bool), so
// the two halves of the many op x dtype instantiations compile in parallel. out = a op b with
// broadcasting through strides; comparisons write bool. Contiguous operands, or a contiguous one
// with a broadcast scalar, take the vectorized path; everything else walks collapsed strides, in
// packs along the innermost dim when it allows.
#pragma once
#include "cuda/pointwise.cuh"

namespace ts::cuda {
namespace binary_detail {

template <int Op, typename T, typename O>
__device__ __forceinline__ O binaryOut(T a, T b) {
  using A = typename DevAcc<T>::type;
  return fromAcc<O, A>(binaryApply<Op, A>(toAcc<T, A>(a), toAcc<T, A>(b)));
}

// Contiguous a and b, either of which may be a scalar broadcast to every element.
template <int Op, typename T, typename O>
struct BinaryF {
  const T* a;
  const T* b;
  O* out;
  bool aScalar, bScalar;

  template <int N> struct Regs { Pack<T, N> a, b; };
  template <int N> __device__ Regs<N> load(int64_t i) const {
    return {aScalar ? splat<N>(a[0]) : loadPack<N>(a + i), bScalar ? splat<N>(b[0]) : loadPack<N>(b + i)};
  }
  template <int N> __device__ void store(int64_t i, const Regs<N>& r) const {
    Pack<O, N> y;
#pragma unroll
    for (int k = 0; k < N; ++k) y.v[k] = binaryOut<Op, T, O>(r.a.v[k], r.b.v[k]);
    storePack<N>(out + i, y);
  }
};

// Any strides. In packs (N > 1), an operand with inner stride 0 splats its one value.
template <int Op, typename T, typename O>
struct BinaryStridedF {
  const T* a;
  const T* b;
  O* out;
  bool aUnit, bUnit;  // inner stride 1 (else 0); only read when N > 1

  template <int N> struct Regs { Pack<T, N> a, b; };
  template <int N, typename Idx> __device__ Regs<N> load(const Idx (&off)[2]) const {
    if constexpr (N == 1) return {{{a[off[0]]}}, {{b[off[1]]}}};
    else return {aUnit ? loadPack<N>(a + off[0]) : splat<N>(a[off[0]]), bUnit ? loadPack<N>(b + off[1]) : splat<N>(b[off[1]])};
  }
  template <int N, typename Idx> __device__ void store(Idx i, const Idx (&)[2], const Regs<N>& r) const {
    Pack<O, N> y;
#pragma unroll
    for (int k = 0; k < N; ++k) y.v[k] = binaryOut<Op, T, O>(r.a.v[k], r.b.v[k]);
    storePack<N>(out + i, y);
  }
};

template <int Op, typename T, typename O>
void runBinary(const BinaryParams& p) {
  const T* a = static_cast<const T*>(p.a);
  const T* b = static_cast<const T*>(p.b);
  O* out = static_cast<O*>(p.out);
  constexpr int N = packWidth<T>();  // 16-byte loads of a and b; a bool out stores fewer
  bool aDense = isContiguous(p.ndim, p.shape, p.aStrides), bDense = isContiguous(p.ndim, p.shape, p.bStrides);
  bool aScalar = !aDense && isScalar(p.ndim, p.shape, p.aStrides);
  bool bScalar = !bDense && isScalar(p.ndim, p.shape, p.bStrides);
  if ((aDense || aScalar) && (bDense || bScalar) && (aScalar || packAligned<T, N>(a)) &&
      (bScalar || packAligned<T, N>(b)) && packAligned<O, N>(out)) {
    launchPacks<N, unrollFor(2 * N * int(sizeof(T)))>("binary", BinaryF<Op, T, O>{a, b, out, aScalar, bScalar}, p.n);
    return;
  }
  const int64_t* strides[2] = {p.aStrides, p.bStrides};
  Collapsed<2> c = collapse<2>(p.ndim, p.shape, strides);
  const bool aligned[2] = {packAligned<T, N>(a), packAligned<T, N>(b)};
  bool packed = packAligned<O, N>(out) && innerPackable(c, N, aligned);
  bool aUnit = c.ndim > 0 && c.strides[0][0] == 1, bUnit = c.ndim > 0 && c.strides[1][0] == 1;
  launchStrided<2, N>("binary", c, BinaryStridedF<Op, T, O>{a, b, out, aUnit, bUnit}, packed);
}

// Every op for element type T.
template <typename T>
void binaryTyped(const BinaryParams& p) {
  dispatchBinaryOp(p.op, [&](auto opc) {
    constexpr int Op = decltype(opc)::value;
    if constexpr (std::is_integral_v<typename DevAcc<T>::type> && (Op == binary::Div || Op == binary::Pow)) {
      throw Error("binary: division and pow need a floating dtype");
    } else if constexpr (Op >= binary::Eq) {
      runBinary<Op, T, uint8_t>(p);
    } else {
      runBinary<Op, T, T>(p);
    }
  });
}

// The i32, i64 and bool half (binary_int.cu).
void binaryIntegral(const BinaryParams& p);

}  // namespace binary_detail
}  // namespace ts::cuda
