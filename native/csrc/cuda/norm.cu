// CUDA LayerNorm (rms = false) and RMSNorm (rms = true) over the last dimension, + backward, with
// the CPU kernel's math (cpu/norm.cpp): fp32 statistics (fp64 for f64), two-pass variance.
// bf16/f16/f32 rows in 16-byte packs (up to 16384 columns forward, 8192 backward) first go to the
//   warp-row kernels of norm_warp.cu (TESSERA_NORM_WARP=0 turns them off); the rest come here.
// 16-bit rows in 16-byte packs (up to 16384 columns forward, 8192 backward) take persistent,
//   pipelined kernels instead (rows.cuh): cp.async keeps 3 rows per slot in flight in shared memory.
// Forward: the row stays in registers between the statistics and the output pass (one warp per
//   row up to 1024 columns, else one block), 16-byte accesses when aligned; longer rows re-read.
// Backward: one fused pass writes gx and accumulates gw/gb partials in registers. A persistent grid
//   of blocks, each holding several rows at once (threadIdx.y), walks the rows; at the end each
//   block sums its row slots through shared memory into one partial row of a temporary buffer,
//   and a second kernel adds the partial rows. Both orders are fixed: gw/gb are deterministic.
#include <algorithm>

#include "cuda/norm.cuh"

