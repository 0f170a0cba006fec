// CUDA LayerNorm (rms = false) and RMSNorm (rms = true), forward and backward, for bf16/f16/f32 rows
// in 16-byte packs (cols a multiple of 16 / sizeof(T), 16-byte aligned rows) with weights of the row
// dtype or f32: the math and outputs of norm.cu's kernels, which norm() and normBackward() fall back
// to for everything else (TESSERA_NORM_WARP=0: for everything), and for RMSNorm forward of 16-bit
// rows up to 4096 columns, where norm.cu's pipelined kernel measured faster.
// Persistent blocks in which a group of WPR warps owns one row at a time (rows of up to 16384 16-bit
// columns forward, 8192 backward). Row sums are warp shuffles, plus one named barrier of the group's
// warps when WPR > 1, so no group ever waits for another and a multiprocessor works on many rows at
// once. Each thread copies its packs of the group's next rows into its own shared memory with
// cp.async (rows in flight cost no registers, and no barrier guards the staging); the staged row is
// read into registers and its stage refilled at once, and the weights stay in registers.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <type_traits>

#include "cuda/norm.cuh"

namespace ts::cuda::norms {
namespace {

// A pack of weights from global memory through the read-only cache (weights are not written while
// a kernel runs), for weights read again for each row rather than held in registers.
template <typename P>
__device__ __forceinline__ P weightPack(const void* p) {
  static_assert(sizeof(P) % 16 == 0, "whole 16-byte packs");
  P pk;
  uint4* u = reinterpret_cast<uint4*>(&pk);
  const uint4* src = static_cast<const uint4*>(p);
#pragma unroll
  for (int i = 0; i < int(sizeof(P) / 16); ++i)
    asm volatile("ld.global.nc.v4.u32 {%0, %1, %2, %3}, [%4];\n"
                 : "=r"(u[i].x), "=r"(u[i].y), "=r"(u[i].z), "=r"(u[i].w)
                 : "l"(src + i));
  return pk;
}

// K sums over the WPR warps of this thread's row group (in a block of BLOCK threads); every thread
// of the group gets them. `red` holds 2 * K * BLOCK / 32 values in two halves used alternately
// (`phase`), as in rows::slotReduce: one barrier per call suffices. Warps are added in the same
// order everywhere.
template <int WPR, int K, int BLOCK>
__device__ __forceinline__ void groupSum(float (&v)[K], float* red, int& phase) {
#pragma unroll
  for (int k = 0; k < K; ++k) v[k] = warpReduce(v[k], SumOp{});
  if constexpr (WPR > 1) {
    constexpr int kWarps = BLOCK / 32;
    const int warp = int(threadIdx.x) >> 5, first = warp / WPR * WPR;
    float* half = red + phase * (K * kWarps);
    phase ^= 1;
    if ((threadIdx.x & 31) == 0) {
#pragma unroll
      for (int k = 0; k < K; ++k) half[k * kWarps + warp] = v[k];
    }
    barSync(1 + warp / WPR, 32 * WPR);
#pragma unroll
    for (int k = 0; k < K; ++k) {
      float s = half[k * kWarps + first];
#pragma unroll
      for (int w = 1; w < WPR; ++w) s += half[k * kWarps + first + w];
      v[k] = s;
    }
  }
}

// ---- the kernels --------------------------------------------------------------------------------
// Two choices keep many bytes in flight per multiprocessor:
// - at the start of a row each thread reads its staged packs into registers (16-bit values stay
//   packed), and once it has used them it refills that stage with the row S rows ahead, so all S
//   stages are in flight while the row is reduced and written; the passes read registers;
// - rows are split over enough warps (at most kRegFwdPacks / kRegBwdPacks packs a lane) that a
//   lane's registers also hold its columns' weights, read once (a lane always owns the same
//   columns): nothing but the staged rows is read per row, and long rows need no L1 for weights.
// S is chosen at launch: the registers decide the blocks per multiprocessor, and the stages fill
// the shared memory those blocks leave (2 to kMaxStages).
constexpr int kRegFwdPacks = 4;
constexpr int kRegBwdPacks = 2;
constexpr int kRegMaxWarps = 16;  // warps a row: 16 * 32 * 4 packs forward, 16 * 32 * 2 backward
constexpr int kMaxStages = 8;

// Waits until at most n (0 to kMaxStages - 1) of this thread's copy groups are in flight.
__device__ __forceinline__ void cpAsyncWaitFor(int n) {
  switch (n) {
    case 0: cpAsyncWait<0>(); break;
    case 1: cpAsyncWait<1>(); break;
    case 2: cpAsyncWait<2>(); break;
    case 3: cpAsyncWait<3>(); break;
    case 4: cpAsyncWait<4>(); break;
    case 5: cpAsyncWait<5>(); break;
    case 6: cpAsyncWait<6>(); break;
    default: cpAsyncWait<7>(); break;
  }
  static_assert(kMaxStages == 8, "one case per stage count");
}

// N elements of T held as 32-bit words, which is how the kernels below keep rows and weights in
// registers: 16-bit values stay two to a register, and each use widens one with a shift or a mask.
template <typename T, int N>
struct alignas(16) Words {
  static constexpr int kCount = int(N * sizeof(T) / 4);
  uint32_t u[kCount];

