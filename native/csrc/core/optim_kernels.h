// The multi-tensor optimizer kernels (cpu/optim.cpp, cuda/optim.cu): each call works on a whole
// list of tensors at once, so an optimizer step over hundreds of parameters is one launch per
// parameter group, not one per tensor. The per-element math is written once here and used by
// both backends, so they compute the same thing.
#pragma once
#include <cmath>
#include <cstdint>

#include "core/dtype.h"
#include "core/hd.h"

namespace ts {

// A tensor of a list: its first element and its element count (the binding has checked both).
struct TensorSpan {
  void* data;
  int64_t n;
};

// One parameter of an Adam list. Pointers are offset to the tensor's first element.
struct AdamTensor {
  void* param;       // model weights (paramDtype): written; also read when `main` is null
  float* main;       // fp32 main weights, read and written; null when `param` itself is updated
  const void* grad;  // gradDtype
  float* expAvg;     // fp32 first moment
  float* expAvgSq;   // fp32 second moment
  int64_t n;
};

// The step's scalars, computed on the host in double the way torch.optim.Adam(W) computes them,
// then rounded to float once.
struct AdamScalars {
  float beta1, beta2, lerpWeight, oneMinusBeta2, eps, weightDecay;
  float gradScale;   // gradients are multiplied by this first: 1/lossScale times the clip factor
  float stepSize;    // lr / (1 - beta1^step)
  float bias2Sqrt;   // sqrt(1 - beta2^step)
  float decay;       // 1 - lr * weightDecay (AdamW)
  bool decoupled;    // AdamW: decay the weights; Adam: add weightDecay * w to the gradient (L2)
};

struct MultiTensorAdamParams {
  const AdamTensor* tensors;
  int64_t count;
  DType paramDtype, gradDtype;
  AdamScalars s;
};

// out[0] (fp32) = sum of x^2 over every element of every tensor (+= when accumulate). Squares are
// summed in double, so finite inputs never overflow and any inf/NaN input makes the result non-finite.
struct MultiTensorSquaredNormParams {
  const TensorSpan* tensors;
  int64_t count;
  DType dtype;
  float* out;
  bool accumulate;
};

// x *= scale in place for every tensor (computed in fp32, fp64 for f64 tensors).
struct MultiTensorScaleParams {
  const TensorSpan* tensors;
  int64_t count;
  DType dtype;
  double scale;
};

// torch's lerp: a + w (b - a) for |w| < 0.5, else b - (b - a)(1 - w).
TS_HD float lerpTorch(float a, float b, float w) {
  return w < 0.5f ? a + w * (b - a) : b - (b - a) * (1.0f - w);
}

// One element of torch.optim.Adam / AdamW (single-tensor formula, fp32): p, m, v updated in place.
TS_HD void adamElement(float& p, float& m, float& v, float g, const AdamScalars& s) {
  g *= s.gradScale;
  if (s.decoupled) p *= s.decay;
  else g += s.weightDecay * p;
  m = lerpTorch(m, g, s.lerpWeight);
  v = v * s.beta2 + s.oneMinusBeta2 * g * g;
  float denom = sqrtf(v) / s.bias2Sqrt + s.eps;
  p = p + (-s.stepSize) * m / denom;
}

// Rounds the host-side scalars of step `step` (1-based) exactly once.
inline AdamScalars adamScalars(double lr, double beta1, double beta2, double eps, double weightDecay, double step,
                               double gradScale, bool decoupled) {
  AdamScalars s;
  s.beta1 = float(beta1);
  s.beta2 = float(beta2);
  s.lerpWeight = float(1.0 - beta1);
  s.oneMinusBeta2 = float(1.0 - beta2);
  s.eps = float(eps);
  s.weightDecay = float(weightDecay);
  s.gradScale = float(gradScale);
  s.stepSize = float(lr / (1.0 - std::pow(beta1, step)));
  s.bias2Sqrt = float(std::sqrt(1.0 - std::pow(beta2, step)));
  s.decay = float(1.0 - lr * weightDecay);
  s.decoupled = decoupled;
  return s;
}

#define TS_OPTIM_KERNEL_LIST(X)                       \
  X(multiTensorAdam, MultiTensorAdamParams)           \
  X(multiTensorSquaredNorm, MultiTensorSquaredNormParams) \
  X(multiTensorScale, MultiTensorScaleParams)

#define TS_DECLARE_OPTIM_KERNEL(name, Params) void name(const Params& p);
namespace cpu { TS_OPTIM_KERNEL_LIST(TS_DECLARE_OPTIM_KERNEL) }
#ifdef TESSERA_CUDA
namespace cuda { TS_OPTIM_KERNEL_LIST(TS_DECLARE_OPTIM_KERNEL) }
#endif
#undef TS_DECLARE_OPTIM_KERNEL

}  // namespace ts