namespace ts::cuda {
namespace {
using namespace rows;
using namespace norms;

// 16-bit packed rows of up to 16 elements a thread ask for at most 40 registers (3 blocks of 512
// threads per multiprocessor), so the compiler keeps the row packed instead of holding fp32 copies.
template <typename T, int VEC, int E>
constexpr int kNormMinBlocks = sizeof(T) == 2 && VEC > 1 && E <= 16 ? 3 : 1;

template <typename T, typename W, int VEC, int E>
__global__ void __launch_bounds__(512, (kNormMinBlocks<T, VEC, E>)) normRowsKernel(Fwd<T, W> a) {
  using C = AccT<T>;
  constexpr int P = E / VEC;
  __shared__ C red[32];
  const int64_t row = int64_t(blockIdx.x) * blockDim.y + threadIdx.y;
  if (row >= a.rows) return;  // whole rows only: a row spanning warps is alone in its block
  const int cols = int(a.cols);
  const T* x = a.x + row * cols;
  T* y = a.y + row * cols;
  auto colOf = [&](int k) { return (k * int(blockDim.x) + int(threadIdx.x)) * VEC; };

  // The row stays packed (16-bit rows take half the registers of fp32 copies, so more rows are in
  // flight); each pass widens what it reads.
  Pack<T, VEC> raw[P];
  C sum = 0;
#pragma unroll
  for (int k = 0; k < P; ++k) {
    if (colOf(k) < cols) {
      raw[k] = *reinterpret_cast<const Pack<T, VEC>*>(x + colOf(k));
#pragma unroll
      for (int i = 0; i < VEC; ++i) sum += toAcc<T, C>(raw[k].v[i]);
    }
  }
  const C mean = a.rms ? C(0) : rowSum(sum, red) / C(cols);
  C sq = 0;
#pragma unroll
  for (int k = 0; k < P; ++k) {
    if (colOf(k) < cols) {
#pragma unroll
      for (int i = 0; i < VEC; ++i) {
        const C d = toAcc<T, C>(raw[k].v[i]) - mean;
        sq += d * d;
      }
    }
  }
  const C rstd = C(1) / m_sqrt(rowSum(sq, red) / C(cols) + C(a.eps));
  if (threadIdx.x == 0) {
    if (a.mean) a.mean[row] = float(mean);  // 0 for RMSNorm
    a.rstd[row] = float(rstd);
  }
#pragma unroll
  for (int k = 0; k < P; ++k) {
    if (colOf(k) < cols) {
      C v[VEC];
#pragma unroll
      for (int i = 0; i < VEC; ++i) v[i] = toAcc<T, C>(raw[k].v[i]);
      affine<VEC>(v, a.w, a.b, colOf(k), mean, rstd);
      storePack<VEC>(y + colOf(k), v);
    }
  }
}

// The same for 16-bit rows of up to kPipeFwdPacks * 8 * 1024 columns in 16-byte packs: a
// persistent grid of pipelined blocks (rows.cuh); each thread owns kPipeFwdPacks packs of its
// slot's rows and keeps cp.async copies of kFwdStages - 1 rows ahead in shared memory.
constexpr int kPipeFwdPacks = 2;
constexpr int kFwdStages = 4;

template <typename T, typename W>
__global__ void __launch_bounds__(1024, 1) normRowsPipeKernel(Fwd<T, W> a) {
  static_assert(sizeof(T) == 2, "16-bit rows only");
  constexpr int V = kVec<T>, P = kPipeFwdPacks, S = kFwdStages;
  extern __shared__ __align__(16) unsigned char smem[];
  __shared__ float red[2 * 32];
  const int tpr = blockDim.x, t = threadIdx.x, nthreads = tpr * int(blockDim.y);
  const int tid = int(threadIdx.y) * tpr + t, cols = int(a.cols);
  const bool rms = a.rms;
  Pack<T, V>* packs = reinterpret_cast<Pack<T, V>*>(smem);  // [S][P][nthreads]
  auto at = [&](int s, int k) { return packs + (s * P + k) * nthreads + tid; };
  auto colOf = [&](int k) { return (k * tpr + t) * V; };

  const int64_t stride = int64_t(gridDim.x) * blockDim.y;
  const int64_t first = int64_t(blockIdx.x) * blockDim.y + threadIdx.y;
  auto issue = [&](int64_t r, int s) {
    if (r < a.rows) {
#pragma unroll
      for (int k = 0; k < P; ++k)
        if (colOf(k) < cols) cpAsync16(at(s, k), a.x + r * cols + colOf(k));
    }
    cpAsyncCommit();
  };

#pragma unroll
  for (int s = 0; s < S - 1; ++s) issue(first + s * stride, s);
  int s = 0, phase = 0;
  for (int64_t r = first; r < a.rows; r += stride) {
    issue(r + (S - 1) * stride, s == 0 ? S - 1 : s - 1);  // the stage read in the previous iteration
    cpAsyncWait<S - 1>();                                   // row r has landed
    Pack<T, V> raw[P];
#pragma unroll
    for (int k = 0; k < P; ++k)
      if (colOf(k) < cols) raw[k] = *at(s, k);

    float mean = 0.0f;
    if (!rms) {
      float sum[1] = {0.0f};
#pragma unroll
      for (int k = 0; k < P; ++k)
        if (colOf(k) < cols) {
#pragma unroll
          for (int i = 0; i < V; ++i) sum[0] += toAcc<T, float>(raw[k].v[i]);
        }
      slotReduce(sum, SumOp{}, red, phase);
      mean = sum[0] / float(cols);
    }
    float sq[1] = {0.0f};
#pragma unroll
    for (int k = 0; k < P; ++k)
      if (colOf(k) < cols) {
#pragma unroll
        for (int i = 0; i < V; ++i) {
          const float d = toAcc<T, float>(raw[k].v[i]) - mean;
          sq[0] += d * d;
        }
      }
    slotReduce(sq, SumOp{}, red, phase);
    const float rstd = 1.0f / m_sqrt(sq[0] / float(cols) + float(a.eps));
    if (t == 0) {
      if (a.mean) a.mean[r] = mean;  // 0 for RMSNorm
      a.rstd[r] = rstd;
    }
#pragma unroll
    for (int k = 0; k < P; ++k) {
      if (colOf(k) < cols) {
        float v[V];
#pragma unroll
        for (int i = 0; i < V; ++i) v[i] = toAcc<T, float>(raw[k].v[i]);
        affine<V>(v, a.w, a.b, colOf(k), mean, rstd);
        storePack<V>(a.y + r * cols + colOf(k), v);
      }
    }
    s = s + 1 == S ? 0 : s + 1;
  }
  cpAsyncWait<0>();  // (only empty groups can be left)
}

// Rows longer than kMaxRegisterRow: one block per row, three coalesced passes over x.
constexpr int kLongRowThreads = 512;

template <typename T, typename W>
__global__ void __launch_bounds__(kLongRowThreads) normLongRowsKernel(Fwd<T, W> a) {
  using C = AccT<T>;
  __shared__ C red[32];
  const int64_t row = blockIdx.x, cols = a.cols;
  const T* x = a.x + row * cols;
  T* y = a.y + row * cols;
  C sum = 0;
  if (!a.rms)
    for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) sum += toAcc<T, C>(x[c]);
  const C mean = a.rms ? C(0) : rowSum(sum, red) / C(cols);
  C sq = 0;
  for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) {
    const C d = toAcc<T, C>(x[c]) - mean;
    sq += d * d;
  }
  const C rstd = C(1) / m_sqrt(rowSum(sq, red) / C(cols) + C(a.eps));
  if (threadIdx.x == 0) {
    if (a.mean) a.mean[row] = float(mean);
    a.rstd[row] = float(rstd);
  }
  for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) {
    C v = toAcc<T, C>(x[c]);
    affine<1>(&v, a.w, a.b, c, mean, rstd);
    y[c] = fromAcc<T, C>(v);
  }
}