  // Element i as fp32: the value toAcc<T, float> gives (a bf16 is the upper half of an fp32).
  __device__ __forceinline__ float at(int i) const {
    if constexpr (std::is_same_v<T, float>) {
      return __uint_as_float(u[i]);
    } else if constexpr (std::is_same_v<T, __nv_bfloat16>) {
      return __uint_as_float(i % 2 ? u[i / 2] & 0xffff0000u : u[i / 2] << 16);
    } else {
      static_assert(std::is_same_v<T, __half>, "f32, bf16 or f16");
      return __half2float(__ushort_as_half((unsigned short)(i % 2 ? u[i / 2] >> 16 : u[i / 2] & 0xffffu)));
    }
  }
  // The same words, as values the compiler cannot see through: a pass that reads them widens them
  // again rather than the compiler keeping fp32 copies alive across the row loop or a reduction
  // (twice the registers for 16-bit values).
  __device__ __forceinline__ Words fresh() const {
    Words w = *this;
#pragma unroll
    for (int i = 0; i < kCount; ++i) asm volatile("" : "+r"(w.u[i]));
    return w;
  }
};

// Weights of 16 bytes a pack (the row dtype's) stay in registers; f32 weights for 16-bit rows would
// take twice as many and are read again for each row (L1 / L2) with weightPack.
template <typename T, typename W>
constexpr bool kWeightsInRegisters = sizeof(W) == sizeof(T);

// Blocks of 128 / 256 threads are held to 80 registers: 6 / 3 blocks (24 warps) a multiprocessor.
template <typename T, typename W, int NP, int WPR, int BLOCK>
__global__ void __launch_bounds__(BLOCK, BLOCK <= 256 ? 768 / BLOCK : 1) normRegRowsKernel(Fwd<T, W> a, int S) {
  constexpr int V = kVec<T>, GT = 32 * WPR, GROUPS = BLOCK / GT;
  constexpr bool kHoldW = kWeightsInRegisters<T, W>;
  using XW = Words<T, V>;
  using WW = Words<W, V>;
  extern __shared__ uint4 stage[];  // [S][pack][thread]: conflict-free
  __shared__ float red[2 * BLOCK / 32];
  const int tid = threadIdx.x, pos = tid % GT, cols = int(a.cols);
  const bool rms = a.rms, hasW = a.w != nullptr, hasB = a.b != nullptr;
  auto colOf = [&](int k) { return (k * GT + pos) * V; };
  auto at = [&](int s, int k) { return stage + (s * NP + k) * BLOCK + tid; };
  const int64_t stride = int64_t(gridDim.x) * GROUPS;
  const int64_t first = int64_t(blockIdx.x) * GROUPS + tid / GT;
  auto issue = [&](int64_t row, int s) {  // always one commit group
    if (row < a.rows) {
#pragma unroll
      for (int k = 0; k < NP; ++k)
        if (colOf(k) < cols) cpAsync16(at(s, k), a.x + row * cols + colOf(k));
    }
    cpAsyncCommit();
  };
  auto weights = [&](const W* p, int k) { return weightPack<WW>(p + colOf(k)); };

  WW wr[kHoldW ? NP : 1], br[kHoldW ? NP : 1];
  if constexpr (kHoldW) {
#pragma unroll
    for (int k = 0; k < NP; ++k) {
      if (colOf(k) < cols) {
        if (hasW) wr[k] = weights(a.w, k);
        if (hasB) br[k] = weights(a.b, k);
      }
    }
  }

  for (int s = 0; s < S; ++s) issue(first + s * stride, s);
  int s = 0, phase = 0;
  for (int64_t r = first; r < a.rows; r += stride) {  // the same trip count for the group's warps
    cpAsyncWaitFor(S - 1);                              // row r, the oldest copy, has landed
    XW xr[NP];
#pragma unroll
    for (int k = 0; k < NP; ++k)
      if (colOf(k) < cols) xr[k] = *reinterpret_cast<const XW*>(at(s, k));

    // sum(x) for LayerNorm, sum(x^2) for RMSNorm (whose mean is 0).
    float t[1] = {0.0f};
#pragma unroll
    for (int k = 0; k < NP; ++k) {
      if (colOf(k) < cols) {
        if (rms) {
#pragma unroll
          for (int i = 0; i < V; ++i) t[0] += xr[k].at(i) * xr[k].at(i);
        } else {
#pragma unroll
          for (int i = 0; i < V; ++i) t[0] += xr[k].at(i);
        }
      }
    }
    issue(r + int64_t(S) * stride, s);  // every staged value has been used: refill the stage
    groupSum<WPR, 1, BLOCK>(t, red, phase);
    float mean = 0.0f, sq = t[0];
    if (!rms) {  // two passes: the mean, then the squared deviations from it
      mean = t[0] / float(cols);
      float q[1] = {0.0f};
#pragma unroll
      for (int k = 0; k < NP; ++k) {
        if (colOf(k) < cols) {
          const XW xw = xr[k].fresh();
#pragma unroll
          for (int i = 0; i < V; ++i) {
            const float d = xw.at(i) - mean;
            q[0] += d * d;
          }
        }
      }
      groupSum<WPR, 1, BLOCK>(q, red, phase);
      sq = q[0];
    }
    const float rstd = 1.0f / m_sqrt(sq / float(cols) + float(a.eps));
    if (pos == 0) {
      if (a.mean) a.mean[r] = mean;  // 0 for RMSNorm
      a.rstd[r] = rstd;
    }
#pragma unroll
    for (int k = 0; k < NP; ++k) {
      if (colOf(k) < cols) {
        WW ww{}, bw{};
        if constexpr (kHoldW) {
          ww = wr[k].fresh();
          bw = br[k].fresh();
        } else {
          if (hasW) ww = weights(a.w, k);
          if (hasB) bw = weights(a.b, k);
        }
        const XW xw = xr[k].fresh();
        float v[V];
#pragma unroll
        for (int i = 0; i < V; ++i)  // affine() in norm.cuh
          v[i] = (xw.at(i) - mean) * rstd * (hasW ? ww.at(i) : 1.0f) + (hasB ? bw.at(i) : 0.0f);
        storePack<V>(a.y + r * cols + colOf(k), v);
      }
    }
    s = s + 1 == S ? 0 : s + 1;
  }
  cpAsyncWait<0>();  // (only empty groups can be left)
}

// The backward (normBackwardWarpKernel's math and partial rows) with rows and weights in
// registers. Lane 0 of each warp stages the row's mean and rstd and hands them to its warp.
// Blocks of 256 threads are held to 80 registers, 3 blocks (24 warps) a multiprocessor.
template <typename T, typename W, int NP, int WPR, int BLOCK>
__global__ void __launch_bounds__(BLOCK, BLOCK == 256 ? 3 : 1)
    normBackwardRegKernel(Bwd<T, W> a, float* partW, float* partB, int S) {
  constexpr int V = kVec<T>, GT = 32 * WPR, GROUPS = BLOCK / GT, WARPS = BLOCK / 32;
  constexpr bool kHoldW = kWeightsInRegisters<T, W>;
  static_assert(2 * 2 * NP * 16 >= V * 4, "two stages hold the final combine");
  using XW = Words<T, V>;
  using WW = Words<W, V>;
  extern __shared__ uint4 stage[];  // [S][gy, x][pack][thread], then [S][mean, rstd][warp] floats
  __shared__ float red[2 * 2 * WARPS];
  const int tid = threadIdx.x, lane = tid & 31, group = tid / GT, pos = tid % GT, cols = int(a.cols);
  const bool rms = a.rms, hasW = a.w != nullptr;
  float* stats = reinterpret_cast<float*>(stage + S * 2 * NP * BLOCK);
  auto colOf = [&](int k) { return (k * GT + pos) * V; };
  auto at = [&](int s, int t, int k) { return stage + ((s * 2 + t) * NP + k) * BLOCK + tid; };
  auto statAt = [&](int s, int t) { return stats + (s * 2 + t) * WARPS + (tid >> 5); };
  const int64_t stride = int64_t(gridDim.x) * GROUPS;
  const int64_t first = int64_t(blockIdx.x) * GROUPS + group;
  auto issue = [&](int64_t row, int s) {  // always one commit group
    if (row < a.rows) {
#pragma unroll
      for (int k = 0; k < NP; ++k) {
        if (colOf(k) < cols) {
          cpAsync16(at(s, 0, k), a.gy + row * cols + colOf(k));
          cpAsync16(at(s, 1, k), a.x + row * cols + colOf(k));
        }
      }
      if (lane == 0) {
        if (!rms) cpAsync4(statAt(s, 0), a.mean + row);
        cpAsync4(statAt(s, 1), a.rstd + row);
      }
    }
    cpAsyncCommit();
  };

  WW wr[kHoldW ? NP : 1];
  if constexpr (kHoldW) {
#pragma unroll
    for (int k = 0; k < NP; ++k)
      if (hasW && colOf(k) < cols) wr[k] = weightPack<WW>(a.w + colOf(k));
  }
  auto weights = [&](int k) {
    if constexpr (kHoldW) return wr[k].fresh();
    else return hasW ? weightPack<WW>(a.w + colOf(k)) : WW{};
  };

  float accW[NP][V], accB[NP][V];
#pragma unroll
  for (int k = 0; k < NP; ++k)
#pragma unroll
    for (int i = 0; i < V; ++i) accW[k][i] = accB[k][i] = 0.0f;

  for (int s = 0; s < S; ++s) issue(first + s * stride, s);
  int s = 0, phase = 0;
  for (int64_t r = first; r < a.rows; r += stride) {  // the same trip count for the group's warps
    cpAsyncWaitFor(S - 1);                              // row r, the oldest copy, has landed
    XW gyr[NP], xr[NP];
#pragma unroll
    for (int k = 0; k < NP; ++k) {
      if (colOf(k) < cols) {
        gyr[k] = *reinterpret_cast<const XW*>(at(s, 0, k));
        xr[k] = *reinterpret_cast<const XW*>(at(s, 1, k));
      }
    }
    float mu = 0.0f, rs = 0.0f;
    if (lane == 0) {
      if (!rms) mu = *statAt(s, 0);
      rs = *statAt(s, 1);
    }
    mu = __shfl_sync(0xffffffffu, mu, 0);
    rs = __shfl_sync(0xffffffffu, rs, 0);

    // With g = gy * w, xhat = (x - mean) * rstd: gx = rstd * (g - mean(g) - xhat * mean(g * xhat))
    // (no mean(g) term for RMSNorm); gw += gy * xhat, gb += gy.
    float sums[2] = {0.0f, 0.0f};  // sum(g), sum(g * xhat)
#pragma unroll
    for (int k = 0; k < NP; ++k) {
      if (colOf(k) < cols) {
        const WW ww = weights(k);
#pragma unroll
        for (int i = 0; i < V; ++i) {
          const float gyv = gyr[k].at(i), xh = (xr[k].at(i) - mu) * rs;
          const float gg = hasW ? gyv * ww.at(i) : gyv;
          sums[0] += gg;
          sums[1] += gg * xh;
          accW[k][i] += gyv * xh;
          accB[k][i] += gyv;
        }
      }
    }
    issue(r + int64_t(S) * stride, s);  // every staged value has been used: refill the stage
    groupSum<WPR, 2, BLOCK>(sums, red, phase);
    const float meanG = rms ? 0.0f : sums[0] / float(cols), meanGX = sums[1] / float(cols);
#pragma unroll
    for (int k = 0; k < NP; ++k) {
      if (colOf(k) < cols) {
        const WW ww = weights(k);
        const XW gyw = gyr[k].fresh(), xw = xr[k].fresh();
        float out[V];
#pragma unroll
        for (int i = 0; i < V; ++i) {
          const float gyv = gyw.at(i), xh = (xw.at(i) - mu) * rs;
          const float gg = hasW ? gyv * ww.at(i) : gyv;
          out[i] = rs * (gg - meanG - xh * meanGX);
        }
        storePack<V>(a.gx + r * cols + colOf(k), out);
      }
    }
    s = s + 1 == S ? 0 : s + 1;
  }
  cpAsyncWait<0>();  // (only empty groups can be left)

  // Group 0 adds the other groups' partials to its own in group order, pack by pack, through the
  // staging memory, and writes the block's partial row.
  float* comb = reinterpret_cast<float*>(stage);
  auto combine = [&](const float (&acc)[NP][V], float* part) {
#pragma unroll
    for (int k = 0; k < NP; ++k) {
      float out[V];
#pragma unroll
      for (int i = 0; i < V; ++i) out[i] = acc[k][i];
      if constexpr (GROUPS > 1) {
        __syncthreads();  // the staging memory / the previous pack's sums are read
#pragma unroll
        for (int i = 0; i < V; ++i) comb[i * BLOCK + tid] = acc[k][i];
        __syncthreads();
#pragma unroll
        for (int g = 1; g < GROUPS; ++g)
#pragma unroll
          for (int i = 0; i < V; ++i) out[i] += comb[i * BLOCK + g * GT + pos];
      }
      if (group == 0 && colOf(k) < cols) {
        float* dst = part + int64_t(blockIdx.x) * cols + colOf(k);
#pragma unroll
        for (int i = 0; i < V; ++i) dst[i] = out[i];
      }
    }
  };
  if (partW) combine(accW, partW);  // (null or not for the whole grid)
  if (partB) combine(accB, partB);
}

// TESSERA_NORM_WARP=0 runs norm.cu's kernels for everything (for comparisons).
bool enabled() {
  static const bool on = [] {
    const char* v = std::getenv("TESSERA_NORM_WARP");
    return !(v && std::string(v) == "0");
  }();
  return on;
}

// Packs a lane (np) and warps a row (wpr) of a kernel launch.
struct WarpShape {
  int np = 0, wpr = 0;
};

int64_t ceilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

// TESSERA_NORM_MAX_BLOCKS=N caps the grids below at N blocks, for tests: with few blocks, each row
// group walks many rows, so the small shapes of the parity tests also reuse every stage.
int64_t gridCap() {
  static const int64_t cap = [] {
    const char* v = std::getenv("TESSERA_NORM_MAX_BLOCKS");
    const long long n = v == nullptr ? 0 : std::atoll(v);
    return n > 0 ? int64_t(n) : INT64_MAX;
  }();
  return cap;
}

// A persistent grid: `perSM` blocks a multiprocessor, or fewer when the rows need fewer.
int64_t persistentGrid(int perSM, int64_t rows, int groupsPerBlock) {
  const int64_t resident = int64_t(std::max(perSM, 1)) * multiprocessorCount();
  return std::min({ceilDiv(rows, groupsPerBlock), resident, gridCap()});
}

// Calls f(TypeTag<T>, TypeTag<W>) for the dtypes the kernels are built for (bf16, f16 or f32 rows;
// weights of the row dtype or f32) and returns its result; false for other dtypes.
template <typename F>
bool withWarpTypes(DType dtype, DType wDtype, const F& f) {
  auto withWeights = [&](auto tx) {
    if (wDtype == dtype) return f(tx, tx);
    if (wDtype == DType::F32) return f(tx, TypeTag<float>{});
    return false;
  };
  switch (dtype) {
    case DType::BF16: return withWeights(TypeTag<__nv_bfloat16>{});
    case DType::F16: return withWeights(TypeTag<__half>{});
    case DType::F32: return withWeights(TypeTag<float>{});
    default: return false;
  }
}

// Packs a lane and warps a row for the register-row kernels: one warp with the fewest packs (a
// power of two up to maxPacks), else maxPacks and the fewest warps (2 to kRegMaxWarps, powers of
// two); {0, 0} when the row is longer.
WarpShape regShape(int64_t packs, int maxPacks) {
  for (int np = 1; np <= maxPacks; np *= 2)
    if (int64_t(32) * np >= packs) return {np, 1};
  for (int wpr = 2; wpr <= kRegMaxWarps; wpr *= 2)
    if (int64_t(32) * wpr * maxPacks >= packs) return {maxPacks, wpr};
  return {};
}

// Calls f(Int<NP>{}, Int<WPR>{}) for a shape from regShape(..., MAXNP).
template <int MAXNP, typename F>
bool withRegShape(WarpShape s, const F& f) {
  switch (s.wpr) {
    case 1:
      if (s.np == 1) return f(Int<1>{}, Int<1>{});
      if (s.np == 2) return f(Int<2>{}, Int<1>{});
      if constexpr (MAXNP >= 4) if (s.np == 4) return f(Int<4>{}, Int<1>{});
      return false;
    case 2: return f(Int<MAXNP>{}, Int<2>{});
    case 4: return f(Int<MAXNP>{}, Int<4>{});
    case 8: return f(Int<MAXNP>{}, Int<8>{});
    case 16: return f(Int<MAXNP>{}, Int<16>{});
    default: return false;
  }
  static_assert(kRegMaxWarps == 16, "one case per row width");
}

// TESSERA_NORM_STAGES=N (2 to kMaxStages) caps the stages of the register-row kernels.
int stageCap() {
  static const int cap = [] {
    const char* v = std::getenv("TESSERA_NORM_STAGES");
    const int n = v == nullptr ? 0 : std::atoi(v);
    return n >= 2 && n <= kMaxStages ? n : kMaxStages;
  }();
  return cap;
}

// Blocks per multiprocessor and stages for a register-row kernel of `threads` threads with
// `stageBytes` of shared memory a stage: the blocks that fit with 2 stages (the registers
// usually decide), then the most stages that keep that many blocks. Worked out once per kernel
// and device (a launch then costs no occupancy queries); {0, 0} when no block fits.
struct RegPlan {
  int blocks = 0, stages = 0;
};
template <auto Kernel>
RegPlan regPlan(int threads, size_t stageBytes) {
  thread_local int seenDevice = -1;
  thread_local RegPlan plan;
  int device = 0;
  TS_CUDA_CHECK(cudaGetDevice(&device), "norm launch");
  if (device != seenDevice) {
    plan = {};
    const int blocks = residentBlocks(Kernel, threads, 2 * stageBytes);
    for (int s = stageCap(); blocks > 0 && s >= 2; --s) {
      if (residentBlocks(Kernel, threads, s * stageBytes) >= blocks) {
        plan = {blocks, s};
        break;
      }
    }
    seenDevice = device;
  }
  return plan;
}

template <typename T, typename W, int NP, int WPR>
bool launchRegRows(const Fwd<T, W>& a) {
  constexpr int GT = 32 * WPR, BLOCK = GT > 128 ? GT : 128;
  constexpr auto kernel = normRegRowsKernel<T, W, NP, WPR, BLOCK>;
  const size_t stageBytes = size_t(NP) * BLOCK * 16;
  const RegPlan plan = regPlan<kernel>(BLOCK, stageBytes);
  if (plan.blocks == 0) return false;
  const int64_t grid = persistentGrid(plan.blocks, a.rows, BLOCK / GT);
  kernel<<<unsigned(grid), BLOCK, plan.stages * stageBytes, stream()>>>(a, plan.stages);
  checkLaunch("norm");
  return true;
}

// Blocks of at least 256 threads: one partial row of gw / gb per block, so fewer, larger blocks
// mean less for sumPartialRows to read.
template <typename T, typename W, int NP, int WPR>
bool launchRegRowsBackward(const Bwd<T, W>& a, float* gw, float* gb) {
  constexpr int GT = 32 * WPR, BLOCK = GT > 256 ? GT : 256;
  constexpr auto kernel = normBackwardRegKernel<T, W, NP, WPR, BLOCK>;
  const size_t stageBytes = size_t(2 * NP * 16) * BLOCK + 2 * (BLOCK / 32) * sizeof(float);
  const RegPlan plan = regPlan<kernel>(BLOCK, stageBytes);
  if (plan.blocks == 0) return false;
  const int64_t blocks = persistentGrid(plan.blocks, a.rows, BLOCK / GT);
  cudaStream_t s = stream();
  Scratch part(size_t((gw ? blocks : 0) + (gb ? blocks : 0)) * size_t(a.cols) * sizeof(float), s);
  float* partW = gw ? static_cast<float*>(part.p) : nullptr;
  float* partB = gb ? static_cast<float*>(part.p) + (gw ? blocks * a.cols : 0) : nullptr;
  kernel<<<unsigned(blocks), BLOCK, plan.stages * stageBytes, s>>>(a, partW, partB, plan.stages);
  checkLaunch("normBackward");
  if (gw || gb) sumPartialRows(partW, partB, blocks, a.cols, gw, gb, s);
  return true;
}

}  // namespace

bool warpRowsNorm(const NormParams& p) {
  if (p.rows == 0 || p.cols == 0 || !enabled()) return false;
  return withWarpTypes(p.dtype, p.wDtype, [&](auto tx, auto tw) {
    using T = TS_TYPE(tx);
    using W = TS_TYPE(tw);
    // RMSNorm of 16-bit rows of up to 4096 columns: norm.cu's pipelined kernel measured faster
    // (H200, bf16: 77.3 / 80.1 / 77.9% of copy bandwidth at 1024 / 2048 / 4096 columns against
    // 74.4 / 73.2 / 72.1% here).
    if (p.rms && sizeof(T) == 2 && p.cols <= 4096 && pipelinedRows()) return false;
    const Fwd<T, W> a{static_cast<const T*>(p.x), static_cast<const W*>(p.w), static_cast<const W*>(p.b),
                      static_cast<T*>(p.out), p.mean, p.rstd, p.rows, p.cols, p.eps, p.rms};
    constexpr int V = kVec<T>;
    const bool vec = p.cols % V == 0 && aligned(a.x, 16) && aligned(a.y, 16) && aligned(a.w, V * sizeof(W)) &&
                     aligned(a.b, V * sizeof(W));
    if (!vec) return false;
    return withRegShape<kRegFwdPacks>(regShape(p.cols / V, kRegFwdPacks), [&](auto np, auto wpr) {
      return launchRegRows<T, W, decltype(np)::value, decltype(wpr)::value>(a);
    });
  });
}

bool warpRowsNormBackward(const NormBackwardParams& p) {
  if (p.rows == 0 || p.cols == 0 || !enabled()) return false;
  return withWarpTypes(p.dtype, p.wDtype, [&](auto tx, auto tw) {
    using T = TS_TYPE(tx);
    using W = TS_TYPE(tw);
    const Bwd<T, W> a{static_cast<const T*>(p.gy), static_cast<const T*>(p.x), static_cast<const W*>(p.w),
                      p.mean, p.rstd, static_cast<T*>(p.gx), p.rows, p.cols, p.rms};
    constexpr int V = kVec<T>;
    const bool vec = p.cols % V == 0 && aligned(a.gy, 16) && aligned(a.x, 16) && aligned(a.gx, 16) &&
                     aligned(a.w, V * sizeof(W)) && aligned(a.mean, 4) && aligned(a.rstd, 4);
    if (!vec) return false;
    return withRegShape<kRegBwdPacks>(regShape(p.cols / V, kRegBwdPacks), [&](auto np, auto wpr) {
      return launchRegRowsBackward<T, W, decltype(np)::value, decltype(wpr)::value>(a, p.gw, p.gb);
    });
  });
}

}  // namespace ts::cuda::norms
