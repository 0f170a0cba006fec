// Building the mesh: this rank dials every lower-ranked peer it has no connection to yet and waits
// for every higher-ranked one to dial it, all in one poll() loop with one deadline, so that no
// order of arrival can deadlock. Both ends check a handshake (magic, version, job token, rank):
// a connection from another job, or a process at a stale address, is refused. A peer on this host
// is dialled over its Unix-domain socket first, and over TCP when that fails.
#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <deque>
#include <functional>
#include <set>

#include "cpu/comm_error.h"
#include "cpu/comm_mesh.h"

namespace ts::cpu::comm {
namespace {

constexpr uint32_t kHelloMagic = 0x48435354;  // "TSCH"
constexpr uint32_t kVersion = 1;

struct Hello {
  uint32_t magic;
  uint32_t version;
  uint32_t rank;
  uint32_t worldSize;
  char token[32];
};
static_assert(sizeof(Hello) == 48, "the handshake is 48 bytes on the wire");

Hello makeHello(int rank, int worldSize, const std::string& token) {
  Hello h{};
  h.magic = kHelloMagic;
  h.version = kVersion;
  h.rank = uint32_t(rank);
  h.worldSize = uint32_t(worldSize);
  std::memcpy(h.token, token.data(), std::min(token.size(), sizeof(h.token)));
  return h;
}

// Empty when `h` is a hello of this job; else why it is not.
std::string checkHello(const Hello& h, const Hello& mine) {
  if (h.magic != kHelloMagic) return "it is not a Tessera cpu backend";
  if (h.version != kVersion) {
    return strcat("it speaks protocol version ", h.version, ", this rank ", kVersion, " (mixed Tessera versions?)");
  }
  if (std::memcmp(h.token, mine.token, sizeof(h.token)) != 0) return "it belongs to another job";
  if (h.worldSize != mine.worldSize) return strcat("its WORLD_SIZE is ", h.worldSize, ", this rank's is ", mine.worldSize);
  if (h.rank >= mine.worldSize) return strcat("it claims rank ", h.rank);
  return "";
}

}  // namespace

class MeshBuilder {
 public:
  MeshBuilder(Mesh& mesh, const std::vector<PeerAddress>& peers, int64_t timeoutMs)
      : mesh_(mesh), timeoutMs_(timeoutMs), mine_(makeHello(mesh.rank_, mesh.worldSize_, mesh.token_)) {
    for (const PeerAddress& a : peers) {
      TS_CHECK(a.rank >= 0 && a.rank < mesh.worldSize_ && a.rank != mesh.rank_, "cpuCommConnect: rank ", a.rank,
               " is not another rank of this job");
      if (mesh.peers_[size_t(a.rank)]) continue;  // connected for an earlier group
      if (a.rank < mesh.rank_) {
        dials_.push_back(Dial{a});
      } else {
        awaited_.insert(a.rank);
      }
    }
  }

  void run() {
    const int64_t deadline = nowMs() + timeoutMs_;
    for (;;) {
      int64_t now = nowMs();
      for (Dial& d : dials_) {
        if (!d.done && d.state == Dial::Idle && d.retryAt <= now) start(d);
      }
      if (finished()) return;
      if (now >= deadline) report();
      pollOnce(std::min(deadline, nextRetry(deadline)) - now);
    }
  }

 private:
  struct Dial {
    PeerAddress addr;
    enum State { Idle, Connecting, Replying } state = Idle;
    Fd fd;
    bool viaUnix = false;
    bool unixFailed = false;
    int64_t retryAt = 0;
    int64_t delay = 20;
    std::string lastError;
    Hello got{};
    size_t fill = 0;
    bool done = false;
  };
  struct Incoming {
    Fd fd;
    bool tcp;
    Hello got{};
    size_t fill = 0;
  };

  bool finished() const {
    for (const Dial& d : dials_) {
      if (!d.done) return false;
    }
    return awaited_.empty();
  }

  int64_t nextRetry(int64_t fallback) const {
    int64_t t = fallback;
    for (const Dial& d : dials_) {
      if (!d.done && d.state == Dial::Idle) t = std::min(t, d.retryAt);
    }
    return t;
  }

  void start(Dial& d) {
    int err = 0;
    d.viaUnix = !d.addr.unixName.empty() && !d.unixFailed;
    d.fd = d.viaUnix ? connectUnix(d.addr.unixName, &err) : connectTcp(d.addr.host, d.addr.port, &err);
    if (!d.fd) return retry(d, errnoName(err));
    if (err == EINPROGRESS) {
      d.state = Dial::Connecting;
      return;
    }
    if (err != 0) return retry(d, errnoName(err));
    sendHello(d);
  }

  // After a failed attempt: a Unix-domain socket falls back to TCP at once, TCP tries again later.
  void retry(Dial& d, const std::string& why) {
    int64_t now = nowMs();
    d.fd.reset();
    d.state = Dial::Idle;
    d.lastError = why;
    if (d.viaUnix) {
      d.unixFailed = true;
      d.retryAt = now;
      return;
    }
    d.retryAt = now + d.delay;
    d.delay = std::min<int64_t>(d.delay * 2, 500);
  }

  void sendHello(Dial& d) {
    iovec iov{&mine_, sizeof(mine_)};
    IoResult r = writeSome(d.fd.get(), &iov, 1);
    if (r.status != Io::Ok || r.bytes != sizeof(mine_)) return retry(d, "the handshake could not be sent");
    d.state = Dial::Replying;
    d.fill = 0;
    d.lastError = strcat("connected, but rank ", d.addr.rank, " did not answer the handshake (is it stuck?)");
  }