// ---- backward -----------------------------------------------------------------------------------
// Each thread owns kBwdElems columns of its row slot (pack k at column (k * blockDim.x + t) * VEC).
constexpr int kBwdElems = 8;
constexpr int kBwdThreads = 1024;
constexpr int64_t kMaxFusedCols = int64_t(kBwdThreads) * kBwdElems;

// With g = gy * w, xhat = (x - mean) * rstd: gx = rstd * (g - mean(g) - xhat * mean(g * xhat))
// (no mean(g) term for RMSNorm); gw += gy * xhat and gb += gy for this thread's columns. With
// PREFETCH the next row's gy and x are loaded while the current row is reduced.
template <typename T, typename W, int VEC, bool PREFETCH, int BLOCK>
__global__ void __launch_bounds__(BLOCK, kBwdThreads / BLOCK) normBackwardKernel(Bwd<T, W> a, AccT<T>* partW,
                                                                                AccT<T>* partB) {
  using C = AccT<T>;
  constexpr int E = kBwdElems, P = E / VEC;
  __shared__ C red[64];
  __shared__ C comb[BLOCK * VEC];
  const int t = threadIdx.x, slot = threadIdx.y, cols = int(a.cols);
  const int64_t stride = int64_t(gridDim.x) * blockDim.y;
  auto colOf = [&](int k) { return (k * int(blockDim.x) + t) * VEC; };

  Pack<T, VEC> gyRaw[P], xRaw[P];
  auto fetch = [&](int64_t r) {
    if (r >= a.rows) return;
#pragma unroll
    for (int k = 0; k < P; ++k) {
      if (colOf(k) < cols) {
        gyRaw[k] = *reinterpret_cast<const Pack<T, VEC>*>(a.gy + r * cols + colOf(k));
        xRaw[k] = *reinterpret_cast<const Pack<T, VEC>*>(a.x + r * cols + colOf(k));
      }
    }
  };

  C accW[E], accB[E];
#pragma unroll
  for (int e = 0; e < E; ++e) accW[e] = accB[e] = C(0);

  int64_t r = int64_t(blockIdx.x) * blockDim.y + slot;
  if (PREFETCH) fetch(r);
  // The trip count is the same for every slot of the block (rowSum2 synchronizes the block).
  for (int64_t first = int64_t(blockIdx.x) * blockDim.y; first < a.rows; first += stride, r += stride) {
    Pack<T, VEC> gyCur[P], xCur[P];
    if (PREFETCH) {
#pragma unroll
      for (int k = 0; k < P; ++k) gyCur[k] = gyRaw[k], xCur[k] = xRaw[k];
      fetch(r + stride);
    } else {
      fetch(r);
#pragma unroll
      for (int k = 0; k < P; ++k) gyCur[k] = gyRaw[k], xCur[k] = xRaw[k];
    }
    const bool active = r < a.rows;
    const C mu = active && !a.rms ? C(a.mean[r]) : C(0), rs = active ? C(a.rstd[r]) : C(0);

    // Two passes over the packed row: sums (and gw/gb), then gx. Values are widened where used and
    // xhat and g recomputed in the second pass: registers are what limits rows in flight here.
    C sumG = 0, sumGX = 0;
#pragma unroll
    for (int k = 0; k < P; ++k) {
      if (active && colOf(k) < cols) {
        const Pack<W, VEC> wp = a.w ? *reinterpret_cast<const Pack<W, VEC>*>(a.w + colOf(k)) : Pack<W, VEC>{};
#pragma unroll
        for (int i = 0; i < VEC; ++i) {
          const C gyv = toAcc<T, C>(gyCur[k].v[i]), xh = (toAcc<T, C>(xCur[k].v[i]) - mu) * rs;
          const C gg = a.w ? gyv * toAcc<W, C>(wp.v[i]) : gyv;
          sumG += gg;
          sumGX += gg * xh;
          accW[k * VEC + i] += gyv * xh;
          accB[k * VEC + i] += gyv;
        }
      }
    }
    rowSum2(sumG, sumGX, red);
    const C meanG = a.rms ? C(0) : sumG / C(cols), meanGX = sumGX / C(cols);
#pragma unroll
    for (int k = 0; k < P; ++k) {
      if (active && colOf(k) < cols) {
        const Pack<W, VEC> wp = a.w ? *reinterpret_cast<const Pack<W, VEC>*>(a.w + colOf(k)) : Pack<W, VEC>{};
        C out[VEC];
#pragma unroll
        for (int i = 0; i < VEC; ++i) {
          const C gyv = toAcc<T, C>(gyCur[k].v[i]), xh = (toAcc<T, C>(xCur[k].v[i]) - mu) * rs;
          const C gg = a.w ? gyv * toAcc<W, C>(wp.v[i]) : gyv;
          out[i] = rs * (gg - meanG - xh * meanGX);
        }
        storePack<VEC>(a.gx + r * cols + colOf(k), out);
      }
    }
  }

  if (partW == nullptr) return;  // no gw/gb wanted (the same for the whole grid)
  // Sum the row slots' accumulators in slot order into this block's partial row.
  auto combine = [&](const C (&acc)[E], C* part) {
#pragma unroll
    for (int k = 0; k < P; ++k) {
      __syncthreads();
#pragma unroll
      for (int i = 0; i < VEC; ++i) comb[(slot * blockDim.x + t) * VEC + i] = acc[k * VEC + i];
      __syncthreads();
      if (slot == 0 && colOf(k) < cols) {
#pragma unroll
        for (int i = 0; i < VEC; ++i) {
          C s = comb[t * VEC + i];
          for (int sl = 1; sl < int(blockDim.y); ++sl) s += comb[(sl * blockDim.x + t) * VEC + i];
          part[int64_t(blockIdx.x) * cols + colOf(k) + i] = s;
        }
      }
    }
  };
  combine(accW, partW);
  combine(accB, partB);
}

