// POSIX socket helpers of the cpu backend (see comm_socket.h).
#include "cpu/comm_socket.h"

#include <fcntl.h>
#include <poll.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include "cpu/comm_error.h"

namespace ts::cpu::comm {

void Fd::reset() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

int64_t nowMs() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count();
}

std::string errnoName(int err) {
  switch (err) {
    case ECONNREFUSED: return "ECONNREFUSED";
    case ECONNRESET: return "ECONNRESET";
    case EPIPE: return "EPIPE";
    case ETIMEDOUT: return "ETIMEDOUT";
    case EHOSTUNREACH: return "EHOSTUNREACH";
    case ENETUNREACH: return "ENETUNREACH";
    case ENOENT: return "ENOENT";
    case EADDRNOTAVAIL: return "EADDRNOTAVAIL";
    case EADDRINUSE: return "EADDRINUSE";
    case EACCES: return "EACCES";
    default: return std::strerror(err);
  }
}

namespace {

void setNonBlocking(int fd) {
  int flags = fcntl(fd, F_GETFL, 0);
  fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

// The socket address of a numeric host (or a name, resolved once) and port.
bool resolve(const std::string& host, int port, sockaddr_storage* out, socklen_t* len, std::string* why) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_family = AF_UNSPEC;
  addrinfo* res = nullptr;
  int rc = getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &res);
  if (rc != 0 || !res) {
    *why = strcat("cannot resolve '", host, "': ", gai_strerror(rc));
    return false;
  }
  std::memcpy(out, res->ai_addr, res->ai_addrlen);
  *len = res->ai_addrlen;
  freeaddrinfo(res);
  return true;
}

socklen_t abstractAddress(const std::string& name, sockaddr_un* addr) {
  std::memset(addr, 0, sizeof(*addr));
  addr->sun_family = AF_UNIX;
  size_t n = std::min(name.size(), sizeof(addr->sun_path) - 1);
  std::memcpy(addr->sun_path + 1, name.data(), n);  // sun_path[0] = 0: the abstract namespace
  return socklen_t(offsetof(sockaddr_un, sun_path) + 1 + n);
}

Fd startConnect(int family, const sockaddr* addr, socklen_t len, int* err) {
  Fd fd(::socket(family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd) {
    *err = errno;
    return fd;
  }
  *err = ::connect(fd.get(), addr, len) == 0 ? 0 : errno;
  return fd;
}

}  // namespace

Fd listenTcp(const std::string& host, int* port) {
  sockaddr_storage addr{};
  socklen_t len = 0;
  std::string why;
  if (!resolve(host, 0, &addr, &len, &why)) fail(Code::Invalid, "the cpu backend cannot listen on ", host, ": ", why);
  Fd fd(::socket(addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd) fail(Code::Invalid, "the cpu backend cannot open a socket: ", errnoName(errno));
  int one = 1;
  setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), len) != 0 || ::listen(fd.get(), SOMAXCONN) != 0) {
    fail(Code::Invalid, "the cpu backend cannot listen on ", host, ": ", errnoName(errno),
         " (this is the address of the connection to the rendezvous store; check MASTER_ADDR)");
  }
  socklen_t got = sizeof(addr);
  getsockname(fd.get(), reinterpret_cast<sockaddr*>(&addr), &got);
  *port = addr.ss_family == AF_INET6 ? ntohs(reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port)
                                     : ntohs(reinterpret_cast<sockaddr_in*>(&addr)->sin_port);
  return fd;
}

Fd listenUnix(const std::string& name) {
  sockaddr_un addr;
  socklen_t len = abstractAddress(name, &addr);
  Fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd) return fd;
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), len) != 0 || ::listen(fd.get(), SOMAXCONN) != 0) return Fd();
  return fd;
}

Fd connectTcp(const std::string& host, int port, int* err) {
  sockaddr_storage addr{};
  socklen_t len = 0;
  std::string why;
  if (!resolve(host, port, &addr, &len, &why)) {
    *err = EHOSTUNREACH;
    return Fd();
  }
  return startConnect(addr.ss_family, reinterpret_cast<sockaddr*>(&addr), len, err);
}

Fd connectUnix(const std::string& name, int* err) {
  sockaddr_un addr;
  socklen_t len = abstractAddress(name, &addr);
  return startConnect(AF_UNIX, reinterpret_cast<sockaddr*>(&addr), len, err);
}

int connectResult(int fd) {
  int err = 0;
  socklen_t len = sizeof(err);
  if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) return errno;
  return err;
}

Fd acceptOne(int listenFd) {
  int fd = ::accept4(listenFd, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
  return Fd(fd);
}

void tuneConnection(int fd, bool tcp) {
  setNonBlocking(fd);
  int one = 1;
  if (tcp) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  // Larger buffers mean fewer wake-ups per megabyte; the kernel caps them (net.core.*mem_max).
  int bytes = 4 << 20;
  setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bytes, sizeof(bytes));
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof(bytes));
}

IoResult readSome(int fd, void* buf, size_t n) {
  for (;;) {
    ssize_t r = ::recv(fd, buf, n, 0);
    if (r > 0) return {Io::Ok, size_t(r), 0};
    if (r == 0) return {Io::Closed, 0, 0};
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return {Io::WouldBlock, 0, 0};
    return {Io::Failed, 0, errno};
  }
}

IoResult writeSome(int fd, const iovec* iov, int count) {
  msghdr msg{};
  msg.msg_iov = const_cast<iovec*>(iov);
  msg.msg_iovlen = size_t(count);
  for (;;) {
    ssize_t r = ::sendmsg(fd, &msg, MSG_NOSIGNAL);  // a vanished peer is an error, not SIGPIPE
    if (r >= 0) return {Io::Ok, size_t(r), 0};
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return {Io::WouldBlock, 0, 0};
    return {Io::Failed, 0, errno};
  }
}

size_t writeWithin(int fd, const iovec* pieces, int count, int64_t waitMs) {
  size_t total = 0;
  for (int i = 0; i < count; ++i) total += pieces[i].iov_len;
  const int64_t deadline = nowMs() + waitMs;
  size_t done = 0;
  while (done < total) {
    // The pieces not yet (fully) written.
    iovec rest[4];
    int n = 0;
    size_t skip = done;
    for (int i = 0; i < count && n < 4; ++i) {
      if (skip >= pieces[i].iov_len) {
        skip -= pieces[i].iov_len;
        continue;
      }
      rest[n++] = {static_cast<char*>(pieces[i].iov_base) + skip, pieces[i].iov_len - skip};
      skip = 0;
    }
    IoResult r = writeSome(fd, rest, n);
    if (r.status == Io::Ok) {
      done += r.bytes;
      continue;
    }
    if (r.status != Io::WouldBlock) break;
    int64_t left = deadline - nowMs();
    if (left <= 0) break;
    pollfd pf{fd, POLLOUT, 0};
    ::poll(&pf, 1, int(left));
  }
  return done;
}

}  // namespace ts::cpu::comm
