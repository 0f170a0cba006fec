// NCCL communicators for the binding, with plain C++ types so that binding/nccl.cpp (compiled by
// the host compiler) needs neither CUDA nor NCCL headers. Defined in nccl.cu, and only in builds
// made with NCCL (TESSERA_NCCL); the binding reports the missing library otherwise.
//
// Ordering: each communicator owns a CUDA stream. A collective first makes that stream wait for an
// event recorded on the device's current (compute) stream, so it sees every kernel queued before
// it; then it enqueues the NCCL call and records the caller's `done` event on the comm stream.
// The caller makes its compute stream wait on `done` before using the results.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "core/dtype.h"

namespace ts::cuda::nccl {

constexpr size_t kUniqueIdBytes = 128;

int version();
std::string uniqueId();

// Blocks until every rank has joined, so the binding calls it on a worker thread. Returns the raw
// communicator for registerComm (on the main thread), or throws.
void* initRank(int device, int nranks, const std::string& uniqueId, int rank);
// Frees a raw communicator that could not be registered.
void abortRaw(void* comm);

// Gives a raw communicator its stream and events, and a handle.
uint32_t registerComm(void* comm, int device, int nranks, int rank);
// Waits for the communicator's queued work, then frees it.
void destroy(uint32_t comm);
// Stops queued work (a peer failed or an operation timed out) and frees the communicator.
void abort(uint32_t comm);
// "" while healthy; otherwise what went wrong asynchronously.
std::string asyncError(uint32_t comm);
uint32_t stream(uint32_t comm);
int device(uint32_t comm);
int size(uint32_t comm);

// op: 0 sum, 1 prod, 2 max, 3 min, 4 avg (NCCL's numbering).
void allReduce(uint32_t comm, const void* send, void* recv, size_t count, DType dtype, int op, uint32_t done);
void reduceScatter(uint32_t comm, const void* send, void* recv, size_t recvCount, DType dtype, int op, uint32_t done);
void allGather(uint32_t comm, const void* send, void* recv, size_t sendCount, DType dtype, uint32_t done);
void broadcast(uint32_t comm, void* buf, size_t count, DType dtype, int root, uint32_t done);

struct P2POp {
  bool send;
  void* buf;
  size_t count;
  DType dtype;
  int peer;
};
// All ops in one NCCL group (ncclGroupStart/End), so that matching sends and receives between
// pipeline neighbours cannot deadlock on their order.
void sendRecv(uint32_t comm, const std::vector<P2POp>& ops, uint32_t done);

}  // namespace ts::cuda::nccl
