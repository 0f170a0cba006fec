// Binding: build info, devices, storage (alloc/free/read/write/copy), memory stats, threads,
// streams and events.
#include <cstring>

#include "binding/args.h"
#include "cpu/threadpool.h"
#ifdef TESSERA_CUDA
#include "cuda/runtime.h"
#endif

namespace ts::binding {
namespace {

using Fn = Napi::Value (*)(const Napi::CallbackInfo&);

[[noreturn]] void noCuda(const char* op) {
  throw Error(strcat(op, ": this is the CPU build of @tessera/native, which has no CUDA support "
                         "(rebuild on a CUDA machine with `node native/scripts/build.ts --cuda=ON`)"));
}

void checkDeviceIndex(const char* op, int device) {
  if (device == kCpu) return;
#ifdef TESSERA_CUDA
  int n = cuda::deviceCount();
  TS_CHECK(device >= 0 && device < n, op, ": cuda:", device, " does not exist (", n, " CUDA device(s) visible)");
#else
  noCuda(op);
#endif
}

// Host bytes of a TypedArray, DataView or ArrayBuffer argument.
struct HostBytes { uint8_t* data; size_t length; };
HostBytes hostBytes(const Args& a, size_t i) {
  Napi::Value v = a.info[i];
  if (v.IsTypedArray()) {
    Napi::TypedArray t = v.As<Napi::TypedArray>();
    return {static_cast<uint8_t*>(t.ArrayBuffer().Data()) + t.ByteOffset(), t.ByteLength()};
  }
  if (v.IsDataView()) {
    Napi::DataView d = v.As<Napi::DataView>();
    return {static_cast<uint8_t*>(d.ArrayBuffer().Data()) + d.ByteOffset(), d.ByteLength()};
  }
  if (v.IsArrayBuffer()) {
    Napi::ArrayBuffer b = v.As<Napi::ArrayBuffer>();
    return {static_cast<uint8_t*>(b.Data()), b.ByteLength()};
  }
  throw Error(strcat(a.op, ": argument ", i, " must be a TypedArray, DataView or ArrayBuffer"));
}

Napi::Value buildInfo(const Napi::CallbackInfo& info) {
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("variant", TESSERA_VARIANT_NAME);
  o.Set("version", TESSERA_VERSION);
#ifdef TESSERA_CUDA
  o.Set("cuda", true);
#else
  o.Set("cuda", false);
#endif
  return o;
}

Napi::Value cudaDeviceCount(const Napi::CallbackInfo& info) {
#ifdef TESSERA_CUDA
  return Napi::Number::New(info.Env(), cuda::deviceCount());
#else
  return Napi::Number::New(info.Env(), 0);
#endif
}

Napi::Value cudaDeviceProperties(const Napi::CallbackInfo& info) {
  Args a(info, "cudaDeviceProperties", 1);
#ifdef TESSERA_CUDA
  int d = a.i32(0);
  checkDeviceIndex(a.op, d);
  cuda::DeviceProps p = cuda::deviceProps(d);
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("name", p.name);
  o.Set("major", p.major);
  o.Set("minor", p.minor);
  o.Set("multiprocessors", p.multiprocessors);
  o.Set("totalMemory", double(p.totalMemory));
  o.Set("l2CacheBytes", double(p.l2CacheBytes));
  o.Set("sharedMemPerBlockOptin", double(p.sharedMemPerBlockOptin));
  o.Set("clockKHz", p.clockKHz);
  o.Set("memoryClockKHz", p.memoryClockKHz);
  o.Set("memoryBusWidth", p.memoryBusWidth);
  return o;
#else
  noCuda(a.op);
#endif
}

Napi::Value setNumThreads(const Napi::CallbackInfo& info) {
  Args a(info, "setNumThreads", 1);
  int n = a.i32(0);
  TS_CHECK(n >= 1, "setNumThreads: the thread count must be at least 1, got ", n);
  cpu::setNumThreads(n);
  return info.Env().Undefined();
}

Napi::Value numThreads(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), cpu::numThreads()); }

Napi::Value alloc(const Napi::CallbackInfo& info) {
  Args a(info, "alloc", 2);
  int device = a.i32(0);
  double bytes = a.num(1);
  TS_CHECK(bytes >= 0 && bytes < 9.0e15, "alloc: invalid byte count ", bytes);
  checkDeviceIndex(a.op, device);
  return Napi::Number::New(info.Env(), allocStorage(device, size_t(bytes)));
}

Napi::Value freeHandle(const Napi::CallbackInfo& info) {
  Args a(info, "free", 1);
  freeStorage(a.handle(0));
  return info.Env().Undefined();
}

