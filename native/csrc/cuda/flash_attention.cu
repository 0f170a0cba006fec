// Fused bf16 attention, FlashAttention-2 style (see flash_attention.cuh for the contract).
//
// Warp-level building blocks (PTX ISA, mma.m16n8k16 with .bf16; g = lane / 4, t = lane % 4):
//   A (16x16, row-major) : 4 regs; reg0 = A[g][2t..2t+1], reg1 = A[g+8][2t..], reg2 = A[g][2t+8..],
//                          reg3 = A[g+8][2t+8..]   (lower column in the low 16 bits)
//   B (16x8, "col")      : 2 regs; reg0 = B[2t..2t+1][g], reg1 = B[2t+8..2t+9][g]
//   C/D (16x8 fp32)      : c0,c1 = C[g][2t..2t+1], c2,c3 = C[g+8][2t..2t+1]
// Hence the C fragments of two adjacent n-tiles (columns 16j..16j+15) are, packed to bf16, exactly
// the A fragment of k-chunk j: that is how P (and dS) feed the next product without shared memory.
//
// ldmatrix.x4: lanes 8i..8i+7 give the row addresses of 8x8 matrix i; without .trans a lane
// receives M[g][2t..2t+1] of each matrix, with .trans M[2t..2t+1][g]. With r = lane % 8,
// hi = lane / 16, mid = (lane / 8) % 2 we use two address patterns over a 16x16 block:
//   P1: row = r + 8*mid, col = 8*hi   -> non-trans: A fragment of a row-major [m][k] tile
//                                      -> .trans   : B fragments (n-tiles 0, 1) of a [k][n] tile
//   P2: row = r + 8*hi,  col = 8*mid  -> non-trans: B fragments (n-tiles 0, 1) of an [n][k] tile
//                                      -> .trans   : A fragment of a [k][m] tile
// For B the result is {b0,b1 of n-tile 0, b0,b1 of n-tile 1}.
//
// Shared tiles are row-major with a row pitch of (cols + 8) bf16: consecutive rows then start
// 16 bytes apart modulo 128, so ldmatrix phases and the 32-bit dS stores are bank-conflict free.
#include "cuda/flash_attention.cuh"

#include <cmath>

namespace ts::cuda::flash {
namespace {

using bf16 = __nv_bfloat16;
constexpr float kLog2e = 1.4426950408889634f;
constexpr float kLn2 = 0.6931471805599453f;

// ---- PTX wrappers -----------------------------------------------------------------------------
__device__ __forceinline__ uint32_t smemAddr(const void* p) {
  return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}

// 16-byte global->shared copy; when !valid the destination is zero-filled and nothing is read.
__device__ __forceinline__ void cpAsync16(uint32_t dst, const void* src, bool valid) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst), "l"(src), "r"(valid ? 16 : 0)
               : "memory");
}
__device__ __forceinline__ void cpAsync4(uint32_t dst, const void* src, bool valid) {
  asm volatile("cp.async.ca.shared.global [%0], [%1], 4, %2;\n" ::"r"(dst), "l"(src), "r"(valid ? 4 : 0)
               : "memory");
}
__device__ __forceinline__ void cpAsyncCommit() { asm volatile("cp.async.commit_group;\n" ::: "memory"); }
__device__ __forceinline__ void cpAsyncWaitAll() { asm volatile("cp.async.wait_group 0;\n" ::: "memory"); }

__device__ __forceinline__ void ldsm4(uint32_t (&r)[4], uint32_t addr) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(addr)
               : "memory");
}
__device__ __forceinline__ void ldsm4t(uint32_t (&r)[4], uint32_t addr) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(addr)
               : "memory");
}

// 2^x on the SFU, denormal results flushed to zero; 2^-inf = +0.
__device__ __forceinline__ float fastExp2(float x) {
  float y;
  asm("ex2.approx.ftz.f32 %0, %1;\n" : "=f"(y) : "f"(x));
  return y;
}

// c += A * B for one m16n8k16 tile, fp32 accumulation.
__device__ __forceinline__ void mma16816(float (&c)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
  asm("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
      "{%0, %1, %2, %3};\n"
      : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

// Two floats to a bf16x2 word, `lo` in the low 16 bits (the lower column index).
__device__ __forceinline__ uint32_t packBf16(float lo, float hi) {
  __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi);
  return *reinterpret_cast<uint32_t*>(&v);
}

// The A fragment of k-chunk j built from C fragments of n-tiles 2j and 2j+1.
__device__ __forceinline__ void accToA(uint32_t (&a)[4], const float (&c0)[4], const float (&c1)[4]) {
  a[0] = packBf16(c0[0], c0[1]);
  a[1] = packBf16(c0[2], c0[3]);
  a[2] = packBf16(c1[0], c1[1]);
  a[3] = packBf16(c1[2], c1[3]);
}

// Loads rows [0, ROWS) x cols [0, D) of a bf16 tile (row stride `ld` elements in global memory)
// into shared memory with pitch D + 8; rows >= validRows are zero-filled.
template <int D, int ROWS, int NT>
__device__ __forceinline__ void loadTile(bf16* s, const bf16* g, int64_t ld, int validRows, int tid) {
  constexpr int kChunks = D / 8;
#pragma unroll
  for (int c = tid; c < ROWS * kChunks; c += NT) {
    const int r = c / kChunks, cc = c % kChunks;
    const bool ok = r < validRows;
    const bf16* src = ok ? g + r * ld + cc * 8 : g;
    cpAsync16(smemAddr(s + r * (D + 8) + cc * 8), src, ok);
  }
}

// Loads n floats (zero past `valid`) into shared memory.
template <int N, int NT>
__device__ __forceinline__ void loadRowVec(float* s, const float* g, int valid, int tid) {
#pragma unroll
  for (int i = tid; i < N; i += NT) {
    const bool ok = i < valid;
    cpAsync4(smemAddr(s + i), ok ? g + i : g, ok);
  }
}

__device__ __forceinline__ float quadMax(float v) {
  v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, 1));
  return fmaxf(v, __shfl_xor_sync(0xffffffffu, v, 2));
}
__device__ __forceinline__ float quadSum(float v) {
  v += __shfl_xor_sync(0xffffffffu, v, 1);
  return v + __shfl_xor_sync(0xffffffffu, v, 2);
}

