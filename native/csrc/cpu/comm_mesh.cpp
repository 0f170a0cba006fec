// The process's mesh of connections and its groups (see comm_mesh.h); building it is in
// comm_connect.cpp.
#include "cpu/comm_mesh.h"

#include <sys/socket.h>

#include "cpu/comm_error.h"
#include "cpu/comm_group.h"

namespace ts::cpu::comm {

namespace {
std::unique_ptr<Mesh> g_mesh;
}

Mesh::Mesh(int rank, int worldSize, std::string token) : rank_(rank), worldSize_(worldSize), token_(std::move(token)) {
  peers_.resize(size_t(worldSize));
}

Mesh::~Mesh() = default;

std::pair<int, std::string> Mesh::listen(const std::string& host, const std::string& unixName) {
  int port = 0;
  tcpListener_ = listenTcp(host, &port);
  std::string name;
  if (!unixName.empty()) {
    unixListener_ = listenUnix(unixName);
    if (unixListener_) name = unixName;  // else peers on this host use TCP like the others
  }
  return {port, name};
}

Peer& Mesh::peer(int rank) {
  Peer* p = rank >= 0 && rank < worldSize_ ? peers_[size_t(rank)].get() : nullptr;
  if (!p) fail(Code::Invalid, "rank ", rank_, " has no connection to rank ", rank, " (it is in no cpu group with it)");
  if (!p->lost.empty()) fail(Code::PeerLost, p->lost);
  return *p;
}

uint32_t Mesh::addGroup(std::unique_ptr<Group> g) {
  uint64_t gid = g->gid();
  if (byGid_.count(gid)) {
    fail(Code::Invalid, "two cpu process groups have the same id; create groups with distinct rank lists or keys");
  }
  byGid_[gid] = g.get();
  groups_.push_back(std::move(g));
  return uint32_t(groups_.size());
}

Group& Mesh::group(uint32_t handle) {
  if (handle == 0 || handle > groups_.size()) fail(Code::Invalid, "unknown cpu process group handle ", handle);
  return *groups_[handle - 1];
}

Group* Mesh::groupById(uint64_t gid) {
  auto it = byGid_.find(gid);
  return it == byGid_.end() ? nullptr : it->second;
}

void Mesh::cutWrites(Peer& p, const std::string& why) {
  if (!p.writeBroken.empty()) return;
  p.writeBroken = why;
  p.midFrame = false;
  if (p.fd) ::shutdown(p.fd.get(), SHUT_WR);
}

void Mesh::sendControl(Peer& p, FrameType type, uint64_t gid, const std::string& body, int64_t waitMs) {
  if (!p.fd || !p.lost.empty() || !p.writeBroken.empty() || p.midFrame) return;
  FrameHeader h = controlHeader(type, gid, body.size());
  iovec pieces[2] = {{&h, kHeaderBytes}, {const_cast<char*>(body.data()), body.size()}};
  size_t done = writeWithin(p.fd.get(), pieces, 2, waitMs);
  if (done > 0 && done < kHeaderBytes + body.size()) {
    cutWrites(p, strcat("the connection to rank ", p.rank, " was cut: a failure report to it could not be finished"));
  }
}

void Mesh::close() {
  for (auto& p : peers_) {
    if (!p || !p->fd) continue;
    sendControl(*p, FrameType::Bye, 0, "", 100);
    ::shutdown(p->fd.get(), SHUT_WR);
    // Read what is left: closing with unread bytes would reset the connection, and the peer could
    // lose the bye and think this rank crashed.
    char sink[65536];
    for (int i = 0; i < 1024 && readSome(p->fd.get(), sink, sizeof(sink)).status == Io::Ok; ++i) {
    }
    p->fd.reset();
  }
  tcpListener_.reset();
  unixListener_.reset();
}

Mesh& openMesh(int rank, int worldSize, const std::string& token) {
  if (g_mesh) {
    fail(Code::Invalid, "the cpu backend is already running in this process (one job per process): call destroy() on the "
                        "earlier job first");
  }
  g_mesh = std::make_unique<Mesh>(rank, worldSize, token);
  return *g_mesh;
}

Mesh& mesh() {
  if (!g_mesh) {
    fail(Code::Closed, "the cpu backend is not running in this process (its job was destroyed, or never initialized)");
  }
  return *g_mesh;
}

void closeMesh() {
  if (!g_mesh) return;
  g_mesh->close();
  g_mesh.reset();
}

}  // namespace ts::cpu::comm
