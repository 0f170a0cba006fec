// Philox4x32-10 counter-based RNG (Salmon et al., SC'11). Written once for host and device, so the
// CPU and CUDA backends draw the same numbers for the same (seed, counter): element i of a draw
// uses block `counter + i / 4`, lane `i % 4`.
#pragma once
#include <math.h>

#include <cstdint>
#include "core/hd.h"

namespace ts {

struct U32x4 { uint32_t v[4]; };

TS_HD uint32_t mulhilo(uint32_t a, uint32_t b, uint32_t* hi) {
  uint64_t p = uint64_t(a) * uint64_t(b);
  *hi = uint32_t(p >> 32);
  return uint32_t(p);
}

TS_HD U32x4 philox(uint64_t seed, uint64_t block) {
  uint32_t c0 = uint32_t(block), c1 = uint32_t(block >> 32), c2 = 0, c3 = 0;
  uint32_t k0 = uint32_t(seed), k1 = uint32_t(seed >> 32);
  for (int r = 0; r < 10; ++r) {
    uint32_t hi0, hi1;
    uint32_t lo0 = mulhilo(0xD2511F53u, c0, &hi0);
    uint32_t lo1 = mulhilo(0xCD9E8D57u, c2, &hi1);
    uint32_t n0 = hi1 ^ c1 ^ k0, n1 = lo1, n2 = hi0 ^ c3 ^ k1, n3 = lo0;
    c0 = n0; c1 = n1; c2 = n2; c3 = n3;
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
  return U32x4{{c0, c1, c2, c3}};
}

// Uniform in [0, 1) with 24 random bits.
TS_HD float uint32ToUnit(uint32_t x) { return float(x >> 8) * (1.0f / 16777216.0f); }

// The i-th uniform of a draw.
TS_HD float philoxUniform(uint64_t seed, uint64_t counter, uint64_t i) {
  U32x4 r = philox(seed, counter + i / 4);
  return uint32ToUnit(r.v[i % 4]);
}

// The i-th standard normal of a draw (Box-Muller on lanes (0,1) and (2,3) of the block). The
// transcendental functions run in double precision and the result is rounded to float: host libm
// and CUDA's float log/sin/cos round differently in the last bit, their double versions agree to
// well below float resolution, so both backends draw the same floats (all but ~1e-8 of draws).
TS_HD float philoxNormal(uint64_t seed, uint64_t counter, uint64_t i) {
  U32x4 r = philox(seed, counter + i / 4);
  int lane = int(i % 4);
  int base = lane & 2;
  double u1 = (double(r.v[base] >> 8) + 1.0) * (1.0 / 16777216.0);  // (0, 1]
  double u2 = double(r.v[base + 1] >> 8) * (1.0 / 16777216.0);
  double radius = sqrt(-2.0 * log(u1));
  double angle = 6.283185307179586 * u2;
  return float((lane & 1) ? radius * sin(angle) : radius * cos(angle));
}

}  // namespace ts
