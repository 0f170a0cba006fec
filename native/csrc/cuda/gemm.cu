// CUDA matmul through cuBLASLt. cuBLASLt is column-major; a row-major C = op(A) op(B) is, read
// column-major, C^T = op(B)^T op(A)^T, so B goes in as cuBLASLt's "A" and A as its "B" with m and n
// swapped and each operand's transpose flag kept (a row-major [r, c] buffer is a column-major
// [c, r] one, which is exactly the transposed operand). Plans (descriptors + the chosen algorithm)
// are cached per problem key; the bias rides the GEMM's epilogue when cuBLASLt takes it, and a
// small kernel adds it otherwise. TESSERA_GEMM_AUTOTUNE=1 times the heuristic's top candidates
// once per key and keeps a clearly faster one (=2 also prints the timings). The GELU, GELU-backward
// and bias-gradient epilogues (kernels.h) are composed from separate kernels (core/gemm_epilogue.h)
// by default: on the H200, cuBLASLt's GELU_AUX_BIAS / DGELU_BGRAD / BGRADB kernels made a GPT-2
// large training step 6% slower than the plain GEMMs plus our pointwise and column-sum kernels
// (BENCHMARKS.md). TESSERA_GEMM_EPILOGUES=1 runs them inside the GEMM where cuBLASLt can.
#include <cublasLt.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/gemm_epilogue.h"
#include "core/kernels.h"
#include "cuda/common.cuh"

