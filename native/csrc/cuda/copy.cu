// CUDA strided copy: out[i] = src[i] over `shape`, each side with its own strides. A copy only
// moves bytes, so it dispatches on element size, and it widens the element while the innermost
// dimension is contiguous on both sides (bf16 rows of 128 become rows of 16 uint4): permutes that
// keep the last dim, narrows and concatenations then move 16-byte words.
#include "cuda/pointwise.cuh"

namespace ts::cuda {
namespace {

template <typename T>
struct ContiguousCopyF {
  const T* src;
  T* out;
  template <int N> using Regs = Pack<T, N>;
  template <int N> __device__ Regs<N> load(int64_t i) const { return loadPack<N>(src + i); }
  template <int N> __device__ void store(int64_t i, const Regs<N>& r) const { storePack<N>(out + i, r); }
};

template <typename T>
struct StridedCopyF {  // one element at a time (widen() has made elements as wide as it can)
  const T* src;
  T* out;
  template <int N> struct Regs { T v; };
  template <int N, typename Idx> __device__ Regs<N> load(const Idx (&off)[2]) const { return {src[off[0]]}; }
  template <int N, typename Idx> __device__ void store(Idx, const Idx (&off)[2], const Regs<N>& r) const {
    out[off[1]] = r.v;
  }
};

template <int Bytes>
void copyAs(const CopyParams& p, const Collapsed<2>& c, bool contiguous, int64_t n) {
  using T = typename Bits<Bytes>::type;
  const T* src = static_cast<const T*>(p.src);
  T* out = static_cast<T*>(p.out);
  if (contiguous) {
    constexpr int N = 16 / Bytes;
    launchVec<N, 4>("copyStrided", ContiguousCopyF<T>{src, out}, n, packAligned<T, N>(src) && packAligned<T, N>(out));
  } else {
    launchStrided<2>("copyStrided", c, StridedCopyF<T>{src, out});
  }
}

bool aligned(const void* p, int64_t bytes) { return reinterpret_cast<uintptr_t>(p) % uint64_t(bytes) == 0; }

// Doubles the element size while the innermost dim is contiguous on both sides, of even length,
// every other stride is even, and both base pointers stay aligned.
int widen(Collapsed<2>& c, int bytes, const void* src, const void* out) {
  while (bytes < 16 && c.ndim > 0 && c.strides[0][0] == 1 && c.strides[1][0] == 1 && c.shape[0] % 2 == 0 &&
         aligned(src, 2 * bytes) && aligned(out, 2 * bytes)) {
    bool even = true;
    for (int d = 1; d < c.ndim; ++d) even = even && c.strides[0][d] % 2 == 0 && c.strides[1][d] % 2 == 0;
    if (!even) break;
    c.shape[0] /= 2;
    for (int d = 1; d < c.ndim; ++d) {
      c.strides[0][d] /= 2;
      c.strides[1][d] /= 2;
    }
    bytes *= 2;
  }
  return bytes;
}

}  // namespace

void copyStrided(const CopyParams& p) {
  if (p.n <= 0) return;
  const int64_t* strides[2] = {p.srcStrides, p.outStrides};
  Collapsed<2> c = collapse<2>(p.ndim, p.shape, strides);
  int bytes = int(elemSize(p.dtype));
  // One dense run on both sides: a vectorized flat copy of n elements (odd lengths included).
  bool contiguous = c.ndim == 0 || (c.ndim == 1 && c.strides[0][0] == 1 && c.strides[1][0] == 1);
  if (!contiguous) bytes = widen(c, bytes, p.src, p.out);
  switch (bytes) {
    case 1: copyAs<1>(p, c, contiguous, p.n); break;
    case 2: copyAs<2>(p, c, contiguous, p.n); break;
    case 4: copyAs<4>(p, c, contiguous, p.n); break;
    case 8: copyAs<8>(p, c, contiguous, p.n); break;
    case 16: copyAs<16>(p, c, contiguous, p.n); break;
    default: throw Error("copyStrided: unsupported element size");
  }
}

}  // namespace ts::cuda
