// Storage: untyped memory on one device, named from JS by an integer handle (never a pointer).
// device -1 is host memory; 0..N-1 are CUDA devices.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace ts {

constexpr int kCpu = -1;

struct Storage {
  void* ptr = nullptr;
  size_t bytes = 0;
  int device = kCpu;
  bool live = false;
};

struct MemoryStats {
  uint64_t allocated = 0;     // bytes in live storages
  uint64_t peak = 0;          // highest `allocated` since the last reset
  uint64_t reserved = 0;      // bytes held by the allocator (the CUDA pool), >= allocated
  uint64_t allocations = 0;   // live storages
};

uint32_t allocStorage(int device, size_t bytes);
void freeStorage(uint32_t handle);
const Storage& storage(uint32_t handle);   // throws for an unknown or freed handle
uint64_t liveStorageCount();
MemoryStats memoryStats(int device);
void resetPeak(int device);

}  // namespace ts
