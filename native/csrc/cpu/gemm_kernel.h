// The GEMM's inner pieces: panel packing and the register-blocked micro-kernel.
//
// The micro-kernel keeps an MR x NR block of C in 2*MR SIMD registers and walks k over two packed
// panels: A as kc x MR (k-major) and B as kc x NR. It is written with GCC/Clang vector extensions
// sized to the target's widest registers (-march=native picks them) rather than as plain loops,
// because g++'s auto-vectorizer handled the plain-loop form erratically (2 to 165 GFLOP/s per core
// depending on tile shape and ISA: for some shapes it kept the accumulators in memory). The vector
// form compiles to the same broadcast + FMA loop on every target, with no intrinsics.
#pragma once
#include <algorithm>
#include <cstdint>
#include <cstring>

#include "cpu/dispatch.h"

namespace ts::cpu::gemm {

#if defined(__AVX512F__)
constexpr int kVecBytes = 64;
#elif defined(__AVX__)
constexpr int kVecBytes = 32;
#else
constexpr int kVecBytes = 16;  // SSE2, NEON
#endif

// Register tile for accumulation type A (float or double): MR rows x two vectors of W lanes,
// i.e. 12 accumulator registers, which leaves room for the two B vectors and a broadcast A value.
template <typename A>
struct Tile {
  static constexpr int W = kVecBytes / int(sizeof(A));
  static constexpr int MR = 6;
  static constexpr int NR = 2 * W;
  typedef A Vec __attribute__((vector_size(kVecBytes)));
};

// c[0:MR, 0:NR] (row stride ldc) = (first ? 0 : c) + sum over l < kc of a[l, :]^T b[l, :].
// a and b point at packed panels; c is the fp32/fp64 tile buffer, aligned to the vector size.
template <typename A>
inline void microKernel(int64_t kc, const A* __restrict a, const A* __restrict b, A* __restrict c,
                        int64_t ldc, bool first) {
  using K = Tile<A>;
  using V = typename K::Vec;
  V acc[K::MR][2];
  for (int i = 0; i < K::MR; ++i) acc[i][0] = acc[i][1] = V{};
  for (int64_t l = 0; l < kc; ++l, a += K::MR, b += K::NR) {
    V b0, b1;
    std::memcpy(&b0, b, sizeof(V));
    std::memcpy(&b1, b + K::W, sizeof(V));
    for (int i = 0; i < K::MR; ++i) {
      const A ai = a[i];
      acc[i][0] += ai * b0;
      acc[i][1] += ai * b1;
    }
  }
  for (int i = 0; i < K::MR; ++i) {
    for (int h = 0; h < 2; ++h) {
      A* dst = c + i * ldc + h * K::W;
      V v = acc[i][h];
      if (!first) {
        V old;
        std::memcpy(&old, dst, sizeof(V));
        v += old;
      }
      std::memcpy(dst, &v, sizeof(V));
    }
  }
}

// Packs one panel: out[l*W + q] = src[q*qs + l*ls] for lanes q < width and steps l < kc, converted
// to the accumulation type; lanes width..W-1 are zero so every micro-tile is full. Reads go along
// whichever index is contiguous in memory (transposed operands would otherwise be read with a
// stride of a whole row per element).
template <int W, typename T, typename A>
void packPanel(const T* src, int64_t qs, int64_t ls, int width, int64_t kc, A* out) {
  if (ls == 1) {
    for (int q = 0; q < width; ++q)
      for (int64_t l = 0; l < kc; ++l) out[l * W + q] = load<T, A>(src[q * qs + l]);
  } else {
    for (int64_t l = 0; l < kc; ++l)
      for (int q = 0; q < width; ++q) out[l * W + q] = load<T, A>(src[q * qs + l * ls]);
  }
  if (width < W)
    for (int64_t l = 0; l < kc; ++l)
      for (int q = width; q < W; ++q) out[l * W + q] = A(0);
}

// op(A)[0:rows, 0:kc], element (i, l) at a[i*rs + l*cs], as MR-row slabs of kc x MR.
template <typename T, typename A>
void packA(const T* a, int64_t rs, int64_t cs, int64_t rows, int64_t kc, A* out) {
  constexpr int MR = Tile<A>::MR;
  for (int64_t i0 = 0; i0 < rows; i0 += MR, out += MR * kc)
    packPanel<MR>(a + i0 * rs, rs, cs, int(std::min<int64_t>(MR, rows - i0)), kc, out);
}

// op(B)[0:kc, 0:cols], element (l, j) at b[l*rs + j*cs], as NR-column slabs of kc x NR.
template <typename T, typename A>
void packB(const T* b, int64_t rs, int64_t cs, int64_t kc, int64_t cols, A* out) {
  constexpr int NR = Tile<A>::NR;
  for (int64_t j0 = 0; j0 < cols; j0 += NR, out += NR * kc)
    packPanel<NR>(b + j0 * cs, cs, rs, int(std::min<int64_t>(NR, cols - j0)), kc, out);
}

}  // namespace ts::cpu::gemm
