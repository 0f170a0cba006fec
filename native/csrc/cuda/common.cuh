// Shared by the CUDA kernel files: error checks, the current stream, 16-bit float loads/stores,
// launch helpers and the device error word.
#pragma once
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>

#include "core/dtype.h"
#include "core/error.h"
#include "cuda/runtime.h"

#define TS_CUDA_CHECK(expr, what)                                                              \
  do {                                                                                         \
    cudaError_t err_ = (expr);                                                                 \
    if (err_ != cudaSuccess)                                                                   \
      throw ::ts::Error(::ts::strcat("CUDA error in ", what, ": ", cudaGetErrorString(err_))); \
  } while (0)

namespace ts::cuda {

cudaStream_t stream();                  // the current device's current stream
cudaStream_t rawStream(uint32_t handle);
int multiprocessorCount();              // of the current device
void checkLaunch(const char* op);       // throws if the last launch failed

// Device error word: {code, value}; the first error wins. Codes are listed in runtime.cu.
enum DeviceErrorCode : int { kErrNone = 0, kErrIndexOutOfRange = 1, kErrLabelOutOfRange = 2 };
long long* errorWord();                 // of the current device: [0] code, [1] value, [2] bound
__device__ inline void reportError(long long* word, int code, long long value, long long bound) {
  if (atomicCAS(reinterpret_cast<unsigned long long*>(word), 0ull, (unsigned long long)code) == 0ull) {
    word[1] = value;
    word[2] = bound;
  }
}

// Element storage types on the device and their conversion to/from the accumulation type.
template <DType D> struct DevType;
template <> struct DevType<DType::F32> { using type = float; };
template <> struct DevType<DType::F64> { using type = double; };
template <> struct DevType<DType::F16> { using type = __half; };
template <> struct DevType<DType::BF16> { using type = __nv_bfloat16; };
template <> struct DevType<DType::I32> { using type = int32_t; };
template <> struct DevType<DType::I64> { using type = int64_t; };
template <> struct DevType<DType::Bool> { using type = uint8_t; };

template <typename T> struct DevAcc { using type = float; };
template <> struct DevAcc<double> { using type = double; };
template <> struct DevAcc<int32_t> { using type = int64_t; };
template <> struct DevAcc<int64_t> { using type = int64_t; };
template <> struct DevAcc<uint8_t> { using type = int64_t; };

template <typename T, typename A> __device__ __forceinline__ A toAcc(T v) { return A(v); }
template <> __device__ __forceinline__ float toAcc<__half, float>(__half v) { return __half2float(v); }
template <> __device__ __forceinline__ float toAcc<__nv_bfloat16, float>(__nv_bfloat16 v) { return __bfloat162float(v); }
template <> __device__ __forceinline__ double toAcc<__half, double>(__half v) { return double(__half2float(v)); }
template <> __device__ __forceinline__ double toAcc<__nv_bfloat16, double>(__nv_bfloat16 v) { return double(__bfloat162float(v)); }
template <> __device__ __forceinline__ int64_t toAcc<__half, int64_t>(__half v) { return int64_t(__half2float(v)); }
template <> __device__ __forceinline__ int64_t toAcc<__nv_bfloat16, int64_t>(__nv_bfloat16 v) { return int64_t(__bfloat162float(v)); }

template <typename T, typename A> __device__ __forceinline__ T fromAcc(A v) { return T(v); }
template <> __device__ __forceinline__ __half fromAcc<__half, float>(float v) { return __float2half_rn(v); }
template <> __device__ __forceinline__ __nv_bfloat16 fromAcc<__nv_bfloat16, float>(float v) { return __float2bfloat16_rn(v); }
template <> __device__ __forceinline__ __half fromAcc<__half, double>(double v) { return __float2half_rn(float(v)); }
template <> __device__ __forceinline__ __nv_bfloat16 fromAcc<__nv_bfloat16, double>(double v) { return __float2bfloat16_rn(float(v)); }
template <> __device__ __forceinline__ __half fromAcc<__half, int64_t>(int64_t v) { return __float2half_rn(float(v)); }
template <> __device__ __forceinline__ __nv_bfloat16 fromAcc<__nv_bfloat16, int64_t>(int64_t v) { return __float2bfloat16_rn(float(v)); }
template <> __device__ __forceinline__ uint8_t fromAcc<uint8_t, float>(float v) { return v != 0.0f; }
template <> __device__ __forceinline__ uint8_t fromAcc<uint8_t, double>(double v) { return v != 0.0; }
template <> __device__ __forceinline__ uint8_t fromAcc<uint8_t, int64_t>(int64_t v) { return v != 0; }

inline unsigned blocksFor(int64_t n, int threads, int64_t maxBlocks = 65535LL * 32) {
  int64_t b = (n + threads - 1) / threads;
  if (b < 1) b = 1;
  if (b > maxBlocks) b = maxBlocks;
  return unsigned(b);
}

}  // namespace ts::cuda

// Calls the generic lambda given last with a TypeTag of the device type of `dtype`.
#define TS_CUDA_DISPATCH_ALL(dtype, what, ...)                                                  \
  [&] {                                                                                         \
    switch (dtype) {                                                                            \
      case ::ts::DType::F32: { return __VA_ARGS__(::ts::TypeTag<float>{}); }                  \
      case ::ts::DType::F64: { return __VA_ARGS__(::ts::TypeTag<double>{}); }                 \
      case ::ts::DType::F16: { return __VA_ARGS__(::ts::TypeTag<__half>{}); }                 \
      case ::ts::DType::BF16: { return __VA_ARGS__(::ts::TypeTag<__nv_bfloat16>{}); }         \
      case ::ts::DType::I32: { return __VA_ARGS__(::ts::TypeTag<int32_t>{}); }                \
      case ::ts::DType::I64: { return __VA_ARGS__(::ts::TypeTag<int64_t>{}); }                \
      case ::ts::DType::Bool: { return __VA_ARGS__(::ts::TypeTag<uint8_t>{}); }               \
    }                                                                                           \
    throw ::ts::Error(::ts::strcat(what, ": unsupported dtype"));                               \
  }()

#define TS_CUDA_DISPATCH_FLOAT(dtype, what, ...)                                                \
  [&] {                                                                                         \
    switch (dtype) {                                                                            \
      case ::ts::DType::F32: { return __VA_ARGS__(::ts::TypeTag<float>{}); }                  \
      case ::ts::DType::F64: { return __VA_ARGS__(::ts::TypeTag<double>{}); }                 \
      case ::ts::DType::F16: { return __VA_ARGS__(::ts::TypeTag<__half>{}); }                 \
      case ::ts::DType::BF16: { return __VA_ARGS__(::ts::TypeTag<__nv_bfloat16>{}); }         \
      default: break;                                                                           \
    }                                                                                           \
    throw ::ts::Error(::ts::strcat(what, ": needs a floating dtype (f32, f64, f16, bf16), got ", \
                                   ::ts::dtypeName(dtype)));                                    \
  }()

