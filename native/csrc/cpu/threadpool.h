// A small fork-join pool for the CPU kernels. parallelFor splits [0, n) into chunks of at least
// `grain` items; the calling thread works too. Nested calls run serially (no oversubscription).
#pragma once
#include <cstdint>
#include <functional>

namespace ts::cpu {

int numThreads();
void setNumThreads(int n);  // n >= 1; default: TESSERA_NUM_THREADS, else the hardware threads

void parallelForImpl(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn);

template <typename F>
inline void parallelFor(int64_t n, int64_t grain, const F& fn) {
  if (n <= 0) return;
  if (grain < 1) grain = 1;
  if (n <= grain || numThreads() == 1) {
    fn(int64_t(0), n);
    return;
  }
  parallelForImpl(n, grain, std::function<void(int64_t, int64_t)>(fn));
}

}  // namespace ts::cpu