// ---- kernel arguments ---------------------------------------------------------------------------
struct FwdArgs {
  const bf16 *q, *k, *v;
  bf16* o;
  float* lse;
  FlashStrides qs, ks, vs, os;
  int heads, seqQ, seqK;
  float scaleLog2;  // scale * log2(e)
  bool causal;
};

struct BwdArgs {
  const bf16 *q, *k, *v, *dO;
  const float *lse, *dRow;
  float* dqAcc;
  bf16 *dk, *dv;
  FlashStrides qs, ks, vs, dos, dks, dvs;
  int heads, seqQ, seqK;
  float scale, scaleLog2;
  bool causal;
};

// ---- forward ------------------------------------------------------------------------------------
// One CTA = Br = kWarps*16*kMT query rows of one (batch, head); each warp owns 16*kMT rows and
// walks the key tiles of Bc keys (double-buffered with cp.async), keeping O, the running max and
// the running sum in registers.
template <int D, int kWarps, int kMT, int Bc>
struct FwdCfg {
  static constexpr int kThreads = kWarps * 32;
  static constexpr int Br = kWarps * 16 * kMT;
  static constexpr int LD = D + 8;
  static constexpr size_t kSmem = size_t(Br + 4 * Bc) * LD * sizeof(bf16);
};

template <int D, int kWarps, int kMT, int Bc>
__global__ void __launch_bounds__(kWarps * 32) flashFwdKernel(const FwdArgs a) {
  using Cfg = FwdCfg<D, kWarps, kMT, Bc>;
  constexpr int NT = Cfg::kThreads, Br = Cfg::Br, LD = Cfg::LD;
  static_assert(D % 16 == 0 && Bc % 16 == 0, "tile shapes");
  extern __shared__ __align__(16) unsigned char smemRaw[];
  bf16* sQ = reinterpret_cast<bf16*>(smemRaw);
  bf16* sK = sQ + Br * LD;      // two buffers of Bc x LD
  bf16* sV = sK + 2 * Bc * LD;  // two buffers of Bc x LD

  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const int g = lane >> 2, t = lane & 3;
  const int bh = blockIdx.x;
  const int bi = bh / a.heads, hi = bh % a.heads;
  const int mBlock = gridDim.y - 1 - blockIdx.y;  // heaviest (causal) blocks first
  const int q0 = mBlock * Br;
  const int sq = a.seqQ, sk = a.seqK;
  const int offset = sk - sq;  // causal: key j visible to query i iff j <= i + offset

  const bf16* qg = a.q + bi * a.qs.batch + hi * a.qs.head + int64_t(q0) * a.qs.seq;
  const bf16* kg = a.k + bi * a.ks.batch + hi * a.ks.head;
  const bf16* vg = a.v + bi * a.vs.batch + hi * a.vs.head;

  const int nKeyTiles = (sk + Bc - 1) / Bc;
  int nEnd = nKeyTiles;
  if (a.causal) nEnd = min(nKeyTiles, (min(q0 + Br, sq) - 1 + offset) / Bc + 1);

  loadTile<D, Br, NT>(sQ, qg, a.qs.seq, sq - q0, tid);
  loadTile<D, Bc, NT>(sK, kg, a.ks.seq, sk, tid);
  loadTile<D, Bc, NT>(sV, vg, a.vs.seq, sk, tid);
  cpAsyncCommit();

  // Lane parts of the two ldmatrix address patterns (see the top of the file).
  const int p1row = (lane & 7) + ((lane >> 3) & 1) * 8, p1col = (lane >> 4) * 8;
  const int p2row = (lane & 7) + (lane >> 4) * 8, p2col = ((lane >> 3) & 1) * 8;

  const int wq0 = q0 + warp * 16 * kMT;  // first query row of this warp
  float o[kMT][D / 8][4];
  float mRow[kMT][2], lRow[kMT][2];
#pragma unroll
  for (int mt = 0; mt < kMT; ++mt) {
#pragma unroll
    for (int n = 0; n < D / 8; ++n)
#pragma unroll
      for (int i = 0; i < 4; ++i) o[mt][n][i] = 0.0f;
    mRow[mt][0] = mRow[mt][1] = -INFINITY;
    lRow[mt][0] = lRow[mt][1] = 0.0f;
  }

  const uint32_t sQa = smemAddr(sQ);
  for (int n = 0; n < nEnd; ++n) {
    const int buf = n & 1;
    cpAsyncWaitAll();
    __syncthreads();  // tile n visible to all; everyone is done with tile n-1's buffer
    if (n + 1 < nEnd) {
      const int k1 = (n + 1) * Bc;
      loadTile<D, Bc, NT>(sK + (buf ^ 1) * Bc * LD, kg + int64_t(k1) * a.ks.seq, a.ks.seq, sk - k1, tid);
      loadTile<D, Bc, NT>(sV + (buf ^ 1) * Bc * LD, vg + int64_t(k1) * a.vs.seq, a.vs.seq, sk - k1, tid);
      cpAsyncCommit();
    }
    const int k0 = n * Bc;
    const bool skip = wq0 >= sq || (a.causal && k0 > wq0 + 16 * kMT - 1 + offset);
    if (skip) continue;
    const uint32_t sKa = smemAddr(sK + buf * Bc * LD), sVa = smemAddr(sV + buf * Bc * LD);

    // S = Q K^T (raw, unscaled)
    float s[kMT][Bc / 8][4];
#pragma unroll
    for (int mt = 0; mt < kMT; ++mt)
#pragma unroll
      for (int nt = 0; nt < Bc / 8; ++nt)
#pragma unroll
        for (int i = 0; i < 4; ++i) s[mt][nt][i] = 0.0f;
#pragma unroll
    for (int kk = 0; kk < D / 16; ++kk) {
      uint32_t qa[kMT][4];
#pragma unroll
      for (int mt = 0; mt < kMT; ++mt)
        ldsm4(qa[mt], sQa + 2 * ((warp * 16 * kMT + mt * 16 + p1row) * LD + kk * 16 + p1col));
#pragma unroll
      for (int np = 0; np < Bc / 16; ++np) {
        uint32_t kb[4];
        ldsm4(kb, sKa + 2 * ((np * 16 + p2row) * LD + kk * 16 + p2col));
#pragma unroll
        for (int mt = 0; mt < kMT; ++mt) {
          mma16816(s[mt][2 * np], qa[mt], kb[0], kb[1]);
          mma16816(s[mt][2 * np + 1], qa[mt], kb[2], kb[3]);
        }
      }
    }

    // Mask the ragged key tail and (causal) keys past the diagonal.
    const bool needMask = (k0 + Bc > sk) || (a.causal && k0 + Bc - 1 > wq0 + offset);
    if (needMask) {
#pragma unroll
      for (int mt = 0; mt < kMT; ++mt)
#pragma unroll
        for (int nt = 0; nt < Bc / 8; ++nt)
#pragma unroll
          for (int i = 0; i < 4; ++i) {
            const int key = k0 + nt * 8 + 2 * t + (i & 1);
            const int row = wq0 + mt * 16 + g + (i >> 1) * 8;
            if (key >= sk || (a.causal && key > row + offset)) s[mt][nt][i] = -INFINITY;
          }
    }

    // Online softmax in the log2 domain: x = S * scale * log2(e).
#pragma unroll
    for (int mt = 0; mt < kMT; ++mt) {
      float mUse[2];
#pragma unroll
      for (int r = 0; r < 2; ++r) {
        float mx = -INFINITY;
#pragma unroll
        for (int nt = 0; nt < Bc / 8; ++nt) mx = fmaxf(mx, fmaxf(s[mt][nt][2 * r], s[mt][nt][2 * r + 1]));
        mx = quadMax(mx);
        const float mNew = fmaxf(mRow[mt][r], mx * a.scaleLog2);
        mUse[r] = mNew == -INFINITY ? 0.0f : mNew;
        const float alpha = fastExp2(mRow[mt][r] - mUse[r]);
        mRow[mt][r] = mNew;
        lRow[mt][r] *= alpha;
#pragma unroll
        for (int dn = 0; dn < D / 8; ++dn) {
          o[mt][dn][2 * r] *= alpha;
          o[mt][dn][2 * r + 1] *= alpha;
        }
      }
#pragma unroll
      for (int nt = 0; nt < Bc / 8; ++nt)
#pragma unroll
        for (int i = 0; i < 4; ++i) {
          const float p = fastExp2(fmaf(s[mt][nt][i], a.scaleLog2, -mUse[i >> 1]));
          s[mt][nt][i] = p;
          lRow[mt][i >> 1] += p;
        }
    }

    // O += P V
#pragma unroll
    for (int j = 0; j < Bc / 16; ++j) {
      uint32_t pa[kMT][4];
#pragma unroll
      for (int mt = 0; mt < kMT; ++mt) accToA(pa[mt], s[mt][2 * j], s[mt][2 * j + 1]);
#pragma unroll
      for (int dp = 0; dp < D / 16; ++dp) {
        uint32_t vb[4];
        ldsm4t(vb, sVa + 2 * ((j * 16 + p1row) * LD + dp * 16 + p1col));
#pragma unroll
        for (int mt = 0; mt < kMT; ++mt) {
          mma16816(o[mt][2 * dp], pa[mt], vb[0], vb[1]);
          mma16816(o[mt][2 * dp + 1], pa[mt], vb[2], vb[3]);
        }
      }
    }
  }

  // Epilogue: O /= l, L = ln(sum exp(S)) = (m + log2 l) * ln 2.
  bf16* og = a.o + bi * a.os.batch + hi * a.os.head;
  float* lg = a.lse + int64_t(bh) * sq;
#pragma unroll
  for (int mt = 0; mt < kMT; ++mt)
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      const float l = quadSum(lRow[mt][r]);
      const float inv = l > 0.0f ? 1.0f / l : 0.0f;
      const int row = wq0 + mt * 16 + g + r * 8;
      if (row < sq) {
        bf16* orow = og + int64_t(row) * a.os.seq + 2 * t;
#pragma unroll
        for (int dn = 0; dn < D / 8; ++dn)
          *reinterpret_cast<uint32_t*>(orow + dn * 8) = packBf16(o[mt][dn][2 * r] * inv, o[mt][dn][2 * r + 1] * inv);
        if (t == 0) lg[row] = l > 0.0f ? (mRow[mt][r] + log2f(l)) * kLn2 : INFINITY;
      }
    }
}

