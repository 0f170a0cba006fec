// The wire format of the cpu backend. Every message between two ranks is a frame: a fixed 48-byte
// header, then `length` payload bytes. A data frame names the operation it belongs to (group id,
// sequence number, op, dtype, element count, reduce op, root), so a rank that receives a frame of
// a different call can say exactly how the ranks disagree. An abort frame carries a failure
// message to the other members of a group; a bye frame says the sender shut down on purpose.
#pragma once
#include <cstdint>
#include <string>

#include "core/dtype.h"

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "the cpu backend's frames are little-endian structs");

namespace ts::cpu::comm {

constexpr uint32_t kFrameMagic = 0x46435354;  // "TSCF": a stream that lost its place is caught, not misread

enum class FrameType : uint8_t { Data = 1, Abort = 2, Bye = 3 };
// Collectives are numbered per group; point-to-point messages per group, peer and direction.
enum class Channel : uint8_t { Collective = 1, P2P = 2 };
enum class OpKind : uint8_t { AllReduce = 1, ReduceScatter = 2, AllGather = 3, Broadcast = 4, Barrier = 5, Send = 6 };
enum class ReduceOp : uint8_t { None = 0, Sum = 1, Avg = 2, Max = 3, Min = 4 };

// What every member of a collective (or both ends of a message) must agree on.
struct OpMeta {
  OpKind op = OpKind::Barrier;
  uint8_t dtype = 0;  // a DType code
  ReduceOp reduce = ReduceOp::None;
  uint32_t root = 0;  // group rank (broadcast)
  uint64_t numel = 0;
  bool operator==(const OpMeta& o) const {
    return op == o.op && dtype == o.dtype && reduce == o.reduce && root == o.root && numel == o.numel;
  }
  bool operator!=(const OpMeta& o) const { return !(*this == o); }
};

struct FrameHeader {
  uint32_t magic = kFrameMagic;
  uint8_t type = 0;
  uint8_t channel = 0;
  uint8_t op = 0;
  uint8_t dtype = 0;
  uint8_t reduce = 0;
  uint8_t pad[3] = {0, 0, 0};
  uint32_t root = 0;
  uint64_t gid = 0;
  uint64_t seq = 0;
  uint64_t numel = 0;
  uint64_t length = 0;  // payload bytes

  OpMeta meta() const { return {OpKind(op), dtype, ReduceOp(reduce), root, numel}; }
};
static_assert(sizeof(FrameHeader) == 48, "the frame header is 48 bytes on the wire");
constexpr size_t kHeaderBytes = sizeof(FrameHeader);

inline FrameHeader dataHeader(Channel ch, uint64_t gid, uint64_t seq, const OpMeta& m, uint64_t length) {
  FrameHeader h;
  h.type = uint8_t(FrameType::Data);
  h.channel = uint8_t(ch);
  h.op = uint8_t(m.op);
  h.dtype = m.dtype;
  h.reduce = uint8_t(m.reduce);
  h.root = m.root;
  h.gid = gid;
  h.seq = seq;
  h.numel = m.numel;
  h.length = length;
  return h;
}

inline FrameHeader controlHeader(FrameType t, uint64_t gid, uint64_t length) {
  FrameHeader h;
  h.type = uint8_t(t);
  h.gid = gid;
  h.length = length;
  return h;
}

const char* opName(OpKind op);
// "f32 x 10"
std::string tensorText(const OpMeta& m);
// "allReduce, f32 x 10, op sum" / "broadcast, f32 x 10, root 0"
std::string describe(const OpMeta& m);
// The operation a data frame belongs to, for messages: "allReduce #3 (f32 x 10, op sum)" or
// "message #2 (f32 x 9)".
std::string describeFrame(const FrameHeader& h);

}  // namespace ts::cpu::comm
