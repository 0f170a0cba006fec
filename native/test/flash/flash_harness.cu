// Standalone GPU test + benchmark for the fused bf16 attention kernels (native/csrc/cuda/flash_attention.cu).
//
// Build and run from the repository root (needs only nvcc; no cuBLAS, no Node):
//   nvcc -std=c++17 -O3 -arch=sm_90a -I native/csrc native/test/flash/flash_harness.cu native/csrc/cuda/flash_attention.cu -o /tmp/flash_harness && /tmp/flash_harness
// Options: --quick (variant 0 only, fewer cases), --no-bench, --bench-only.
//
// Correctness: random bf16 Q, K, V, dO (deterministic host RNG) are checked against a naive fp32
// reference computed on the GPU (S = scale*QK^T, mask, softmax, O = PV; dP = dO V^T,
// dS = P*(dP - rowsum(dO*O)), dQ = scale*dS K, dK = scale*dS^T Q, dV = P^T dO). Per output the
// error is max|fused - ref| / max|ref|; tolerance 2e-2 (bf16 outputs and bf16 P/dS operands),
// 1e-3 absolute for the fp32 logsumexp. Output buffers are pre-filled with NaN: elements outside
// each strided view must stay NaN, those inside must be written and finite. Every tile variant of
// the launchers is checked. Prints PASS/FAIL per case; exit status 1 on any failure, 2 on a CUDA
// error, 3 on the watchdog timeout.
// Benchmark: causal forward / backward at GPT-2 shapes and b=4, h=32, s=4096, d=128, cudaEvent
// timed; causal FLOPs = 4*b*h*s^2*d / 2 forward and 2.5x that backward.
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <unistd.h>
#include <vector>

#include "cuda/flash_attention.cuh"

using namespace ts::cuda::flash;
using bf16 = __nv_bfloat16;

