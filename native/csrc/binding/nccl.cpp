// Binding: NCCL communicators and collectives (cuda/nccl.cu). Communicator creation blocks inside
// NCCL until every rank has joined, so it runs on a worker thread and returns a Promise; the
// collectives only enqueue work and return. Builds without NCCL keep every function, which then
// throws an error that says which build this is and how to get NCCL.
#include <cstring>
#include <string>
#include <vector>

#include "binding/args.h"
#if defined(TESSERA_CUDA) && defined(TESSERA_NCCL)
#include "cuda/nccl_comm.h"
#include "cuda/runtime.h"
#define TS_HAVE_NCCL 1
#endif

namespace ts::binding {
namespace {

using Fn = Napi::Value (*)(const Napi::CallbackInfo&);

#ifndef TS_HAVE_NCCL
[[noreturn]] void unavailable(const char* op) {
#ifdef TESSERA_CUDA
  throw Error(strcat(op, ": @tessera/native was built without NCCL (nccl.h or libnccl were not found at build time); "
                         "install NCCL or set NCCL_HOME, rebuild with `node native/scripts/build.ts --cuda=ON`, "
                         "or use the cpu backend"));
#else
  throw Error(strcat(op, ": this is the CPU build of @tessera/native; NCCL needs the CUDA build made on a machine "
                         "with NCCL (`node native/scripts/build.ts --cuda=ON`), or use the cpu backend"));
#endif
}
#endif

#ifdef TS_HAVE_NCCL
#define TS_NCCL_ONLY(body) body
#else
#define TS_NCCL_ONLY(body) unavailable(a.op);
#endif

Napi::Value ncclVersion(const Napi::CallbackInfo& info) {
#ifdef TS_HAVE_NCCL
  return Napi::Number::New(info.Env(), cuda::nccl::version());
#else
  return Napi::Number::New(info.Env(), 0);
#endif
}

#ifdef TS_HAVE_NCCL
void checkComm(const Args& a, uint32_t comm) {
  int device = cuda::nccl::device(comm);
  TS_CHECK(a.device() == device, a.op, ": the tensors are on ", Args::deviceName(a.device()),
           " but the communicator is on cuda:", device, "; move them with .to('cuda:", device, "')");
}

size_t count(const Args& a, size_t i) {
  double n = a.num(i);
  TS_CHECK(n >= 0 && n == double(int64_t(n)), a.op, ": the element count must be a non-negative integer, got ", n);
  return size_t(n);
}

// Runs ncclCommInitRank off the main thread and registers the communicator back on it.
class InitWorker : public Napi::AsyncWorker {
 public:
  InitWorker(Napi::Env env, int device, int nranks, std::string id, int rank)
      : Napi::AsyncWorker(env, "ncclCommInitRank"), deferred_(Napi::Promise::Deferred::New(env)),
        device_(device), nranks_(nranks), rank_(rank), id_(std::move(id)) {}

  Napi::Promise promise() { return deferred_.Promise(); }

  void Execute() override {
    try {
      comm_ = cuda::nccl::initRank(device_, nranks_, id_, rank_);
    } catch (const std::exception& e) {
      SetError(e.what());
    }
  }

