// Group state, the failure protocol, and the operations that are not rings: broadcast (a
// pipelined chain), send/recv, and the barrier (see comm_group.h).
#include "cpu/comm_group.h"

#include <algorithm>
#include <cstring>

#include "cpu/comm_exchange.h"
#include "cpu/comm_mesh.h"
#include "cpu/comm_socket.h"

namespace ts::cpu::comm {
namespace {

// A 64-bit id for a group key (FNV-1a), the same on every rank.
uint64_t groupId(const std::string& key) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : key) {
    h ^= c;
    h *= 0x100000001b3ull;
  }
  return h;
}

// How long a failing rank tries to hand its report to each peer.
constexpr int64_t kReportWaitMs = 200;

}  // namespace

Group::Group(Mesh& mesh, const std::string& key, std::vector<int> ranks, int64_t timeoutMs, size_t segmentBytes)
    : mesh_(mesh), gid_(groupId(key)), ranks_(std::move(ranks)), timeoutMs_(timeoutMs), segmentBytes_(segmentBytes) {
  auto it = std::find(ranks_.begin(), ranks_.end(), mesh.rank());
  if (it == ranks_.end()) fail(Code::Invalid, "rank ", mesh.rank(), " is not a member of ", describe());
  index_ = int(it - ranks_.begin());
  for (int r : ranks_) {
    if (r != mesh.rank()) mesh.peer(r);  // connected beforehand by Mesh::connect
  }
  sent_.assign(ranks_.size(), 0);
  received_.assign(ranks_.size(), 0);
}

std::string Group::describe() const {
  std::string s = "group [";
  for (size_t i = 0; i < ranks_.size(); ++i) s += strcat(i ? ", " : "", ranks_[i]);
  return s + "]";
}

void Group::breakWith(Code code, const std::string& message) {
  if (broken_) return;
  broken_ = true;
  brokenCode_ = code;
  brokenMessage_ = message;
}

void Group::destroy() { breakWith(Code::Closed, strcat(describe(), " was destroyed")); }

void Group::run(const std::string& label, const std::function<void()>& body) {
  std::string where = strcat(label, " on ", describe(), " (rank ", self(), ")");
  if (broken_) fail(brokenCode_, where, ": this process group is unusable after an earlier failure: ", brokenMessage_);
  deadline_ = nowMs() + timeoutMs_;
  try {
    body();
  } catch (const CommError& e) {
    failed(where, e.code, e.what());
  } catch (const std::exception& e) {
    failed(where, Code::Invalid, e.what());
  }
}

void Group::failed(const std::string& where, Code code, const std::string& why) {
  std::string message = strcat(where, ": ", why);
  if (!broken_) {
    breakWith(code, message);
    // The others may be waiting for this rank: tell them, so they fail now instead of timing out.
    if (code != Code::Aborted) {
      for (int r : ranks_) {
        Peer* p = r == self() ? nullptr : mesh_.find(r);
        if (p) mesh_.sendControl(*p, FrameType::Abort, gid_, message, kReportWaitMs);
      }
    }
  }
  throw CommError(code, message);
}

void Group::broadcast(void* data, uint64_t count, DType dt, int root) {
  uint64_t seq = seq_++;
  run(strcat("broadcast #", seq), [&] {
    const int n = size();
    if (n == 1) return;
    OpMeta m{OpKind::Broadcast, uint8_t(dt), ReduceOp::None, uint32_t(root), count};
    FrameHeader h = dataHeader(Channel::Collective, gid_, seq, m, count * elemSize(dt));
    // A chain root -> root+1 -> ...: each member passes bytes on as soon as it has them.
    const int pos = mod(index_ - root, n);
    const int next = ranks_[size_t(mod(index_ + 1, n))];
    const int prev = ranks_[size_t(mod(index_ - 1, n))];
    Exchange ex(*this);
    if (pos == 0) {
      ex.send(next, h, data);
    } else {
      const Transfer* in = ex.recv(prev, h, data);
      if (pos < n - 1) ex.send(next, h, data, in);
    }
    ex.run();
  });
}

// Dissemination: in round k each member signals member +2^k and hears from member -2^k.
void Group::barrier() {
  uint64_t seq = seq_++;
  run(strcat("barrier #", seq), [&] {
    const int n = size();
    FrameHeader h = dataHeader(Channel::Collective, gid_, seq, OpMeta{OpKind::Barrier}, 0);
    for (int d = 1; d < n; d *= 2) {
      Exchange ex(*this);
      ex.send(ranks_[size_t(mod(index_ + d, n))], h, nullptr);
      ex.recv(ranks_[size_t(mod(index_ - d, n))], h, nullptr);
      ex.run();
    }
  });
}

void Group::sendRecv(const std::vector<P2POp>& ops) {
  std::string label = ops.size() == 1
                          ? strcat(ops[0].send ? "send to rank " : "recv from rank ", ranks_[size_t(ops[0].peer)])
                          : strcat("batchSendRecv of ", ops.size(), " ops");
  // Messages are numbered per peer and direction in call order, so the n-th send from A to B
  // meets the n-th receive on B from A.
  std::vector<uint64_t> seqs(ops.size());
  for (size_t i = 0; i < ops.size(); ++i) seqs[i] = (ops[i].send ? sent_ : received_)[size_t(ops[i].peer)]++;
  run(label, [&] {
    exchangeWithSelf(ops);
    Exchange ex(*this);
    for (size_t i = 0; i < ops.size(); ++i) {
      const P2POp& o = ops[i];
      if (o.peer == index_) continue;
      OpMeta m{OpKind::Send, uint8_t(o.dtype), ReduceOp::None, 0, o.count};
      FrameHeader h = dataHeader(Channel::P2P, gid_, seqs[i], m, o.count * elemSize(o.dtype));
      int peer = ranks_[size_t(o.peer)];
      if (o.send) {
        ex.send(peer, h, o.data);
      } else {
        ex.recv(peer, h, o.data);
      }
    }
    ex.run();
  });
}

// Messages to this rank itself: the batch's sends are queued first, then its receives take the
// oldest queued messages (from this call or an earlier one).
void Group::exchangeWithSelf(const std::vector<P2POp>& ops) {
  for (const P2POp& o : ops) {
    if (o.peer != index_ || !o.send) continue;
    size_t bytes = o.count * elemSize(o.dtype);
    SelfMessage m{OpMeta{OpKind::Send, uint8_t(o.dtype), ReduceOp::None, 0, o.count}, std::vector<char>(bytes)};
    if (bytes) std::memcpy(m.bytes.data(), o.data, bytes);
    toSelf_.push_back(std::move(m));
  }
  for (const P2POp& o : ops) {
    if (o.peer != index_ || o.send) continue;
    OpMeta want{OpKind::Send, uint8_t(o.dtype), ReduceOp::None, 0, o.count};
    if (toSelf_.empty()) {
      fail(Code::Invalid, "a recv from this rank itself (", self(),
           ") needs an earlier send to itself (in this call or before)");
    }
    SelfMessage& m = toSelf_.front();
    if (m.meta != want) {
      fail(Code::Mismatch, "this rank (", self(), ") sent itself ", tensorText(m.meta), " but receives into ",
           tensorText(want), "; a recv must match its send in dtype and element count");
    }
    if (!m.bytes.empty()) std::memcpy(o.data, m.bytes.data(), m.bytes.size());
    toSelf_.pop_front();
  }
}

}  // namespace ts::cpu::comm
