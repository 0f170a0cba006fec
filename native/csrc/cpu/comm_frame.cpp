// Names of what frames carry, for error messages.
#include "cpu/comm_frame.h"

#include "core/error.h"

namespace ts::cpu::comm {

const char* opName(OpKind op) {
  switch (op) {
    case OpKind::AllReduce: return "allReduce";
    case OpKind::ReduceScatter: return "reduceScatter";
    case OpKind::AllGather: return "allGather";
    case OpKind::Broadcast: return "broadcast";
    case OpKind::Barrier: return "barrier";
    case OpKind::Send: return "send";
  }
  return "an unknown operation";
}

static const char* reduceName(ReduceOp op) {
  switch (op) {
    case ReduceOp::Sum: return "sum";
    case ReduceOp::Avg: return "avg";
    case ReduceOp::Max: return "max";
    case ReduceOp::Min: return "min";
    case ReduceOp::None: break;
  }
  return "none";
}

std::string tensorText(const OpMeta& m) {
  const char* dt = m.dtype < kNumDTypes ? dtypeName(DType(m.dtype)) : "?";
  return strcat(dt, " x ", m.numel);
}

std::string describe(const OpMeta& m) {
  std::string s = strcat(opName(m.op), ", ", tensorText(m));
  if (m.reduce != ReduceOp::None) s += strcat(", op ", reduceName(m.reduce));
  if (m.op == OpKind::Broadcast) s += strcat(", root ", m.root);
  return s;
}

std::string describeFrame(const FrameHeader& h) {
  OpMeta m = h.meta();
  if (Channel(h.channel) == Channel::P2P) return strcat("message #", h.seq, " (", tensorText(m), ")");
  std::string s = strcat(opName(m.op), " #", h.seq, " (", tensorText(m));
  if (m.reduce != ReduceOp::None) s += strcat(", op ", reduceName(m.reduce));
  if (m.op == OpKind::Broadcast) s += strcat(", root ", m.root);
  return s + ")";
}

}  // namespace ts::cpu::comm
