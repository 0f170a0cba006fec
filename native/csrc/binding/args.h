// Reads a binding call's positional arguments with clear errors, and resolves tensor arguments
// (storage handle + element offset) to checked pointers. Every tensor of one call must live on
// the same device; `device()` is that device once a tensor has been read.
#pragma once
#include <napi.h>

#include <cstdint>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "core/error.h"
#include "core/kernels.h"
#include "core/storage.h"
#ifdef TESSERA_CUDA
#include "cuda/runtime.h"
#endif

// Runs kernel `name` on the device of the call's tensors (as read through Args `a`).
#ifdef TESSERA_CUDA
#define TS_RUN(name, a, p)           \
  do {                               \
    if ((a).device() == ::ts::kCpu) { \
      ::ts::cpu::name(p);            \
    } else {                         \
      ::ts::cuda::setDevice((a).device()); \
      ::ts::cuda::name(p);           \
    }                                \
  } while (0)
#else
#define TS_RUN(name, a, p) ::ts::cpu::name(p)
#endif

namespace ts::binding {

struct Args {
  const Napi::CallbackInfo& info;
  const char* op;
  int dev = -2;  // -2: no tensor read yet

  Args(const Napi::CallbackInfo& i, const char* name, size_t count) : info(i), op(name) {
    TS_CHECK(info.Length() == count, op, ": expected ", count, " arguments, got ", info.Length());
  }

  double num(size_t i) const {
    Napi::Value v = info[i];
    TS_CHECK(v.IsNumber(), op, ": argument ", i, " must be a number");
    return v.As<Napi::Number>().DoubleValue();
  }
  int64_t i64(size_t i) const { return int64_t(num(i)); }
  int i32(size_t i) const { return int(num(i)); }
  uint32_t handle(size_t i) const { return uint32_t(num(i)); }
  uint64_t u64(size_t i) const {
    double d = num(i);
    TS_CHECK(d >= 0, op, ": argument ", i, " must be non-negative");
    return uint64_t(d);
  }
  bool flag(size_t i) const {
    Napi::Value v = info[i];
    TS_CHECK(v.IsBoolean(), op, ": argument ", i, " must be a boolean");
    return v.As<Napi::Boolean>().Value();
  }
  DType dtype(size_t i) const {
    int code = i32(i);
    TS_CHECK(code >= 0 && code < kNumDTypes, op, ": unknown dtype code ", code);
    return DType(code);
  }
  int dims(size_t i, int64_t* out) const {
    Napi::Value v = info[i];
    TS_CHECK(v.IsArray(), op, ": argument ", i, " must be an array of integers");
    Napi::Array a = v.As<Napi::Array>();
    uint32_t n = a.Length();
    TS_CHECK(n <= uint32_t(kMaxDims), op, ": at most ", kMaxDims, " dimensions are supported, got ", n);
    for (uint32_t k = 0; k < n; ++k) out[k] = int64_t(a.Get(k).As<Napi::Number>().DoubleValue());
    return int(n);
  }

  void sameDevice(int device) {
    if (dev == -2) dev = device;
    TS_CHECK(dev == device, op, ": tensors are on different devices (", deviceName(dev), " and ",
             deviceName(device), "); move them to one device with .to(device)");
  }
  static std::string deviceName(int d) { return d < 0 ? std::string("cpu") : strcat("cuda:", d); }
  int device() const { return dev == -2 ? kCpu : dev; }

  // A tensor argument at positions i (storage handle) and i+1 (element offset), spanning
  // `extent` elements of `dt`.
  void* tensor(size_t i, DType dt, int64_t extent) {
    uint32_t h = handle(i);
    int64_t offset = i64(i + 1);
    const Storage& st = storage(h);
    sameDevice(st.device);
    size_t es = elemSize(dt);
    TS_CHECK(offset >= 0 && extent >= 0 && size_t(offset + extent) * es <= st.bytes, op,
             ": a tensor argument reaches past its storage (offset ", offset, " + ", extent, " elements of ",
             dtypeName(dt), " > ", st.bytes, " bytes)");
    return static_cast<char*>(st.ptr) + size_t(offset) * es;
  }
  // Like tensor(), but handle 0 means "none" and gives nullptr.
  void* optionalTensor(size_t i, DType dt, int64_t extent) {
    if (handle(i) == 0) return nullptr;
    return tensor(i, dt, extent);
  }
};

// Elements spanned by a strided view: 1 + sum((shape[d] - 1) * stride[d]); 0 for an empty view.
inline int64_t stridedExtent(int ndim, const int64_t* shape, const int64_t* strides) {
  int64_t extent = 1;
  for (int d = 0; d < ndim; ++d) {
    if (shape[d] == 0) return 0;
    TS_CHECK(strides[d] >= 0, "negative strides are not supported");
    extent += (shape[d] - 1) * strides[d];
  }
  return extent;
}

inline int64_t numel(int ndim, const int64_t* shape) {
  int64_t n = 1;
  for (int d = 0; d < ndim; ++d) n *= shape[d];
  return n;
}

void registerStorage(Napi::Env env, Napi::Object exports);
void registerKernels(Napi::Env env, Napi::Object exports);
void registerFiles(Napi::Env env, Napi::Object exports);
void registerOptim(Napi::Env env, Napi::Object exports);
void registerNccl(Napi::Env env, Napi::Object exports);
void registerCpuComm(Napi::Env env, Napi::Object exports);

}  // namespace ts::binding