// The same math for 16-bit rows of up to kPipeBwdElems * 1024 columns, with 16-byte packs: a
// persistent grid of pipelined blocks (see rows.cuh). Each thread owns kPipeBwdElems columns (one
// pack) of its slot's rows and keeps cp.async copies of gy, x, mean and rstd for kBwdStages - 1
// rows ahead in shared memory; gw/gb partials stay in registers until the end, when the block sums
// its slots in slot order into one partial row (partW/partB, null when not wanted).
constexpr int kPipeBwdElems = 8;
constexpr int kBwdStages = 4;

template <typename T, typename W>
__global__ void __launch_bounds__(1024, 1) normBackwardPipeKernel(Bwd<T, W> a, float* partW, float* partB) {
  static_assert(sizeof(T) == 2, "16-bit rows only");
  constexpr int V = kVec<T>, S = kBwdStages;
  static_assert(V == kPipeBwdElems, "one pack a thread");
  extern __shared__ __align__(16) unsigned char smem[];
  __shared__ float red[2 * 2 * 32];
  const int tpr = blockDim.x, t = threadIdx.x, nthreads = tpr * int(blockDim.y);
  const int tid = int(threadIdx.y) * tpr + t, cols = int(a.cols), c = t * V;
  const bool inRow = c < cols, rms = a.rms, wantW = partW != nullptr, wantB = partB != nullptr;
  // Stage s: gy packs, x packs, then mean and rstd words; thread tid's entries are adjacent to
  // its neighbours' (conflict-free 16-byte accesses).
  Pack<T, V>* packs = reinterpret_cast<Pack<T, V>*>(smem);
  float* stats = reinterpret_cast<float*>(smem + size_t(S) * 2 * nthreads * sizeof(Pack<T, V>));
  auto gyAt = [&](int s) { return packs + (2 * s) * nthreads + tid; };
  auto xAt = [&](int s) { return packs + (2 * s + 1) * nthreads + tid; };
  auto meanAt = [&](int s) { return stats + (2 * s) * nthreads + tid; };
  auto rstdAt = [&](int s) { return stats + (2 * s + 1) * nthreads + tid; };

  const int64_t stride = int64_t(gridDim.x) * blockDim.y;
  const int64_t first = int64_t(blockIdx.x) * blockDim.y + threadIdx.y;
  // Copies row r into stage s (nothing past the last row); always one commit group.
  auto issue = [&](int64_t r, int s) {
    if (r < a.rows) {
      if (inRow) {
        cpAsync16(gyAt(s), a.gy + r * cols + c);
        cpAsync16(xAt(s), a.x + r * cols + c);
      }
      if (!rms) cpAsync4(meanAt(s), a.mean + r);
      cpAsync4(rstdAt(s), a.rstd + r);
    }
    cpAsyncCommit();
  };

  Pack<W, V> wp;
  if (a.w && inRow) wp = *reinterpret_cast<const Pack<W, V>*>(a.w + c);
  float accW[V], accB[V];
#pragma unroll
  for (int i = 0; i < V; ++i) accW[i] = accB[i] = 0.0f;

#pragma unroll
  for (int s = 0; s < S - 1; ++s) issue(first + s * stride, s);
  int s = 0, phase = 0;
  for (int64_t r = first; r < a.rows; r += stride) {
    issue(r + (S - 1) * stride, s == 0 ? S - 1 : s - 1);  // the stage read in the previous iteration
    cpAsyncWait<S - 1>();                                   // row r has landed
    const float mu = rms ? 0.0f : *meanAt(s), rs = *rstdAt(s);
    Pack<T, V> gyp, xp;
    if (inRow) gyp = *gyAt(s), xp = *xAt(s);

    float sums[2] = {0.0f, 0.0f};  // sum(g), sum(g * xhat)
    if (inRow) {
#pragma unroll
      for (int i = 0; i < V; ++i) {
        const float gyv = toAcc<T, float>(gyp.v[i]), xh = (toAcc<T, float>(xp.v[i]) - mu) * rs;
        const float gg = a.w ? gyv * toAcc<W, float>(wp.v[i]) : gyv;
        sums[0] += gg;
        sums[1] += gg * xh;
        if (wantW) accW[i] += gyv * xh;
        if (wantB) accB[i] += gyv;
      }
    }
    slotReduce(sums, SumOp{}, red, phase);
    const float meanG = rms ? 0.0f : sums[0] / float(cols), meanGX = sums[1] / float(cols);
    if (inRow) {
      float out[V];
#pragma unroll
      for (int i = 0; i < V; ++i) {
        const float gyv = toAcc<T, float>(gyp.v[i]), xh = (toAcc<T, float>(xp.v[i]) - mu) * rs;
        const float gg = a.w ? gyv * toAcc<W, float>(wp.v[i]) : gyv;
        out[i] = rs * (gg - meanG - xh * meanGX);
      }
      storePack<V>(a.gx + r * cols + c, out);
    }
    s = s + 1 == S ? 0 : s + 1;
  }
  cpAsyncWait<0>();  // (only empty groups can be left)

  if (!wantW && !wantB) return;  // the same for the whole grid
  // Sum the slots' accumulators in slot order into this block's partial row, through the staging
  // memory (at least V floats a thread).
  float* comb = reinterpret_cast<float*>(smem);
  auto combine = [&](const float (&acc)[V], float* part) {
    __syncthreads();  // everyone is done with the staging memory / the previous combine
#pragma unroll
    for (int i = 0; i < V; ++i) comb[i * nthreads + tid] = acc[i];
    __syncthreads();
    if (threadIdx.y == 0 && inRow) {
      float out[V];
#pragma unroll
      for (int i = 0; i < V; ++i) {
        float sum = comb[i * nthreads + t];
        for (int sl = 1; sl < int(blockDim.y); ++sl) sum += comb[i * nthreads + sl * tpr + t];
        out[i] = sum;
      }
      float* dst = part + int64_t(blockIdx.x) * cols + c;
#pragma unroll
      for (int i = 0; i < V; ++i) dst[i] = out[i];
    }
  };
  if (wantW) combine(accW, partW);
  if (wantB) combine(accB, partB);
}