Napi::Value storageDevice(const Napi::CallbackInfo& info) {
  Args a(info, "storageDevice", 1);
  return Napi::Number::New(info.Env(), storage(a.handle(0)).device);
}

Napi::Value liveStorages(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), double(liveStorageCount()));
}

// write(handle, byteOffset, src)
Napi::Value write(const Napi::CallbackInfo& info) {
  Args a(info, "write", 3);
  const Storage& st = storage(a.handle(0));
  double off = a.num(1);
  HostBytes src = hostBytes(a, 2);
  TS_CHECK(off >= 0 && size_t(off) + src.length <= st.bytes, "write: ", src.length, " bytes at offset ", off,
           " do not fit in a storage of ", st.bytes, " bytes");
  char* dst = static_cast<char*>(st.ptr) + size_t(off);
  if (st.device == kCpu) {
    if (src.length) std::memcpy(dst, src.data, src.length);
  } else {
#ifdef TESSERA_CUDA
    cuda::copy(dst, st.device, src.data, kCpu, src.length);
#endif
  }
  return info.Env().Undefined();
}

// read(handle, byteOffset, dst): waits for the work that produces the data.
Napi::Value read(const Napi::CallbackInfo& info) {
  Args a(info, "read", 3);
  const Storage& st = storage(a.handle(0));
  double off = a.num(1);
  HostBytes dst = hostBytes(a, 2);
  TS_CHECK(off >= 0 && size_t(off) + dst.length <= st.bytes, "read: ", dst.length, " bytes at offset ", off,
           " are past the end of a storage of ", st.bytes, " bytes");
  const char* src = static_cast<const char*>(st.ptr) + size_t(off);
  if (st.device == kCpu) {
    if (dst.length) std::memcpy(dst.data, src, dst.length);
  } else {
#ifdef TESSERA_CUDA
    cuda::copy(dst.data, kCpu, src, st.device, dst.length);
#endif
  }
  return info.Env().Undefined();
}

// copyBytes(dst, dstByteOffset, src, srcByteOffset, bytes): between any two devices.
Napi::Value copyBytes(const Napi::CallbackInfo& info) {
  Args a(info, "copyBytes", 5);
  const Storage& d = storage(a.handle(0));
  const Storage& s = storage(a.handle(2));
  double dOff = a.num(1), sOff = a.num(3), bytes = a.num(4);
  TS_CHECK(dOff >= 0 && sOff >= 0 && bytes >= 0 && size_t(dOff + bytes) <= d.bytes && size_t(sOff + bytes) <= s.bytes,
           "copyBytes: the range reaches past a storage (", bytes, " bytes)");
  char* dp = static_cast<char*>(d.ptr) + size_t(dOff);
  const char* sp = static_cast<const char*>(s.ptr) + size_t(sOff);
  if (d.device == kCpu && s.device == kCpu) {
    if (bytes > 0) std::memmove(dp, sp, size_t(bytes));
  } else {
#ifdef TESSERA_CUDA
    cuda::copy(dp, d.device, sp, s.device, size_t(bytes));
#else
    noCuda(a.op);
#endif
  }
  return info.Env().Undefined();
}

Napi::Value memoryStats(const Napi::CallbackInfo& info) {
  Args a(info, "memoryStats", 1);
  int device = a.i32(0);
  checkDeviceIndex(a.op, device);
  MemoryStats s = ::ts::memoryStats(device);
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("allocated", double(s.allocated));
  o.Set("peak", double(s.peak));
  o.Set("reserved", double(s.reserved));
  o.Set("allocations", double(s.allocations));
  return o;
}

Napi::Value resetPeakMemory(const Napi::CallbackInfo& info) {
  Args a(info, "resetPeakMemory", 1);
  int device = a.i32(0);
  checkDeviceIndex(a.op, device);
  resetPeak(device);
  return info.Env().Undefined();
}

Napi::Value emptyCache(const Napi::CallbackInfo& info) {
  Args a(info, "emptyCache", 1);
  int device = a.i32(0);
  checkDeviceIndex(a.op, device);
#ifdef TESSERA_CUDA
  if (device != kCpu) cuda::emptyCache(device);
#endif
  return info.Env().Undefined();
}

Napi::Value synchronize(const Napi::CallbackInfo& info) {
  Args a(info, "synchronize", 1);
  int device = a.i32(0);
  checkDeviceIndex(a.op, device);
#ifdef TESSERA_CUDA
  if (device != kCpu) cuda::deviceSynchronize(device);
#endif
  return info.Env().Undefined();
}

#ifdef TESSERA_CUDA
#define TS_CUDA_ONLY(body) body
#else
#define TS_CUDA_ONLY(body) noCuda(a.op);
#endif

