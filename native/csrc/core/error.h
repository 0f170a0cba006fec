// Errors thrown by native code. The binding turns them into JS Errors with the same message, so
// every message names the operation, the problem and, where there is one, the fix.
#pragma once
#include <sstream>
#include <stdexcept>
#include <string>

namespace ts {

struct Error : std::runtime_error {
  explicit Error(const std::string& m) : std::runtime_error(m) {}
};

template <typename... Args>
std::string strcat(Args&&... args) {
  std::ostringstream os;
  (os << ... << args);
  return os.str();
}

}  // namespace ts

#define TS_CHECK(cond, ...)                                      \
  do {                                                           \
    if (!(cond)) throw ::ts::Error(::ts::strcat(__VA_ARGS__));   \
  } while (0)
