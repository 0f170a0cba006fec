// What an exchange reads that no transfer asked for: skipped payloads, abort messages, byes, the
// next data header (kept pending for the operation it belongs to), and the end of a connection,
// which is fatal only when the running step needs that peer.
#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "cpu/comm_error.h"
#include "cpu/comm_exchange.h"
#include "cpu/comm_group.h"

namespace ts::cpu::comm {
namespace {

constexpr uint64_t kMaxNote = 1 << 20;  // longest abort message accepted
// How long a rank that lost a peer listens for another member's failure report before it names
// the lost peer: the report is usually on its way, sent at once by whoever failed first.
constexpr int64_t kReportGraceMs = 200;

std::string goneMessage(const Peer& p, int err) {
  std::string s = p.saidBye ? strcat("rank ", p.rank, " has shut down its process groups (destroy()) and sends nothing more")
                            : strcat("rank ", p.rank, " exited or crashed: its connection closed unexpectedly");
  if (!p.saidBye && err != 0) s += strcat(" (", errnoName(err), ")");
  if (!p.reported.empty()) s += strcat("; before that it reported a failure: ", p.reported);
  return s;
}

}  // namespace

// Reads what no transfer has asked for: skipped payloads, abort messages, byes, and the next data
// header, which then stays pending for the transfer it belongs to.
bool Exchange::pump(Lane& l) {
  Peer& p = *l.peer;
  Inbox& in = p.in;
  bool moved = false;
  while (l.readable && p.lost.empty()) {
    if (in.skip > 0) {
      p.scratchFor(segment_);
      size_t got = readInto(l, p.scratch.data(), size_t(std::min<uint64_t>(in.skip, segment_)));
      in.skip -= got;
      moved |= got > 0;
      continue;
    }
    if (in.readingNote) {
      char buf[4096];
      size_t got = readInto(l, buf, size_t(std::min<uint64_t>(in.noteLeft, sizeof(buf))));
      in.note.append(buf, got);
      in.noteLeft -= got;
      moved |= got > 0;
      if (in.noteLeft == 0) {
        in.readingNote = false;
        aborted(p, in.noteHeader, in.note);
      }
      continue;
    }
    if (in.pending) {
      // A frame of a group that failed (or was destroyed) here: nobody will take it.
      Group* g = mesh_.groupById(in.header.gid);
      if (g && g != &group_ && g->broken()) {
        in.skip = in.header.length;
        in.pending = false;
        moved = true;
        continue;
      }
      break;
    }
    size_t got = readInto(l, in.head + in.headFill, kHeaderBytes - in.headFill);
    if (got == 0) continue;
    moved = true;
    in.headFill += got;
    if (in.headFill < kHeaderBytes) continue;
    in.headFill = 0;
    FrameHeader h;
    std::memcpy(&h, in.head, kHeaderBytes);
    if (h.magic != kFrameMagic) corrupt(l);
    switch (FrameType(h.type)) {
      case FrameType::Bye:
        p.saidBye = true;
        break;
      case FrameType::Abort:
        if (h.length > kMaxNote) corrupt(l);
        in.readingNote = h.length > 0;
        in.noteHeader = h;
        in.note.clear();
        in.noteLeft = h.length;
        if (h.length == 0) aborted(p, h, "");
        break;
      case FrameType::Data:
        in.pending = true;
        in.header = h;
        break;
      default:
        corrupt(l);
    }
  }
  return moved;
}

size_t Exchange::readInto(Lane& l, void* buf, size_t n) {
  IoResult r = readSome(l.peer->fd.get(), buf, n);
  if (r.status == Io::Ok) return r.bytes;
  if (r.status == Io::WouldBlock) {
    l.readable = false;
    return 0;
  }
  closed(l, r.status == Io::Failed ? r.err : 0);
  return 0;
}

// The peer's connection ended. Fatal when this step needs the peer; a watched peer is only
// marked, and whoever needs it later gets the reason.
void Exchange::closed(Lane& l, int err) {
  Peer& p = *l.peer;
  const Inbox& in = p.in;
  bool torn = in.headFill > 0 || in.readingNote || in.skip > 0 || (!l.recvs.empty() && l.recvs.front()->frameLeft > 0);
  p.lost = torn ? strcat("rank ", p.rank,
                         " closed its connection in the middle of a message (it failed or exited; see its own error)")
                : goneMessage(p, err);
  l.readable = false;
  if (!l.sends.empty() || !l.recvs.empty()) peerLost(p.lost);
}

void Exchange::writeFailed(Lane& l, int err) {
  Peer& p = *l.peer;
  // It may have said why before it went: a bye, or an abort of this operation.
  l.readable = true;
  pump(l);
  if (p.lost.empty()) p.lost = goneMessage(p, err);
  peerLost(p.lost);
}

// A peer this step needs is gone. Often it went because it failed on another member's report
// (a mismatch, say) and exited without passing the report on; that report is the cause worth
// naming, and it is already sent or on its way. So before failing with PEER_LOST, read what the
// other members have sent, for a short while: their report or mismatching frame fails the
// operation with its own code and message instead.
void Exchange::peerLost(const std::string& why) {
  if (draining_) fail(Code::PeerLost, why);
  draining_ = true;
  const int64_t until = nowMs() + kReportGraceMs;
  for (;;) {
    std::vector<pollfd> fds;
    for (Lane& l : lanes_) {
      if (!l.peer || !l.peer->lost.empty()) continue;
      try {
        hear(l);
      } catch (const CommError& e) {
        if (e.code != Code::PeerLost) throw;
        continue;
      }
      // A frame of a later operation waits at the head of this connection: nothing behind it
      // can be read now.
      if (!l.peer->lost.empty() || l.peer->in.pending) continue;
      fds.push_back({l.peer->fd.get(), POLLIN, 0});
    }
    const int64_t left = until - nowMs();
    if (fds.empty() || left <= 0) break;
    int r = ::poll(fds.data(), fds.size(), int(left));
    if (r < 0 && errno != EINTR) break;
    if (r == 0) break;
  }
  fail(Code::PeerLost, why);
}

// Reads what a member has sent without blocking: the data this step expects from it (which may
// turn out to mismatch) and any report behind it.
void Exchange::hear(Lane& l) {
  l.readable = true;
  if (l.recvs.empty()) {
    pump(l);
    return;
  }
  while (l.readable && pullRecvs(l)) {
  }
}

void Exchange::corrupt(Lane& l) {
  Peer& p = *l.peer;
  p.lost = strcat("rank ", p.rank, " sent bytes that are not a frame of the cpu backend (its connection lost its ",
                  "place after an earlier failure); the connection is closed");
  ::shutdown(p.fd.get(), SHUT_RDWR);
  l.readable = false;
  fail(Code::PeerLost, p.lost);
}

void Exchange::aborted(Peer& p, const FrameHeader& h, const std::string& note) {
  std::string message = strcat("rank ", p.rank, " reported a failure: ", note);
  p.reported = note;
  Group* g = mesh_.groupById(h.gid);
  if (g == &group_) fail(Code::Aborted, message);
  if (g) g->breakWith(Code::Aborted, message);
}

}  // namespace ts::cpu::comm
