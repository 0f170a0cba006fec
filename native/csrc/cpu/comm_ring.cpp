// Ring algorithms of the cpu backend. The data is cut into one chunk per member, and chunks travel
// around the ring (member r sends to r+1 and receives from r-1): a reduce-scatter pass combines
// each member's part into the chunk on its way, an all-gather pass hands every finished chunk on.
// Each member sends and receives 2(n-1)/n of the data, whatever the group size. All steps are
// queued in one exchange: a step's send follows the previous step's receive byte by byte, so the
// ring is pipelined without waiting at step boundaries.
//
// In place this is safe: a chunk is only overwritten with values that already include what this
// member sent of it, so every byte leaves before its replacement can arrive.
#include <cstring>
#include <memory>

#include "cpu/comm_exchange.h"
#include "cpu/comm_group.h"

namespace ts::cpu::comm {
namespace {

// Chunk i of n elements split into `parts`: sizes differ by at most one.
uint64_t chunkStart(uint64_t n, int parts, int i) {
  uint64_t p = uint64_t(parts), k = uint64_t(i);
  return (n / p) * k + (n % p) * k / p;
}

}  // namespace

void Group::allReduce(void* data, uint64_t count, DType dt, ReduceOp op) {
  uint64_t seq = seq_++;
  run(strcat("allReduce #", seq), [&] {
    const int n = size();
    if (n == 1) return;
    const size_t es = elemSize(dt);
    char* base = static_cast<char*>(data);
    OpMeta m{OpKind::AllReduce, uint8_t(dt), op, 0, count};
    // Chunk c: its byte offset and length.
    auto chunk = [&](int c) {
      uint64_t a = chunkStart(count, n, c), b = chunkStart(count, n, c + 1);
      return std::make_pair(a * es, (b - a) * es);
    };
    auto header = [&](int c) { return dataHeader(Channel::Collective, gid_, seq, m, chunk(c).second); };
    const int r = index_;
    const int next = ranks_[size_t(mod(r + 1, n))];
    const int prev = ranks_[size_t(mod(r - 1, n))];
    Exchange ex(*this);
    // Reduce-scatter: step s sends chunk r-s-1 and combines the incoming chunk r-s-2 into place;
    // after n-1 steps chunk r holds everyone's contribution (divided there once, for avg).
    const Transfer* last = nullptr;
    for (int s = 0; s < n - 1; ++s) {
      int cs = mod(r - s - 1, n), cr = mod(r - s - 2, n);
      ex.send(next, header(cs), base + chunk(cs).first, last);
      char* at = base + chunk(cr).first;
      int divisor = (s == n - 2 && op == ReduceOp::Avg) ? n : 1;
      last = ex.recvCombine(prev, header(cr), Combine{dt, op, at, at, divisor});
    }
    // All-gather: step s passes finished chunk r-s on and receives finished chunk r-s-1.
    for (int s = 0; s < n - 1; ++s) {
      int cs = mod(r - s, n), cr = mod(r - s - 1, n);
      ex.send(next, header(cs), base + chunk(cs).first, last);
      last = ex.recv(prev, header(cr), base + chunk(cr).first);
    }
    ex.run();
  });
}

void Group::reduceScatter(void* out, const void* in, uint64_t count, DType dt, ReduceOp op) {
  uint64_t seq = seq_++;
  run(strcat("reduceScatter #", seq), [&] {
    const int n = size();
    const size_t bytes = count * elemSize(dt);
    const char* input = static_cast<const char*>(in);
    if (n == 1) {
      if (out != in && bytes) std::memmove(out, in, bytes);
      return;
    }
    OpMeta m{OpKind::ReduceScatter, uint8_t(dt), op, 0, count};
    FrameHeader h = dataHeader(Channel::Collective, gid_, seq, m, bytes);
    const int r = index_;
    const int next = ranks_[size_t(mod(r + 1, n))];
    const int prev = ranks_[size_t(mod(r - 1, n))];
    // Partial sums travel through buffers of their own: the input stays untouched, and the output
    // may be this member's chunk of it (the in-place form), which is read only by the last step.
    std::unique_ptr<char[]> partial(new char[size_t(n - 2) * bytes + 1]);  // uninitialized: each byte is written first
    Exchange ex(*this);
    const Transfer* last = nullptr;
    for (int s = 0; s < n - 1; ++s) {
      int cs = mod(r - s - 1, n), cr = mod(r - s - 2, n);
      const char* src = s == 0 ? input + size_t(cs) * bytes : partial.get() + size_t(s - 1) * bytes;
      ex.send(next, h, src, last);
      bool final = s == n - 2;
      char* dst = final ? static_cast<char*>(out) : partial.get() + size_t(s) * bytes;
      int divisor = (final && op == ReduceOp::Avg) ? n : 1;
      last = ex.recvCombine(prev, h, Combine{dt, op, dst, input + size_t(cr) * bytes, divisor});
    }
    ex.run();
  });
}

void Group::allGather(void* out, const void* in, uint64_t count, DType dt) {
  uint64_t seq = seq_++;
  run(strcat("allGather #", seq), [&] {
    const int n = size();
    const size_t bytes = count * elemSize(dt);
    char* output = static_cast<char*>(out);
    const int r = index_;
    char* mine = output + size_t(r) * bytes;
    if (mine != in && bytes) std::memmove(mine, in, bytes);
    if (n == 1) return;
    OpMeta m{OpKind::AllGather, uint8_t(dt), ReduceOp::None, 0, count};
    FrameHeader h = dataHeader(Channel::Collective, gid_, seq, m, bytes);
    const int next = ranks_[size_t(mod(r + 1, n))];
    const int prev = ranks_[size_t(mod(r - 1, n))];
    Exchange ex(*this);
    const Transfer* last = nullptr;
    for (int s = 0; s < n - 1; ++s) {
      int cs = mod(r - s, n), cr = mod(r - s - 1, n);
      ex.send(next, h, output + size_t(cs) * bytes, last);
      last = ex.recv(prev, h, output + size_t(cr) * bytes);
    }
    ex.run();
  });
}

}  // namespace ts::cpu::comm
