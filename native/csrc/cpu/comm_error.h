// Errors of the cpu backend's data plane. Each carries a code that the JS side turns into
// DistributedError.code (TIMEOUT, PEER_LOST, ...), so programs and tests can branch on what
// happened; the message names the ranks involved and the fix.
#pragma once
#include <cstdint>
#include <string>
#include <utility>

#include "core/error.h"

namespace ts::cpu::comm {

enum class Code { Timeout, PeerLost, Mismatch, Aborted, Closed, Invalid, Unreachable };

inline const char* codeName(Code c) {
  switch (c) {
    case Code::Timeout: return "TIMEOUT";
    case Code::PeerLost: return "PEER_LOST";
    case Code::Mismatch: return "MISMATCH";
    case Code::Aborted: return "ABORTED";
    case Code::Closed: return "CLOSED";
    case Code::Invalid: return "INVALID";
    case Code::Unreachable: return "UNREACHABLE";
  }
  return "INVALID";
}

struct CommError : Error {
  Code code;
  CommError(Code c, const std::string& m) : Error(m), code(c) {}
};

template <typename... Parts>
[[noreturn]] void fail(Code c, Parts&&... parts) {
  throw CommError(c, strcat(std::forward<Parts>(parts)...));
}

// Seconds with at most one decimal, as the JS side writes them: "0.5 s", "600 s".
inline std::string seconds(int64_t ms) {
  int64_t tenths = (ms + 50) / 100;
  return tenths % 10 == 0 ? strcat(tenths / 10, " s") : strcat(tenths / 10, ".", tenths % 10, " s");
}

}  // namespace ts::cpu::comm