#define CK(expr)                                                                                  \
  do {                                                                                            \
    cudaError_t e_ = (expr);                                                                      \
    if (e_ != cudaSuccess) {                                                                      \
      fprintf(stderr, "CUDA error %s at %s:%d: %s\n", cudaGetErrorString(e_), __FILE__, __LINE__, #expr); \
      fflush(stdout);                                                                             \
      exit(2);                                                                                    \
    }                                                                                             \
  } while (0)

static void onAlarm(int) {
  const char msg[] = "\nTIMEOUT: watchdog fired (a kernel hung or the run is far too slow)\n";
  ssize_t r = write(2, msg, sizeof(msg) - 1);
  (void)r;
  _exit(3);
}

// ---- host helpers -------------------------------------------------------------------------------
static uint64_t gRng = 0x243F6A8885A308D3ull;
static float urand() {  // splitmix64 -> [-1, 1)
  uint64_t z = (gRng += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  z ^= z >> 31;
  return float(double(z >> 40) * (1.0 / 16777216.0)) * 2.0f - 1.0f;
}
static uint16_t f2bf(float f) {  // round to nearest even (inputs are finite)
  uint32_t u;
  memcpy(&u, &f, 4);
  u += 0x7fffu + ((u >> 16) & 1u);
  return uint16_t(u >> 16);
}
static float bf2f(uint16_t h) {
  uint32_t u = uint32_t(h) << 16;
  float f;
  memcpy(&f, &u, 4);
  return f;
}

enum Layout { kBSHD = 0, kSBHD = 1, kBHSDPadded = 2 };
static const char* layoutName(int l) { return l == kBSHD ? "bshd" : l == kSBHD ? "sbhd" : "bhsd+pad"; }

// A strided [b, s, h, d] bf16 view over its own device buffer.
struct View {
  int b = 0, s = 0, h = 0, d = 0;
  FlashStrides st;
  size_t elems = 0;
  uint16_t* dev = nullptr;
  View(int b_, int s_, int h_, int d_, int layout) : b(b_), s(s_), h(h_), d(d_) {
    if (layout == kBSHD) st = {int64_t(s) * h * d, int64_t(h) * d, d};
    else if (layout == kSBHD) st = {int64_t(h) * d, int64_t(b) * h * d, d};  // Megatron sequence-first
    else st = {int64_t(h) * s * (d + 8), d + 8, int64_t(s) * (d + 8)};       // rows padded by 8
    elems = size_t((b - 1) * st.batch + (s - 1) * st.seq + (h - 1) * st.head + d);
    CK(cudaMalloc(&dev, elems * 2));
    CK(cudaMemset(dev, 0xFF, elems * 2));  // NaN everywhere
  }
  ~View() { cudaFree(dev); }
  View(const View&) = delete;
  View& operator=(const View&) = delete;
  size_t idx(int bi, int si, int hi, int di) const { return size_t(bi * st.batch + si * st.seq + hi * st.head + di); }
  bf16* ptr() const { return reinterpret_cast<bf16*>(dev); }
  void fillRandom(float amp) {
    std::vector<uint16_t> hbuf(elems, 0xFFFFu);
    for (int bi = 0; bi < b; ++bi)
      for (int si = 0; si < s; ++si)
        for (int hi = 0; hi < h; ++hi)
          for (int di = 0; di < d; ++di) hbuf[idx(bi, si, hi, di)] = f2bf(amp * urand());
    CK(cudaMemcpy(dev, hbuf.data(), elems * 2, cudaMemcpyHostToDevice));
  }
  void poison() { CK(cudaMemset(dev, 0xFF, elems * 2)); }
  std::vector<uint16_t> download() const {
    std::vector<uint16_t> hbuf(elems);
    CK(cudaMemcpy(hbuf.data(), dev, elems * 2, cudaMemcpyDeviceToHost));
    return hbuf;
  }
};

// ---- naive fp32 reference kernels (one row per block; [bh][s][d] contiguous fp32) ----------------
__global__ void gatherKernel(const bf16* src, FlashStrides st, int heads, int seq, int d, float* dst) {
  const int bh = blockIdx.y, s = blockIdx.x;
  const int bi = bh / heads, hi = bh % heads;
  for (int c = threadIdx.x; c < d; c += blockDim.x)
    dst[(size_t(bh) * seq + s) * d + c] = __bfloat162float(src[bi * st.batch + s * st.seq + hi * st.head + c]);
}

__device__ float blockReduce(float v, bool isMax) {
  __shared__ float red[32];
  for (int o = 16; o > 0; o >>= 1) {
    const float w = __shfl_xor_sync(0xffffffffu, v, o);
    v = isMax ? fmaxf(v, w) : v + w;
  }
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32, nw = (blockDim.x + 31) / 32;
  __syncthreads();
  if (lane == 0) red[warp] = v;
  __syncthreads();
  float r = red[0];
  for (int i = 1; i < nw; ++i) r = isMax ? fmaxf(r, red[i]) : r + red[i];
  return r;
}

// P[i][:] = softmax(scale * q_i . k_j, masked), L[i] = logsumexp. grid (sq, bh), 256 threads.
__global__ void refSoftmaxKernel(const float* Q, const float* K, float* P, float* L, int sq, int sk, int d, float scale,
                                 bool causal) {
  const int i = blockIdx.x, bh = blockIdx.y;
  const float* q = Q + (size_t(bh) * sq + i) * d;
  float* p = P + (size_t(bh) * sq + i) * sk;
  float mx = -INFINITY;
  for (int j = threadIdx.x; j < sk; j += blockDim.x) {
    const float* k = K + (size_t(bh) * sk + j) * d;
    float s = 0.f;
    for (int c = 0; c < d; ++c) s += q[c] * k[c];
    s *= scale;
    if (causal && j > i + (sk - sq)) s = -INFINITY;
    p[j] = s;
    mx = fmaxf(mx, s);
  }
  mx = blockReduce(mx, true);
  float sum = 0.f;
  for (int j = threadIdx.x; j < sk; j += blockDim.x) {
    const float e = expf(p[j] - mx);
    p[j] = e;
    sum += e;
  }
  sum = blockReduce(sum, false);
  for (int j = threadIdx.x; j < sk; j += blockDim.x) p[j] /= sum;
  if (threadIdx.x == 0) L[size_t(bh) * sq + i] = mx + logf(sum);
}

// Out[i][c] = alpha * sum_j A[i][j] B[j][c]  (A: [bh][m][n], B: [bh][n][d]). grid (m, bh), d threads.
__global__ void refRowTimesMatKernel(const float* A, const float* B, float* Out, int m, int n, int d, float alpha) {
  const int i = blockIdx.x, bh = blockIdx.y, c = threadIdx.x;
  const float* a = A + (size_t(bh) * m + i) * n;
  const float* b = B + size_t(bh) * n * d;
  float acc = 0.f;
  for (int j = 0; j < n; ++j) acc += a[j] * b[size_t(j) * d + c];
  Out[(size_t(bh) * m + i) * d + c] = alpha * acc;
}

// Out[j][c] = alpha * sum_i A[i][j] B[i][c]  (A: [bh][m][n], B: [bh][m][d]). grid (n, bh), d threads.
__global__ void refColTimesMatKernel(const float* A, const float* B, float* Out, int m, int n, int d, float alpha) {
  const int j = blockIdx.x, bh = blockIdx.y, c = threadIdx.x;
  const float* a = A + size_t(bh) * m * n;
  const float* b = B + size_t(bh) * m * d;
  float acc = 0.f;
  for (int i = 0; i < m; ++i) acc += a[size_t(i) * n + j] * b[size_t(i) * d + c];
  Out[(size_t(bh) * n + j) * d + c] = alpha * acc;
}

// dS[i][j] = P[i][j] * (dO_i . V_j - dO_i . O_i). grid (sq, bh), 256 threads.
__global__ void refDsKernel(const float* P, const float* dO, const float* O, const float* V, float* dS, int sq, int sk,
                            int d) {
  const int i = blockIdx.x, bh = blockIdx.y;
  const float* dO_i = dO + (size_t(bh) * sq + i) * d;
  const float* O_i = O + (size_t(bh) * sq + i) * d;
  float part = 0.f;
  for (int c = threadIdx.x; c < d; c += blockDim.x) part += dO_i[c] * O_i[c];
  const float Di = blockReduce(part, false);
  for (int j = threadIdx.x; j < sk; j += blockDim.x) {
    const float* v = V + (size_t(bh) * sk + j) * d;
    float dp = 0.f;
    for (int c = 0; c < d; ++c) dp += dO_i[c] * v[c];
    const size_t ij = (size_t(bh) * sq + i) * sk + j;
    dS[ij] = P[ij] * (dp - Di);
  }
}

// ---- comparison ---------------------------------------------------------------------------------
struct Cmp {
  double maxAbs = 0, maxRef = 0;
  size_t nonFinite = 0, outside = 0;
};

// Fused (strided bf16 view) vs reference ([bh][s][d] fp32 on the device).
static Cmp compareView(const View& v, const float* refDev) {
  const std::vector<uint16_t> got = v.download();
  const size_t n = size_t(v.b) * v.h * v.s * v.d;
  std::vector<float> ref(n);
  CK(cudaMemcpy(ref.data(), refDev, n * 4, cudaMemcpyDeviceToHost));
  std::vector<char> inside(v.elems, 0);
  Cmp c;
  for (int bi = 0; bi < v.b; ++bi)
    for (int hi = 0; hi < v.h; ++hi)
      for (int si = 0; si < v.s; ++si)
        for (int di = 0; di < v.d; ++di) {
          const size_t k = v.idx(bi, si, hi, di);
          inside[k] = 1;
          const float x = bf2f(got[k]);
          const float r = ref[((size_t(bi) * v.h + hi) * v.s + si) * v.d + di];
          if (!std::isfinite(x)) {
            ++c.nonFinite;
            continue;
          }
          c.maxAbs = std::max(c.maxAbs, double(std::fabs(x - r)));
          c.maxRef = std::max(c.maxRef, double(std::fabs(r)));
        }
  for (size_t k = 0; k < v.elems; ++k)
    if (!inside[k] && got[k] != 0xFFFFu) ++c.outside;
  return c;
}

static bool judge(const char* name, const Cmp& c, double tol, bool absolute, std::string& line) {
  const double err = absolute ? c.maxAbs : c.maxAbs / std::max(c.maxRef, 1e-3);
  const bool ok = c.nonFinite == 0 && c.outside == 0 && err <= tol;
  char buf[160];
  snprintf(buf, sizeof buf, " %s=%.2e%s", name, err, ok ? "" : "(!)");
  line += buf;
  if (c.nonFinite) line += " [non-finite/unwritten: " + std::to_string(c.nonFinite) + "]";
  if (c.outside) line += " [written outside view: " + std::to_string(c.outside) + "]";
  return ok;
}

struct Case {
  int b, h, sq, sk, d;
  bool causal;
  int layout;
  float amp;  // Q and K magnitude: larger -> peakier softmax
};

static int gFailures = 0, gCases = 0;

static void runCase(const Case& cs, int maxVariant) {
  const int B = cs.b, H = cs.h, SQ = cs.sq, SK = cs.sk, D = cs.d, BH = B * H;
  const float scale = 1.0f / std::sqrt(float(D));
  View q(B, SQ, H, D, cs.layout), k(B, SK, H, D, cs.layout), v(B, SK, H, D, cs.layout), dO(B, SQ, H, D, cs.layout);
  View o(B, SQ, H, D, cs.layout), dq(B, SQ, H, D, cs.layout), dk(B, SK, H, D, cs.layout), dv(B, SK, H, D, cs.layout);
  q.fillRandom(cs.amp);
  k.fillRandom(cs.amp);
  v.fillRandom(1.0f);
  dO.fillRandom(1.0f);

  // Reference, fp32.
  float *Qf, *Kf, *Vf, *dOf, *Of, *Lf, *P, *dS, *dQf, *dKf, *dVf;
  const size_t nq = size_t(BH) * SQ * D, nk = size_t(BH) * SK * D, np = size_t(BH) * SQ * SK;
  CK(cudaMalloc(&Qf, nq * 4));
  CK(cudaMalloc(&Kf, nk * 4));
  CK(cudaMalloc(&Vf, nk * 4));
  CK(cudaMalloc(&dOf, nq * 4));
  CK(cudaMalloc(&Of, nq * 4));
  CK(cudaMalloc(&Lf, size_t(BH) * SQ * 4));
  CK(cudaMalloc(&P, np * 4));
  CK(cudaMalloc(&dS, np * 4));
  CK(cudaMalloc(&dQf, nq * 4));
  CK(cudaMalloc(&dKf, nk * 4));
  CK(cudaMalloc(&dVf, nk * 4));
  gatherKernel<<<dim3(SQ, BH), 128>>>(q.ptr(), q.st, H, SQ, D, Qf);
  gatherKernel<<<dim3(SK, BH), 128>>>(k.ptr(), k.st, H, SK, D, Kf);
  gatherKernel<<<dim3(SK, BH), 128>>>(v.ptr(), v.st, H, SK, D, Vf);
  gatherKernel<<<dim3(SQ, BH), 128>>>(dO.ptr(), dO.st, H, SQ, D, dOf);
  CK(cudaGetLastError());
  refSoftmaxKernel<<<dim3(SQ, BH), 256>>>(Qf, Kf, P, Lf, SQ, SK, D, scale, cs.causal);
  refRowTimesMatKernel<<<dim3(SQ, BH), D>>>(P, Vf, Of, SQ, SK, D, 1.0f);
  refDsKernel<<<dim3(SQ, BH), 256>>>(P, dOf, Of, Vf, dS, SQ, SK, D);
  refRowTimesMatKernel<<<dim3(SQ, BH), D>>>(dS, Kf, dQf, SQ, SK, D, scale);
  refColTimesMatKernel<<<dim3(SK, BH), D>>>(dS, Qf, dKf, SQ, SK, D, scale);
  refColTimesMatKernel<<<dim3(SK, BH), D>>>(P, dOf, dVf, SQ, SK, D, 1.0f);
  CK(cudaGetLastError());
  CK(cudaDeviceSynchronize());
  std::vector<float> refL(size_t(BH) * SQ);
  CK(cudaMemcpy(refL.data(), Lf, refL.size() * 4, cudaMemcpyDeviceToHost));

  float* lse;
  CK(cudaMalloc(&lse, size_t(BH) * SQ * 4));
  const size_t wsBytes = flashAttentionBackwardWorkspaceBytes(B, H, SQ, D);
  void* ws;
  CK(cudaMalloc(&ws, wsBytes));

  for (int var = 0; var <= maxVariant; ++var) {
    ++gCases;
    printf("RUN   b=%d h=%d sq=%d sk=%d d=%d %s %s amp=%.0f var=%d\n", B, H, SQ, SK, D, cs.causal ? "causal" : "full",
           layoutName(cs.layout), cs.amp, var);
    fflush(stdout);
    o.poison();
    dq.poison();
    dk.poison();
    dv.poison();
    CK(cudaMemset(lse, 0xFF, size_t(BH) * SQ * 4));
    CK(cudaMemset(ws, 0xFF, wsBytes));  // garbage workspace must not matter

    FlashParams fp;
    fp.q = q.ptr();
    fp.k = k.ptr();
    fp.v = v.ptr();
    fp.o = o.ptr();
    fp.lse = lse;
    fp.qStride = q.st;
    fp.kStride = k.st;
    fp.vStride = v.st;
    fp.oStride = o.st;
    fp.batch = B;
    fp.heads = H;
    fp.seqQ = SQ;
    fp.seqK = SK;
    fp.headDim = D;
    fp.scale = scale;
    fp.causal = cs.causal;
    fp.variant = var;
    if (const char* why = flashAttentionCheck(fp)) {
      printf("FAIL  (forward params rejected: %s)\n", why);
      ++gFailures;
      continue;
    }
    CK(flashAttentionForward(fp, 0));
    CK(cudaDeviceSynchronize());

    FlashBwdParams bp;
    bp.q = q.ptr();
    bp.k = k.ptr();
    bp.v = v.ptr();
    bp.o = o.ptr();
    bp.dO = dO.ptr();
    bp.lse = lse;
    bp.dq = dq.ptr();
    bp.dk = dk.ptr();
    bp.dv = dv.ptr();
    bp.qStride = q.st;
    bp.kStride = k.st;
    bp.vStride = v.st;
    bp.oStride = o.st;
    bp.dOStride = dO.st;
    bp.dqStride = dq.st;
    bp.dkStride = dk.st;
    bp.dvStride = dv.st;
    bp.batch = B;
    bp.heads = H;
    bp.seqQ = SQ;
    bp.seqK = SK;
    bp.headDim = D;
    bp.scale = scale;
    bp.causal = cs.causal;
    bp.workspace = ws;
    bp.variant = var;
    if (const char* why = flashAttentionCheckBackward(bp)) {
      printf("FAIL  (backward params rejected: %s)\n", why);
      ++gFailures;
      continue;
    }
    CK(flashAttentionBackward(bp, 0));
    CK(cudaDeviceSynchronize());

    std::string line;
    bool ok = true;
    ok &= judge("O", compareView(o, Of), 2e-2, false, line);
    {
      std::vector<float> got(size_t(BH) * SQ);
      CK(cudaMemcpy(got.data(), lse, got.size() * 4, cudaMemcpyDeviceToHost));
      Cmp c;
      for (size_t i = 0; i < got.size(); ++i) {
        if (!std::isfinite(got[i])) {
          ++c.nonFinite;
          continue;
        }
        c.maxAbs = std::max(c.maxAbs, double(std::fabs(got[i] - refL[i])));
      }
      ok &= judge("L", c, 1e-3, true, line);
    }
    ok &= judge("dQ", compareView(dq, dQf), 2e-2, false, line);
    ok &= judge("dK", compareView(dk, dKf), 2e-2, false, line);
    ok &= judge("dV", compareView(dv, dVf), 2e-2, false, line);
    printf("%s  b=%d h=%d sq=%d sk=%d d=%d %s %s amp=%.0f var=%d |%s\n", ok ? "PASS" : "FAIL", B, H, SQ, SK, D,
           cs.causal ? "causal" : "full", layoutName(cs.layout), cs.amp, var, line.c_str());
    fflush(stdout);
    if (!ok) ++gFailures;
  }
  for (void* p : {(void*)Qf, (void*)Kf, (void*)Vf, (void*)dOf, (void*)Of, (void*)Lf, (void*)P, (void*)dS, (void*)dQf,
                  (void*)dKf, (void*)dVf, (void*)lse, ws})
    CK(cudaFree(p));
}

// Parameter validation (host only).
static void checkRejections() {
  FlashParams p;
  static __align__(16) uint16_t dummy[64];
  p.q = p.k = p.v = reinterpret_cast<const bf16*>(dummy);
  p.o = reinterpret_cast<bf16*>(dummy);
  p.lse = reinterpret_cast<float*>(dummy);
  p.batch = p.heads = p.seqQ = p.seqK = 1;
  p.headDim = 64;
  p.scale = 0.125f;
  p.qStride = p.kStride = p.vStride = p.oStride = {64, 64, 64};
  struct {
    const char* what;
    bool rejected;
  } checks[6];
  int n = 0;
  checks[n++] = {"valid params accepted", flashAttentionCheck(p) == nullptr};
  FlashParams x = p;
  x.headDim = 96;
  checks[n++] = {"head dim 96 rejected", flashAttentionCheck(x) != nullptr};
  x = p;
  x.kStride.seq = 68;
  checks[n++] = {"stride not multiple of 8 rejected", flashAttentionCheck(x) != nullptr};
  x = p;
  x.causal = true;
  x.seqQ = 2;
  checks[n++] = {"causal seqK < seqQ rejected", flashAttentionCheck(x) != nullptr};
  x = p;
  x.q = reinterpret_cast<const bf16*>(dummy + 1);
  checks[n++] = {"misaligned pointer rejected", flashAttentionCheck(x) != nullptr};
  x = p;
  x.scale = 0.f;
  checks[n++] = {"scale 0 rejected", flashAttentionCheck(x) != nullptr};
  for (int i = 0; i < n; ++i) {
    ++gCases;
    printf("%s  %s\n", checks[i].rejected ? "PASS" : "FAIL", checks[i].what);
    if (!checks[i].rejected) ++gFailures;
  }
}

// ---- benchmark ----------------------------------------------------------------------------------
static void bench(int B, int H, int S, int D, bool causal, int variant, int iters) {
  View q(B, S, H, D, kBSHD), k(B, S, H, D, kBSHD), v(B, S, H, D, kBSHD), o(B, S, H, D, kBSHD), dO(B, S, H, D, kBSHD);
  View dq(B, S, H, D, kBSHD), dk(B, S, H, D, kBSHD), dv(B, S, H, D, kBSHD);
  q.fillRandom(2.0f);
  k.fillRandom(2.0f);
  v.fillRandom(1.0f);
  dO.fillRandom(1.0f);
  float* lse;
  CK(cudaMalloc(&lse, size_t(B) * H * S * 4));
  const size_t wsBytes = flashAttentionBackwardWorkspaceBytes(B, H, S, D);
  void* ws;
  CK(cudaMalloc(&ws, wsBytes));
  FlashParams fp;
  fp.q = q.ptr();
  fp.k = k.ptr();
  fp.v = v.ptr();
  fp.o = o.ptr();
  fp.lse = lse;
  fp.qStride = fp.kStride = fp.vStride = fp.oStride = q.st;
  fp.batch = B;
  fp.heads = H;
  fp.seqQ = fp.seqK = S;
  fp.headDim = D;
  fp.scale = 1.0f / std::sqrt(float(D));
  fp.causal = causal;
  fp.variant = variant;
  FlashBwdParams bp;
  bp.q = q.ptr();
  bp.k = k.ptr();
  bp.v = v.ptr();
  bp.o = o.ptr();
  bp.dO = dO.ptr();
  bp.lse = lse;
  bp.dq = dq.ptr();
  bp.dk = dk.ptr();
  bp.dv = dv.ptr();
  bp.qStride = bp.kStride = bp.vStride = bp.oStride = bp.dOStride = bp.dqStride = bp.dkStride = bp.dvStride = q.st;
  bp.batch = B;
  bp.heads = H;
  bp.seqQ = bp.seqK = S;
  bp.headDim = D;
  bp.scale = fp.scale;
  bp.causal = causal;
  bp.workspace = ws;
  bp.variant = variant;

  cudaEvent_t e0, e1;
  CK(cudaEventCreate(&e0));
  CK(cudaEventCreate(&e1));
  CK(flashAttentionForward(fp, 0));  // warm-up
  CK(flashAttentionBackward(bp, 0));
  CK(cudaDeviceSynchronize());
  CK(cudaEventRecord(e0));
  for (int i = 0; i < iters; ++i) CK(flashAttentionForward(fp, 0));
  CK(cudaEventRecord(e1));
  CK(cudaEventSynchronize(e1));
  float fwdMs;
  CK(cudaEventElapsedTime(&fwdMs, e0, e1));
  fwdMs /= iters;
  CK(cudaEventRecord(e0));
  for (int i = 0; i < iters; ++i) CK(flashAttentionBackward(bp, 0));
  CK(cudaEventRecord(e1));
  CK(cudaEventSynchronize(e1));
  float bwdMs;
  CK(cudaEventElapsedTime(&bwdMs, e0, e1));
  bwdMs /= iters;
  const double fwdFlops = 4.0 * B * H * double(S) * S * D * (causal ? 0.5 : 1.0);
  const double bwdFlops = 2.5 * fwdFlops;
  printf("BENCH b=%-2d h=%-2d s=%-4d d=%-3d %s var=%d | fwd %7.3f ms %6.1f TFLOP/s | bwd %7.3f ms %6.1f TFLOP/s\n", B, H,
         S, D, causal ? "causal" : "full  ", variant, fwdMs, fwdFlops / fwdMs * 1e-9, bwdMs, bwdFlops / bwdMs * 1e-9);
  fflush(stdout);
  CK(cudaEventDestroy(e0));
  CK(cudaEventDestroy(e1));
  CK(cudaFree(lse));
  CK(cudaFree(ws));
}

int main(int argc, char** argv) {
  bool quick = false, doBench = true, doTests = true;
  for (int i = 1; i < argc; ++i) {
    if (!strcmp(argv[i], "--quick")) quick = true;
    else if (!strcmp(argv[i], "--no-bench")) doBench = false;
    else if (!strcmp(argv[i], "--bench-only")) doTests = false;
    else {
      fprintf(stderr, "usage: %s [--quick] [--no-bench] [--bench-only]\n", argv[0]);
      return 2;
    }
  }
  signal(SIGALRM, onAlarm);
  alarm(480);  // the whole run takes well under a minute on an H200

  int dev = 0;
  CK(cudaGetDevice(&dev));
  cudaDeviceProp prop;
  CK(cudaGetDeviceProperties(&prop, dev));
  printf("device: %s (sm_%d%d, %d SMs, %.0f GiB)\n", prop.name, prop.major, prop.minor, prop.multiProcessorCount,
         prop.totalGlobalMem / 1073741824.0);
  if (prop.major < 9) printf("note: built for sm_90a; this device is sm_%d%d\n", prop.major, prop.minor);

  if (doTests) {
    checkRejections();
    const Case cases[] = {
        {1, 1, 77, 77, 64, true, kBSHD, 2},      {1, 2, 77, 77, 128, true, kSBHD, 2},
        {1, 1, 1, 1, 64, true, kBSHD, 2},        {1, 1, 1, 1, 128, false, kSBHD, 2},
        {2, 3, 1000, 1000, 64, true, kBSHD, 2},  {2, 3, 1000, 1000, 128, false, kSBHD, 2},
        {2, 3, 1000, 1000, 128, true, kBHSDPadded, 2},
        {1, 2, 77, 200, 64, true, kSBHD, 2},     {1, 2, 150, 300, 128, false, kBHSDPadded, 2},
        {1, 2, 300, 77, 64, false, kBSHD, 2},    {2, 2, 1024, 1024, 128, true, kBSHD, 4},
        {1, 4, 2048, 2048, 64, true, kSBHD, 2},  {4, 48, 256, 256, 128, true, kBHSDPadded, 2},
        {16, 12, 1000, 1000, 64, true, kSBHD, 2},
    };
    const int nCases = int(sizeof(cases) / sizeof(cases[0]));
    for (int i = 0; i < nCases; ++i) {
      if (quick && i >= 8) break;
      runCase(cases[i], quick ? 0 : 2);
    }
    printf("%s: %d of %d checks failed\n", gFailures ? "FAILED" : "ALL PASSED", gFailures, gCases);
  }

  if (doBench) {
    const int iters = 10;
    const int maxVariant = quick ? 0 : 2;
    for (int var = 0; var <= maxVariant; ++var) {
      for (int h : {12, 16, 20, 25}) bench(16, h, 1024, 64, true, var, iters);
      bench(4, 32, 4096, 128, true, var, iters);
    }
    bench(16, 16, 1024, 64, false, 0, iters);
    bench(4, 32, 4096, 128, false, 0, iters);
    printf("(variant: forward tile shape 0/1/2, backward query tile 64/32/64; see flash_attention.cu)\n");
  }
  fflush(stdout);
  return gFailures ? 1 : 0;
}