// Rows too long for the fused kernel: gx in one block per row (two passes), gw/gb separately.
template <typename T, typename W>
__global__ void __launch_bounds__(kLongRowThreads) normBackwardLongRowsKernel(Bwd<T, W> a) {
  using C = AccT<T>;
  __shared__ C red[64];
  const int64_t row = blockIdx.x, cols = a.cols;
  const T* gy = a.gy + row * cols;
  const T* x = a.x + row * cols;
  const C mu = a.rms ? C(0) : C(a.mean[row]), rs = C(a.rstd[row]);
  auto gOf = [&](int64_t c) { return toAcc<T, C>(gy[c]) * (a.w ? toAcc<W, C>(a.w[c]) : C(1)); };
  C sumG = 0, sumGX = 0;
  for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) {
    const C g = gOf(c);
    sumG += g;
    sumGX += g * (toAcc<T, C>(x[c]) - mu) * rs;
  }
  rowSum2(sumG, sumGX, red);
  const C meanG = a.rms ? C(0) : sumG / C(cols), meanGX = sumGX / C(cols);
  for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) {
    const C xh = (toAcc<T, C>(x[c]) - mu) * rs;
    a.gx[row * cols + c] = fromAcc<T, C>(rs * (gOf(c) - meanG - xh * meanGX));
  }
}

