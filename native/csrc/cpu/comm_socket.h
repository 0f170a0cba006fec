// POSIX sockets for the cpu backend, all non-blocking: listening (TCP on one address, and a
// Unix-domain socket in the abstract namespace), connecting, and reads/writes that report "would
// block" instead of waiting, so that one poll() loop drives every connection of an operation.
#pragma once
#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <string>

namespace ts::cpu::comm {

// An owned file descriptor.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& o) noexcept : fd_(o.release()) {}
  Fd& operator=(Fd&& o) noexcept {
    if (this != &o) {
      reset();
      fd_ = o.release();
    }
    return *this;
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { reset(); }

  int get() const { return fd_; }
  explicit operator bool() const { return fd_ >= 0; }
  int release() {
    int f = fd_;
    fd_ = -1;
    return f;
  }
  void reset();

 private:
  int fd_ = -1;
};

// Milliseconds on a monotonic clock.
int64_t nowMs();
// "ECONNREFUSED" and the like, else the system's text.
std::string errnoName(int err);

// Listens on host, port 0 (an IPv4 or IPv6 address); writes the port. Throws when it cannot.
Fd listenTcp(const std::string& host, int* port);
// Listens on an abstract Unix-domain name; an empty Fd when that is not possible here.
Fd listenUnix(const std::string& name);
// Starts a non-blocking connect. *err becomes 0 (connected), EINPROGRESS, or why it failed.
Fd connectTcp(const std::string& host, int port, int* err);
Fd connectUnix(const std::string& name, int* err);
// The outcome of a non-blocking connect once the socket is writable: 0 or an errno value.
int connectResult(int fd);
// One waiting connection, non-blocking; an empty Fd when none waits.
Fd acceptOne(int listenFd);
// No Nagle delay, large buffers: data connections carry big messages both ways.
void tuneConnection(int fd, bool tcp);

enum class Io { Ok, WouldBlock, Closed, Failed };
struct IoResult {
  Io status;
  size_t bytes;
  int err;
};
IoResult readSome(int fd, void* buf, size_t n);
IoResult writeSome(int fd, const iovec* iov, int count);
// Writes all of `bytes` (several pieces), waiting at most waitMs for room; returns the bytes
// written (fewer when time ran out or the connection failed).
size_t writeWithin(int fd, const iovec* pieces, int count, int64_t waitMs);

}  // namespace ts::cpu::comm
