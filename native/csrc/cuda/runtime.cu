#include <cstdint>
#include <limits>
#include <vector>

#include "cuda/common.cuh"

namespace ts::cuda {
namespace {

struct DeviceState {
  bool initialized = false;
  cudaMemPool_t pool = nullptr;
  uint32_t computeStream = 0;  // handle of the stream created at init
  uint32_t current = 0;        // handle of the current stream
  long long* errorWord = nullptr;
  int multiprocessors = 0;
};

struct StreamSlot { cudaStream_t s = nullptr; int device = -1; bool live = false; bool owned = false; };
struct EventSlot { cudaEvent_t e = nullptr; int device = -1; bool live = false; };

std::vector<DeviceState> g_devices;
std::vector<StreamSlot> g_streams(1);
std::vector<EventSlot> g_events(1);
int g_current = -1;

int countDevices() {
  int n = 0;
  cudaError_t err = cudaGetDeviceCount(&n);
  if (err != cudaSuccess) {
    cudaGetLastError();  // clear the sticky "no device" error
    return 0;
  }
  return n;
}

DeviceState& state(int device) {
  if (g_devices.empty()) g_devices.resize(size_t(countDevices()));
  TS_CHECK(device >= 0 && device < int(g_devices.size()), "cuda:", device, " does not exist (",
           g_devices.size(), " CUDA device(s) visible; check CUDA_VISIBLE_DEVICES)");
  DeviceState& st = g_devices[size_t(device)];
  if (!st.initialized) {
    TS_CUDA_CHECK(cudaSetDevice(device), "cudaSetDevice");
    g_current = device;
    TS_CUDA_CHECK(cudaDeviceGetDefaultMemPool(&st.pool, device), "cudaDeviceGetDefaultMemPool");
    // Keep freed blocks in the pool (like a caching allocator) instead of returning them at sync.
    uint64_t threshold = std::numeric_limits<uint64_t>::max();
    TS_CUDA_CHECK(cudaMemPoolSetAttribute(st.pool, cudaMemPoolAttrReleaseThreshold, &threshold),
                  "cudaMemPoolSetAttribute");
    cudaStream_t s;
    TS_CUDA_CHECK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking), "cudaStreamCreate");
    g_streams.push_back(StreamSlot{s, device, true, true});
    st.computeStream = st.current = uint32_t(g_streams.size() - 1);
    TS_CUDA_CHECK(cudaMalloc(&st.errorWord, 3 * sizeof(long long)), "cudaMalloc(error word)");
    TS_CUDA_CHECK(cudaMemset(st.errorWord, 0, 3 * sizeof(long long)), "cudaMemset(error word)");
    TS_CUDA_CHECK(cudaDeviceGetAttribute(&st.multiprocessors, cudaDevAttrMultiProcessorCount, device),
                  "cudaDeviceGetAttribute");
    st.initialized = true;
  }
  return st;
}

StreamSlot& streamSlot(uint32_t h) {
  TS_CHECK(h > 0 && h < g_streams.size() && g_streams[h].live, "stream handle ", h, " is not live");
  return g_streams[h];
}
EventSlot& eventSlot(uint32_t h) {
  TS_CHECK(h > 0 && h < g_events.size() && g_events[h].live, "event handle ", h, " is not live");
  return g_events[h];
}

// Makes the device current only for the duration of a call, restoring the previous one.
struct DeviceGuard {
  int previous;
  explicit DeviceGuard(int device) : previous(g_current) { setDevice(device); }
  ~DeviceGuard() {
    if (previous >= 0 && previous != g_current) {
      cudaSetDevice(previous);
      g_current = previous;
    }
  }
};

const char* errorName(long long code) {
  switch (code) {
    case kErrIndexOutOfRange: return "an index is out of range (index-select, embedding, gather or scatter)";
    case kErrLabelOutOfRange: return "a label is out of range in cross entropy";
    default: return "a kernel reported an unknown error";
  }
}

}  // namespace