namespace ts::cuda {
namespace {

constexpr size_t kWorkspaceBytes = size_t(32) << 20;
constexpr int kCandidates = 8;  // heuristic results asked for (autotune times the first few)
constexpr int kTuneCandidates = 4;

std::string describe(const MatmulParams& p) {
  return strcat("matmul [", p.m, "x", p.k, "] @ [", p.k, "x", p.n, "]", p.transA ? " transA" : "",
                p.transB ? " transB" : "", " batch ", p.batch, ", ", dtypeName(p.abDtype), " -> ",
                dtypeName(p.cDtype), p.bias ? " + bias" : "");
}

void check(cublasStatus_t s, const char* call, const MatmulParams& p) {
  if (s != CUBLAS_STATUS_SUCCESS)
    throw Error(strcat(call, " failed (", cublasLtGetStatusName(s), ": ", cublasLtGetStatusString(s), ") in ",
                       describe(p)));
}

cudaDataType_t cudaType(DType d) {
  switch (d) {
    case DType::F32: return CUDA_R_32F;
    case DType::F64: return CUDA_R_64F;
    case DType::F16: return CUDA_R_16F;
    case DType::BF16: return CUDA_R_16BF;
    default: throw Error(strcat("matmul: no cuBLASLt type for ", dtypeName(d)));
  }
}

// Largest power of two (up to 256) dividing the address: what cuBLASLt's algorithms key on.
uint32_t alignmentOf(const void* ptr) {
  uintptr_t a = reinterpret_cast<uintptr_t>(ptr) | 256;
  return uint32_t(a & (~a + 1));
}

// ---- per device / per stream resources ----------------------------------------------------------
cublasLtHandle_t handle(const MatmulParams& p) {
  static std::vector<cublasLtHandle_t> handles;
  int device = currentDevice();
  if (int(handles.size()) <= device) handles.resize(size_t(device) + 1, nullptr);
  if (!handles[size_t(device)]) check(cublasLtCreate(&handles[size_t(device)]), "cublasLtCreate", p);
  return handles[size_t(device)];
}

// One workspace per (device, stream), allocated on that stream and used only there, so GEMMs on
// two streams of a device never share scratch memory.
void* workspace() {
  static std::map<std::pair<int, cudaStream_t>, void*> spaces;
  cudaStream_t s = stream();
  void*& ws = spaces[{currentDevice(), s}];
  if (!ws) TS_CUDA_CHECK(cudaMallocAsync(&ws, kWorkspaceBytes, s), "cudaMallocAsync (matmul workspace)");
  return ws;
}

// ---- plans ------------------------------------------------------------------------------------------
using Key = std::array<int64_t, 20>;
struct KeyHash {
  size_t operator()(const Key& k) const {
    uint64_t h = 1469598103934665603ull;  // FNV-1a over the fields
    for (int64_t v : k) h = (h ^ uint64_t(v)) * 1099511628211ull;
    return size_t(h);
  }
};

struct Plan {
  cublasLtMatmulDesc_t desc = nullptr;
  cublasLtMatrixLayout_t lay[3] = {nullptr, nullptr, nullptr};  // cuBLASLt's A (our B), B (our A), C = D
  cublasLtMatmulAlgo_t algo{};
  bool fusedBias = false;
  bool fusedEpilogue = false;
  bool reported = false;  // TESSERA_GEMM_EPILOGUES=2 printed this plan's outcome
  bool ok = false;  // false: cuBLASLt had no algorithm for this combination
};

void setDesc(cublasLtMatmulDesc_t d, cublasLtMatmulDescAttributes_t attr, const void* v, size_t size,
             const MatmulParams& p) {
  check(cublasLtMatmulDescSetAttribute(d, attr, v, size), "cublasLtMatmulDescSetAttribute", p);
}

// The per-call pointers of a cached plan's epilogue: the bias (or the bias gradient) and the aux buffer.
void setPointers(cublasLtMatmulDesc_t d, const MatmulParams& p, bool fuseBias, bool fuseEpilogue) {
  const bool gradOut = fuseEpilogue && (p.epilogue == GemmEpilogue::DGelu || p.epilogue == GemmEpilogue::BiasGradA);
  const void* bias = gradOut ? p.biasGrad : fuseBias ? p.bias : nullptr;
  if (bias) setDesc(d, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias, sizeof(bias), p);
  if (fuseEpilogue && p.aux) setDesc(d, CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_POINTER, &p.aux, sizeof(p.aux), p);
}

// cuBLASLt's epilogue for the bias and/or our epilogue (read the top of the file for the operand
// swap): our op(A) is cuBLASLt's B, so its row sums are BGRADB; our C's columns are the rows of
// cuBLASLt's D, which is what the GELU aux buffer's leading dimension and DGELU_BGRAD's sum follow.
void setEpilogue(cublasLtMatmulDesc_t d, const MatmulParams& p, bool fuseBias, bool fuseEpilogue) {
  uint32_t epilogue = CUBLASLT_EPILOGUE_BIAS;
  DType biasType = p.biasDtype;
  if (fuseEpilogue) {
    switch (p.epilogue) {
      case GemmEpilogue::GeluAux: epilogue = fuseBias ? CUBLASLT_EPILOGUE_GELU_AUX_BIAS : CUBLASLT_EPILOGUE_GELU_AUX; break;
      case GemmEpilogue::DGelu: epilogue = p.biasGrad ? CUBLASLT_EPILOGUE_DGELU_BGRAD : CUBLASLT_EPILOGUE_DGELU; break;
      case GemmEpilogue::BiasGradA: epilogue = CUBLASLT_EPILOGUE_BGRADB; break;
      case GemmEpilogue::None: break;
    }
    if (p.epilogue == GemmEpilogue::DGelu || p.epilogue == GemmEpilogue::BiasGradA) biasType = p.biasGradDtype;
    if (p.epilogue == GemmEpilogue::GeluAux || p.epilogue == GemmEpilogue::DGelu) {
      const int64_t ld = p.n;
      const int32_t auxType = cudaType(p.cDtype);
      setDesc(d, CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_LD, &ld, sizeof(ld), p);
      setDesc(d, CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_DATA_TYPE, &auxType, sizeof(auxType), p);
    }
  }
  setDesc(d, CUBLASLT_MATMUL_DESC_EPILOGUE, &epilogue, sizeof(epilogue), p);
  const bool hasBias = fuseBias || (fuseEpilogue && p.biasGrad);
  if (hasBias) {
    const int32_t type = cudaType(biasType);
    setDesc(d, CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE, &type, sizeof(type), p);
  }
  setPointers(d, p, fuseBias, fuseEpilogue);
}

cublasLtMatrixLayout_t layout(DType dtype, int64_t rows, int64_t cols, int64_t stride, const MatmulParams& p) {
  cublasLtMatrixLayout_t l;
  check(cublasLtMatrixLayoutCreate(&l, cudaType(dtype), uint64_t(rows), uint64_t(cols), rows),
        "cublasLtMatrixLayoutCreate", p);
  if (p.batch > 1) {
    int32_t count = int32_t(p.batch);
    check(cublasLtMatrixLayoutSetAttribute(l, CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT, &count, sizeof(count)),
          "cublasLtMatrixLayoutSetAttribute", p);
    check(cublasLtMatrixLayoutSetAttribute(l, CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET, &stride, sizeof(stride)),
          "cublasLtMatrixLayoutSetAttribute", p);
  }
  return l;
}

cublasStatus_t runPlan(const Plan& plan, const MatmulParams& p, void* c, const void* alpha, const void* beta) {
  return cublasLtMatmul(handle(p), plan.desc, alpha, p.b, plan.lay[0], p.a, plan.lay[1], beta, c, plan.lay[2], c,
                        plan.lay[2], &plan.algo, workspace(), kWorkspaceBytes, stream());
}

// TESSERA_GEMM_AUTOTUNE: unset/0 off, 1 on, 2 on and print each key's timings to stderr.
int autotuneLevel() {
  static const int level = [] {
    const char* v = std::getenv("TESSERA_GEMM_AUTOTUNE");
    return v && (v[0] == '1' || v[0] == '2') ? v[0] - '0' : 0;
  }();
  return level;
}

// Times the heuristic's first few candidates on scratch output (aligned like C) with CUDA events
// on the current stream. Each runs enough calls for ~10 ms, in two interleaved rounds (so clock
// drift favours none), keeping its best. Another candidate replaces the heuristic's first pick only
// when it is more than 2% faster, so timing noise does not swap in a worse kernel. Once per key.
int autotune(Plan& plan, const cublasLtMatmulHeuristicResult_t* cands, int count, const MatmulParams& p,
             const void* alpha, const void* beta) {
  count = count < kTuneCandidates ? count : kTuneCandidates;
  const size_t cBytes = size_t((p.batch - 1) * p.strideC + p.m * p.n) * elemSize(p.cDtype);
  cudaStream_t s = stream();
  char* scratch = nullptr;
  TS_CUDA_CHECK(cudaMallocAsync(reinterpret_cast<void**>(&scratch), cBytes + 256, s), "matmul autotune (scratch)");
  void* out = scratch + (reinterpret_cast<uintptr_t>(p.c) & 255);
  cudaEvent_t start, stop;
  TS_CUDA_CHECK(cudaEventCreate(&start), "matmul autotune (event)");
  TS_CUDA_CHECK(cudaEventCreate(&stop), "matmul autotune (event)");
  auto time = [&](int reps) {  // ms per call; a candidate that fails to run never wins
    TS_CUDA_CHECK(cudaEventRecord(start, s), "matmul autotune (event)");
    for (int r = 0; r < reps; ++r)
      if (runPlan(plan, p, out, alpha, beta) != CUBLAS_STATUS_SUCCESS) return 1e30f;
    TS_CUDA_CHECK(cudaEventRecord(stop, s), "matmul autotune (event)");
    TS_CUDA_CHECK(cudaEventSynchronize(stop), "matmul autotune (event)");
    float ms = 0;
    TS_CUDA_CHECK(cudaEventElapsedTime(&ms, start, stop), "matmul autotune (event)");
    return ms / float(reps);
  };
  std::vector<int> reps(size_t(count), 1);
  std::vector<float> best(size_t(count), 0);
  for (int round = 0; round < 3; ++round) {  // round 0 warms up and sizes the repetitions
    for (int i = 0; i < count; ++i) {
      plan.algo = cands[i].algo;
      if (round == 0) {  // the first call may load the kernel: time a second one
        time(1);
        reps[size_t(i)] = std::max(1, std::min(200, int(10.0f / std::max(time(1), 1e-3f))));
        continue;
      }
      const float ms = time(reps[size_t(i)]);
      if (round == 1 || ms < best[size_t(i)]) best[size_t(i)] = ms;
    }
  }
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  TS_CUDA_CHECK(cudaFreeAsync(scratch, s), "matmul autotune (scratch)");
  const int fastest = int(std::min_element(best.begin(), best.end()) - best.begin());
  const int pick = best[size_t(fastest)] < 0.98f * best[0] ? fastest : 0;
  if (autotuneLevel() == 2) {
    std::string line = strcat("tessera autotune ", describe(p), ": picked ", pick, ";");
    for (int i = 0; i < count; ++i) line += strcat(" [", i, "] ", best[size_t(i)], " ms x", reps[size_t(i)]);
    std::fprintf(stderr, "%s\n", line.c_str());
  }
  return pick;
}

// Descriptors for the problem and the heuristic's algorithm; plan.ok is false when cuBLASLt has
// none (e.g. a bias epilogue it does not support for these types).
Plan makePlan(const MatmulParams& p, bool fuseBias, bool fuseEpilogue, const void* alpha, const void* beta) {
  Plan plan;
  const bool f64 = p.abDtype == DType::F64;
  check(cublasLtMatmulDescCreate(&plan.desc, f64 ? CUBLAS_COMPUTE_64F : CUBLAS_COMPUTE_32F,
                                 f64 ? CUDA_R_64F : CUDA_R_32F),
        "cublasLtMatmulDescCreate", p);
  const int32_t opA = p.transB ? CUBLAS_OP_T : CUBLAS_OP_N;  // cuBLASLt's A is our B
  const int32_t opB = p.transA ? CUBLAS_OP_T : CUBLAS_OP_N;
  setDesc(plan.desc, CUBLASLT_MATMUL_DESC_TRANSA, &opA, sizeof(opA), p);
  setDesc(plan.desc, CUBLASLT_MATMUL_DESC_TRANSB, &opB, sizeof(opB), p);
  if (fuseBias || fuseEpilogue) setEpilogue(plan.desc, p, fuseBias, fuseEpilogue);
  plan.fusedBias = fuseBias;
  plan.fusedEpilogue = fuseEpilogue;
  // Column-major views of the row-major buffers (see the top of the file).
  plan.lay[0] = layout(p.abDtype, p.transB ? p.k : p.n, p.transB ? p.n : p.k, p.strideB, p);
  plan.lay[1] = layout(p.abDtype, p.transA ? p.m : p.k, p.transA ? p.k : p.m, p.strideA, p);
  plan.lay[2] = layout(p.cDtype, p.n, p.m, p.strideC, p);

  cublasLtMatmulPreference_t pref;
  check(cublasLtMatmulPreferenceCreate(&pref), "cublasLtMatmulPreferenceCreate", p);
  auto setPref = [&](cublasLtMatmulPreferenceAttributes_t attr, const void* v, size_t size) {
    check(cublasLtMatmulPreferenceSetAttribute(pref, attr, v, size), "cublasLtMatmulPreferenceSetAttribute", p);
  };
  const uint64_t wsBytes = kWorkspaceBytes;
  const uint32_t alignA = alignmentOf(p.b), alignB = alignmentOf(p.a), alignC = alignmentOf(p.c);
  setPref(CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &wsBytes, sizeof(wsBytes));
  setPref(CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, &alignA, sizeof(alignA));
  setPref(CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, &alignB, sizeof(alignB));
  setPref(CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, &alignC, sizeof(alignC));
  setPref(CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, &alignC, sizeof(alignC));

  cublasLtMatmulHeuristicResult_t cands[kCandidates] = {};
  int count = 0;
  cublasStatus_t s = cublasLtMatmulAlgoGetHeuristic(handle(p), plan.desc, plan.lay[0], plan.lay[1], plan.lay[2],
                                                    plan.lay[2], pref, kCandidates, cands, &count);
  cublasLtMatmulPreferenceDestroy(pref);
  if (s == CUBLAS_STATUS_NOT_SUPPORTED || (s == CUBLAS_STATUS_SUCCESS && count == 0)) return plan;
  // A combination cuBLASLt rejects outright (e.g. an epilogue it has no kernels for at these
  // types) leaves a fused epilogue to the composed path rather than failing the product.
  if (fuseEpilogue && s != CUBLAS_STATUS_SUCCESS) return plan;
  check(s, "cublasLtMatmulAlgoGetHeuristic", p);
  plan.ok = true;
  plan.algo = cands[0].algo;  // the heuristic's estimate of the fastest
  if (autotuneLevel() > 0 && count > 1) plan.algo = cands[autotune(plan, cands, count, p, alpha, beta)].algo;
  return plan;
}

void destroyPlan(Plan& plan) {
  for (auto*& l : plan.lay)
    if (l) cublasLtMatrixLayoutDestroy(l), l = nullptr;
  if (plan.desc) cublasLtMatmulDescDestroy(plan.desc), plan.desc = nullptr;
}

// The plan for this call: cached per device, shape, strides, dtypes, transposes, bias and epilogue
// handling and pointer alignment (cuBLASLt's algorithms depend on all of them). A plan with a fused
// epilogue may come back with ok == false (no algorithm): the caller composes the epilogue then.
Plan& planFor(const MatmulParams& p, bool wantFusedBias, bool fuseEpilogue, const void* alpha, const void* beta) {
  static std::unordered_map<Key, Plan, KeyHash> cache;
  const bool batched = p.batch > 1;  // strides only matter then
  const int64_t epilogue = fuseEpilogue ? int64_t(p.epilogue) | int64_t(p.biasGrad != nullptr) << 4 : 0;
  const Key key = {currentDevice(), p.m, p.n, p.k, p.batch, batched ? p.strideA : 0, batched ? p.strideB : 0,
                   batched ? p.strideC : 0,
                   int64_t(p.transA) | int64_t(p.transB) << 1 | int64_t(wantFusedBias) << 2,
                   int64_t(p.abDtype), int64_t(p.cDtype), wantFusedBias ? int64_t(p.biasDtype) : -1,
                   alignmentOf(p.a), alignmentOf(p.b), alignmentOf(p.c), wantFusedBias ? alignmentOf(p.bias) : 0,
                   epilogue, fuseEpilogue ? int64_t(p.biasGradDtype) : -1,
                   fuseEpilogue && p.aux ? alignmentOf(p.aux) : 0, fuseEpilogue && p.biasGrad ? alignmentOf(p.biasGrad) : 0};
  auto it = cache.find(key);
  if (it != cache.end()) return it->second;
  Plan plan = makePlan(p, wantFusedBias, fuseEpilogue, alpha, beta);
  if (!plan.ok && wantFusedBias && !fuseEpilogue) {  // no algorithm with the bias epilogue: plain GEMM + bias kernel
    destroyPlan(plan);
    plan = makePlan(p, false, false, alpha, beta);
  }
  if (!plan.ok && !fuseEpilogue) {
    destroyPlan(plan);
    throw Error(strcat("cublasLtMatmulAlgoGetHeuristic found no algorithm for ", describe(p)));
  }
  return cache.emplace(key, plan).first->second;
}

// ---- the epilogue kernel: k = 0, a bias cuBLASLt did not fuse, f64 products into f32 --------------
// c[b, i, j] = alpha * prod[b, i, j] + beta * c[b, i, j] + bias[j]; prod (contiguous [batch, m, n])
// and bias may be null, and beta == 0 never reads c.
template <typename CT, typename BT, typename A>
__global__ void epilogueKernel(const double* prod, CT* c, const BT* bias, int64_t m, int64_t n, int64_t batch,
                               int64_t strideC, A alpha, A beta) {
  const int64_t total = batch * m * n;
  for (int64_t idx = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; idx < total;
       idx += int64_t(gridDim.x) * blockDim.x) {
    const int64_t bi = idx / (m * n), r = idx - bi * (m * n);
    CT* out = c + bi * strideC + r;
    A v = prod ? alpha * A(prod[idx]) : A(0);
    if (beta != A(0)) v += beta * toAcc<CT, A>(*out);
    if (bias) v += toAcc<BT, A>(bias[r % n]);
    *out = fromAcc<CT, A>(v);
  }
}

void epilogue(const MatmulParams& p, const double* prod, double alpha, double beta, const void* bias) {
  TS_CUDA_DISPATCH_FLOAT(p.cDtype, "matmul", [&](auto c_) {
    using CT = TS_TYPE(c_);
    TS_CUDA_DISPATCH_FLOAT(bias ? p.biasDtype : p.cDtype, "matmul (bias)", [&](auto b_) {
      using BT = TS_TYPE(b_);
      const int threads = 256;
      const unsigned blocks = blocksFor(p.batch * p.m * p.n, threads);
      CT* c = static_cast<CT*>(p.c);
      const BT* b = static_cast<const BT*>(bias);
      if (prod || std::is_same_v<CT, double>)
        epilogueKernel<CT, BT, double><<<blocks, threads, 0, stream()>>>(prod, c, b, p.m, p.n, p.batch, p.strideC, alpha, beta);
      else
        epilogueKernel<CT, BT, float><<<blocks, threads, 0, stream()>>>(prod, c, b, p.m, p.n, p.batch, p.strideC,
                                                                          float(alpha), float(beta));
      checkLaunch("matmul (epilogue)");
    });
  });
}

// TESSERA_GEMM_EPILOGUES: unset/0 compose (the faster choice measured), 1 fuse when cuBLASLt can,
// 2 fuse and print to stderr, once per plan, whether each epilogue was fused or composed.
int epilogueLevel() {
  static const int level = [] {
    const char* v = std::getenv("TESSERA_GEMM_EPILOGUES");
    return v && (v[0] == '1' || v[0] == '2') ? v[0] - '0' : 0;
  }();
  return level;
}
bool epiloguesEnabled() { return epilogueLevel() > 0; }

const char* epilogueName(GemmEpilogue e) {
  return e == GemmEpilogue::GeluAux ? "gelu+aux" : e == GemmEpilogue::DGelu ? "dgelu" : e == GemmEpilogue::BiasGradA ? "bias grad" : "none";
}

bool fusedEpilogueMatmulAs(const MatmulParams& p);

// Runs p with its epilogue inside the GEMM; false when cuBLASLt cannot (then nothing was enqueued).
// cuBLASLt writes a bias gradient in D's type (fp32 when accumulating into a main grad), so another
// requested type goes through a scratch vector and a cast.
bool fusedEpilogueMatmul(const MatmulParams& p) {
  if (!epiloguesEnabled()) return false;  // composing (the default) needs no scratch
  if (!p.biasGrad || p.biasGradDtype == p.cDtype) return fusedEpilogueMatmulAs(p);
  const int64_t length = p.epilogue == GemmEpilogue::BiasGradA ? p.m : p.n;
  MatmulParams q = p;
  q.biasGradDtype = p.cDtype;
  TS_CUDA_CHECK(cudaMallocAsync(&q.biasGrad, size_t(length) * elemSize(p.cDtype), stream()), "cudaMallocAsync (bias gradient)");
  const bool done = fusedEpilogueMatmulAs(q);
  if (done) cast(CastParams{q.biasGrad, q.biasGradDtype, p.biasGrad, p.biasGradDtype, length});
  TS_CUDA_CHECK(cudaFreeAsync(q.biasGrad, stream()), "cudaFreeAsync (bias gradient)");
  return done;
}

bool fusedEpilogueMatmulAs(const MatmulParams& p) {
  if (!epiloguesEnabled() || p.m == 0 || p.n == 0 || p.k == 0 || p.batch != 1) return false;
  if (p.abDtype != DType::BF16 && p.abDtype != DType::F16) return false;
  const bool aux = p.epilogue == GemmEpilogue::GeluAux || p.epilogue == GemmEpilogue::DGelu;
  // cuBLASLt wants the aux buffer's leading dimension a multiple of 8 and 16-byte aligned vectors.
  if (aux && (p.n % 8 != 0 || alignmentOf(p.aux) < 16)) return false;
  if (p.biasGrad && alignmentOf(p.biasGrad) < 16) return false;
  const bool fuseBias = p.bias != nullptr;
  if (fuseBias && (p.biasDtype != p.cDtype || alignmentOf(p.bias) < 16)) return false;
  const float alpha = float(p.alpha), beta = float(p.beta);
  Plan& plan = planFor(p, fuseBias, true, &alpha, &beta);
  if (epilogueLevel() == 2 && !plan.reported) {
    plan.reported = true;
    std::fprintf(stderr, "tessera gemm: %s, epilogue %s%s: %s\n", describe(p).c_str(), epilogueName(p.epilogue),
                 p.biasGrad ? " (+bias grad)" : "", plan.ok ? "fused" : "composed (cuBLASLt has no algorithm)");
  }
  if (!plan.ok) return false;
  setPointers(plan.desc, p, fuseBias, true);
  const cublasStatus_t s = runPlan(plan, p, p.c, &alpha, &beta);
  if (s == CUBLAS_STATUS_NOT_SUPPORTED) {  // refused at launch: remember, and compose from now on
    plan.ok = false;
    return false;
  }
  check(s, "cublasLtMatmul", p);
  return true;
}

}  // namespace

void matmul(const MatmulParams& p) {
  if (p.epilogue != GemmEpilogue::None) {
    if (!fusedEpilogueMatmul(p))
      matmulComposedEpilogue(p, EpilogueKernels{cuda::matmul, cuda::unaryOp, cuda::unaryBackward, cuda::reduce});
    return;
  }
  if (p.m == 0 || p.n == 0) return;
  if (p.k == 0) {  // no product: C = beta * C + bias
    epilogue(p, nullptr, 0.0, p.beta, p.bias);
    return;
  }
  TS_CHECK(p.batch <= INT32_MAX, "matmul: batch ", p.batch, " exceeds cuBLASLt's limit of 2^31-1");
  if (p.abDtype == DType::F64 && p.cDtype != DType::F64) {
    // cuBLASLt has no f64 -> f32 GEMM: compute the f64 product into scratch, then scale and convert.
    MatmulParams q = p;
    const int64_t size = p.batch * p.m * p.n;
    double* prod = nullptr;
    TS_CUDA_CHECK(cudaMallocAsync(reinterpret_cast<void**>(&prod), size_t(size) * sizeof(double), stream()),
                  "cudaMallocAsync (matmul f64 product)");
    q.c = prod;
    q.cDtype = DType::F64;
    q.strideC = p.m * p.n;
    q.bias = nullptr;
    q.alpha = 1;
    q.beta = 0;
    try {
      matmul(q);
      epilogue(p, prod, p.alpha, p.beta, p.bias);
    } catch (...) {
      cudaFreeAsync(prod, stream());
      throw;
    }
    TS_CUDA_CHECK(cudaFreeAsync(prod, stream()), "cudaFreeAsync (matmul f64 product)");
    return;
  }
  // Host scalars in the scale type: fp64 for f64 GEMMs, fp32 otherwise.
  const bool f64 = p.abDtype == DType::F64;
  const float alpha32 = float(p.alpha), beta32 = float(p.beta);
  const void* alpha = f64 ? static_cast<const void*>(&p.alpha) : &alpha32;
  const void* beta = f64 ? static_cast<const void*>(&p.beta) : &beta32;
  // cuBLASLt's bias must have D's type (bar fp8/int8 cases), and users have reported failures
  // below 16-byte alignment. Any other bias is added by the epilogue kernel.
  const bool wantFused = p.bias && p.biasDtype == p.cDtype && alignmentOf(p.bias) >= 16;
  const Plan& plan = planFor(p, wantFused, false, alpha, beta);
  if (plan.fusedBias) setPointers(plan.desc, p, true, false);
  check(runPlan(plan, p, p.c, alpha, beta), "cublasLtMatmul", p);
  if (p.bias && !plan.fusedBias) epilogue(p, nullptr, 0.0, 1.0, p.bias);
}

}  // namespace ts::cuda
