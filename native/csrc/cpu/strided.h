// Walks a range of a contiguous output's linear indices while tracking the element offsets of
// NIN strided inputs (broadcast inputs have stride 0). Offsets update incrementally: one add per
// element along the last dimension, a carry at each row end.
#pragma once
#include <cstdint>

#include "core/kernels.h"

namespace ts::cpu {

template <int NIN, typename F>
inline void forEachStrided(int ndim, const int64_t* shape, const int64_t* const (&strides)[NIN], int64_t begin,
                           int64_t end, const F& f) {
  if (ndim == 0) {
    int64_t off[NIN] = {};
    for (int64_t i = begin; i < end; ++i) f(i, off);
    return;
  }
  int64_t coord[kMaxDims];
  int64_t off[NIN] = {};
  int64_t rest = begin;
  for (int d = ndim - 1; d >= 0; --d) {
    coord[d] = shape[d] ? rest % shape[d] : 0;
    rest = shape[d] ? rest / shape[d] : 0;
    for (int k = 0; k < NIN; ++k) off[k] += coord[d] * strides[k][d];
  }
  const int last = ndim - 1;
  for (int64_t i = begin; i < end;) {
    // Run along the last dimension without carries.
    int64_t run = shape[last] - coord[last];
    if (run > end - i) run = end - i;
    for (int64_t j = 0; j < run; ++j) {
      f(i + j, off);
      for (int k = 0; k < NIN; ++k) off[k] += strides[k][last];
    }
    i += run;
    coord[last] += run;
    if (i >= end) break;
    // Carry into the higher dimensions.
    for (int k = 0; k < NIN; ++k) off[k] -= coord[last] * strides[k][last];
    coord[last] = 0;
    for (int d = last - 1; d >= 0; --d) {
      ++coord[d];
      for (int k = 0; k < NIN; ++k) off[k] += strides[k][d];
      if (coord[d] < shape[d]) break;
      for (int k = 0; k < NIN; ++k) off[k] -= coord[d] * strides[k][d];
      coord[d] = 0;
    }
  }
}

}  // namespace ts::cpu