int deviceCount() {
  if (g_devices.empty()) g_devices.resize(size_t(countDevices()));
  return int(g_devices.size());
}

void setDevice(int device) {
  state(device);
  if (g_current != device) {
    TS_CUDA_CHECK(cudaSetDevice(device), "cudaSetDevice");
    g_current = device;
  }
}

int currentDevice() { return g_current; }

DeviceProps deviceProps(int device) {
  state(device);
  cudaDeviceProp p;
  TS_CUDA_CHECK(cudaGetDeviceProperties(&p, device), "cudaGetDeviceProperties");
  DeviceProps d;
  d.name = p.name;
  d.major = p.major;
  d.minor = p.minor;
  d.multiprocessors = p.multiProcessorCount;
  d.totalMemory = p.totalGlobalMem;
  d.l2CacheBytes = uint64_t(p.l2CacheSize);
  d.sharedMemPerBlockOptin = p.sharedMemPerBlockOptin;
  cudaDeviceGetAttribute(&d.clockKHz, cudaDevAttrClockRate, device);
  cudaDeviceGetAttribute(&d.memoryClockKHz, cudaDevAttrMemoryClockRate, device);
  cudaDeviceGetAttribute(&d.memoryBusWidth, cudaDevAttrGlobalMemoryBusWidth, device);
  return d;
}

void* deviceAlloc(int device, size_t bytes) {
  if (bytes == 0) return nullptr;
  DeviceGuard guard(device);
  void* p = nullptr;
  cudaError_t err = cudaMallocAsync(&p, bytes, stream());
  if (err != cudaSuccess) {
    cudaGetLastError();
    size_t freeB = 0, totalB = 0;
    cudaMemGetInfo(&freeB, &totalB);
    throw Error(strcat("CUDA out of memory on cuda:", device, ": tried to allocate ", bytes, " bytes; ",
                       freeB, " of ", totalB, " bytes free (", cudaGetErrorString(err),
                       "). Reduce the batch size or free tensors you no longer need."));
  }
  return p;
}

void deviceFree(int device, void* ptr) {
  if (!ptr) return;
  DeviceGuard guard(device);
  TS_CUDA_CHECK(cudaFreeAsync(ptr, stream()), "cudaFreeAsync");
}

uint64_t poolReservedBytes(int device) {
  DeviceState& st = state(device);
  uint64_t v = 0;
  TS_CUDA_CHECK(cudaMemPoolGetAttribute(st.pool, cudaMemPoolAttrReservedMemCurrent, &v), "cudaMemPoolGetAttribute");
  return v;
}

void emptyCache(int device) {
  DeviceState& st = state(device);
  deviceSynchronize(device);
  TS_CUDA_CHECK(cudaMemPoolTrimTo(st.pool, 0), "cudaMemPoolTrimTo");
}

void copy(void* dst, int dstDevice, const void* src, int srcDevice, size_t bytes) {
  if (bytes == 0) return;
  int device = dstDevice >= 0 ? dstDevice : srcDevice;
  DeviceGuard guard(device);
  cudaStream_t s = stream();
  TS_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDefault, s), "copy");
  if (dstDevice < 0 || srcDevice < 0) {
    TS_CUDA_CHECK(cudaStreamSynchronize(s), "copy (synchronize)");
    if (dstDevice < 0) checkDeviceErrors(device);
  }
}

uint32_t streamCreate(int device) {
  DeviceGuard guard(device);
  cudaStream_t s;
  TS_CUDA_CHECK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking), "cudaStreamCreate");
  g_streams.push_back(StreamSlot{s, device, true, true});
  return uint32_t(g_streams.size() - 1);
}

void streamDestroy(uint32_t h) {
  StreamSlot& slot = streamSlot(h);
  DeviceState& st = state(slot.device);
  TS_CHECK(h != st.computeStream, "the default compute stream of cuda:", slot.device, " cannot be destroyed");
  TS_CHECK(h != st.current, "stream ", h, " is the current stream of cuda:", slot.device,
           "; make another stream current first");
  TS_CUDA_CHECK(cudaStreamDestroy(slot.s), "cudaStreamDestroy");
  slot = StreamSlot{};
}

