// CPU index kernels: index-select (embedding forward), index-add (embedding backward), gather and
// scatter-add along the middle dimension of an [outer, size, inner] view. Indices are checked before
// anything is written, so a bad index throws and leaves the output untouched. The adds are
// deterministic: each output element is owned by one task, which adds its sources in order of j.
#include <algorithm>
#include <atomic>
#include <cstring>
#include <vector>

#include "core/kernels.h"
#include "cpu/dispatch.h"
#include "cpu/threadpool.h"

namespace ts::cpu {
namespace {

// Throws for the first (lowest-position) index outside [0, size), naming the op.
template <typename I>
void checkIndices(const char* op, const I* index, int64_t n, int64_t size) {
  std::atomic<int64_t> firstBad{n};
  parallelFor(n, kPointwiseGrain * 4, [&](int64_t b, int64_t e) {
    for (int64_t k = b; k < e; ++k) {
      int64_t v = int64_t(index[k]);
      if (v < 0 || v >= size) {
        int64_t cur = firstBad.load();
        while (k < cur && !firstBad.compare_exchange_weak(cur, k)) {}
        return;
      }
    }
  });
  int64_t at = firstBad.load();
  TS_CHECK(at == n, op, ": index ", int64_t(index[at]), " at position ", at, " is out of range for a dimension of size ",
           size, " (valid range [0, ", size, "))");
}

// Accumulation type of an index-add: fp64 when either side is f64, else fp32.
template <typename S, typename O>
using add_acc_t = std::conditional_t<std::is_same_v<S, double> || std::is_same_v<O, double>, double, float>;

}  // namespace

void indexSelect(const IndexSelectParams& p) {
  TS_DISPATCH_INDEX(p.indexDtype, "indexSelect", [&](auto t_) {
    using I = TS_TYPE(t_);
    const I* index = static_cast<const I*>(p.index);
    checkIndices("indexSelect", index, p.nIndex, p.size);
    // A selection only moves rows of bytes: out row (o, j) is src row (o, index[j]).
    const size_t rowBytes = size_t(p.inner) * elemSize(p.dtype);
    const char* src = static_cast<const char*>(p.src);
    char* out = static_cast<char*>(p.out);
    if (rowBytes == 0) return;
    parallelFor(p.outer * p.nIndex, rowsPerTask(p.inner), [&](int64_t b, int64_t e) {
      for (int64_t r = b; r < e; ++r) {
        int64_t o = r / p.nIndex, j = r % p.nIndex;
        std::memcpy(out + size_t(r) * rowBytes, src + size_t(o * p.size + int64_t(index[j])) * rowBytes, rowBytes);
      }
    });
  });
}

void indexAdd(const IndexAddParams& p) {
  TS_DISPATCH_INDEX(p.indexDtype, "indexAdd", [&](auto t_) {
    using I = TS_TYPE(t_);
    const I* index = static_cast<const I*>(p.index);
    checkIndices("indexAdd", index, p.nIndex, p.size);
    if (p.outer == 0 || p.inner == 0 || p.nIndex == 0) return;
    // Bucket the source rows by target row (a stable counting sort), so each task owns whole output
    // rows and adds their sources in increasing j: parallel, race-free and deterministic.
    std::vector<int64_t> start(size_t(p.size) + 1, 0), order(size_t(p.nIndex));
    for (int64_t j = 0; j < p.nIndex; ++j) ++start[size_t(index[j]) + 1];
    for (int64_t r = 0; r < p.size; ++r) start[size_t(r) + 1] += start[size_t(r)];
    {
      std::vector<int64_t> fill(start.begin(), start.end() - 1);
      for (int64_t j = 0; j < p.nIndex; ++j) order[size_t(fill[size_t(index[j])]++)] = j;
    }
    TS_CPU_DISPATCH_FLOAT(p.outDtype, "indexAdd", [&](auto to_) {
      using O = TS_TYPE(to_);
      TS_CPU_DISPATCH_FLOAT(p.srcDtype, "indexAdd", [&](auto ts_) {
        using S = TS_TYPE(ts_);
        using A = add_acc_t<S, O>;
        const S* src = static_cast<const S*>(p.src);
        O* out = static_cast<O*>(p.out);
        // Average work of an output row is (nIndex / size) source rows of `inner` elements.
        int64_t avgRowWork = std::max<int64_t>(1, p.inner * std::max<int64_t>(1, p.nIndex / std::max<int64_t>(1, p.size)));
        parallelFor(p.outer * p.size, rowsPerTask(avgRowWork), [&](int64_t b, int64_t e) {
          for (int64_t r = b; r < e; ++r) {
            int64_t o = r / p.size, t = r % p.size;
            O* dst = out + r * p.inner;
            for (int64_t k = start[size_t(t)]; k < start[size_t(t) + 1]; ++k) {
              const S* s = src + (o * p.nIndex + order[size_t(k)]) * p.inner;
              for (int64_t i = 0; i < p.inner; ++i) dst[i] = store<O, A>(load<O, A>(dst[i]) + load<S, A>(s[i]));
            }
          }
        });
      });
    });
  });
}

void gather(const GatherParams& p) {
  TS_DISPATCH_INDEX(p.indexDtype, "gather", [&](auto t_) {
    using I = TS_TYPE(t_);
    const I* index = static_cast<const I*>(p.index);
    const int64_t n = p.outer * p.nIndex * p.inner;
    checkIndices("gather", index, n, p.size);
    auto run = [&](auto tag) {  // a gather only moves elements: dispatch on their size
      using T = decltype(tag);
      const T* src = static_cast<const T*>(p.src);
      T* out = static_cast<T*>(p.out);
      const int64_t rowLen = p.nIndex * p.inner;  // elements of one outer slice of out
      parallelFor(n, kPointwiseGrain, [&](int64_t b, int64_t e) {
        for (int64_t k = b; k < e; ++k) {
          int64_t o = k / rowLen, i = k % p.inner;
          out[k] = src[(o * p.size + int64_t(index[k])) * p.inner + i];
        }
      });
    };
    switch (elemSize(p.dtype)) {
      case 1: run(uint8_t{}); break;
      case 2: run(uint16_t{}); break;
      case 4: run(uint32_t{}); break;
      case 8: run(uint64_t{}); break;
      default: throw Error("gather: unsupported element size");
    }
  });
}

void scatterAdd(const ScatterAddParams& p) {
  TS_DISPATCH_INDEX(p.indexDtype, "scatterAdd", [&](auto t_) {
    using I = TS_TYPE(t_);
    const I* index = static_cast<const I*>(p.index);
    checkIndices("scatterAdd", index, p.outer * p.nIndex * p.inner, p.size);
    if (p.outer == 0 || p.inner == 0 || p.nIndex == 0) return;
    TS_CPU_DISPATCH_FLOAT(p.outDtype, "scatterAdd", [&](auto to_) {
      using O = TS_TYPE(to_);
      TS_CPU_DISPATCH_FLOAT(p.srcDtype, "scatterAdd", [&](auto ts_) {
        using S = TS_TYPE(ts_);
        using A = add_acc_t<S, O>;
        const S* src = static_cast<const S*>(p.src);
        O* out = static_cast<O*>(p.out);
        // Column (o, i) of out is written only by sources of the same column: tasks own blocks of
        // columns and walk j in order inside them (deterministic, no races).
        const int64_t colBlock = std::min<int64_t>(p.inner, 256);
        const int64_t blocksPerOuter = (p.inner + colBlock - 1) / colBlock;
        parallelFor(p.outer * blocksPerOuter, rowsPerTask(colBlock * p.nIndex), [&](int64_t b, int64_t e) {
          for (int64_t task = b; task < e; ++task) {
            int64_t o = task / blocksPerOuter;
            int64_t i0 = (task % blocksPerOuter) * colBlock, i1 = std::min(p.inner, i0 + colBlock);
            for (int64_t j = 0; j < p.nIndex; ++j) {
              int64_t k = (o * p.nIndex + j) * p.inner;
              for (int64_t i = i0; i < i1; ++i) {
                O& dst = out[(o * p.size + int64_t(index[k + i])) * p.inner + i];
                dst = store<O, A>(load<O, A>(dst) + load<S, A>(src[k + i]));
              }
            }
          }
        });
      });
    });
  });
}

}  // namespace ts::cpu
