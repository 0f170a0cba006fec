// CPU matmul: C[b] = alpha * op(A[b]) @ op(B[b]) + beta * C[b] (+ bias), the reference for the
// CUDA path. A blocked GEMM in the GotoBLAS style: the output is cut into MC x NC tiles, one task
// each, spread over the thread pool; a task walks k in KC steps, packing op(A) and op(B) blocks
// into contiguous fp32 (fp64 for f64) panels (which also absorbs transposes and 16-bit types),
// and runs the micro-kernel over them into an fp32/fp64 tile buffer; the epilogue then applies
// alpha, beta and the bias and converts to C's dtype. Each output element is summed in the same
// order whatever the tiling or thread count, so results do not depend on TESSERA_NUM_THREADS.
#include <algorithm>
#include <cstdlib>
#include <new>
#include <type_traits>
#include <vector>

#include "core/gemm_epilogue.h"
#include "core/kernels.h"
#include "cpu/dispatch.h"
#include "cpu/gemm_kernel.h"
#include "cpu/threadpool.h"

namespace ts::cpu {
namespace {

using gemm::Tile;

// KC x NR of packed B (32 KiB) stays in L1 while MR-row slabs of the MC x KC A block stream
// from L2; the NC-wide B block and the MC x NC tile buffer sit in L2 too.
constexpr int64_t kKC = 256;
constexpr int64_t kMC = 96;  // a multiple of MR
template <typename A> constexpr int64_t kNC = sizeof(A) == 4 ? 512 : 256;  // multiples of NR

int64_t ceilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }
int64_t roundUp(int64_t a, int64_t b) { return ceilDiv(a, b) * b; }

// One growable, 64-byte aligned buffer per thread for the packed panels and the tile buffer.
class Scratch {
 public:
  ~Scratch() { std::free(ptr_); }
  void* get(size_t bytes) {
    if (bytes > size_) {
      std::free(ptr_);
      size_ = size_t(roundUp(int64_t(bytes), 64));
      ptr_ = std::aligned_alloc(64, size_);
      if (!ptr_) {
        size_ = 0;
        throw std::bad_alloc();
      }
    }
    return ptr_;
  }

