// Float arithmetic exactly as numpy and Python do it, where Megatron's results depend on the last
// bit: numpy's pairwise summation and Python's round-half-to-even.

/** `numpy.sum` of a contiguous float64 array (pairwise summation, blocks of 8, 128 leaves). */
export function npSum(a: ArrayLike<number>, start = 0, n = a.length - start): number {
  if (n < 8) {
    let res = -0; // numpy starts from -0.0 so that sums of -0.0 stay -0.0
    for (let i = 0; i < n; i++) res += a[start + i]!;
    return res;
  }
  if (n <= 128) {
    const r = [0, 0, 0, 0, 0, 0, 0, 0];
    for (let j = 0; j < 8; j++) r[j] = a[start + j]!;
    let i = 8;
    for (; i < n - (n % 8); i += 8) for (let j = 0; j < 8; j++) r[j]! += a[start + i + j]!;
    let res = ((r[0]! + r[1]!) + (r[2]! + r[3]!)) + ((r[4]! + r[5]!) + (r[6]! + r[7]!));
    for (; i < n; i++) res += a[start + i]!;
    return res;
  }
  let n2 = Math.floor(n / 2);
  n2 -= n2 % 8;
  return npSum(a, start, n2) + npSum(a, start + n2, n - n2);
}

/** `numpy.array(w) / numpy.sum(w)`: Megatron's `normalize`. */
export function npNormalize(weights: readonly number[]): number[] {
  const total = npSum(weights);
  return weights.map((w) => w / total);
}

/** Python 3 `round(x)` for floats: to the nearest integer, ties to even. */
export function pyRound(x: number): number {
  const f = Math.floor(x);
  const d = x - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}