// ---- backward -----------------------------------------------------------------------------------
// D = rowsum(dO * O) in fp32, and zeroing of the fp32 dQ accumulator. One row per D/8 threads.
template <int D>
__global__ void __launch_bounds__(256) flashBwdPreKernel(const bf16* __restrict__ o, FlashStrides os,
                                                         const bf16* __restrict__ dO, FlashStrides dos,
                                                         float* __restrict__ dRow, float* __restrict__ dqAcc,
                                                         int heads, int seqQ, int64_t rows) {
  constexpr int TPR = D / 8;
  const int64_t row = int64_t(blockIdx.x) * (256 / TPR) + threadIdx.x / TPR;
  const int c = (threadIdx.x % TPR) * 8;
  float acc = 0.0f;
  if (row < rows) {
    const int64_t bh = row / seqQ;
    const int q = int(row % seqQ);
    const int bi = int(bh / heads), hi = int(bh % heads);
    const uint4 ov = *reinterpret_cast<const uint4*>(o + bi * os.batch + hi * os.head + int64_t(q) * os.seq + c);
    const uint4 dv = *reinterpret_cast<const uint4*>(dO + bi * dos.batch + hi * dos.head + int64_t(q) * dos.seq + c);
    const __nv_bfloat162* o2 = reinterpret_cast<const __nv_bfloat162*>(&ov);
    const __nv_bfloat162* d2 = reinterpret_cast<const __nv_bfloat162*>(&dv);
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      const float2 a = __bfloat1622float2(o2[i]), b = __bfloat1622float2(d2[i]);
      acc = fmaf(a.x, b.x, acc);
      acc = fmaf(a.y, b.y, acc);
    }
    float4* z = reinterpret_cast<float4*>(dqAcc + row * D + c);
    z[0] = make_float4(0.f, 0.f, 0.f, 0.f);
    z[1] = make_float4(0.f, 0.f, 0.f, 0.f);
  }