 private:
  void* ptr_ = nullptr;
  size_t size_ = 0;
};
thread_local Scratch tlsScratch;

// Tile sizes: the cache-friendly MC x NC, shrunk while there are too few tiles to keep every
// thread busy (small or narrow products).
template <typename A>
void chooseTiles(int64_t batch, int64_t m, int64_t n, int64_t* mc, int64_t* nc) {
  constexpr int64_t MR = Tile<A>::MR, NR = Tile<A>::NR;
  *mc = std::min(kMC, roundUp(m, MR));
  *nc = std::min(kNC<A>, roundUp(n, NR));
  const int64_t want = 2 * int64_t(numThreads());
  while (batch * ceilDiv(m, *mc) * ceilDiv(n, *nc) < want) {
    if (*nc > NR && *nc >= *mc) *nc = roundUp(*nc / 2, NR);
    else if (*mc > MR) *mc = roundUp(*mc / 2, MR);
    else if (*nc > NR) *nc = roundUp(*nc / 2, NR);
    else break;
  }
}

template <typename T, typename C>
void gemmTyped(const MatmulParams& p) {
  using A = acc_t<T>;
  constexpr int64_t MR = Tile<A>::MR, NR = Tile<A>::NR;
  const int64_t m = p.m, n = p.n, k = p.k;
  const T* aBase = static_cast<const T*>(p.a);
  const T* bBase = static_cast<const T*>(p.b);
  C* cBase = static_cast<C*>(p.c);
  // op(A)(i, l) = a[i*aRs + l*aCs] and op(B)(l, j) = b[l*bRs + j*bCs], transposed or not.
  const int64_t aRs = p.transA ? 1 : k, aCs = p.transA ? m : 1;
  const int64_t bRs = p.transB ? 1 : n, bCs = p.transB ? k : 1;
  const A alpha = A(p.alpha), beta = A(p.beta);

  std::vector<A> bias;
  if (p.bias) {
    bias.resize(size_t(n));
    TS_CPU_DISPATCH_FLOAT(p.biasDtype, "matmul (bias)", [&](auto t_) {
      using scalar_t = TS_TYPE(t_);
      const scalar_t* src = static_cast<const scalar_t*>(p.bias);
      for (int64_t j = 0; j < n; ++j) bias[size_t(j)] = load<scalar_t, A>(src[j]);
    });
  }

  int64_t mc, nc;
  chooseTiles<A>(p.batch, m, n, &mc, &nc);
  const int64_t mTiles = ceilDiv(m, mc), nTiles = ceilDiv(n, nc);
  const int64_t kcMax = std::min(kKC, k);
  // Scratch layout: packed A (mc x kc), packed B (kc x nc), tile buffer (mc x nc), each 64-aligned.
  const size_t aBytes = size_t(roundUp(mc * kcMax * int64_t(sizeof(A)), 64));
  const size_t bBytes = size_t(roundUp(kcMax * nc * int64_t(sizeof(A)), 64));
  const size_t tBytes = size_t(mc * nc) * sizeof(A);

  parallelFor(p.batch * mTiles * nTiles, 1, [&](int64_t t0, int64_t t1) {
    char* scratch = static_cast<char*>(tlsScratch.get(aBytes + bBytes + tBytes));
    A* aPack = reinterpret_cast<A*>(scratch);
    A* bPack = reinterpret_cast<A*>(scratch + aBytes);
    A* tile = reinterpret_cast<A*>(scratch + aBytes + bBytes);
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t bi = t / (mTiles * nTiles), rest = t % (mTiles * nTiles);
      const int64_t i0 = rest / nTiles * mc, j0 = rest % nTiles * nc;
      const int64_t rows = std::min(mc, m - i0), cols = std::min(nc, n - j0);
      const int64_t ldt = roundUp(cols, NR);
      const T* a = aBase + bi * p.strideA;
      const T* b = bBase + bi * p.strideB;
      for (int64_t l0 = 0; l0 < k; l0 += kKC) {
        const int64_t kc = std::min(kKC, k - l0);
        gemm::packA(a + i0 * aRs + l0 * aCs, aRs, aCs, rows, kc, aPack);
        gemm::packB(b + l0 * bRs + j0 * bCs, bRs, bCs, kc, cols, bPack);
        for (int64_t jr = 0; jr < cols; jr += NR)
          for (int64_t ir = 0; ir < rows; ir += MR)
            gemm::microKernel(kc, aPack + ir * kc, bPack + jr * kc, tile + ir * ldt + jr, ldt, l0 == 0);
      }
      // Epilogue. beta == 0 never reads C (it may hold NaN); k == 0 leaves only beta*C + bias.
      C* c = cBase + bi * p.strideC + i0 * n + j0;
      for (int64_t i = 0; i < rows; ++i) {
        const A* acc = tile + i * ldt;
        C* crow = c + i * n;
        for (int64_t j = 0; j < cols; ++j) {
          A v = k > 0 ? alpha * acc[j] : A(0);
          if (beta != A(0)) v += beta * load<C, A>(crow[j]);
          if (p.bias) v += bias[size_t(j0 + j)];
          crow[j] = store<C, A>(v);
        }
      }
    }
  });
}

}  // namespace

void matmul(const MatmulParams& p) {
  if (p.epilogue != GemmEpilogue::None) {  // composed from the product and other kernels
    matmulComposedEpilogue(p, EpilogueKernels{cpu::matmul, cpu::unaryOp, cpu::unaryBackward, cpu::reduce});
    return;
  }
  if (p.m == 0 || p.n == 0) return;
  TS_CPU_DISPATCH_FLOAT(p.abDtype, "matmul", [&](auto t_) {
    using scalar_t = TS_TYPE(t_);
    if (p.cDtype == p.abDtype) {
      gemmTyped<scalar_t, scalar_t>(p);
    } else if (p.cDtype == DType::F32) {
      if constexpr (!std::is_same_v<scalar_t, float>) gemmTyped<scalar_t, float>(p);
    } else {
      throw Error(strcat("matmul: the output must have the inputs' dtype or be f32, got ", dtypeName(p.abDtype),
                         " inputs and ", dtypeName(p.cDtype), " output"));
    }
  });
}

}  // namespace ts::cpu
