// Host element types and the dtype switch for the CPU kernels: load() widens an element to its
// accumulation type, store() narrows back with round-to-nearest-even.
#pragma once
#include <algorithm>
#include <cstdint>

#include "core/dtype.h"
#include "core/error.h"

namespace ts::cpu {

template <typename T, typename A> inline A load(const T& v) { return A(v); }
template <> inline float load<bf16_t, float>(const bf16_t& v) { return bf16ToFloat(v.bits); }
template <> inline float load<f16_t, float>(const f16_t& v) { return f16ToFloat(v.bits); }
template <> inline double load<bf16_t, double>(const bf16_t& v) { return bf16ToFloat(v.bits); }
template <> inline double load<f16_t, double>(const f16_t& v) { return f16ToFloat(v.bits); }
template <> inline int64_t load<bf16_t, int64_t>(const bf16_t& v) { return int64_t(bf16ToFloat(v.bits)); }
template <> inline int64_t load<f16_t, int64_t>(const f16_t& v) { return int64_t(f16ToFloat(v.bits)); }

template <typename T, typename A> inline T store(A v) { return T(v); }
template <> inline bf16_t store<bf16_t, float>(float v) { return bf16_t{floatToBf16(v)}; }
template <> inline f16_t store<f16_t, float>(float v) { return f16_t{floatToF16(v)}; }
template <> inline bf16_t store<bf16_t, double>(double v) { return bf16_t{floatToBf16(float(v))}; }
template <> inline f16_t store<f16_t, double>(double v) { return f16_t{floatToF16(float(v))}; }
template <> inline bf16_t store<bf16_t, int64_t>(int64_t v) { return bf16_t{floatToBf16(float(v))}; }
template <> inline f16_t store<f16_t, int64_t>(int64_t v) { return f16_t{floatToF16(float(v))}; }
template <> inline uint8_t store<uint8_t, float>(float v) { return v != 0.0f; }
template <> inline uint8_t store<uint8_t, double>(double v) { return v != 0.0; }
template <> inline uint8_t store<uint8_t, int64_t>(int64_t v) { return v != 0; }

// Elements per parallel chunk for cheap pointwise work.
constexpr int64_t kPointwiseGrain = 32768;

// Rows (or items) of rowElems elements each per parallel chunk, so each chunk does enough work.
inline int64_t rowsPerTask(int64_t rowElems) { return std::max<int64_t>(1, kPointwiseGrain / std::max<int64_t>(1, rowElems)); }

}  // namespace ts::cpu

// Calls the generic lambda given last with a TypeTag of the host type of `dtype`; the lambda
// names the type with TS_TYPE(tag). (Generic, so `if constexpr` on the type discards branches.)
#define TS_CPU_DISPATCH_ALL(dtype, what, ...)                                                   \
  [&] {                                                                                         \
    switch (dtype) {                                                                            \
      case ::ts::DType::F32: { return __VA_ARGS__(::ts::TypeTag<float>{}); }                  \
      case ::ts::DType::F64: { return __VA_ARGS__(::ts::TypeTag<double>{}); }                 \
      case ::ts::DType::F16: { return __VA_ARGS__(::ts::TypeTag<::ts::f16_t>{}); }            \
      case ::ts::DType::BF16: { return __VA_ARGS__(::ts::TypeTag<::ts::bf16_t>{}); }          \
      case ::ts::DType::I32: { return __VA_ARGS__(::ts::TypeTag<int32_t>{}); }                \
      case ::ts::DType::I64: { return __VA_ARGS__(::ts::TypeTag<int64_t>{}); }                \
      case ::ts::DType::Bool: { return __VA_ARGS__(::ts::TypeTag<uint8_t>{}); }               \
    }                                                                                           \
    throw ::ts::Error(::ts::strcat(what, ": unsupported dtype"));                               \
  }()

#define TS_CPU_DISPATCH_FLOAT(dtype, what, ...)                                                 \
  [&] {                                                                                         \
    switch (dtype) {                                                                            \
      case ::ts::DType::F32: { return __VA_ARGS__(::ts::TypeTag<float>{}); }                  \
      case ::ts::DType::F64: { return __VA_ARGS__(::ts::TypeTag<double>{}); }                 \
      case ::ts::DType::F16: { return __VA_ARGS__(::ts::TypeTag<::ts::f16_t>{}); }            \
      case ::ts::DType::BF16: { return __VA_ARGS__(::ts::TypeTag<::ts::bf16_t>{}); }          \
      default: break;                                                                           \
    }                                                                                           \
    throw ::ts::Error(::ts::strcat(what, ": needs a floating dtype (f32, f64, f16, bf16), got ", \
                                   ::ts::dtypeName(dtype)));                                    \
  }()

