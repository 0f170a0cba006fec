// Elementwise reductions of the cpu backend (see comm_reduce.h). `out` may alias `a` or `b`: each
// element is read before it is written.
#include "cpu/comm_reduce.h"

#include <type_traits>

#include "cpu/comm_error.h"
#include "cpu/dispatch.h"

namespace ts::cpu::comm {
namespace {

template <typename A>
inline A pick(ReduceOp op, A x, A y) {
  if (op == ReduceOp::Max) return (x != x) ? x : (x > y ? x : y);  // NaN propagates
  return (x != x) ? x : (x < y ? x : y);
}

template <typename T>
void floating(ReduceOp op, T* out, const T* a, const T* b, size_t n, int divisor) {
  using A = acc_t<T>;
  const A d = A(divisor);
  if (op == ReduceOp::Sum || op == ReduceOp::Avg) {
    if (divisor > 1) {
      for (size_t i = 0; i < n; ++i) out[i] = store<T, A>((load<T, A>(a[i]) + load<T, A>(b[i])) / d);
    } else {
      for (size_t i = 0; i < n; ++i) out[i] = store<T, A>(load<T, A>(a[i]) + load<T, A>(b[i]));
    }
    return;
  }
  for (size_t i = 0; i < n; ++i) out[i] = store<T, A>(pick<A>(op, load<T, A>(a[i]), load<T, A>(b[i])));
}

template <typename T>
void integral(ReduceOp op, T* out, const T* a, const T* b, size_t n, int divisor) {
  using U = std::make_unsigned_t<T>;
  if (op == ReduceOp::Sum || op == ReduceOp::Avg) {
    for (size_t i = 0; i < n; ++i) {
      T s = T(U(a[i]) + U(b[i]));
      out[i] = divisor > 1 ? T(s / T(divisor)) : s;
    }
    return;
  }
  if (op == ReduceOp::Max) {
    for (size_t i = 0; i < n; ++i) out[i] = a[i] > b[i] ? a[i] : b[i];
  } else {
    for (size_t i = 0; i < n; ++i) out[i] = a[i] < b[i] ? a[i] : b[i];
  }
}

void logical(ReduceOp op, uint8_t* out, const uint8_t* a, const uint8_t* b, size_t n) {
  if (op == ReduceOp::Min) {
    for (size_t i = 0; i < n; ++i) out[i] = uint8_t(a[i] != 0 && b[i] != 0);
  } else {
    for (size_t i = 0; i < n; ++i) out[i] = uint8_t(a[i] != 0 || b[i] != 0);
  }
}

}  // namespace

void combine(DType dt, ReduceOp op, void* out, const void* a, const void* b, size_t n, int divisor) {
  if (dt == DType::Bool && op == ReduceOp::Avg) {
    fail(Code::Invalid, "avg is not defined for bool tensors (use max for any, min for all)");
  }
  TS_CPU_DISPATCH_ALL(dt, "cpu backend reduction", [&](auto tag) {
    using T = TS_TYPE(tag);
    T* o = static_cast<T*>(out);
    const T* x = static_cast<const T*>(a);
    const T* y = static_cast<const T*>(b);
    if constexpr (std::is_same_v<T, uint8_t>) {
      logical(op, o, x, y, n);
    } else if constexpr (std::is_integral_v<T>) {
      integral<T>(op, o, x, y, n, divisor);
    } else {
      floating<T>(op, o, x, y, n, divisor);
    }
  });
}

}  // namespace ts::cpu::comm
