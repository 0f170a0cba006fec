// Whether an incoming data frame is the one this rank expects from a peer, and when it is not, a
// message that says how the ranks' calls differ and what to fix.
#pragma once
#include <string>

#include "cpu/comm_frame.h"

namespace ts::cpu::comm {

class Group;
class Mesh;

// Empty when `got` (from global rank `peer`) belongs to the operation `want` describes (frame
// lengths are the caller's to check); else what differs.
std::string frameMismatch(Mesh& mesh, const Group& group, int peer, const FrameHeader& got, const FrameHeader& want);

}  // namespace ts::cpu::comm