#pragma unroll
  for (int m = TPR / 2; m > 0; m >>= 1) acc += __shfl_xor_sync(0xffffffffu, acc, m);
  if (row < rows && threadIdx.x % TPR == 0) dRow[row] = acc;
}

// dQ (bf16, strided) = scale * dQ accumulator. 8 elements per thread.
template <int D>
__global__ void __launch_bounds__(256) flashBwdDqKernel(const float* __restrict__ dqAcc, bf16* __restrict__ dq,
                                                        FlashStrides dqs, int heads, int seqQ, int64_t rows,
                                                        float scale) {
  constexpr int TPR = D / 8;
  const int64_t row = int64_t(blockIdx.x) * (256 / TPR) + threadIdx.x / TPR;
  if (row >= rows) return;
  const int c = (threadIdx.x % TPR) * 8;
  const int64_t bh = row / seqQ;
  const int q = int(row % seqQ);
  const int bi = int(bh / heads), hi = int(bh % heads);
  const float4* src = reinterpret_cast<const float4*>(dqAcc + row * D + c);
  const float4 x = src[0], y = src[1];
  uint4 out;
  out.x = packBf16(x.x * scale, x.y * scale);
  out.y = packBf16(x.z * scale, x.w * scale);
  out.z = packBf16(y.x * scale, y.y * scale);
  out.w = packBf16(y.z * scale, y.w * scale);
  *reinterpret_cast<uint4*>(dq + bi * dqs.batch + hi * dqs.head + int64_t(q) * dqs.seq + c) = out;
}

// One CTA = Bc = 128 keys of one (batch, head), 8 warps of 16 keys each. The CTA walks the query
// tiles of Br rows (Q, dO, L, D double-buffered with cp.async). Per tile each warp computes, for
// its keys, S^T = K Q^T, P^T, dV += P^T dO, dP^T = V dO^T, dS^T = P^T (dP^T - D), dK += dS^T Q,
// and writes dS^T to shared memory; then all 8 warps split dQ_tile = dS K (Br x D) and add it to
// the fp32 accumulator with atomics.
template <int D, int Br>
struct BwdCfg {
  static constexpr int kThreads = 256, Bc = 128;  // 8 warps x 16 keys
  static constexpr int LD = D + 8, LDS = Br + 8;
  static constexpr size_t kSmem =
      size_t(2 * Bc * LD + 4 * Br * LD + Bc * LDS) * sizeof(bf16) + size_t(4 * Br) * sizeof(float);
};

