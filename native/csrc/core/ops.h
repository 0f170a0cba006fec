// Operation codes shared with JS (src/binding.ts: UNARY_OPS, BINARY_OPS, REDUCE_OPS) and the scalar
// math of every pointwise op, written once for the CPU loops and the CUDA kernels.
#pragma once
#include <math.h>
#include <cstdint>
#include "core/hd.h"

namespace ts {

namespace unary {
enum : int {
  Neg = 0, Exp = 1, Log = 2, Sqrt = 3, Rsqrt = 4, Tanh = 5, Sigmoid = 6, Relu = 7, Silu = 8,
  GeluTanh = 9, GeluErf = 10, Abs = 11, Affine = 12, Pow = 13, Reciprocal = 14, Square = 15,
  Sin = 16, Cos = 17, Sign = 18, Clamp = 19, Count = 20
};
}  // namespace unary

namespace binary {
enum : int {
  Add = 0, Sub = 1, Mul = 2, Div = 3, Pow = 4, Maximum = 5, Minimum = 6,
  Eq = 7, Ne = 8, Lt = 9, Le = 10, Gt = 11, Ge = 12, LogicalAnd = 13, LogicalOr = 14, Count = 15
};
TS_HD bool isComparison(int op) { return op >= Eq; }
}  // namespace binary

namespace reduce {
enum : int { Sum = 0, Mean = 1, Max = 2, Min = 3, Count = 4 };
}  // namespace reduce

// ---- scalar helpers usable on host and device ---------------------------------------------------
TS_HD float m_exp(float x) { return expf(x); }
TS_HD double m_exp(double x) { return exp(x); }
TS_HD float m_log(float x) { return logf(x); }
TS_HD double m_log(double x) { return log(x); }
TS_HD float m_sqrt(float x) { return sqrtf(x); }
TS_HD double m_sqrt(double x) { return sqrt(x); }
TS_HD float m_tanh(float x) { return tanhf(x); }
TS_HD double m_tanh(double x) { return tanh(x); }
TS_HD float m_erf(float x) { return erff(x); }
TS_HD double m_erf(double x) { return erf(x); }
TS_HD float m_pow(float x, float y) { return powf(x, y); }
TS_HD double m_pow(double x, double y) { return pow(x, y); }
TS_HD float m_sin(float x) { return sinf(x); }
TS_HD double m_sin(double x) { return sin(x); }
TS_HD float m_cos(float x) { return cosf(x); }
TS_HD double m_cos(double x) { return cos(x); }

template <typename A> TS_HD A m_sigmoid(A x) { return A(1) / (A(1) + m_exp(-x)); }

// GELU, tanh approximation: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).
template <typename A> TS_HD A geluTanh(A x) {
  const A k = A(0.7978845608028654), c = A(0.044715);
  return A(0.5) * x * (A(1) + m_tanh(k * (x + c * x * x * x)));
}
template <typename A> TS_HD A geluTanhGrad(A x) {
  const A k = A(0.7978845608028654), c = A(0.044715);
  A t = m_tanh(k * (x + c * x * x * x));
  return A(0.5) * (A(1) + t) + A(0.5) * x * (A(1) - t * t) * k * (A(1) + A(3) * c * x * x);
}
// GELU, exact: 0.5 x (1 + erf(x / sqrt 2)).
template <typename A> TS_HD A geluErf(A x) { return A(0.5) * x * (A(1) + m_erf(x * A(0.7071067811865476))); }
template <typename A> TS_HD A geluErfGrad(A x) {
  A cdf = A(0.5) * (A(1) + m_erf(x * A(0.7071067811865476)));
  A pdf = m_exp(A(-0.5) * x * x) * A(0.3989422804014327);
  return cdf + x * pdf;
}

// y = f(x) for floating types; alpha/beta are the op's parameters (Affine: a*x+b, Pow: x^a, Clamp: [a,b]).
template <int Op, typename A> TS_HD A unaryApply(A x, A alpha, A beta) {
  if constexpr (Op == unary::Neg) return -x;
  else if constexpr (Op == unary::Exp) return m_exp(x);
  else if constexpr (Op == unary::Log) return m_log(x);
  else if constexpr (Op == unary::Sqrt) return m_sqrt(x);
  else if constexpr (Op == unary::Rsqrt) return A(1) / m_sqrt(x);
  else if constexpr (Op == unary::Tanh) return m_tanh(x);
  else if constexpr (Op == unary::Sigmoid) return m_sigmoid(x);
  else if constexpr (Op == unary::Relu) return x > A(0) ? x : A(0);
  else if constexpr (Op == unary::Silu) return x * m_sigmoid(x);
  else if constexpr (Op == unary::GeluTanh) return geluTanh(x);
  else if constexpr (Op == unary::GeluErf) return geluErf(x);
  else if constexpr (Op == unary::Abs) return x < A(0) ? -x : x;
  else if constexpr (Op == unary::Affine) return alpha * x + beta;
  else if constexpr (Op == unary::Pow) return m_pow(x, alpha);
  else if constexpr (Op == unary::Reciprocal) return A(1) / x;
  else if constexpr (Op == unary::Square) return x * x;
  else if constexpr (Op == unary::Sin) return m_sin(x);
  else if constexpr (Op == unary::Cos) return m_cos(x);
  else if constexpr (Op == unary::Sign) return x > A(0) ? A(1) : (x < A(0) ? A(-1) : A(0));
  else if constexpr (Op == unary::Clamp) return x < alpha ? alpha : (x > beta ? beta : x);
  else return x;
}

// dL/dx = dL/dy * f'(x), computed from the forward input x.
template <int Op, typename A> TS_HD A unaryGrad(A x, A gy, A alpha, A beta) {
  if constexpr (Op == unary::Neg) return -gy;
  else if constexpr (Op == unary::Exp) return gy * m_exp(x);
  else if constexpr (Op == unary::Log) return gy / x;
  else if constexpr (Op == unary::Sqrt) return gy * A(0.5) / m_sqrt(x);
  else if constexpr (Op == unary::Rsqrt) return gy * A(-0.5) / (x * m_sqrt(x));
  else if constexpr (Op == unary::Tanh) { A t = m_tanh(x); return gy * (A(1) - t * t); }
  else if constexpr (Op == unary::Sigmoid) { A s = m_sigmoid(x); return gy * s * (A(1) - s); }
  else if constexpr (Op == unary::Relu) return x > A(0) ? gy : A(0);
  else if constexpr (Op == unary::Silu) { A s = m_sigmoid(x); return gy * s * (A(1) + x * (A(1) - s)); }
  else if constexpr (Op == unary::GeluTanh) return gy * geluTanhGrad(x);
  else if constexpr (Op == unary::GeluErf) return gy * geluErfGrad(x);
  else if constexpr (Op == unary::Abs) return x > A(0) ? gy : (x < A(0) ? -gy : A(0));
  else if constexpr (Op == unary::Affine) return gy * alpha;
  else if constexpr (Op == unary::Pow) return alpha == A(0) ? A(0) : gy * alpha * m_pow(x, alpha - A(1));
  else if constexpr (Op == unary::Reciprocal) return -gy / (x * x);
  else if constexpr (Op == unary::Square) return gy * A(2) * x;
  else if constexpr (Op == unary::Sin) return gy * m_cos(x);
  else if constexpr (Op == unary::Cos) return -gy * m_sin(x);
  else if constexpr (Op == unary::Sign) return A(0);
  else if constexpr (Op == unary::Clamp) return (x < alpha || x > beta) ? A(0) : gy;
  else return gy;
}

// Integer unary ops: the subset that stays in the integers.
TS_HD bool unaryIntegerOk(int op) {
  return op == unary::Neg || op == unary::Abs || op == unary::Affine || op == unary::Square ||
         op == unary::Sign || op == unary::Clamp || op == unary::Relu;
}

template <int Op, typename A> TS_HD A binaryApply(A a, A b) {
  if constexpr (Op == binary::Add) return a + b;
  else if constexpr (Op == binary::Sub) return a - b;
  else if constexpr (Op == binary::Mul) return a * b;
  else if constexpr (Op == binary::Div) return a / b;
  else if constexpr (Op == binary::Pow) return m_pow(a, b);
  else if constexpr (Op == binary::Maximum) return (a != a) ? a : (a > b ? a : b);  // NaN propagates
  else if constexpr (Op == binary::Minimum) return (a != a) ? a : (a < b ? a : b);
  else if constexpr (Op == binary::Eq) return A(a == b);
  else if constexpr (Op == binary::Ne) return A(a != b);
  else if constexpr (Op == binary::Lt) return A(a < b);
  else if constexpr (Op == binary::Le) return A(a <= b);
  else if constexpr (Op == binary::Gt) return A(a > b);
  else if constexpr (Op == binary::Ge) return A(a >= b);
  else if constexpr (Op == binary::LogicalAnd) return A((a != A(0)) && (b != A(0)));
  else if constexpr (Op == binary::LogicalOr) return A((a != A(0)) || (b != A(0)));
  else return a;
}

// Integer binaries: no Div or Pow (cast to a float type first).
TS_HD bool binaryIntegerOk(int op) { return op != binary::Div && op != binary::Pow; }

}  // namespace ts
