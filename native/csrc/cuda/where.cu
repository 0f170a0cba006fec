// CUDA where: out = cond ? a : b (cond bool), broadcasting through strides. Contiguous operands, or
// contiguous ones with broadcast scalars (masked fills), take the vectorized path; everything else
// walks collapsed strides, in packs along the innermost dim when it allows.
#include "cuda/pointwise.cuh"

namespace ts::cuda {
namespace {

template <typename T>
struct WhereF {
  const uint8_t* c;
  const T* a;
  const T* b;
  T* out;
  bool aScalar, bScalar;

  template <int N> struct Regs { Pack<uint8_t, N> c; Pack<T, N> a, b; };
  template <int N> __device__ Regs<N> load(int64_t i) const {
    return {loadPack<N>(c + i), aScalar ? splat<N>(a[0]) : loadPack<N>(a + i),
            bScalar ? splat<N>(b[0]) : loadPack<N>(b + i)};
  }
  template <int N> __device__ void store(int64_t i, const Regs<N>& r) const {
    Pack<T, N> y;
#pragma unroll
    for (int k = 0; k < N; ++k) y.v[k] = r.c.v[k] ? r.a.v[k] : r.b.v[k];
    storePack<N>(out + i, y);
  }
};

template <typename T>
struct WhereStridedF {
  const uint8_t* c;
  const T* a;
  const T* b;
  T* out;
  bool cUnit, aUnit, bUnit;  // inner stride 1 (else 0); only read when N > 1

  template <int N> struct Regs { Pack<T, N> v; };
  template <int N, typename Idx> __device__ Regs<N> load(const Idx (&off)[3]) const {
    if constexpr (N == 1) {
      return {{{c[off[0]] ? a[off[1]] : b[off[2]]}}};  // reads only the chosen side, as the CPU does
    } else {
      Pack<uint8_t, N> cv = cUnit ? loadPack<N>(c + off[0]) : splat<N>(c[off[0]]);
      Pack<T, N> av = aUnit ? loadPack<N>(a + off[1]) : splat<N>(a[off[1]]);
      Pack<T, N> bv = bUnit ? loadPack<N>(b + off[2]) : splat<N>(b[off[2]]);
      Regs<N> r;
#pragma unroll
      for (int k = 0; k < N; ++k) r.v.v[k] = cv.v[k] ? av.v[k] : bv.v[k];
      return r;
    }
  }
  template <int N, typename Idx> __device__ void store(Idx i, const Idx (&)[3], const Regs<N>& r) const {
    storePack<N>(out + i, r.v);
  }
};

}  // namespace

void where(const WhereParams& p) {
  TS_CUDA_DISPATCH_ALL(p.dtype, "where", [&](auto t_) {
    using T = TS_TYPE(t_);
    const uint8_t* c = static_cast<const uint8_t*>(p.cond);
    const T* a = static_cast<const T*>(p.a);
    const T* b = static_cast<const T*>(p.b);
    T* out = static_cast<T*>(p.out);
    constexpr int N = packWidth<T>();
    bool cDense = isContiguous(p.ndim, p.shape, p.condStrides);
    bool aDense = isContiguous(p.ndim, p.shape, p.aStrides), bDense = isContiguous(p.ndim, p.shape, p.bStrides);
    bool aScalar = !aDense && isScalar(p.ndim, p.shape, p.aStrides);
    bool bScalar = !bDense && isScalar(p.ndim, p.shape, p.bStrides);
    if (cDense && (aDense || aScalar) && (bDense || bScalar) && packAligned<uint8_t, N>(c) &&
        (aScalar || packAligned<T, N>(a)) && (bScalar || packAligned<T, N>(b)) && packAligned<T, N>(out)) {
      launchPacks<N, unrollFor(2 * N * int(sizeof(T)))>("where", WhereF<T>{c, a, b, out, aScalar, bScalar}, p.n);
      return;
    }
    const int64_t* strides[3] = {p.condStrides, p.aStrides, p.bStrides};
    Collapsed<3> cl = collapse<3>(p.ndim, p.shape, strides);
    const bool aligned[3] = {packAligned<uint8_t, N>(c), packAligned<T, N>(a), packAligned<T, N>(b)};
    bool packed = packAligned<T, N>(out) && innerPackable(cl, N, aligned);
    auto unit = [&](int k) { return cl.ndim > 0 && cl.strides[k][0] == 1; };
    launchStrided<3, N>("where", cl, WhereStridedF<T>{c, a, b, out, unit(0), unit(1), unit(2)}, packed);
  });
}

}  // namespace ts::cuda
