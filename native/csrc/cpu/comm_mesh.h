// The cpu backend's connections: one socket per pair of ranks, shared by every cpu process group
// of the job, plus the groups themselves. One Mesh per process, made by listen() (the job's first
// cpu group) and gone after close() (destroy()). Everything runs on the JS thread, one operation
// at a time, so nothing here is locked.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "cpu/comm_frame.h"
#include "cpu/comm_socket.h"

namespace ts::cpu::comm {

class Group;

// What has been read from a peer that no transfer has taken yet.
struct Inbox {
  uint8_t head[kHeaderBytes];
  size_t headFill = 0;      // bytes of the next header read so far
  bool pending = false;     // `header` is a data frame waiting for the operation it belongs to
  FrameHeader header{};
  uint64_t skip = 0;        // payload bytes to throw away (frames of a failed or destroyed group)
  bool readingNote = false; // an abort frame's message is being read
  FrameHeader noteHeader{};
  std::string note;
  uint64_t noteLeft = 0;
};

struct Peer {
  int rank = -1;
  Fd fd;
  bool tcp = false;
  Inbox in;
  bool midFrame = false;       // our last frame to it is only partly written
  bool saidBye = false;        // it shut down on purpose (destroy())
  std::string lost;            // why it can no longer be reached (empty while it can)
  std::string writeBroken;     // why nothing more may be written to it (a frame was cut short)
  std::string reported;        // the last failure it reported (for the message when it goes)
  std::vector<char> scratch;   // reduction and discard buffer for what it sends

  char* scratchFor(size_t bytes) {
    if (scratch.size() < bytes) scratch.resize(bytes);
    return scratch.data();
  }
};

struct PeerAddress {
  int rank;
  std::string host;      // higher ranks: empty (they dial this rank)
  int port;
  std::string unixName;  // empty: TCP only
};

class Mesh {
 public:
  Mesh(int rank, int worldSize, std::string token);
  ~Mesh();

  int rank() const { return rank_; }
  int worldSize() const { return worldSize_; }

  // Opens the listening sockets; returns the TCP port and the Unix-domain name ("" when none).
  std::pair<int, std::string> listen(const std::string& host, const std::string& unixName);
  // Connects every listed peer that is not connected yet: this rank dials the lower ranks and
  // waits for the higher ones, within the deadline (comm_connect.cpp).
  void connect(const std::vector<PeerAddress>& peers, int64_t timeoutMs);

  // The connection to a rank, or a PEER_LOST / INVALID error naming it.
  Peer& peer(int rank);
  // The connection to a rank (possibly lost), or nullptr when there is none.
  Peer* find(int rank) { return rank >= 0 && rank < worldSize_ ? peers_[size_t(rank)].get() : nullptr; }

  uint32_t addGroup(std::unique_ptr<Group> g);
  Group& group(uint32_t handle);
  // The group with this id, or nullptr when this rank has not created it.
  Group* groupById(uint64_t gid);

  // Writes a whole abort or bye frame, waiting at most waitMs for room; a frame that cannot be
  // finished cuts the connection (the peer then sees it close instead of a torn frame).
  void sendControl(Peer& p, FrameType type, uint64_t gid, const std::string& body, int64_t waitMs);
  // Marks nothing more writable to `p`; the peer sees the connection close.
  void cutWrites(Peer& p, const std::string& why);

  // Says bye to every peer and closes every connection.
  void close();

 private:
  friend class MeshBuilder;
  int rank_;
  int worldSize_;
  std::string token_;
  Fd tcpListener_;
  Fd unixListener_;
  std::vector<std::unique_ptr<Peer>> peers_;  // by global rank
  std::vector<std::unique_ptr<Group>> groups_;  // handle h is groups_[h - 1]
  std::unordered_map<uint64_t, Group*> byGid_;
};

// The process's mesh: open it once per job, close it at destroy().
Mesh& openMesh(int rank, int worldSize, const std::string& token);
Mesh& mesh();
void closeMesh();

}  // namespace ts::cpu::comm