Napi::Value streamCreate(const Napi::CallbackInfo& info) {
  Args a(info, "streamCreate", 1);
  TS_CUDA_ONLY(checkDeviceIndex(a.op, a.i32(0)); return Napi::Number::New(info.Env(), cuda::streamCreate(a.i32(0)));)
}
Napi::Value streamDestroy(const Napi::CallbackInfo& info) {
  Args a(info, "streamDestroy", 1);
  TS_CUDA_ONLY(cuda::streamDestroy(a.handle(0)); return info.Env().Undefined();)
}
Napi::Value currentStream(const Napi::CallbackInfo& info) {
  Args a(info, "currentStream", 1);
  TS_CUDA_ONLY(checkDeviceIndex(a.op, a.i32(0)); return Napi::Number::New(info.Env(), cuda::currentStream(a.i32(0)));)
}
Napi::Value setCurrentStream(const Napi::CallbackInfo& info) {
  Args a(info, "setCurrentStream", 2);
  TS_CUDA_ONLY(cuda::setCurrentStream(a.i32(0), a.handle(1)); return info.Env().Undefined();)
}
Napi::Value streamSynchronize(const Napi::CallbackInfo& info) {
  Args a(info, "streamSynchronize", 1);
  TS_CUDA_ONLY(cuda::streamSynchronize(a.handle(0)); return info.Env().Undefined();)
}
Napi::Value eventCreate(const Napi::CallbackInfo& info) {
  Args a(info, "eventCreate", 2);
  TS_CUDA_ONLY(checkDeviceIndex(a.op, a.i32(0));
               return Napi::Number::New(info.Env(), cuda::eventCreate(a.i32(0), a.flag(1)));)
}
Napi::Value eventDestroy(const Napi::CallbackInfo& info) {
  Args a(info, "eventDestroy", 1);
  TS_CUDA_ONLY(cuda::eventDestroy(a.handle(0)); return info.Env().Undefined();)
}
Napi::Value eventRecord(const Napi::CallbackInfo& info) {
  Args a(info, "eventRecord", 2);
  TS_CUDA_ONLY(cuda::eventRecord(a.handle(0), a.handle(1)); return info.Env().Undefined();)
}
Napi::Value eventSynchronize(const Napi::CallbackInfo& info) {
  Args a(info, "eventSynchronize", 1);
  TS_CUDA_ONLY(cuda::eventSynchronize(a.handle(0)); return info.Env().Undefined();)
}
Napi::Value eventQuery(const Napi::CallbackInfo& info) {
  Args a(info, "eventQuery", 1);
  TS_CUDA_ONLY(return Napi::Boolean::New(info.Env(), cuda::eventQuery(a.handle(0)));)
}
Napi::Value eventElapsedMs(const Napi::CallbackInfo& info) {
  Args a(info, "eventElapsedMs", 2);
  TS_CUDA_ONLY(return Napi::Number::New(info.Env(), cuda::eventElapsedMs(a.handle(0), a.handle(1)));)
}
Napi::Value streamWaitEvent(const Napi::CallbackInfo& info) {
  Args a(info, "streamWaitEvent", 2);
  TS_CUDA_ONLY(cuda::streamWaitEvent(a.handle(0), a.handle(1)); return info.Env().Undefined();)
}

}  // namespace

void registerStorage(Napi::Env env, Napi::Object exports) {
  struct Entry { const char* name; Fn fn; };
  const Entry entries[] = {
      {"buildInfo", buildInfo}, {"cudaDeviceCount", cudaDeviceCount}, {"cudaDeviceProperties", cudaDeviceProperties},
      {"setNumThreads", setNumThreads}, {"numThreads", numThreads},
      {"alloc", alloc}, {"free", freeHandle}, {"storageDevice", storageDevice}, {"liveStorages", liveStorages},
      {"write", write}, {"read", read}, {"copyBytes", copyBytes},
      {"memoryStats", memoryStats}, {"resetPeakMemory", resetPeakMemory}, {"emptyCache", emptyCache},
      {"synchronize", synchronize},
      {"streamCreate", streamCreate}, {"streamDestroy", streamDestroy}, {"currentStream", currentStream},
      {"setCurrentStream", setCurrentStream}, {"streamSynchronize", streamSynchronize},
      {"eventCreate", eventCreate}, {"eventDestroy", eventDestroy}, {"eventRecord", eventRecord},
      {"eventSynchronize", eventSynchronize}, {"eventQuery", eventQuery}, {"eventElapsedMs", eventElapsedMs},
      {"streamWaitEvent", streamWaitEvent},
  };
  for (const Entry& e : entries) exports.Set(e.name, Napi::Function::New(env, e.fn, e.name));
}

}  // namespace ts::binding
