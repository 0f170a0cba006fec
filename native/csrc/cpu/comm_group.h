// A process group of the cpu backend: its members (global ranks, in group-rank order), its id on
// the wire, the numbering of its collectives and messages, and whether an earlier failure broke
// it. Every operation blocks until it is done. The operations live in comm_ring.cpp (allReduce,
// reduceScatter, allGather) and comm_group.cpp (broadcast, send/recv, barrier).
#pragma once
#include <cstdint>
#include <deque>
#include <functional>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "cpu/comm_error.h"
#include "cpu/comm_frame.h"

namespace ts::cpu::comm {

class Mesh;

struct P2POp {
  bool send;
  void* data;
  uint64_t count;
  DType dtype;
  int peer;  // group rank
};

class Group {
 public:
  Group(Mesh& mesh, const std::string& key, std::vector<int> ranks, int64_t timeoutMs, size_t segmentBytes);

  Mesh& mesh() const { return mesh_; }
  uint64_t gid() const { return gid_; }
  int size() const { return int(ranks_.size()); }
  // This process's group rank, and its global rank.
  int index() const { return index_; }
  int self() const { return ranks_[size_t(index_)]; }
  const std::vector<int>& ranks() const { return ranks_; }
  int64_t timeoutMs() const { return timeoutMs_; }
  // The running operation's deadline (a nowMs() time).
  int64_t deadline() const { return deadline_; }
  size_t segmentBytes() const { return segmentBytes_; }
  // "group [0, 1]"
  std::string describe() const;

  bool broken() const { return broken_; }
  // The first failure wins; later operations report it.
  void breakWith(Code code, const std::string& message);

  void allReduce(void* data, uint64_t count, DType dt, ReduceOp op);
  // out (count elements) gets the reduction of chunk index() of in (size() * count elements).
  void reduceScatter(void* out, const void* in, uint64_t count, DType dt, ReduceOp op);
  // out (size() * count elements) gets every member's in (count elements) in group-rank order.
  void allGather(void* out, const void* in, uint64_t count, DType dt);
  void broadcast(void* data, uint64_t count, DType dt, int root);
  void sendRecv(const std::vector<P2POp>& ops);
  void barrier();
  void destroy();

 private:
  struct SelfMessage {
    OpMeta meta;
    std::vector<char> bytes;
  };

  // Runs one operation: refuses when the group is broken; on failure breaks it, tells the other
  // members (unless one of them told this rank), and rethrows with where it happened.
  void run(const std::string& label, const std::function<void()>& body);
  [[noreturn]] void failed(const std::string& where, Code code, const std::string& why);
  void exchangeWithSelf(const std::vector<P2POp>& ops);

  Mesh& mesh_;
  uint64_t gid_;
  std::vector<int> ranks_;
  int index_ = -1;
  int64_t timeoutMs_;
  int64_t deadline_ = 0;
  size_t segmentBytes_;
  uint64_t seq_ = 0;                 // collectives called so far
  std::vector<uint64_t> sent_;       // messages sent to each group rank
  std::vector<uint64_t> received_;   // messages received from each group rank
  std::deque<SelfMessage> toSelf_;   // sent to this rank, not yet received
  bool broken_ = false;
  Code brokenCode_ = Code::Invalid;
  std::string brokenMessage_;
};

inline int mod(int64_t a, int n) { return int(((a % n) + n) % n); }

}  // namespace ts::cpu::comm