template <int D, int Br>
__global__ void __launch_bounds__(256) flashBwdKernel(const BwdArgs a) {
  using Cfg = BwdCfg<D, Br>;
  constexpr int NT = Cfg::kThreads, Bc = Cfg::Bc, LD = Cfg::LD, LDS = Cfg::LDS;
  constexpr int WM = Br / 16, WN = 8 / WM, CW = D / WN;  // dQ split: WM x WN warps, CW columns each
  static_assert(WM * WN == 8 && CW % 16 == 0, "dQ warp split");
  extern __shared__ __align__(16) unsigned char smemRaw[];
  bf16* sK = reinterpret_cast<bf16*>(smemRaw);
  bf16* sV = sK + Bc * LD;
  bf16* sQ = sV + Bc * LD;       // two buffers of Br x LD
  bf16* sdO = sQ + 2 * Br * LD;  // two buffers of Br x LD
  bf16* sdS = sdO + 2 * Br * LD; // Bc x LDS, dS^T (keys x queries)
  float* sL = reinterpret_cast<float*>(sdS + Bc * LDS);  // two buffers of Br
  float* sD = sL + 2 * Br;                               // two buffers of Br

  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const int g = lane >> 2, t = lane & 3;
  const int bh = blockIdx.x;
  const int bi = bh / a.heads, hi = bh % a.heads;
  const int kb = blockIdx.y * Bc;
  const int sq = a.seqQ, sk = a.seqK;
  const int offset = sk - sq;

  const bf16* qg = a.q + bi * a.qs.batch + hi * a.qs.head;
  const bf16* dog = a.dO + bi * a.dos.batch + hi * a.dos.head;
  const float* lg = a.lse + int64_t(bh) * sq;
  const float* dg = a.dRow + int64_t(bh) * sq;
  float* dqg = a.dqAcc + int64_t(bh) * sq * D;

  const int nQ = (sq + Br - 1) / Br;
  const int qBegin = a.causal ? max(0, kb - offset) / Br : 0;

  loadTile<D, Bc, NT>(sK, a.k + bi * a.ks.batch + hi * a.ks.head + int64_t(kb) * a.ks.seq, a.ks.seq, sk - kb, tid);
  loadTile<D, Bc, NT>(sV, a.v + bi * a.vs.batch + hi * a.vs.head + int64_t(kb) * a.vs.seq, a.vs.seq, sk - kb, tid);
  if (qBegin < nQ) {
    const int q0 = qBegin * Br;
    loadTile<D, Br, NT>(sQ, qg + int64_t(q0) * a.qs.seq, a.qs.seq, sq - q0, tid);
    loadTile<D, Br, NT>(sdO, dog + int64_t(q0) * a.dos.seq, a.dos.seq, sq - q0, tid);
    loadRowVec<Br, NT>(sL, lg + q0, sq - q0, tid);
    loadRowVec<Br, NT>(sD, dg + q0, sq - q0, tid);
  }
  cpAsyncCommit();

  const int p1row = (lane & 7) + ((lane >> 3) & 1) * 8, p1col = (lane >> 4) * 8;
  const int p2row = (lane & 7) + (lane >> 4) * 8, p2col = ((lane >> 3) & 1) * 8;
  const int kw0 = kb + warp * 16;  // this warp's first key
  const uint32_t sKa = smemAddr(sK), sVa = smemAddr(sV), sdSa = smemAddr(sdS);

  float dk[D / 8][4], dv[D / 8][4];
#pragma unroll
  for (int n = 0; n < D / 8; ++n)
#pragma unroll
    for (int i = 0; i < 4; ++i) dk[n][i] = dv[n][i] = 0.0f;

  for (int qb = qBegin; qb < nQ; ++qb) {
    const int buf = (qb - qBegin) & 1;
    const int q0 = qb * Br;
    cpAsyncWaitAll();
    __syncthreads();  // tile qb visible; everyone is past the previous dQ step
    if (qb + 1 < nQ) {
      const int q1 = q0 + Br;
      loadTile<D, Br, NT>(sQ + (buf ^ 1) * Br * LD, qg + int64_t(q1) * a.qs.seq, a.qs.seq, sq - q1, tid);
      loadTile<D, Br, NT>(sdO + (buf ^ 1) * Br * LD, dog + int64_t(q1) * a.dos.seq, a.dos.seq, sq - q1, tid);
      loadRowVec<Br, NT>(sL + (buf ^ 1) * Br, lg + q1, sq - q1, tid);
      loadRowVec<Br, NT>(sD + (buf ^ 1) * Br, dg + q1, sq - q1, tid);
      cpAsyncCommit();
    }
    const uint32_t sQa = smemAddr(sQ + buf * Br * LD), sdOa = smemAddr(sdO + buf * Br * LD);
    const float* sLb = sL + buf * Br;
    const float* sDb = sD + buf * Br;

    const bool skip = kw0 >= sk || (a.causal && kw0 > q0 + Br - 1 + offset);
    if (!skip) {
      // S^T = K_w Q^T (16 keys x Br queries)
      float st[Br / 8][4];
#pragma unroll
      for (int nt = 0; nt < Br / 8; ++nt)
#pragma unroll
        for (int i = 0; i < 4; ++i) st[nt][i] = 0.0f;
#pragma unroll
      for (int kk = 0; kk < D / 16; ++kk) {
        uint32_t ka[4];
        ldsm4(ka, sKa + 2 * ((warp * 16 + p1row) * LD + kk * 16 + p1col));
#pragma unroll
        for (int np = 0; np < Br / 16; ++np) {
          uint32_t qbf[4];
          ldsm4(qbf, sQa + 2 * ((np * 16 + p2row) * LD + kk * 16 + p2col));
          mma16816(st[2 * np], ka, qbf[0], qbf[1]);
          mma16816(st[2 * np + 1], ka, qbf[2], qbf[3]);
        }
      }
      // P^T = exp(S^T * scale - L), zero where masked.
#pragma unroll
      for (int nt = 0; nt < Br / 8; ++nt)
#pragma unroll
        for (int i = 0; i < 4; ++i) {
          const int qc = nt * 8 + 2 * t + (i & 1);
          const int qq = q0 + qc;
          const int key = kw0 + g + (i >> 1) * 8;
          const bool ok = qq < sq && key < sk && (!a.causal || key <= qq + offset);
          st[nt][i] = ok ? fastExp2(fmaf(st[nt][i], a.scaleLog2, -sLb[qc] * kLog2e)) : 0.0f;
        }
      // dV += P^T dO
#pragma unroll
      for (int j = 0; j < Br / 16; ++j) {
        uint32_t pa[4];
        accToA(pa, st[2 * j], st[2 * j + 1]);
#pragma unroll
        for (int dp = 0; dp < D / 16; ++dp) {
          uint32_t b[4];
          ldsm4t(b, sdOa + 2 * ((j * 16 + p1row) * LD + dp * 16 + p1col));
          mma16816(dv[2 * dp], pa, b[0], b[1]);
          mma16816(dv[2 * dp + 1], pa, b[2], b[3]);
        }
      }
      // dP^T = V_w dO^T
      float dpt[Br / 8][4];
#pragma unroll
      for (int nt = 0; nt < Br / 8; ++nt)
#pragma unroll
        for (int i = 0; i < 4; ++i) dpt[nt][i] = 0.0f;
#pragma unroll
      for (int kk = 0; kk < D / 16; ++kk) {
        uint32_t va[4];
        ldsm4(va, sVa + 2 * ((warp * 16 + p1row) * LD + kk * 16 + p1col));
#pragma unroll
        for (int np = 0; np < Br / 16; ++np) {
          uint32_t b[4];
          ldsm4(b, sdOa + 2 * ((np * 16 + p2row) * LD + kk * 16 + p2col));
          mma16816(dpt[2 * np], va, b[0], b[1]);
          mma16816(dpt[2 * np + 1], va, b[2], b[3]);
        }
      }
      // dS^T = P^T (dP^T - D)
#pragma unroll
      for (int nt = 0; nt < Br / 8; ++nt)
#pragma unroll
        for (int i = 0; i < 4; ++i) dpt[nt][i] = st[nt][i] * (dpt[nt][i] - sDb[nt * 8 + 2 * t + (i & 1)]);
      // dK += dS^T Q, and dS^T -> shared memory (bf16, the same rounding as the A operand).
#pragma unroll
      for (int j = 0; j < Br / 16; ++j) {
        uint32_t da[4];
        accToA(da, dpt[2 * j], dpt[2 * j + 1]);
        uint32_t* r0 = reinterpret_cast<uint32_t*>(sdS + (warp * 16 + g) * LDS + j * 16 + 2 * t);
        uint32_t* r1 = reinterpret_cast<uint32_t*>(sdS + (warp * 16 + g + 8) * LDS + j * 16 + 2 * t);
        r0[0] = da[0];
        r1[0] = da[1];
        r0[4] = da[2];  // + 8 columns
        r1[4] = da[3];
#pragma unroll
        for (int dp = 0; dp < D / 16; ++dp) {
          uint32_t b[4];
          ldsm4t(b, sQa + 2 * ((j * 16 + p1row) * LD + dp * 16 + p1col));
          mma16816(dk[2 * dp], da, b[0], b[1]);
          mma16816(dk[2 * dp + 1], da, b[2], b[3]);
        }
      }
    } else {
      // No visible (query, key) pair for this warp: its dS^T rows are zero.
#pragma unroll
      for (int j = 0; j < Br / 16; ++j) {
        uint32_t* r0 = reinterpret_cast<uint32_t*>(sdS + (warp * 16 + g) * LDS + j * 16 + 2 * t);
        uint32_t* r1 = reinterpret_cast<uint32_t*>(sdS + (warp * 16 + g + 8) * LDS + j * 16 + 2 * t);
        r0[0] = 0u;
        r1[0] = 0u;
        r0[4] = 0u;
        r1[4] = 0u;
      }
    }
    __syncthreads();  // dS^T complete

    // dQ_tile += dS K: warp (wm, wn) owns query rows 16*wm.. and columns wn*CW..
    {
      const int wm = warp % WM, wn = warp / WM;
      const int rq0 = q0 + wm * 16;
      // Key chunks (of 16) that can hold a nonzero dS for these rows.
      int keyLimit = sk;
      if (a.causal) keyLimit = min(keyLimit, rq0 + 16 + offset);
      const int kcEnd = min(Bc / 16, (keyLimit - kb + 15) / 16);  // may be <= 0
      if (rq0 < sq && kcEnd > 0) {
        float acc[CW / 8][4];
#pragma unroll
        for (int n = 0; n < CW / 8; ++n)
#pragma unroll
          for (int i = 0; i < 4; ++i) acc[n][i] = 0.0f;
#pragma unroll
        for (int kc = 0; kc < Bc / 16; ++kc) {
          if (kc < kcEnd) {
            uint32_t da[4];
            ldsm4t(da, sdSa + 2 * ((kc * 16 + p2row) * LDS + wm * 16 + p2col));
#pragma unroll
            for (int dp = 0; dp < CW / 16; ++dp) {
              uint32_t b[4];
              ldsm4t(b, sKa + 2 * ((kc * 16 + p1row) * LD + wn * CW + dp * 16 + p1col));
              mma16816(acc[2 * dp], da, b[0], b[1]);
              mma16816(acc[2 * dp + 1], da, b[2], b[3]);
            }
          }
        }
#pragma unroll
        for (int r = 0; r < 2; ++r) {
          const int row = rq0 + g + r * 8;
          if (row < sq) {
            float* dst = dqg + int64_t(row) * D + wn * CW + 2 * t;
#pragma unroll
            for (int n = 0; n < CW / 8; ++n) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
              atomicAdd(reinterpret_cast<float2*>(dst + n * 8), make_float2(acc[n][2 * r], acc[n][2 * r + 1]));
#else
              atomicAdd(dst + n * 8, acc[n][2 * r]);
              atomicAdd(dst + n * 8 + 1, acc[n][2 * r + 1]);
#endif
            }
          }
        }
      }
    }
  }

  // dK = scale * dS^T Q, dV = P^T dO.
  bf16* dkg = a.dk + bi * a.dks.batch + hi * a.dks.head;
  bf16* dvg = a.dv + bi * a.dvs.batch + hi * a.dvs.head;
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    const int key = kw0 + g + r * 8;
    if (key < sk) {
      bf16* kr = dkg + int64_t(key) * a.dks.seq + 2 * t;
      bf16* vr = dvg + int64_t(key) * a.dvs.seq + 2 * t;
#pragma unroll
      for (int n = 0; n < D / 8; ++n) {
        *reinterpret_cast<uint32_t*>(kr + n * 8) = packBf16(dk[n][2 * r] * a.scale, dk[n][2 * r + 1] * a.scale);
        *reinterpret_cast<uint32_t*>(vr + n * 8) = packBf16(dv[n][2 * r], dv[n][2 * r + 1]);
      }
    }
  }
}