// Partial column sums over a chunk of rows: block (32 columns, 8 row lanes), grid (column
// blocks, chunks); row lanes combine in shared memory in order.
template <typename T, typename W>
__global__ void __launch_bounds__(256) normColumnPartialsKernel(Bwd<T, W> a, int64_t chunkRows, AccT<T>* partW,
                                                                AccT<T>* partB) {
  using C = AccT<T>;
  __shared__ C sw[8][32], sb[8][32];
  const int64_t c = int64_t(blockIdx.x) * 32 + threadIdx.x;
  const int64_t r0 = int64_t(blockIdx.y) * chunkRows, r1 = min(a.rows, r0 + chunkRows);
  C accW = 0, accB = 0;
  if (c < a.cols) {
    for (int64_t r = r0 + threadIdx.y; r < r1; r += 8) {
      const C gyv = toAcc<T, C>(a.gy[r * a.cols + c]);
      const C mu = a.rms ? C(0) : C(a.mean[r]);
      accW += gyv * (toAcc<T, C>(a.x[r * a.cols + c]) - mu) * C(a.rstd[r]);
      accB += gyv;
    }
  }
  sw[threadIdx.y][threadIdx.x] = accW;
  sb[threadIdx.y][threadIdx.x] = accB;
  __syncthreads();
  if (threadIdx.y == 0 && c < a.cols) {
    for (int y = 1; y < 8; ++y) accW += sw[y][threadIdx.x], accB += sb[y][threadIdx.x];
    partW[blockIdx.y * a.cols + c] = accW;
    partB[blockIdx.y * a.cols + c] = accB;
  }
}

// out[c] = sum over p of part[p][c]: row lane y of the block adds parts y, y + 32, ... in order, then
// lane 0 adds the lanes in order; gw with blockIdx.y == 0, gb with 1; a null output is skipped.
constexpr int kColumnLanes = 32;

template <typename C>
__global__ void __launch_bounds__(32 * kColumnLanes) columnSumKernel(const C* __restrict__ partW,
                                                                     const C* __restrict__ partB, int64_t parts,
                                                                     int64_t cols, float* gw, float* gb) {
  __shared__ C s[kColumnLanes][33];
  const C* part = blockIdx.y == 0 ? partW : partB;
  float* out = blockIdx.y == 0 ? gw : gb;
  if (out == nullptr) return;  // the whole block
  const int64_t c = int64_t(blockIdx.x) * 32 + threadIdx.x;
  C acc = 0;
  if (c < cols) {
    const C* p = part + c;
    int64_t q = threadIdx.y;
    // Four loads in flight at a time, added in order.
    for (; q + 3 * kColumnLanes < parts; q += 4 * kColumnLanes) {
      const C v0 = p[q * cols], v1 = p[(q + kColumnLanes) * cols], v2 = p[(q + 2 * kColumnLanes) * cols],
              v3 = p[(q + 3 * kColumnLanes) * cols];
      acc += v0;
      acc += v1;
      acc += v2;
      acc += v3;
    }
    for (; q < parts; q += kColumnLanes) acc += p[q * cols];
  }
  s[threadIdx.y][threadIdx.x] = acc;
  __syncthreads();
  if (threadIdx.y == 0 && c < cols) {
    for (int y = 1; y < kColumnLanes; ++y) acc += s[y][threadIdx.x];
    out[c] = float(acc);
  }
}

template <typename C>
void columnSums(const C* partW, const C* partB, int64_t parts, int64_t cols, float* gw, float* gb, cudaStream_t s) {
  columnSumKernel<C><<<dim3(unsigned((cols + 31) / 32), 2), dim3(32, kColumnLanes), 0, s>>>(partW, partB, parts, cols,
                                                                                           gw, gb);
  checkLaunch("normBackward (column sums)");
}

