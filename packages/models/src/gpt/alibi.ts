// ALiBi (Press et al., "Train Short, Test Long"): no position embeddings; each head adds
// slope x (key position - query position) to its attention scores. Slopes are the geometric
// sequence 2^(-8/n), 2^(-16/n), ... for n heads (n a power of two); otherwise those of the nearest
// lower power of two, then every other slope of the next power of two.
import { arange, type Device, type Tensor, tensor } from '@tessera/core';

export function alibiSlopes(heads: number): number[] {
  const powerOfTwo = (n: number) => {
    const start = 2 ** (-8 / n);
    return Array.from({ length: n }, (_, i) => start ** (i + 1));
  };
  if (Number.isInteger(Math.log2(heads))) return powerOfTwo(heads);
  const lower = 2 ** Math.floor(Math.log2(heads));
  const extra = powerOfTwo(2 * lower).filter((_, i) => i % 2 === 0).slice(0, heads - lower);
  return [...powerOfTwo(lower), ...extra];
}

/**
 * The score bias [1, heads, sq, sk] (fp32) for this TP rank's heads [firstHead, firstHead + heads).
 * Relative form: 0 on the diagonal, negative to the left; causal masking hides the right.
 */
export function alibiBias(totalHeads: number, firstHead: number, heads: number, sq: number, sk: number, device: Device): Tensor {
  const slopes = tensor(alibiSlopes(totalHeads).slice(firstHead, firstHead + heads), { device }).reshape(1, heads, 1, 1);
  const q = arange(sk - sq, sk, 1, { device, dtype: 'f32' }).reshape(sq, 1); // query positions align to the keys' end
  const k = arange(0, sk, 1, { device, dtype: 'f32' }).reshape(1, sk);
  const rel = k.sub(q); // [sq, sk]
  const out = slopes.mul(rel.reshape(1, 1, sq, sk));
  for (const t of [slopes, q, k, rel]) t.dispose();
  return out;
}
