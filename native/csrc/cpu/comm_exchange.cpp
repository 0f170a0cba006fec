// The poll() loop of the cpu backend: transfers, frames, waiting and failure (see comm_exchange.h);
// what arrives unasked is read in comm_inbox.cpp.
#include "cpu/comm_exchange.h"

#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "cpu/comm_error.h"
#include "cpu/comm_group.h"
#include "cpu/comm_match.h"
#include "cpu/comm_reduce.h"

namespace ts::cpu::comm {
namespace {

constexpr int64_t kFinishFrameMs = 200;  // how long a failing rank tries to finish a frame

}  // namespace

Exchange::Exchange(Group& group) : group_(group), mesh_(group.mesh()), segment_(std::max<size_t>(8, group.segmentBytes())) {
  for (int r : group.ranks()) {
    if (r != group.self()) lanes_.push_back(Lane{r});
  }
}

Exchange::Lane& Exchange::lane(int rank) {
  for (Lane& l : lanes_) {
    if (l.rank == rank) return l;
  }
  fail(Code::Invalid, "rank ", rank, " is not a member of ", group_.describe());
}

Transfer& Exchange::add(int peer, bool isSend, const FrameHeader& h) {
  Lane& l = lane(peer);
  transfers_.emplace_back();
  Transfer& t = transfers_.back();
  t.isSend = isSend;
  t.peer = peer;
  t.header = h;
  t.bytes = h.length;
  (isSend ? l.sends : l.recvs).push_back(&t);
  ++remaining_;
  return t;
}

const Transfer* Exchange::send(int peer, const FrameHeader& h, const void* src, const Transfer* after) {
  Transfer& t = add(peer, true, h);
  t.src = static_cast<const char*>(src);
  t.after = after;
  return &t;
}

const Transfer* Exchange::recv(int peer, const FrameHeader& expect, void* dst) {
  Transfer& t = add(peer, false, expect);
  t.dst = static_cast<char*>(dst);
  return &t;
}

const Transfer* Exchange::recvCombine(int peer, const FrameHeader& expect, const Combine& c) {
  Transfer& t = add(peer, false, expect);
  t.combining = true;
  t.combine = c;
  return &t;
}

void Exchange::run() {
  if (remaining_ == 0) return;
  try {
    bind();
    for (;;) {
      // Writes come first in each round, so a rank's own data is on its way before it can fail on
      // what it reads: both ends of a mismatch then see each other's frame.
      bool moved = true;
      while (moved && remaining_ > 0) {
        moved = false;
        for (Lane& l : lanes_) moved |= pushSends(l);
        for (Lane& l : lanes_) moved |= pullRecvs(l);
      }
      if (remaining_ == 0) return;
      wait();
    }
  } catch (...) {
    abandon();
    throw;
  }
}

// Finds each lane's connection: peers this step needs must be reachable now; the others are
// only watched.
void Exchange::bind() {
  for (Lane& l : lanes_) {
    if (l.sends.empty() && l.recvs.empty()) {
      Peer* p = mesh_.find(l.rank);
      l.peer = p && p->lost.empty() ? p : nullptr;
      continue;
    }
    l.peer = &mesh_.peer(l.rank);
    if (!l.sends.empty() && !l.peer->writeBroken.empty()) fail(Code::PeerLost, l.peer->writeBroken);
  }
}

bool Exchange::pushSends(Lane& l) {
  if (!l.peer) return false;
  bool moved = false;
  size_t budget = 2 * segment_;
  while (!l.sends.empty() && l.writable && budget > 0) {
    Transfer& t = *l.sends.front();
    Peer& p = *l.peer;
    if (t.betweenFrames()) {
      if (t.started && t.done == t.bytes) {
        finish(l.sends);
        moved = true;
        continue;
      }
      if (!startFrame(t)) break;  // waiting for `after`
    }
    iovec iov[2];
    int n = 0;
    if (t.frameHeaderDone < kHeaderBytes) {
      iov[n++] = {reinterpret_cast<char*>(&t.frame) + t.frameHeaderDone, kHeaderBytes - t.frameHeaderDone};
    }
    if (t.frameLeft > 0) iov[n++] = {const_cast<char*>(t.src) + t.done, size_t(t.frameLeft)};
    IoResult r = writeSome(p.fd.get(), iov, n);
    if (r.status == Io::WouldBlock) {
      l.writable = false;
      break;
    }
    if (r.status != Io::Ok) writeFailed(l, r.err);
    size_t head = std::min(r.bytes, kHeaderBytes - t.frameHeaderDone);
    t.frameHeaderDone += head;
    t.done += r.bytes - head;
    t.frameLeft -= r.bytes - head;
    p.midFrame = !t.betweenFrames();
    budget -= std::min(budget, r.bytes);
    moved = true;
  }
  return moved;
}

// The next frame of a send: at most one segment, and only once all its bytes are final.
bool Exchange::startFrame(Transfer& t) {
  uint64_t len = std::min<uint64_t>(segment_, t.bytes - t.done);
  uint64_t limit = t.after ? t.after->ready : t.bytes;
  if (limit < t.done + len) return false;
  t.frame = t.header;
  t.frame.length = len;
  t.frameHeaderDone = 0;
  t.frameLeft = len;
  t.started = true;
  return true;
}

bool Exchange::pullRecvs(Lane& l) {
  // Once everything is done the step has succeeded: what else arrives is for the next operation.
  if (!l.peer || !l.readable || remaining_ == 0) return false;
  bool moved = false;
  size_t budget = 2 * segment_;
  while (!l.recvs.empty() && l.readable && budget > 0) {
    Transfer& t = *l.recvs.front();
    if (t.frameLeft == 0) {
      if (t.started && t.done == t.bytes && t.ready == t.bytes) {
        finish(l.recvs);
        moved = true;
        continue;
      }
      moved |= pump(l);
      if (!l.peer->in.pending) break;
      acceptFrame(l, t);
      moved = true;
      continue;
    }
    size_t got = t.combining ? readCombining(l, t) : readDirect(l, t);
    if (got == 0) break;
    budget -= std::min(budget, got);
    moved = true;
  }
  // Nothing (more) to receive from it in this step: still hear aborts, byes and closes.
  if (l.recvs.empty() && l.readable && remaining_ > 0) moved |= pump(l);
  return moved;
}

// Takes the pending data header for `t` when it is the frame `t` expects next.
void Exchange::acceptFrame(Lane& l, Transfer& t) {
  Inbox& in = l.peer->in;
  std::string why = frameMismatch(mesh_, group_, l.rank, in.header, t.header);
  uint64_t left = t.bytes - t.done;
  if (why.empty() && (in.header.length > left || (in.header.length == 0 && left > 0))) {
    why = strcat("rank ", l.rank, " sent a frame of ", in.header.length, " bytes where this rank (", group_.self(),
                 ") expects ", left, " more of ", describeFrame(t.header), " (mixed Tessera versions?)");
  }
  if (!why.empty()) fail(Code::Mismatch, why);
  in.pending = false;
  t.started = true;
  t.frameLeft = in.header.length;
}

void Exchange::finish(std::deque<Transfer*>& q) {
  q.front()->finished = true;
  q.pop_front();
  --remaining_;
}

size_t Exchange::readDirect(Lane& l, Transfer& t) {
  size_t want = size_t(std::min<uint64_t>(t.frameLeft, segment_));
  size_t got = readInto(l, t.dst + t.done, want);
  t.done += got;
  t.frameLeft -= got;
  t.ready = t.done;
  return got;
}

// Reads into the peer's scratch buffer and combines every whole element into the destination; a
// partial element waits at the start of the buffer for the rest of its bytes.
size_t Exchange::readCombining(Lane& l, Transfer& t) {
  Peer& p = *l.peer;
  const Combine& c = t.combine;
  size_t es = elemSize(c.dtype);
  size_t cap = std::max(es, segment_ / es * es);
  p.scratchFor(cap);
  size_t want = size_t(std::min<uint64_t>(t.frameLeft, cap - l.fill));
  size_t got = readInto(l, p.scratch.data() + l.fill, want);
  if (got == 0) return 0;
  t.done += got;
  t.frameLeft -= got;
  l.fill += got;
  size_t whole = l.fill / es * es;
  if (whole > 0) {
    combine(c.dtype, c.op, c.dst + t.ready, p.scratch.data(), c.other + t.ready, whole / es, c.divisor);
    t.ready += whole;
    std::memmove(p.scratch.data(), p.scratch.data() + whole, l.fill - whole);
    l.fill -= whole;
  }
  return got;
}

bool Exchange::wantsWrite(const Lane& l) const {
  if (l.sends.empty()) return false;
  const Transfer& t = *l.sends.front();
  if (!t.betweenFrames()) return true;
  uint64_t len = std::min<uint64_t>(segment_, t.bytes - t.done);
  uint64_t limit = t.after ? t.after->ready : t.bytes;
  return !(t.started && t.done == t.bytes) && limit >= t.done + len;
}

void Exchange::wait() {
  std::vector<pollfd> fds;
  std::vector<Lane*> owners;
  for (Lane& l : lanes_) {
    if (!l.peer || !l.peer->lost.empty()) continue;
    short events = 0;
    if (!l.readable && (!l.recvs.empty() || !l.peer->in.pending)) events |= POLLIN;
    if (!l.writable && wantsWrite(l)) events |= POLLOUT;
    if (events == 0) continue;
    fds.push_back({l.peer->fd.get(), events, 0});
    owners.push_back(&l);
  }
  int64_t left = group_.deadline() - nowMs();
  if (left <= 0) timedOut();
  if (fds.empty()) fail(Code::Invalid, "internal error: a cpu backend operation on ", group_.describe(), " cannot progress");
  int r = ::poll(fds.data(), fds.size(), int(std::min<int64_t>(left, 1 << 30)));
  if (r < 0 && errno != EINTR) fail(Code::Invalid, "poll() failed: ", errnoName(errno));
  for (size_t i = 0; r > 0 && i < fds.size(); ++i) {
    short ev = fds[i].revents;
    if (ev & (POLLIN | POLLHUP | POLLERR)) owners[i]->readable = true;
    if (ev & (POLLOUT | POLLHUP | POLLERR)) owners[i]->writable = true;
  }
  if (r == 0 && nowMs() >= group_.deadline()) timedOut();
}

void Exchange::timedOut() {
  std::string head = strcat("did not finish within ", seconds(group_.timeoutMs()), "; it was waiting for ");
  for (const Transfer& t : transfers_) {
    if (!t.isSend && !t.finished) {
      fail(Code::Timeout, head, "data from rank ", t.peer, " (is that rank stuck, or did it skip this call?)");
    }
  }
  for (const Transfer& t : transfers_) {
    if (t.isSend && !t.finished) {
      fail(Code::Timeout, head, "rank ", t.peer, " to take its data (is that rank stuck without reading?)");
    }
  }
  fail(Code::Timeout, head, "its peers");
}

// After a failure: a frame half written is finished (its bytes are all there) so the stream stays
// whole and the failure report can follow it; if the peer does not take it in time, the
// connection is cut. The unread rest of a frame half read is skipped by whoever reads it next.
void Exchange::abandon() {
  for (Transfer& t : transfers_) {
    if (t.finished) continue;
    Peer* p = mesh_.find(t.peer);
    if (!p || !p->lost.empty()) continue;
    if (t.isSend && p->midFrame && t.frameHeaderDone > 0 && !t.betweenFrames()) {
      iovec rest[2] = {{reinterpret_cast<char*>(&t.frame) + t.frameHeaderDone, kHeaderBytes - t.frameHeaderDone},
                       {const_cast<char*>(t.src) + t.done, size_t(t.frameLeft)}};
      size_t total = rest[0].iov_len + rest[1].iov_len;
      if (writeWithin(p->fd.get(), rest, 2, kFinishFrameMs) == total) {
        p->midFrame = false;
      } else {
        mesh_.cutWrites(*p, strcat("the connection to rank ", t.peer,
                                   " was cut in the middle of a message by an earlier failure"));
      }
    } else if (!t.isSend && t.frameLeft > 0) {
      p->in.skip += t.frameLeft;
    }
  }
}

}  // namespace ts::cpu::comm
