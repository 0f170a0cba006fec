// Element types shared by the binding, the CPU kernels and the CUDA kernels.
// The codes are part of the binding contract (src/binding.ts, DTYPE_CODES): change both together.
#pragma once
#include <cstdint>
#include <cstring>
#include <string>
#include "core/error.h"
#include "core/hd.h"

namespace ts {

enum class DType : int32_t { F32 = 0, F64 = 1, F16 = 2, BF16 = 3, I32 = 4, I64 = 5, Bool = 6 };
constexpr int kNumDTypes = 7;

inline size_t elemSize(DType d) {
  switch (d) {
    case DType::F32: return 4;
    case DType::F64: return 8;
    case DType::F16: return 2;
    case DType::BF16: return 2;
    case DType::I32: return 4;
    case DType::I64: return 8;
    case DType::Bool: return 1;
  }
  return 0;
}

inline const char* dtypeName(DType d) {
  switch (d) {
    case DType::F32: return "f32";
    case DType::F64: return "f64";
    case DType::F16: return "f16";
    case DType::BF16: return "bf16";
    case DType::I32: return "i32";
    case DType::I64: return "i64";
    case DType::Bool: return "bool";
  }
  return "?";
}

inline bool isFloating(DType d) {
  return d == DType::F32 || d == DType::F64 || d == DType::F16 || d == DType::BF16;
}

// Host storage types for the 16-bit floats: plain bit patterns; arithmetic happens in float.
struct bf16_t { uint16_t bits; };
struct f16_t { uint16_t bits; };

TS_HD float bitsToFloat(uint32_t u) {
#if defined(TS_DEVICE_CODE) && defined(__CUDA_ARCH__)
  return __uint_as_float(u);
#else
  float f; std::memcpy(&f, &u, 4); return f;
#endif
}
TS_HD uint32_t floatToBits(float f) {
#if defined(TS_DEVICE_CODE) && defined(__CUDA_ARCH__)
  return __float_as_uint(f);
#else
  uint32_t u; std::memcpy(&u, &f, 4); return u;
#endif
}

TS_HD float bf16ToFloat(uint16_t b) { return bitsToFloat(uint32_t(b) << 16); }
// Round to nearest even; NaN stays a quiet NaN.
TS_HD uint16_t floatToBf16(float f) {
  uint32_t u = floatToBits(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return uint16_t((u >> 16) | 0x40);
  u += 0x7fffu + ((u >> 16) & 1u);
  return uint16_t(u >> 16);
}

TS_HD float f16ToFloat(uint16_t h) {
  uint32_t sign = uint32_t(h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1fu;
  uint32_t mant = h & 0x3ffu;
  if (exp == 0) {
    if (mant == 0) return bitsToFloat(sign);
    // subnormal: value = mant * 2^-24
    float v = float(mant) * 5.9604644775390625e-8f;
    return sign ? -v : v;
  }
  if (exp == 31) return bitsToFloat(sign | 0x7f800000u | (mant << 13));
  return bitsToFloat(sign | ((exp + 112u) << 23) | (mant << 13));
}

// Round to nearest even, with overflow to infinity and gradual underflow.
TS_HD uint16_t floatToF16(float f) {
  uint32_t u = floatToBits(f);
  uint32_t sign = (u >> 16) & 0x8000u;
  uint32_t absu = u & 0x7fffffffu;
  if (absu > 0x7f800000u) return uint16_t(sign | 0x7e00u);            // NaN
  if (absu >= 0x477ff000u) return uint16_t(sign | 0x7c00u);           // >= 65520: inf
  if (absu < 0x38800000u) {                                            // below 2^-14: subnormal
    if (absu < 0x33000000u) return uint16_t(sign);                    // below 2^-25: zero
    uint32_t e = absu >> 23;
    uint32_t m = (absu & 0x7fffffu) | 0x800000u;
    uint32_t shift = 126u - e;                                         // 14 + (113 - e) - 1
    uint32_t half = m >> shift;
    uint32_t rem = m & ((1u << shift) - 1u);
    uint32_t mid = 1u << (shift - 1u);
    if (rem > mid || (rem == mid && (half & 1u))) half++;
    return uint16_t(sign | half);
  }
  uint32_t v = absu - 0x38000000u;                                     // rebias 127 -> 15
  uint32_t half = v >> 13;
  uint32_t rem = v & 0x1fffu;
  if (rem > 0x1000u || (rem == 0x1000u && (half & 1u))) half++;
  return uint16_t(sign | half);
}

// A type carried as a value, for generic dispatch lambdas: [&](auto t) { using T = TS_TYPE(t); }
template <typename T> struct TypeTag { using type = T; };
#define TS_TYPE(tag) typename decltype(tag)::type

// Calls the generic lambda given last with a TypeTag of the index type (i32 or i64) of `dtype`.
#define TS_DISPATCH_INDEX(dtype, what, ...)                                                     \
  [&] {                                                                                         \
    switch (dtype) {                                                                            \
      case ::ts::DType::I32: return __VA_ARGS__(::ts::TypeTag<int32_t>{});                      \
      case ::ts::DType::I64: return __VA_ARGS__(::ts::TypeTag<int64_t>{});                      \
      default: break;                                                                           \
    }                                                                                           \
    throw ::ts::Error(::ts::strcat(what, ": indices must be i32 or i64"));                      \
  }()

// Accumulation type per storage type: float for the float types up to 32 bits, double for f64.
template <typename T> struct AccOf { using type = float; };
template <> struct AccOf<double> { using type = double; };
template <> struct AccOf<int32_t> { using type = int64_t; };
template <> struct AccOf<int64_t> { using type = int64_t; };
template <> struct AccOf<uint8_t> { using type = int64_t; };
template <typename T> using acc_t = typename AccOf<T>::type;

}  // namespace ts