// ---- host side ----------------------------------------------------------------------------------
bool aligned16(const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; }
bool strides8(const FlashStrides& s) { return s.batch % 8 == 0 && s.seq % 8 == 0 && s.head % 8 == 0; }
size_t roundUp256(size_t n) { return (n + 255) / 256 * 256; }

const char* checkCommon(int batch, int heads, int seqQ, int seqK, int headDim, float scale, bool causal) {
  if (headDim != 64 && headDim != 128) return "flash attention: head dim must be 64 or 128";
  if (batch < 1 || heads < 1 || seqQ < 1 || seqK < 1) return "flash attention: batch, heads and sequence lengths must be >= 1";
  if (int64_t(batch) * heads > 0x7fffffffLL) return "flash attention: batch * heads too large";
  if (!(scale > 0.0f) || !std::isfinite(scale)) return "flash attention: softmax scale must be finite and > 0";
  if (causal && seqK < seqQ) return "flash attention: causal masking needs seqK >= seqQ (bottom-right aligned)";
  return nullptr;
}

template <int D, int kWarps, int kMT, int Bc>
cudaError_t launchFwd(const FwdArgs& args, int bhCount, cudaStream_t stream) {
  using Cfg = FwdCfg<D, kWarps, kMT, Bc>;
  auto kernel = flashFwdKernel<D, kWarps, kMT, Bc>;
  cudaError_t e = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, int(Cfg::kSmem));
  if (e != cudaSuccess) return e;
  const dim3 grid(unsigned(bhCount), unsigned((args.seqQ + Cfg::Br - 1) / Cfg::Br));
  kernel<<<grid, Cfg::kThreads, Cfg::kSmem, stream>>>(args);
  return cudaGetLastError();
}