  void OnOK() override {
    try {
      uint32_t h = cuda::nccl::registerComm(comm_, device_, nranks_, rank_);
      deferred_.Resolve(Napi::Number::New(Env(), h));
    } catch (const std::exception& e) {
      cuda::nccl::abortRaw(comm_);
      deferred_.Reject(Napi::Error::New(Env(), e.what()).Value());
    }
  }

  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  int device_, nranks_, rank_;
  std::string id_;
  void* comm_ = nullptr;
};
#endif

Napi::Value ncclGetUniqueId(const Napi::CallbackInfo& info) {
  Args a(info, "ncclGetUniqueId", 0);
  TS_NCCL_ONLY(std::string id = cuda::nccl::uniqueId(); Napi::ArrayBuffer out = Napi::ArrayBuffer::New(info.Env(), id.size());
               std::memcpy(out.Data(), id.data(), id.size()); return out;)
}

// ncclCommInitRank(device, nranks, uniqueId, rank): Promise<comm handle>
Napi::Value ncclCommInitRank(const Napi::CallbackInfo& info) {
  Args a(info, "ncclCommInitRank", 4);
#ifdef TS_HAVE_NCCL
  int device = a.i32(0), nranks = a.i32(1), rank = a.i32(3);
  int devices = cuda::deviceCount();
  TS_CHECK(device >= 0 && device < devices, a.op, ": cuda:", device, " does not exist (", devices,
           " CUDA device(s) visible; check CUDA_VISIBLE_DEVICES and LOCAL_RANK)");
  TS_CHECK(nranks >= 1 && rank >= 0 && rank < nranks, a.op, ": rank ", rank, " is outside a communicator of ", nranks);
  Napi::Value v = info[2];
  TS_CHECK(v.IsTypedArray(), a.op, ": the unique id must be a Uint8Array of ", cuda::nccl::kUniqueIdBytes, " bytes");
  Napi::TypedArray t = v.As<Napi::TypedArray>();
  TS_CHECK(t.ByteLength() == cuda::nccl::kUniqueIdBytes, a.op, ": the unique id must be ", cuda::nccl::kUniqueIdBytes,
           " bytes, got ", t.ByteLength());
  std::string id(static_cast<const char*>(t.ArrayBuffer().Data()) + t.ByteOffset(), t.ByteLength());
  cuda::setDevice(device);  // sets up the device's pool and streams on the main thread first
  auto* worker = new InitWorker(info.Env(), device, nranks, std::move(id), rank);
  Napi::Promise p = worker->promise();
  worker->Queue();
  return p;
#else
  unavailable(a.op);
#endif
}

Napi::Value ncclCommDestroy(const Napi::CallbackInfo& info) {
  Args a(info, "ncclCommDestroy", 1);
  TS_NCCL_ONLY(cuda::nccl::destroy(a.handle(0)); return info.Env().Undefined();)
}

Napi::Value ncclCommAbort(const Napi::CallbackInfo& info) {
  Args a(info, "ncclCommAbort", 1);
  TS_NCCL_ONLY(cuda::nccl::abort(a.handle(0)); return info.Env().Undefined();)
}

Napi::Value ncclCommAsyncError(const Napi::CallbackInfo& info) {
  Args a(info, "ncclCommAsyncError", 1);
  TS_NCCL_ONLY(return Napi::String::New(info.Env(), cuda::nccl::asyncError(a.handle(0)));)
}

Napi::Value ncclCommStream(const Napi::CallbackInfo& info) {
  Args a(info, "ncclCommStream", 1);
  TS_NCCL_ONLY(return Napi::Number::New(info.Env(), cuda::nccl::stream(a.handle(0)));)
}

// ncclAllReduce(comm, send, sendOff, recv, recvOff, count, dtype, op, done)
Napi::Value ncclAllReduce(const Napi::CallbackInfo& info) {
  Args a(info, "ncclAllReduce", 9);
#ifdef TS_HAVE_NCCL
  uint32_t comm = a.handle(0);
  DType dt = a.dtype(6);
  size_t n = count(a, 5);
  void* send = a.tensor(1, dt, int64_t(n));
  void* recv = a.tensor(3, dt, int64_t(n));
  checkComm(a, comm);
  cuda::nccl::allReduce(comm, send, recv, n, dt, a.i32(7), a.handle(8));
  return info.Env().Undefined();
#else
  unavailable(a.op);
#endif
}

// ncclReduceScatter(comm, send, sendOff, recv, recvOff, recvCount, dtype, op, done)
Napi::Value ncclReduceScatter(const Napi::CallbackInfo& info) {
  Args a(info, "ncclReduceScatter", 9);
#ifdef TS_HAVE_NCCL
  uint32_t comm = a.handle(0);
  DType dt = a.dtype(6);
  size_t n = count(a, 5);
  void* send = a.tensor(1, dt, int64_t(n) * cuda::nccl::size(comm));
  void* recv = a.tensor(3, dt, int64_t(n));
  checkComm(a, comm);
  cuda::nccl::reduceScatter(comm, send, recv, n, dt, a.i32(7), a.handle(8));
  return info.Env().Undefined();
#else
  unavailable(a.op);
#endif
}

// ncclAllGather(comm, send, sendOff, recv, recvOff, sendCount, dtype, done)
Napi::Value ncclAllGather(const Napi::CallbackInfo& info) {
  Args a(info, "ncclAllGather", 8);
#ifdef TS_HAVE_NCCL
  uint32_t comm = a.handle(0);
  DType dt = a.dtype(6);
  size_t n = count(a, 5);
  void* send = a.tensor(1, dt, int64_t(n));
  void* recv = a.tensor(3, dt, int64_t(n) * cuda::nccl::size(comm));
  checkComm(a, comm);
  cuda::nccl::allGather(comm, send, recv, n, dt, a.handle(7));
  return info.Env().Undefined();
#else
  unavailable(a.op);
#endif
}

// ncclBroadcast(comm, buf, off, count, dtype, root, done)
Napi::Value ncclBroadcast(const Napi::CallbackInfo& info) {
  Args a(info, "ncclBroadcast", 7);
#ifdef TS_HAVE_NCCL
  uint32_t comm = a.handle(0);
  DType dt = a.dtype(4);
  size_t n = count(a, 3);
  void* buf = a.tensor(1, dt, int64_t(n));
  checkComm(a, comm);
  cuda::nccl::broadcast(comm, buf, n, dt, a.i32(5), a.handle(6));
  return info.Env().Undefined();
#else
  unavailable(a.op);
#endif
}

// ncclSendRecv(comm, [[isSend, handle, offset, count, dtype, peer], ...], done)
Napi::Value ncclSendRecv(const Napi::CallbackInfo& info) {
  Args a(info, "ncclSendRecv", 3);
#ifdef TS_HAVE_NCCL
  uint32_t comm = a.handle(0);
  TS_CHECK(info[1].IsArray(), a.op, ": argument 1 must be an array of [isSend, handle, offset, count, dtype, peer]");
  Napi::Array list = info[1].As<Napi::Array>();
  std::vector<cuda::nccl::P2POp> ops;
  ops.reserve(list.Length());
  for (uint32_t i = 0; i < list.Length(); ++i) {
    Napi::Value entry = list.Get(i);
    TS_CHECK(entry.IsArray() && entry.As<Napi::Array>().Length() == 6, a.op, ": op ", i,
             " must be [isSend, handle, offset, count, dtype, peer]");
    Napi::Array e = entry.As<Napi::Array>();
    auto num = [&](uint32_t k) {
      Napi::Value v = e.Get(k);
      TS_CHECK(v.IsNumber(), a.op, ": op ", i, " field ", k, " must be a number");
      return v.As<Napi::Number>().DoubleValue();
    };
    double dtCode = num(4), n = num(3), off = num(2), handle = num(1);
    TS_CHECK(dtCode >= 0 && dtCode < kNumDTypes, a.op, ": op ", i, " has unknown dtype code ", dtCode);
    TS_CHECK(n >= 0 && off >= 0, a.op, ": op ", i, " has a negative count or offset");
    DType dt = DType(int(dtCode));
    const Storage& st = storage(uint32_t(handle));
    a.sameDevice(st.device);
    size_t es = elemSize(dt);
    TS_CHECK((size_t(off) + size_t(n)) * es <= st.bytes, a.op, ": op ", i, " reaches past its storage");
    ops.push_back({num(0) != 0, static_cast<char*>(st.ptr) + size_t(off) * es, size_t(n), dt, int(num(5))});
  }
  if (!ops.empty()) checkComm(a, comm);
  cuda::nccl::sendRecv(comm, ops, a.handle(2));
  return info.Env().Undefined();
#else
  unavailable(a.op);
#endif
}

}  // namespace

void registerNccl(Napi::Env env, Napi::Object exports) {
  struct Entry { const char* name; Fn fn; };
  const Entry entries[] = {
      {"ncclVersion", ncclVersion}, {"ncclGetUniqueId", ncclGetUniqueId}, {"ncclCommInitRank", ncclCommInitRank},
      {"ncclCommDestroy", ncclCommDestroy}, {"ncclCommAbort", ncclCommAbort},
      {"ncclCommAsyncError", ncclCommAsyncError}, {"ncclCommStream", ncclCommStream},
      {"ncclAllReduce", ncclAllReduce}, {"ncclReduceScatter", ncclReduceScatter}, {"ncclAllGather", ncclAllGather},
      {"ncclBroadcast", ncclBroadcast}, {"ncclSendRecv", ncclSendRecv},
  };
  for (const Entry& e : entries) exports.Set(e.name, Napi::Function::New(env, e.fn, e.name));
}

}  // namespace ts::binding