uint32_t currentStream(int device) { return state(device).current; }

void setCurrentStream(int device, uint32_t h) {
  StreamSlot& slot = streamSlot(h);
  TS_CHECK(slot.device == device, "stream ", h, " belongs to cuda:", slot.device, ", not cuda:", device);
  state(device).current = h;
}

void streamSynchronize(uint32_t h) {
  StreamSlot& slot = streamSlot(h);
  TS_CUDA_CHECK(cudaStreamSynchronize(slot.s), "cudaStreamSynchronize");
  DeviceGuard guard(slot.device);
  checkDeviceErrors(slot.device);
}

void deviceSynchronize(int device) {
  DeviceGuard guard(device);
  TS_CUDA_CHECK(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
  checkDeviceErrors(device);
}

uint32_t eventCreate(int device, bool timing) {
  DeviceGuard guard(device);
  cudaEvent_t e;
  TS_CUDA_CHECK(cudaEventCreateWithFlags(&e, timing ? cudaEventDefault : cudaEventDisableTiming), "cudaEventCreate");
  g_events.push_back(EventSlot{e, device, true});
  return uint32_t(g_events.size() - 1);
}

void eventDestroy(uint32_t h) {
  EventSlot& slot = eventSlot(h);
  TS_CUDA_CHECK(cudaEventDestroy(slot.e), "cudaEventDestroy");
  slot = EventSlot{};
}

void eventRecord(uint32_t ev, uint32_t st) {
  TS_CUDA_CHECK(cudaEventRecord(eventSlot(ev).e, streamSlot(st).s), "cudaEventRecord");
}

void eventSynchronize(uint32_t ev) { TS_CUDA_CHECK(cudaEventSynchronize(eventSlot(ev).e), "cudaEventSynchronize"); }

bool eventQuery(uint32_t ev) {
  cudaError_t err = cudaEventQuery(eventSlot(ev).e);
  if (err == cudaErrorNotReady) return false;
  TS_CUDA_CHECK(err, "cudaEventQuery");
  return true;
}

double eventElapsedMs(uint32_t a, uint32_t b) {
  float ms = 0;
  TS_CUDA_CHECK(cudaEventElapsedTime(&ms, eventSlot(a).e, eventSlot(b).e), "cudaEventElapsedTime");
  return ms;
}

void streamWaitEvent(uint32_t st, uint32_t ev) {
  TS_CUDA_CHECK(cudaStreamWaitEvent(streamSlot(st).s, eventSlot(ev).e, 0), "cudaStreamWaitEvent");
}

void checkDeviceErrors(int device) {
  DeviceState& st = state(device);
  long long word[3] = {0, 0, 0};
  TS_CUDA_CHECK(cudaMemcpy(word, st.errorWord, sizeof(word), cudaMemcpyDeviceToHost), "reading the device error word");
  if (word[0] != 0) {
    TS_CUDA_CHECK(cudaMemset(st.errorWord, 0, sizeof(word)), "clearing the device error word");
    throw Error(strcat("cuda:", device, ": ", errorName(word[0]), ": got ", word[1], ", valid range [0, ",
                       word[2], "). The affected output was left incomplete."));
  }
}

// ---- helpers for kernel files -------------------------------------------------------------------
cudaStream_t stream() {
  TS_CHECK(g_current >= 0, "no CUDA device is current");
  return streamSlot(g_devices[size_t(g_current)].current).s;
}

cudaStream_t rawStream(uint32_t handle) { return streamSlot(handle).s; }

int multiprocessorCount() { return g_devices[size_t(g_current)].multiprocessors; }

long long* errorWord() { return g_devices[size_t(g_current)].errorWord; }

void checkLaunch(const char* op) {
  cudaError_t err = cudaGetLastError();
  if (err != cudaSuccess) throw Error(strcat("CUDA kernel launch failed in ", op, ": ", cudaGetErrorString(err)));
}

}  // namespace ts::cuda
