// Describes how an incoming frame differs from the expected one (see comm_match.h).
#include "cpu/comm_match.h"

#include "core/error.h"
#include "cpu/comm_group.h"
#include "cpu/comm_mesh.h"

namespace ts::cpu::comm {

std::string frameMismatch(Mesh& mesh, const Group& group, int peer, const FrameHeader& got, const FrameHeader& want) {
  const int self = group.self();
  if (got.gid != want.gid) {
    Group* other = mesh.groupById(got.gid);
    std::string where = other ? other->describe() : std::string("a group this rank has not created (yet)");
    return strcat("rank ", peer, " sent data of ", describeFrame(got), " on ", where, " while this rank (", self,
                  ") waits for its data of ", describeFrame(want), " on ", group.describe(),
                  "; ranks must call the operations of the groups they share in the same order");
  }
  if (got.channel != want.channel) {
    if (Channel(got.channel) == Channel::P2P) {
      return strcat("rank ", peer, " sent a point-to-point ", describeFrame(got), " while this rank (", self,
                    ") waits for its data of ", describeFrame(want),
                    "; every send must meet its recv in the same order relative to the collectives");
    }
    return strcat("rank ", peer, " sent data of ", describeFrame(got), " while this rank (", self,
                  ") waits for a point-to-point ", describeFrame(want), " from it",
                  "; every send must meet its recv in the same order relative to the collectives");
  }
  OpMeta a = got.meta(), b = want.meta();
  if (Channel(want.channel) == Channel::P2P) {
    if (a != b) {
      return strcat("rank ", peer, " sent ", tensorText(a), ", but this rank (", self, ") receives into ", tensorText(b),
                    "; a recv must match its send in dtype and element count");
    }
    if (got.seq != want.seq) {
      return strcat("rank ", peer, " sent its message #", got.seq, " on ", group.describe(), " while this rank (", self,
                    ") expects message #", want.seq, " from it");
    }
  } else {
    if (got.seq != want.seq) {
      return strcat("rank ", peer, " sent data of its ", describeFrame(got), " while this rank (", self, ") is in its ",
                    describeFrame(want), " on ", group.describe(),
                    ": a rank skipped or added a collective; every member must call the same collectives in the same order");
    }
    if (a.op != b.op) {
      return strcat("rank ", peer, " called ", opName(a.op), " while this rank (", self, ") called ", opName(b.op),
                    "; every member must call the same collectives in the same order");
    }
    if (a != b) {
      return strcat("rank ", peer, " called ", describe(a), ", but this rank (", self, ") called ", describe(b),
                    "; every member must pass the same dtype, element count, reduce op and root");
    }
  }
  return "";
}

}  // namespace ts::cpu::comm