template <int D, int Br>
cudaError_t launchBwd(const FlashBwdParams& p, cudaStream_t stream) {
  using Cfg = BwdCfg<D, Br>;
  const int64_t rows = int64_t(p.batch) * p.heads * p.seqQ;
  float* dqAcc = static_cast<float*>(p.workspace);
  float* dRow = reinterpret_cast<float*>(static_cast<char*>(p.workspace) + roundUp256(size_t(rows) * D * sizeof(float)));
  constexpr int kRowsPerBlock = 256 / (D / 8);
  const unsigned rowBlocks = unsigned((rows + kRowsPerBlock - 1) / kRowsPerBlock);

  flashBwdPreKernel<D><<<rowBlocks, 256, 0, stream>>>(p.o, p.oStride, p.dO, p.dOStride, dRow, dqAcc, p.heads, p.seqQ, rows);
  cudaError_t e = cudaGetLastError();
  if (e != cudaSuccess) return e;

  BwdArgs a;
  a.q = p.q;
  a.k = p.k;
  a.v = p.v;
  a.dO = p.dO;
  a.lse = p.lse;
  a.dRow = dRow;
  a.dqAcc = dqAcc;
  a.dk = p.dk;
  a.dv = p.dv;
  a.qs = p.qStride;
  a.ks = p.kStride;
  a.vs = p.vStride;
  a.dos = p.dOStride;
  a.dks = p.dkStride;
  a.dvs = p.dvStride;
  a.heads = p.heads;
  a.seqQ = p.seqQ;
  a.seqK = p.seqK;
  a.scale = p.scale;
  a.scaleLog2 = p.scale * kLog2e;
  a.causal = p.causal;
  auto kernel = flashBwdKernel<D, Br>;
  e = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, int(Cfg::kSmem));
  if (e != cudaSuccess) return e;
  const dim3 grid(unsigned(p.batch * p.heads), unsigned((p.seqK + Cfg::Bc - 1) / Cfg::Bc));
  kernel<<<grid, Cfg::kThreads, Cfg::kSmem, stream>>>(a);
  e = cudaGetLastError();
  if (e != cudaSuccess) return e;

  flashBwdDqKernel<D><<<rowBlocks, 256, 0, stream>>>(dqAcc, p.dq, p.dqStride, p.heads, p.seqQ, rows, p.scale);
  return cudaGetLastError();
}

}  // namespace

