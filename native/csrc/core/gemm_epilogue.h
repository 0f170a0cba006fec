// The matmul epilogues (kernels.h, GemmEpilogue) composed from a plain product and the pointwise
// and reduction kernels. This is the CPU's implementation, and the CUDA path's unless
// TESSERA_GEMM_EPILOGUES=1 asks cuBLASLt to fuse them (then still where cuBLASLt has no fused
// algorithm for a problem); both backends therefore agree on what each epilogue means.
#pragma once
#include "core/kernels.h"
#include "core/ops.h"

namespace ts {

// The backend's kernels the composition needs.
struct EpilogueKernels {
  void (*matmul)(const MatmulParams&);
  void (*unaryOp)(const UnaryParams&);
  void (*unaryBackward)(const UnaryBackwardParams&);
  void (*reduce)(const ReduceParams&);
};

// Sum of [outer, size, inner] over `size` into out (dtype -> outDtype, fp32 accumulation).
inline void sumMiddle(const EpilogueKernels& k, const void* x, DType dtype, void* out, DType outDtype,
                      int64_t outer, int64_t size, int64_t inner) {
  k.reduce(ReduceParams{reduce::Sum, x, out, nullptr, outer, size, inner, dtype, outDtype});
}

inline void matmulComposedEpilogue(const MatmulParams& p, const EpilogueKernels& k) {
  MatmulParams q = p;
  q.epilogue = GemmEpilogue::None;
  q.aux = nullptr;
  q.biasGrad = nullptr;
  const int64_t mn = p.m * p.n;
  switch (p.epilogue) {
    case GemmEpilogue::None:
      k.matmul(q);
      return;
    case GemmEpilogue::GeluAux: {  // the product (+ bias) into aux, then C = gelu(aux)
      q.c = p.aux;
      k.matmul(q);
      k.unaryOp(UnaryParams{unary::GeluTanh, p.aux, p.c, mn, p.cDtype, 0, 0});
      return;
    }
    case GemmEpilogue::DGelu: {  // the product into C, then C *= gelu'(aux) in place, then its column sums
      k.matmul(q);
      k.unaryBackward(UnaryBackwardParams{unary::GeluTanh, p.aux, p.c, p.c, mn, p.cDtype, 0, 0});
      if (p.biasGrad) sumMiddle(k, p.c, p.cDtype, p.biasGrad, p.biasGradDtype, 1, p.m, p.n);
      return;
    }
    case GemmEpilogue::BiasGradA: {  // row sums of op(A): A is [k, m] when transposed, else [m, k]
      k.matmul(q);
      if (p.transA) sumMiddle(k, p.a, p.abDtype, p.biasGrad, p.biasGradDtype, 1, p.k, p.m);
      else sumMiddle(k, p.a, p.abDtype, p.biasGrad, p.biasGradDtype, p.m, p.k, 1);
      return;
    }
  }
}

}  // namespace ts
