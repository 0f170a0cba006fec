#include "cpu/threadpool.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace ts::cpu {
namespace {

int defaultThreads() {
  if (const char* env = std::getenv("TESSERA_NUM_THREADS")) {
    int v = std::atoi(env);
    if (v >= 1) return v;
  }
  unsigned hw = std::thread::hardware_concurrency();
  return hw == 0 ? 1 : int(hw);
}

class Pool {
 public:
  explicit Pool(int n) { resize(n); }
  ~Pool() { stopWorkers(); }

  int size() const { return size_; }

  void resize(int n) {
    stopWorkers();
    size_ = std::max(1, n);
    stop_ = false;
    for (int i = 1; i < size_; ++i) workers_.emplace_back([this] { workerLoop(); });
  }

  void run(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn) {
    if (inParallel_) {  // nested: run serially on this thread
      fn(0, n);
      return;
    }
    int64_t maxChunks = (n + grain - 1) / grain;
    Job job{&fn, n, std::min<int64_t>(maxChunks, int64_t(size_) * 4)};
    {
      std::lock_guard<std::mutex> lock(mu_);
      job_ = job;
      next_.store(0);
      error_ = nullptr;
      ++generation_;
    }
    cv_.notify_all();
    inParallel_ = true;
    work(job);
    inParallel_ = false;
    std::unique_lock<std::mutex> lock(mu_);
    // Every worker that joined this job must have left it before the next job can start.
    done_.wait(lock, [this] { return active_ == 0; });
    job_.fn = nullptr;
    if (error_) std::rethrow_exception(error_);
  }

 private:
  struct Job {
    const std::function<void(int64_t, int64_t)>* fn = nullptr;
    int64_t n = 0, chunks = 0;
  };

  void work(const Job& job) {
    for (;;) {
      int64_t c = next_.fetch_add(1);
      if (c >= job.chunks) return;
      int64_t begin = job.n * c / job.chunks, end = job.n * (c + 1) / job.chunks;
      try {
        if (begin < end) (*job.fn)(begin, end);
      } catch (...) {
        std::lock_guard<std::mutex> lock(mu_);
        if (!error_) error_ = std::current_exception();
      }
    }
  }

  void workerLoop() {
    inParallel_ = true;
    uint64_t seen = 0;
    for (;;) {
      Job job;
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [&] { return stop_ || (generation_ != seen && job_.fn != nullptr); });
        if (stop_) return;
        seen = generation_;
        job = job_;
        ++active_;
      }
      work(job);
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (--active_ == 0) done_.notify_all();
      }
    }
  }

  void stopWorkers() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    for (auto& t : workers_) t.join();
    workers_.clear();
  }

  int size_ = 1;
  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable cv_, done_;
  Job job_;
  int active_ = 0;
  std::atomic<int64_t> next_{0};
  uint64_t generation_ = 0;
  bool stop_ = false;
  std::exception_ptr error_;
  static thread_local bool inParallel_;
};

thread_local bool Pool::inParallel_ = false;

Pool& pool() {
  static Pool p(defaultThreads());
  return p;
}

}  // namespace

int numThreads() { return pool().size(); }
void setNumThreads(int n) {
  if (n != pool().size()) pool().resize(n);
}

void parallelForImpl(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn) {
  pool().run(n, grain, fn);
}

}  // namespace ts::cpu