  void onReply(Dial& d) {
    IoResult r = readSome(d.fd.get(), reinterpret_cast<char*>(&d.got) + d.fill, sizeof(Hello) - d.fill);
    if (r.status == Io::WouldBlock) return;
    if (r.status == Io::Closed) return retry(d, "the connection closed during the handshake");
    if (r.status != Io::Ok) return retry(d, errnoName(r.err));
    d.fill += r.bytes;
    if (d.fill < sizeof(Hello)) return;
    std::string why = checkHello(d.got, mine_);
    if (why.empty() && int(d.got.rank) != d.addr.rank) why = strcat("the process there is rank ", d.got.rank);
    if (!why.empty()) return retry(d, strcat("refused: ", why));
    adopt(d.addr.rank, std::move(d.fd), !d.viaUnix);
    d.done = true;
  }

  void onHello(Incoming& in) {
    IoResult r = readSome(in.fd.get(), reinterpret_cast<char*>(&in.got) + in.fill, sizeof(Hello) - in.fill);
    if (r.status == Io::WouldBlock) return;
    if (r.status != Io::Ok) return in.fd.reset();
    in.fill += r.bytes;
    if (in.fill < sizeof(Hello)) return;
    std::string why = checkHello(in.got, mine_);
    int rank = int(in.got.rank);
    if (why.empty() && rank <= mesh_.rank_) why = strcat("rank ", rank, " must be dialled by this rank, not dial it");
    if (why.empty() && mesh_.peers_[size_t(rank)]) why = strcat("rank ", rank, " is connected already");
    if (!why.empty()) {
      refused_ = strcat(" (a connection was refused: ", why, ")");
      return in.fd.reset();
    }
    iovec iov{&mine_, sizeof(mine_)};
    IoResult w = writeSome(in.fd.get(), &iov, 1);
    if (w.status != Io::Ok || w.bytes != sizeof(mine_)) return in.fd.reset();
    adopt(rank, std::move(in.fd), in.tcp);
    awaited_.erase(rank);
  }

  void adopt(int rank, Fd fd, bool tcp) {
    auto p = std::make_unique<Peer>();
    p->rank = rank;
    p->tcp = tcp;
    tuneConnection(fd.get(), tcp);
    p->fd = std::move(fd);
    mesh_.peers_[size_t(rank)] = std::move(p);
  }

  void pollOnce(int64_t waitMs) {
    std::vector<pollfd> fds;
    std::vector<std::function<void(short)>> handlers;
    auto watch = [&](int fd, short events, std::function<void(short)> h) {
      fds.push_back({fd, events, 0});
      handlers.push_back(std::move(h));
    };
    for (Fd* l : {&mesh_.tcpListener_, &mesh_.unixListener_}) {
      if (!*l) continue;
      bool tcp = l == &mesh_.tcpListener_;
      watch(l->get(), POLLIN, [this, l, tcp](short) {
        while (Fd fd = acceptOne(l->get())) incoming_.push_back(Incoming{std::move(fd), tcp});
      });
    }
    for (Dial& d : dials_) {
      if (d.done || d.state == Dial::Idle) continue;
      Dial* dp = &d;
      if (d.state == Dial::Connecting) {
        watch(d.fd.get(), POLLOUT, [this, dp](short) {
          int err = connectResult(dp->fd.get());
          if (err != 0) return retry(*dp, errnoName(err));
          sendHello(*dp);
        });
      } else {
        watch(d.fd.get(), POLLIN, [this, dp](short) { onReply(*dp); });
      }
    }
    for (Incoming& in : incoming_) {
      if (!in.fd) continue;
      Incoming* ip = &in;
      watch(in.fd.get(), POLLIN, [this, ip](short) { onHello(*ip); });
    }
    int r = ::poll(fds.data(), fds.size(), int(std::max<int64_t>(0, std::min<int64_t>(waitMs, 1 << 30))));
    if (r <= 0) return;
    for (size_t i = 0; i < fds.size(); ++i) {
      if (fds[i].revents) handlers[i](fds[i].revents);
    }
    // Handlers only append to incoming_ (a deque, so earlier entries stay put); drop the finished.
    while (!incoming_.empty() && !incoming_.front().fd) incoming_.pop_front();
  }

  [[noreturn]] void report() {
    for (const Dial& d : dials_) {
      if (d.done) continue;
      std::string where = d.viaUnix ? std::string("its Unix-domain socket") : strcat(d.addr.host, ":", d.addr.port);
      fail(Code::Unreachable, "rank ", mesh_.rank_, " cannot connect to rank ", d.addr.rank, " at ", where, " within ",
           seconds(timeoutMs_), " (", d.lastError.empty() ? std::string("no answer") : d.lastError, ")");
    }
    std::string list;
    for (int r : awaited_) list += strcat(list.empty() ? "" : ", ", r);
    fail(Code::Timeout, "rank(s) ", list, " did not connect to rank ", mesh_.rank_, " within ", seconds(timeoutMs_),
         ": did they create the same process group (every listed rank must call newGroup with the same ranks), and are ",
         "they still running?", refused_);
  }

  Mesh& mesh_;
  int64_t timeoutMs_;
  Hello mine_;
  std::vector<Dial> dials_;
  std::set<int> awaited_;
  std::deque<Incoming> incoming_;
  std::string refused_;
};

void Mesh::connect(const std::vector<PeerAddress>& peers, int64_t timeoutMs) {
  MeshBuilder(*this, peers, timeoutMs).run();
}

}  // namespace ts::cpu::comm
