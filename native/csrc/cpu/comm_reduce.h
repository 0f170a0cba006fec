// The reductions of the cpu backend's collectives, for every dtype: out[i] = op(a[i], b[i]),
// then divided by `divisor` when it is above 1 (avg, on the last step only).
//  - floats: computed in float (double for f64) and rounded once; max/min propagate NaN;
//  - integers: exact (sums wrap like two's complement); avg truncates toward zero;
//  - bool: sum and max are "any" (logical or), min is "all" (logical and); avg is refused.
#pragma once
#include <cstddef>

#include "core/dtype.h"
#include "cpu/comm_frame.h"

namespace ts::cpu::comm {

void combine(DType dt, ReduceOp op, void* out, const void* a, const void* b, size_t n, int divisor);

}  // namespace ts::cpu::comm
