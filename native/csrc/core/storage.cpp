#include "core/storage.h"

#include <cstdlib>
#include <map>

#include "core/error.h"
#ifdef TESSERA_CUDA
#include "cuda/runtime.h"
#endif

namespace ts {
namespace {

std::vector<Storage> g_slots(1);  // slot 0 is never handed out
std::vector<uint32_t> g_freeSlots;
uint64_t g_live = 0;
std::map<int, MemoryStats> g_stats;

void* hostAlloc(size_t bytes) {
  if (bytes == 0) return nullptr;
  size_t rounded = (bytes + 63) / 64 * 64;
  void* p = std::aligned_alloc(64, rounded);
  TS_CHECK(p, "out of host memory: could not allocate ", bytes, " bytes");
  return p;
}

}  // namespace

uint32_t allocStorage(int device, size_t bytes) {
  void* ptr = nullptr;
  if (device == kCpu) {
    ptr = hostAlloc(bytes);
  } else {
#ifdef TESSERA_CUDA
    ptr = cuda::deviceAlloc(device, bytes);
#else
    throw Error(strcat("cannot allocate on cuda:", device,
                       ": this is the CPU build of @tessera/native (rebuild with TESSERA_CUDA=ON on a CUDA machine)"));
#endif
  }
  uint32_t h;
  if (!g_freeSlots.empty()) {
    h = g_freeSlots.back();
    g_freeSlots.pop_back();
  } else {
    h = uint32_t(g_slots.size());
    g_slots.emplace_back();
  }
  g_slots[h] = Storage{ptr, bytes, device, true};
  MemoryStats& s = g_stats[device];
  s.allocated += bytes;
  s.allocations += 1;
  if (s.allocated > s.peak) s.peak = s.allocated;
  ++g_live;
  return h;
}

const Storage& storage(uint32_t handle) {
  TS_CHECK(handle > 0 && handle < g_slots.size() && g_slots[handle].live,
           "storage handle ", handle, " is not live (freed twice, or used after free)");
  return g_slots[handle];
}

void freeStorage(uint32_t handle) {
  const Storage& st = storage(handle);
  if (st.device == kCpu) {
    std::free(st.ptr);
  } else {
#ifdef TESSERA_CUDA
    cuda::deviceFree(st.device, st.ptr);
#endif
  }
  MemoryStats& s = g_stats[st.device];
  s.allocated -= st.bytes;
  s.allocations -= 1;
  g_slots[handle] = Storage{};
  g_freeSlots.push_back(handle);
  --g_live;
}

uint64_t liveStorageCount() { return g_live; }

MemoryStats memoryStats(int device) {
  MemoryStats s = g_stats[device];
  s.reserved = s.allocated;
#ifdef TESSERA_CUDA
  if (device != kCpu) s.reserved = cuda::poolReservedBytes(device);
#endif
  return s;
}

void resetPeak(int device) {
  MemoryStats& s = g_stats[device];
  s.peak = s.allocated;
}

}  // namespace ts