size_t flashAttentionBackwardWorkspaceBytes(int batch, int heads, int seqQ, int headDim) {
  const size_t rows = size_t(batch) * size_t(heads) * size_t(seqQ);
  return roundUp256(rows * size_t(headDim) * sizeof(float)) + roundUp256(rows * sizeof(float));
}

const char* flashAttentionCheck(const FlashParams& p) {
  if (const char* why = checkCommon(p.batch, p.heads, p.seqQ, p.seqK, p.headDim, p.scale, p.causal)) return why;
  if (!p.q || !p.k || !p.v || !p.o || !p.lse) return "flash attention: null pointer";
  if (!aligned16(p.q) || !aligned16(p.k) || !aligned16(p.v) || !aligned16(p.o) || reinterpret_cast<uintptr_t>(p.lse) % 4)
    return "flash attention: Q, K, V, O must be 16-byte aligned";
  if (!strides8(p.qStride) || !strides8(p.kStride) || !strides8(p.vStride) || !strides8(p.oStride))
    return "flash attention: batch/seq/head strides must be multiples of 8 elements";
  return nullptr;
}

const char* flashAttentionCheckBackward(const FlashBwdParams& p) {
  if (const char* why = checkCommon(p.batch, p.heads, p.seqQ, p.seqK, p.headDim, p.scale, p.causal)) return why;
  if (!p.q || !p.k || !p.v || !p.o || !p.dO || !p.lse || !p.dq || !p.dk || !p.dv || !p.workspace)
    return "flash attention backward: null pointer";
  if (!aligned16(p.q) || !aligned16(p.k) || !aligned16(p.v) || !aligned16(p.o) || !aligned16(p.dO) ||
      !aligned16(p.dq) || !aligned16(p.dk) || !aligned16(p.dv) || reinterpret_cast<uintptr_t>(p.lse) % 4)
    return "flash attention backward: Q, K, V, O, dO, dQ, dK, dV must be 16-byte aligned";
  if (reinterpret_cast<uintptr_t>(p.workspace) % 256) return "flash attention backward: workspace must be 256-byte aligned";
  if (!strides8(p.qStride) || !strides8(p.kStride) || !strides8(p.vStride) || !strides8(p.oStride) ||
      !strides8(p.dOStride) || !strides8(p.dqStride) || !strides8(p.dkStride) || !strides8(p.dvStride))
    return "flash attention backward: batch/seq/head strides must be multiples of 8 elements";
  return nullptr;
}

cudaError_t flashAttentionForward(const FlashParams& p, cudaStream_t stream) {
  if (flashAttentionCheck(p)) return cudaErrorInvalidValue;
  FwdArgs a;
  a.q = p.q;
  a.k = p.k;
  a.v = p.v;
  a.o = p.o;
  a.lse = p.lse;
  a.qs = p.qStride;
  a.ks = p.kStride;
  a.vs = p.vStride;
  a.os = p.oStride;
  a.heads = p.heads;
  a.seqQ = p.seqQ;
  a.seqK = p.seqK;
  a.scaleLog2 = p.scale * kLog2e;
  a.causal = p.causal;
  const int bhCount = p.batch * p.heads;
  // Tile shapes <D, warps, 16-row m-tiles per warp, key tile>; variant 0 is the default.
  if (p.headDim == 64) {
    switch (p.variant) {
      case 1: return launchFwd<64, 8, 1, 64>(a, bhCount, stream);
      case 2: return launchFwd<64, 4, 2, 128>(a, bhCount, stream);
      default: return launchFwd<64, 4, 2, 64>(a, bhCount, stream);
    }
  }
  switch (p.variant) {
    case 1: return launchFwd<128, 4, 2, 64>(a, bhCount, stream);
    case 2: return launchFwd<128, 8, 1, 64>(a, bhCount, stream);
    default: return launchFwd<128, 4, 2, 32>(a, bhCount, stream);
  }
}

cudaError_t flashAttentionBackward(const FlashBwdParams& p, cudaStream_t stream) {
  if (flashAttentionCheckBackward(p)) return cudaErrorInvalidValue;
  // Query tile Br (the key tile is 128 = 8 warps x 16 keys); variant 0 is the default.
  if (p.headDim == 64) return p.variant == 1 ? launchBwd<64, 32>(p, stream) : launchBwd<64, 64>(p, stream);
  return p.variant == 1 ? launchBwd<128, 32>(p, stream) : launchBwd<128, 64>(p, stream);
}

}  // namespace ts::cuda::flash
