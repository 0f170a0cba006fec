// NCCL communicators and collectives on communicator-owned streams (see nccl_comm.h for the ordering
// contract). The whole file is empty in CUDA builds made without NCCL: the binding then reports
// the missing library instead of calling in here.
#ifdef TESSERA_NCCL
#include <nccl.h>

#include <cstring>
#include <vector>

#include "cuda/common.cuh"
#include "cuda/nccl_comm.h"

#if NCCL_VERSION_CODE < NCCL_VERSION(2, 10, 0)
#error "Tessera needs NCCL 2.10 or newer (bf16 and ncclAvg)"
#endif

namespace ts::cuda::nccl {
namespace {

struct CommSlot {
  ncclComm_t comm = nullptr;
  int device = -1;
  int nranks = 0;
  int rank = 0;
  uint32_t stream = 0;  // runtime stream handle owned by the communicator
  uint32_t ready = 0;   // runtime event handle: "the compute stream got this far"
  bool live = false;
};

std::vector<CommSlot> g_comms(1);  // handle 0 is never valid

CommSlot& slot(uint32_t h) {
  TS_CHECK(h > 0 && h < g_comms.size() && g_comms[h].live, "NCCL communicator handle ", h,
           " is not live (it was destroyed or aborted)");
  return g_comms[h];
}

void check(ncclResult_t r, const char* what, ncclComm_t comm) {
  if (r == ncclSuccess) return;
  const char* last = ncclGetLastError(comm);
  throw Error(strcat("NCCL error in ", what, ": ", ncclGetErrorString(r),
                     last && *last ? strcat(" (", last, ")") : std::string()));
}

ncclDataType_t ncclType(DType d) {
  switch (d) {
    case DType::F32: return ncclFloat32;
    case DType::F64: return ncclFloat64;
    case DType::F16: return ncclFloat16;
    case DType::BF16: return ncclBfloat16;
    case DType::I32: return ncclInt32;
    case DType::I64: return ncclInt64;
    case DType::Bool: return ncclUint8;
  }
  throw Error("NCCL: unknown dtype");
}

ncclRedOp_t redOp(int op) {
  TS_CHECK(op >= 0 && op <= 4, "NCCL: unknown reduce op ", op, " (0 sum, 1 prod, 2 max, 3 min, 4 avg)");
  return ncclRedOp_t(op);
}

// Orders one NCCL call after the compute stream's queued work and records `done` after it.
template <typename F>
void enqueue(uint32_t h, uint32_t done, F&& call) {
  CommSlot& c = slot(h);
  setDevice(c.device);
  eventRecord(c.ready, currentStream(c.device));
  streamWaitEvent(c.stream, c.ready);
  call(c, rawStream(c.stream));
  eventRecord(done, c.stream);
}

}  // namespace

int version() {
  int v = 0;
  if (ncclGetVersion(&v) != ncclSuccess) return 0;
  return v;
}

std::string uniqueId() {
  ncclUniqueId id;
  check(ncclGetUniqueId(&id), "ncclGetUniqueId", nullptr);
  return std::string(id.internal, sizeof(id.internal));
}

void* initRank(int device, int nranks, const std::string& idBytes, int rank) {
  TS_CHECK(idBytes.size() == sizeof(ncclUniqueId), "ncclCommInitRank: the unique id must be ", sizeof(ncclUniqueId),
           " bytes, got ", idBytes.size());
  // The worker thread's own current device: NCCL binds the communicator to it.
  TS_CUDA_CHECK(cudaSetDevice(device), "cudaSetDevice");
  ncclUniqueId id;
  std::memcpy(id.internal, idBytes.data(), sizeof(id.internal));
  ncclComm_t comm = nullptr;
  check(ncclCommInitRank(&comm, nranks, id, rank), "ncclCommInitRank", nullptr);
  return comm;
}

void abortRaw(void* comm) {
  if (comm) ncclCommAbort(static_cast<ncclComm_t>(comm));
}

uint32_t registerComm(void* raw, int device, int nranks, int rank) {
  CommSlot c;
  c.comm = static_cast<ncclComm_t>(raw);
  c.device = device;
  c.nranks = nranks;
  c.rank = rank;
  c.stream = streamCreate(device);
  c.ready = eventCreate(device, false);
  c.live = true;
  g_comms.push_back(c);
  return uint32_t(g_comms.size() - 1);
}

namespace {
void release(CommSlot& c) {
  eventDestroy(c.ready);
  streamDestroy(c.stream);
  c = CommSlot{};
}
}  // namespace

void destroy(uint32_t h) {
  CommSlot& c = slot(h);
  streamSynchronize(c.stream);
  check(ncclCommDestroy(c.comm), "ncclCommDestroy", nullptr);
  release(c);
}

void abort(uint32_t h) {
  CommSlot& c = slot(h);
  ncclCommAbort(c.comm);  // also ends kernels that wait for a dead peer
  release(c);
}

std::string asyncError(uint32_t h) {
  CommSlot& c = slot(h);
  ncclResult_t state = ncclSuccess;
  ncclResult_t r = ncclCommGetAsyncError(c.comm, &state);
  if (r != ncclSuccess) state = r;
  if (state == ncclSuccess || state == ncclInProgress) return "";
  const char* last = ncclGetLastError(c.comm);
  return strcat(ncclGetErrorString(state), last && *last ? strcat(": ", last) : std::string());
}

uint32_t stream(uint32_t h) { return slot(h).stream; }
int device(uint32_t h) { return slot(h).device; }
int size(uint32_t h) { return slot(h).nranks; }

void allReduce(uint32_t h, const void* send, void* recv, size_t count, DType dtype, int op, uint32_t done) {
  ncclRedOp_t o = redOp(op);
  enqueue(h, done, [&](CommSlot& c, cudaStream_t s) {
    check(ncclAllReduce(send, recv, count, ncclType(dtype), o, c.comm, s), "ncclAllReduce", c.comm);
  });
}

void reduceScatter(uint32_t h, const void* send, void* recv, size_t recvCount, DType dtype, int op, uint32_t done) {
  ncclRedOp_t o = redOp(op);
  enqueue(h, done, [&](CommSlot& c, cudaStream_t s) {
    check(ncclReduceScatter(send, recv, recvCount, ncclType(dtype), o, c.comm, s), "ncclReduceScatter", c.comm);
  });
}

void allGather(uint32_t h, const void* send, void* recv, size_t sendCount, DType dtype, uint32_t done) {
  enqueue(h, done, [&](CommSlot& c, cudaStream_t s) {
    check(ncclAllGather(send, recv, sendCount, ncclType(dtype), c.comm, s), "ncclAllGather", c.comm);
  });
}

void broadcast(uint32_t h, void* buf, size_t count, DType dtype, int root, uint32_t done) {
  enqueue(h, done, [&](CommSlot& c, cudaStream_t s) {
    TS_CHECK(root >= 0 && root < c.nranks, "ncclBroadcast: root ", root, " is not a rank of a communicator of ", c.nranks);
    check(ncclBroadcast(buf, buf, count, ncclType(dtype), root, c.comm, s), "ncclBroadcast", c.comm);
  });
}

void sendRecv(uint32_t h, const std::vector<P2POp>& ops, uint32_t done) {
  enqueue(h, done, [&](CommSlot& c, cudaStream_t s) {
    for (const P2POp& op : ops) {
      TS_CHECK(op.peer >= 0 && op.peer < c.nranks, "ncclSendRecv: peer ", op.peer, " is not a rank of a communicator of ",
               c.nranks);
    }
    check(ncclGroupStart(), "ncclGroupStart", c.comm);
    ncclResult_t first = ncclSuccess;
    const char* what = "";
    for (const P2POp& op : ops) {
      ncclResult_t r = op.send ? ncclSend(op.buf, op.count, ncclType(op.dtype), op.peer, c.comm, s)
                               : ncclRecv(op.buf, op.count, ncclType(op.dtype), op.peer, c.comm, s);
      if (r != ncclSuccess && first == ncclSuccess) {
        first = r;
        what = op.send ? "ncclSend" : "ncclRecv";
      }
    }
    ncclResult_t end = ncclGroupEnd();  // always close the group, even after a failed call
    check(first, what, c.comm);
    check(end, "ncclGroupEnd", c.comm);
  });
}

}  // namespace ts::cuda::nccl

#endif  // TESSERA_NCCL
