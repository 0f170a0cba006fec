// Binding: the cpu backend's data plane (cpu/comm_*.cpp). Every call blocks the JS thread until
// its operation is done, so collectives work inside synchronous code (autograd functions).
// Errors carry a `code` property (TIMEOUT, PEER_LOST, MISMATCH, ABORTED, CLOSED, INVALID,
// UNREACHABLE) that @tessera/collectives turns into DistributedError codes.
#include <string>
#include <vector>

#include "binding/args.h"
#include "cpu/comm_error.h"
#include "cpu/comm_group.h"
#include "cpu/comm_mesh.h"

namespace ts::binding {
namespace {

namespace comm = ::ts::cpu::comm;
using Fn = Napi::Value (*)(const Napi::CallbackInfo&);

// Runs a binding function; a CommError becomes a JS Error with its code.
template <Fn F>
Napi::Value coded(const Napi::CallbackInfo& info) {
  try {
    return F(info);
  } catch (const comm::CommError& e) {
    Napi::Error err = Napi::Error::New(info.Env(), e.what());
    err.Set("code", comm::codeName(e.code));
    throw err;
  }
}

std::string text(const Args& a, size_t i) {
  Napi::Value v = a.info[i];
  TS_CHECK(v.IsString(), a.op, ": argument ", i, " must be a string");
  return v.As<Napi::String>().Utf8Value();
}

Napi::Array array(const Args& a, size_t i) {
  Napi::Value v = a.info[i];
  TS_CHECK(v.IsArray(), a.op, ": argument ", i, " must be an array");
  return v.As<Napi::Array>();
}

double number(const Args& a, Napi::Value v, const char* what) {
  TS_CHECK(v.IsNumber(), a.op, ": ", what, " must be a number");
  return v.As<Napi::Number>().DoubleValue();
}

// 0 sum, 1 avg, 2 max, 3 min (the order of binding.ts).
comm::ReduceOp reduceOp(const Args& a, size_t i, DType dt) {
  int code = a.i32(i);
  TS_CHECK(code >= 0 && code <= 3, a.op, ": unknown reduce op code ", code, " (0 sum, 1 avg, 2 max, 3 min)");
  comm::ReduceOp op = comm::ReduceOp(code + 1);
  TS_CHECK(!(dt == DType::Bool && op == comm::ReduceOp::Avg), a.op,
           ": avg is not defined for bool tensors (use max for any, min for all)");
  return op;
}

void cpuOnly(const Args& a) {
  TS_CHECK(a.device() == kCpu, a.op,
           ": the cpu backend works on cpu tensors; move them with .to('cpu'), or use the nccl backend");
}

uint64_t count(const Args& a, size_t i) {
  double n = a.num(i);
  TS_CHECK(n >= 0 && n == double(int64_t(n)), a.op, ": the element count must be a non-negative integer, got ", n);
  return uint64_t(n);
}

Napi::Value listen(const Napi::CallbackInfo& info) {
  Args a(info, "cpuCommListen", 5);
  int rank = a.i32(0), world = a.i32(1);
  TS_CHECK(world >= 1 && rank >= 0 && rank < world, a.op, ": rank ", rank, " is not in a world of ", world);
  comm::Mesh& m = comm::openMesh(rank, world, text(a, 2));
  std::pair<int, std::string> got;
  try {
    got = m.listen(text(a, 3), text(a, 4));
  } catch (...) {
    comm::closeMesh();
    throw;
  }
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("port", got.first);
  o.Set("unixName", got.second);
  return o;
}

// connect([[rank, host, port, unixName], ...], timeoutMs)
Napi::Value connect(const Napi::CallbackInfo& info) {
  Args a(info, "cpuCommConnect", 2);
  Napi::Array list = array(a, 0);
  std::vector<comm::PeerAddress> peers;
  for (uint32_t k = 0; k < list.Length(); ++k) {
    Napi::Value e = list.Get(k);
    TS_CHECK(e.IsArray() && e.As<Napi::Array>().Length() == 4, a.op, ": peer ", k, " must be [rank, host, port, unixName]");
    Napi::Array t = e.As<Napi::Array>();
    Napi::Value host = t.Get(1u), name = t.Get(3u);
    TS_CHECK(host.IsString() && name.IsString(), a.op, ": peer ", k, " needs a host and a unixName string");
    peers.push_back({int(number(a, t.Get(0u), "a peer rank")), host.As<Napi::String>().Utf8Value(),
                     int(number(a, t.Get(2u), "a peer port")), name.As<Napi::String>().Utf8Value()});
  }
  comm::mesh().connect(peers, a.i64(1));
  return info.Env().Undefined();
}

// groupCreate(key, ranks, timeoutMs, segmentBytes)
Napi::Value groupCreate(const Napi::CallbackInfo& info) {
  Args a(info, "cpuCommGroupCreate", 4);
  comm::Mesh& m = comm::mesh();
  Napi::Array list = array(a, 1);
  std::vector<int> ranks;
  for (uint32_t k = 0; k < list.Length(); ++k) {
    int r = int(number(a, list.Get(k), "a rank"));
    TS_CHECK(r >= 0 && r < m.worldSize(), a.op, ": ", r, " is not a rank of this job");
    ranks.push_back(r);
  }
  double timeout = a.num(2), segment = a.num(3);
  TS_CHECK(timeout > 0 && segment >= 8, a.op, ": the timeout must be positive and the segment at least 8 bytes");
  auto g = std::make_unique<comm::Group>(m, text(a, 0), std::move(ranks), int64_t(timeout), size_t(segment));
  return Napi::Number::New(info.Env(), m.addGroup(std::move(g)));
}

Napi::Value groupDestroy(const Napi::CallbackInfo& info) {
  Args a(info, "cpuCommGroupDestroy", 1);
  comm::mesh().group(a.handle(0)).destroy();
  return info.Env().Undefined();
}

// allReduce(group, buf, off, count, dtype, reduce)
Napi::Value allReduce(const Napi::CallbackInfo& info) {
  Args a(info, "cpuCommAllReduce", 6);
  comm::Group& g = comm::mesh().group(a.handle(0));
  uint64_t n = count(a, 3);
  DType dt = a.dtype(4);
  comm::ReduceOp op = reduceOp(a, 5, dt);
  void* p = a.tensor(1, dt, int64_t(n));
  cpuOnly(a);
  g.allReduce(p, n, dt, op);
  return info.Env().Undefined();
}

// reduceScatter(group, out, outOff, input, inOff, outCount, dtype, reduce)
Napi::Value reduceScatter(const Napi::CallbackInfo& info) {
  Args a(info, "cpuCommReduceScatter", 8);
  comm::Group& g = comm::mesh().group(a.handle(0));
  uint64_t n = count(a, 5);
  DType dt = a.dtype(6);
  comm::ReduceOp op = reduceOp(a, 7, dt);
  void* out = a.tensor(1, dt, int64_t(n));
  void* in = a.tensor(3, dt, int64_t(n) * g.size());
  cpuOnly(a);
  g.reduceScatter(out, in, n, dt, op);
  return info.Env().Undefined();
}

// allGather(group, out, outOff, input, inOff, inCount, dtype)
Napi::Value allGather(const Napi::CallbackInfo& info) {
  Args a(info, "cpuCommAllGather", 7);
  comm::Group& g = comm::mesh().group(a.handle(0));
  uint64_t n = count(a, 5);
  DType dt = a.dtype(6);
  void* out = a.tensor(1, dt, int64_t(n) * g.size());
  void* in = a.tensor(3, dt, int64_t(n));
  cpuOnly(a);
  g.allGather(out, in, n, dt);
  return info.Env().Undefined();
}

// broadcast(group, buf, off, count, dtype, root)
Napi::Value broadcast(const Napi::CallbackInfo& info) {
  Args a(info, "cpuCommBroadcast", 6);
  comm::Group& g = comm::mesh().group(a.handle(0));
  uint64_t n = count(a, 3);
  DType dt = a.dtype(4);
  int root = a.i32(5);
  TS_CHECK(root >= 0 && root < g.size(), a.op, ": root ", root, " is not a rank of a group of ", g.size());
  void* p = a.tensor(1, dt, int64_t(n));
  cpuOnly(a);
  g.broadcast(p, n, dt, root);
  return info.Env().Undefined();
}

// sendRecv(group, [[1 send | 0 recv, handle, offset, count, dtype, peer], ...])
Napi::Value sendRecv(const Napi::CallbackInfo& info) {
  Args a(info, "cpuCommSendRecv", 2);
  comm::Group& g = comm::mesh().group(a.handle(0));
  Napi::Array list = array(a, 1);
  std::vector<comm::P2POp> ops;
  for (uint32_t k = 0; k < list.Length(); ++k) {
    Napi::Value e = list.Get(k);
    TS_CHECK(e.IsArray() && e.As<Napi::Array>().Length() == 6, a.op, ": op ", k,
             " must be [1 send | 0 recv, handle, offset, count, dtype, peer]");
    Napi::Array t = e.As<Napi::Array>();
    double v[6];
    for (uint32_t j = 0; j < 6; ++j) v[j] = number(a, t.Get(j), "every entry of an op");
    TS_CHECK(v[4] >= 0 && v[4] < kNumDTypes, a.op, ": op ", k, " has an unknown dtype code ", v[4]);
    TS_CHECK(v[3] >= 0 && v[5] >= 0 && v[5] < g.size(), a.op, ": op ", k, " has a bad count or peer");
    DType dt = DType(int(v[4]));
    const Storage& st = storage(uint32_t(v[1]));
    a.sameDevice(st.device);
    TS_CHECK(v[2] >= 0 && size_t(v[2] + v[3]) * elemSize(dt) <= st.bytes, a.op, ": op ", k, " reaches past its storage");
    char* p = static_cast<char*>(st.ptr) + size_t(v[2]) * elemSize(dt);
    ops.push_back({v[0] == 1, p, uint64_t(v[3]), dt, int(v[5])});
  }
  cpuOnly(a);
  g.sendRecv(ops);
  return info.Env().Undefined();
}

Napi::Value barrier(const Napi::CallbackInfo& info) {
  Args a(info, "cpuCommBarrier", 1);
  comm::mesh().group(a.handle(0)).barrier();
  return info.Env().Undefined();
}

Napi::Value close(const Napi::CallbackInfo& info) {
  comm::closeMesh();
  return info.Env().Undefined();
}

}  // namespace

void registerCpuComm(Napi::Env env, Napi::Object exports) {
  struct Entry {
    const char* name;
    Fn fn;
  };
  const Entry entries[] = {
      {"cpuCommListen", coded<listen>}, {"cpuCommConnect", coded<connect>},
      {"cpuCommGroupCreate", coded<groupCreate>}, {"cpuCommGroupDestroy", coded<groupDestroy>},
      {"cpuCommAllReduce", coded<allReduce>}, {"cpuCommReduceScatter", coded<reduceScatter>},
      {"cpuCommAllGather", coded<allGather>}, {"cpuCommBroadcast", coded<broadcast>},
      {"cpuCommSendRecv", coded<sendRecv>}, {"cpuCommBarrier", coded<barrier>}, {"cpuCommClose", coded<close>},
  };
  for (const Entry& e : entries) exports.Set(e.name, Napi::Function::New(env, e.fn, e.name));
}

}  // namespace ts::binding