template <typename F>
void dispatchNorm(DType dtype, DType wDtype, const char* what, const F& f) {
  TS_CUDA_DISPATCH_FLOAT(dtype, what, [&](auto tx) {
    TS_CUDA_DISPATCH_FLOAT(wDtype, what, [&](auto tw) { f(tx, tw); });
  });
}

int64_t ceilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

}  // namespace

void norms::sumPartialRows(const float* partW, const float* partB, int64_t parts, int64_t cols, float* gw, float* gb,
                           cudaStream_t s) {
  columnSums<float>(partW, partB, parts, cols, gw, gb, s);
}

void norm(const NormParams& p) {
  if (p.rows == 0 || norms::warpRowsNorm(p)) return;
  dispatchNorm(p.dtype, p.wDtype, "norm", [&](auto tx, auto tw) {
    using T = TS_TYPE(tx);
    using W = TS_TYPE(tw);
    const Fwd<T, W> a{static_cast<const T*>(p.x), static_cast<const W*>(p.w), static_cast<const W*>(p.b),
                      static_cast<T*>(p.out), p.mean, p.rstd, p.rows, p.cols, p.eps, p.rms};
    constexpr int V = kVec<T>;
    const bool vec = p.cols % V == 0 && aligned(a.x, 16) && aligned(a.y, 16) && aligned(a.w, V * sizeof(W)) &&
                     aligned(a.b, V * sizeof(W));
    cudaStream_t s = stream();
    if constexpr (sizeof(T) == 2 && sizeof(W) <= 4) {  // (f64 weights would spill)
      const PipeShape shape = pipeShape(p.rows, p.cols, kPipeFwdPacks * V);
      if (vec && shape.tpr > 0 && pipelinedRows()) {
        auto kernel = normRowsPipeKernel<T, W>;
        const int threads = shape.tpr * shape.slots;
        const size_t smem = size_t(kFwdStages) * kPipeFwdPacks * threads * sizeof(Pack<T, V>);
        const int perSM = residentBlocks(kernel, threads, smem);
        if (perSM > 0) {
          const int64_t blocks = std::min<int64_t>(ceilDiv(p.rows, shape.slots), int64_t(perSM) * multiprocessorCount());
          kernel<<<unsigned(blocks), dim3(unsigned(shape.tpr), unsigned(shape.slots)), smem, s>>>(a);
          checkLaunch("norm");
          return;
        }
      }
    }
    const bool inRegisters = launchRows<T>(p.rows, p.cols, vec, [&](auto v, auto e, dim3 grid, dim3 block) {
      normRowsKernel<T, W, decltype(v)::value, decltype(e)::value><<<grid, block, 0, s>>>(a);
    });
    if (!inRegisters) normLongRowsKernel<T, W><<<unsigned(p.rows), kLongRowThreads, 0, s>>>(a);
    checkLaunch("norm");
  });
}

