// One step of a cpu backend operation: sends and receives with several peers that all progress in
// one poll() loop over non-blocking sockets, so that neighbours that both send and receive never
// wait on each other, whatever the message sizes. Transfers with one peer run in the order they
// were added (per direction). A send may follow a receive (`after`): it sends only the bytes that
// receive has made final, which pipelines rings and chains segment by segment.
//
// A transfer travels as frames of at most one segment each, and a frame is started only once all
// of its bytes are there. So a rank that fails can always finish the frame it is writing and then
// tell its peers why (an abort frame), instead of leaving them with a torn message.
//
// While it runs, the exchange also reads from every other member of the group: an abort frame
// fails the operation at once, a closed connection is noticed, and the next frame of a later
// operation waits (pending) for it. After a failure, the rest of a half-read frame is skipped by
// whoever reads that peer next.
#pragma once
#include <cstdint>
#include <deque>
#include <vector>

#include "core/dtype.h"
#include "cpu/comm_frame.h"
#include "cpu/comm_mesh.h"

namespace ts::cpu::comm {

class Group;

// dst[i] = op(received[i], other[i]) (other may be dst), divided by `divisor` when above 1.
struct Combine {
  DType dtype;
  ReduceOp op;
  char* dst;
  const char* other;
  int divisor;
};

struct Transfer {
  bool isSend = false;
  int peer = -1;            // global rank
  FrameHeader header{};     // what every frame of it carries (length: the whole payload)
  uint64_t bytes = 0;       // payload bytes
  const char* src = nullptr;          // send: the payload
  const Transfer* after = nullptr;    // send: only what this receive has made final
  char* dst = nullptr;                // receive: straight into memory,
  bool combining = false;             // or through the peer's scratch buffer and `combine`
  Combine combine{};
  bool started = false;     // a first frame went or came (an empty payload still takes one)
  uint64_t done = 0;        // payload bytes written or read
  uint64_t ready = 0;       // receive: payload bytes final in memory
  FrameHeader frame{};      // send: the frame being written
  size_t frameHeaderDone = kHeaderBytes;  // send: its header bytes written
  uint64_t frameLeft = 0;   // payload bytes of the current frame still to write or read
  bool finished = false;

  bool betweenFrames() const { return frameHeaderDone == kHeaderBytes && frameLeft == 0; }
};

class Exchange {
 public:
  explicit Exchange(Group& group);

  const Transfer* send(int peer, const FrameHeader& h, const void* src, const Transfer* after = nullptr);
  const Transfer* recv(int peer, const FrameHeader& expect, void* dst);
  const Transfer* recvCombine(int peer, const FrameHeader& expect, const Combine& c);
  // Returns when every transfer has finished; throws a CommError otherwise.
  void run();

 private:
  struct Lane {
    int rank;
    Peer* peer = nullptr;
    std::deque<Transfer*> sends;
    std::deque<Transfer*> recvs;
    bool readable = true;  // false after a read would block, until poll() says otherwise
    bool writable = true;
    size_t fill = 0;       // bytes in the peer's scratch buffer (a combining receive)
  };

  Transfer& add(int peer, bool isSend, const FrameHeader& h);
  Lane& lane(int rank);
  void bind();
  bool pushSends(Lane& l);
  bool startFrame(Transfer& t);
  void acceptFrame(Lane& l, Transfer& t);
  bool pullRecvs(Lane& l);
  bool pump(Lane& l);
  size_t readInto(Lane& l, void* buf, size_t n);
  size_t readDirect(Lane& l, Transfer& t);
  size_t readCombining(Lane& l, Transfer& t);
  void finish(std::deque<Transfer*>& q);
  bool wantsWrite(const Lane& l) const;
  void wait();
  void closed(Lane& l, int err);
  [[noreturn]] void writeFailed(Lane& l, int err);
  [[noreturn]] void peerLost(const std::string& why);
  void hear(Lane& l);
  [[noreturn]] void corrupt(Lane& l);
  void aborted(Peer& p, const FrameHeader& h, const std::string& note);
  [[noreturn]] void timedOut();
  void abandon();

  Group& group_;
  Mesh& mesh_;
  size_t segment_;
  std::deque<Transfer> transfers_;  // stable addresses: `after` points into it
  std::vector<Lane> lanes_;         // one per other member of the group
  size_t remaining_ = 0;
  bool draining_ = false;  // peerLost() is reading the other members' reports
};

}  // namespace ts::cpu::comm
