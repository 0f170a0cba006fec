// The CUDA side of devices, memory, streams and events, with plain C++ types so the binding
// (compiled by the host compiler) needs no CUDA headers. Streams and events are integer handles.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace ts::cuda {

int deviceCount();
void setDevice(int device);  // makes `device` current for the kernels that follow (cached)
int currentDevice();

struct DeviceProps {
  std::string name;
  int major = 0, minor = 0, multiprocessors = 0;
  uint64_t totalMemory = 0, l2CacheBytes = 0, sharedMemPerBlockOptin = 0;
  int clockKHz = 0, memoryClockKHz = 0, memoryBusWidth = 0;
};
DeviceProps deviceProps(int device);

// Stream-ordered pool allocation on the device's current stream.
void* deviceAlloc(int device, size_t bytes);
void deviceFree(int device, void* ptr);
uint64_t poolReservedBytes(int device);
void emptyCache(int device);

// Copies between any two places (device -1 is host memory). Copies that touch host memory
// complete before returning; device-to-device copies are enqueued on the current stream.
void copy(void* dst, int dstDevice, const void* src, int srcDevice, size_t bytes);

uint32_t streamCreate(int device);
void streamDestroy(uint32_t stream);
uint32_t currentStream(int device);
void setCurrentStream(int device, uint32_t stream);
void streamSynchronize(uint32_t stream);
void deviceSynchronize(int device);

uint32_t eventCreate(int device, bool timing);
void eventDestroy(uint32_t event);
void eventRecord(uint32_t event, uint32_t stream);
void eventSynchronize(uint32_t event);
bool eventQuery(uint32_t event);
double eventElapsedMs(uint32_t start, uint32_t end);
void streamWaitEvent(uint32_t stream, uint32_t event);

// Kernels that find a bad input (an index out of range) record it in a device word instead of
// trapping; synchronizing calls check it and throw with the op's name and the bad value.
void checkDeviceErrors(int device);

}  // namespace ts::cuda