void normBackward(const NormBackwardParams& p) {
  cudaStream_t s = stream();
  if (p.rows == 0) {  // empty sums
    if (p.gw) TS_CUDA_CHECK(cudaMemsetAsync(p.gw, 0, size_t(p.cols) * sizeof(float), s), "normBackward");
    if (p.gb) TS_CUDA_CHECK(cudaMemsetAsync(p.gb, 0, size_t(p.cols) * sizeof(float), s), "normBackward");
    return;
  }
  if (norms::warpRowsNormBackward(p)) return;
  const bool sums = p.gw || p.gb;
  dispatchNorm(p.dtype, p.wDtype, "normBackward", [&](auto tx, auto tw) {
    using T = TS_TYPE(tx);
    using W = TS_TYPE(tw);
    using C = AccT<T>;
    const Bwd<T, W> a{static_cast<const T*>(p.gy), static_cast<const T*>(p.x), static_cast<const W*>(p.w),
                      p.mean, p.rstd, static_cast<T*>(p.gx), p.rows, p.cols, p.rms};
    constexpr int V = kVec<T>;

    if constexpr (sizeof(T) == 2) {
      const bool vec = p.cols % V == 0 && aligned(a.gy, 16) && aligned(a.x, 16) && aligned(a.gx, 16) &&
                       aligned(a.w, V * sizeof(W)) && aligned(a.mean, 4) && aligned(a.rstd, 4);
      const PipeShape shape = pipeShape(p.rows, p.cols, kPipeBwdElems);
      if (vec && shape.tpr > 0 && pipelinedRows()) {
        auto kernel = normBackwardPipeKernel<T, W>;
        const int threads = shape.tpr * shape.slots;
        const size_t smem = size_t(kBwdStages) * threads * (2 * sizeof(Pack<T, V>) + 2 * sizeof(float));
        const int perSM = residentBlocks(kernel, threads, smem);
        if (perSM > 0) {
          const int64_t blocks = std::min<int64_t>(ceilDiv(p.rows, shape.slots), int64_t(perSM) * multiprocessorCount());
          const size_t partRows = size_t(p.gw ? blocks : 0) + size_t(p.gb ? blocks : 0);
          Scratch part(partRows * size_t(p.cols) * sizeof(float), s);
          float* partW = p.gw ? static_cast<float*>(part.p) : nullptr;
          float* partB = p.gb ? static_cast<float*>(part.p) + (p.gw ? blocks * p.cols : 0) : nullptr;
          kernel<<<unsigned(blocks), dim3(unsigned(shape.tpr), unsigned(shape.slots)), smem, s>>>(a, partW, partB);
          checkLaunch("normBackward");
          if (sums) columnSums<float>(partW, partB, blocks, p.cols, p.gw, p.gb, s);
          return;
        }
      }
    }

    if (p.cols <= kMaxFusedCols) {
      const bool vec = p.cols % V == 0 && aligned(a.gy, 16) && aligned(a.x, 16) && aligned(a.gx, 16) &&
                       aligned(a.w, V * sizeof(W));
      // Threads per row cover the row with kBwdElems each; row slots fill the block. Rows of up to
      // 512 threads run two blocks of 512 per multiprocessor (same registers as one of 1024, but
      // their barriers are independent, so one block's loads overlap the other's reductions).
      const int threads = int(ceilDiv(ceilDiv(p.cols, kBwdElems), 32) * 32);
      const int blockThreads = threads <= kBwdThreads / 2 ? kBwdThreads / 2 : kBwdThreads;
      auto run = [&](auto kernel) {
        const int slots = int(std::min<int64_t>(blockThreads / threads, p.rows));
        const int perSM = residentBlocks(kernel, threads * slots, 0);
        const int64_t blocks = std::min<int64_t>(ceilDiv(p.rows, slots), int64_t(std::max(perSM, 1)) * multiprocessorCount());
        Scratch part(sums ? size_t(2 * blocks * p.cols) * sizeof(C) : 0, s);
        C* partW = static_cast<C*>(part.p);
        kernel<<<unsigned(blocks), dim3(threads, slots), 0, s>>>(a, partW, partW ? partW + blocks * p.cols : nullptr);
        checkLaunch("normBackward");
        if (sums) columnSums<C>(partW, partW + blocks * p.cols, blocks, p.cols, p.gw, p.gb, s);
      };
      // Prefetching costs registers: only 16-bit packs leave room for it.
      auto withBlock = [&](auto block) {
        constexpr int B = decltype(block)::value;
        if (vec) run(normBackwardKernel<T, W, V, sizeof(T) == 2, B>);
        else run(normBackwardKernel<T, W, 1, false, B>);
      };
      if (blockThreads == kBwdThreads) withBlock(Int<kBwdThreads>{});
      else withBlock(Int<kBwdThreads / 2>{});
      return;
    }

    normBackwardLongRowsKernel<T, W><<<unsigned(p.rows), kLongRowThreads, 0, s>>>(a);
    checkLaunch("normBackward");
    if (!sums) return;
    const int64_t colBlocks = ceilDiv(p.cols, 32);
    const int64_t chunks = std::clamp<int64_t>(int64_t(multiprocessorCount()) * 8 / colBlocks, 1, ceilDiv(p.rows, 32));
    const int64_t chunkRows = ceilDiv(p.rows, chunks);
    Scratch part(size_t(2 * chunks * p.cols) * sizeof(C), s);
    C* partW = static_cast<C*>(part.p);
    normColumnPartialsKernel<T, W><<<dim3(unsigned(colBlocks), unsigned(chunks)), dim3(32, 8), 0, s>>>(
        a, chunkRows, partW, partW + chunks * p.cols);
    checkLaunch("normBackward (column partials)");
    columnSums<C>(partW, partW + chunks * p.cols, chunks, p.cols, p.gw, p.gb, s);
  });
}

}  // namespace ts::cuda
