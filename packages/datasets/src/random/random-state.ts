// numpy's legacy `numpy.random.RandomState`, reproduced draw for draw for the methods Megatron's
// datasets call: shuffle, random, randint, geometric, choice(p=...). The algorithms are numpy's
// (mtrand.pyx, distributions/legacy-distributions.c): masked rejection sampling for integers,
// 53-bit doubles from two 32-bit words, Fisher-Yates from the end.
import { MT19937 } from './mt19937.ts';

const TWO_32 = 4294967296;

/** Smallest all-ones bit mask >= max (max < 2**53). */
function bitMask(max: number): number {
  let bits = 0;
  while (bits < 53 && 2 ** bits - 1 < max) bits++;
  return 2 ** bits - 1;
}

export class RandomState {
  private readonly mt: MT19937;

  /** Seeds like `RandomState(seed)` with an int seed in [0, 2**32). */
  constructor(seed: number) {
    if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) {
      throw new RangeError(`RandomState: Seed must be between 0 and 2**32 - 1, got ${seed}`);
    }
    this.mt = new MT19937(seed);
  }

  nextUint32(): number {
    return this.mt.nextUint32();
  }

  /** A double in [0, 1) with 53 random bits (`random_sample`, `random`). */
  random(): number {
    const a = this.mt.nextUint32() >>> 5;
    const b = this.mt.nextUint32() >>> 6;
    return (a * 67108864 + b) / 9007199254740992;
  }

  /** A uniform integer in [0, max] by masked rejection (numpy's `random_interval`). */
  interval(max: number): number {
    if (max === 0) return 0;
    if (max <= 0xffffffff) {
      const mask = 0xffffffff >>> Math.clz32(max);
      if (mask === 0xffffffff) {
        let v: number;
        while ((v = this.mt.nextUint32()) > max);
        return v;
      }
      let v: number;
      while ((v = this.mt.nextUint32() & mask) > max);
      return v;
    }
    if (max > Number.MAX_SAFE_INTEGER) throw new RangeError(`RandomState.interval: ${max} is beyond 2**53`);
    const highMask = Math.floor(bitMask(max) / TWO_32);
    for (;;) {
      const hi = this.mt.nextUint32() & highMask; // numpy draws the high word first
      const lo = this.mt.nextUint32();
      const v = hi * TWO_32 + lo;
      if (v <= max) return v;
    }
  }

  /** `randint(low, high)`: an integer in [low, high) (legacy masked method, int64). */
  randint(low: number, high: number): number {
    if (!(high > low)) throw new RangeError(`RandomState.randint: low >= high (${low} >= ${high})`);
    const rng = high - 1 - low;
    if (rng === 0) return low;
    return low + this.interval(rng);
  }

  /** In-place Fisher-Yates exactly as `RandomState.shuffle` (for arrays and Python lists alike). */
  shuffle<T extends { length: number; [i: number]: unknown }>(x: T): T {
    for (let i = x.length - 1; i > 0; i--) {
      const j = this.interval(i);
      const t = x[i];
      x[i] = x[j];
      x[j] = t;
    }
    return x;
  }

  /** `geometric(p)`: trials until the first success, numpy's legacy search/inversion split. */
  geometric(p: number): number {
    if (!(p > 0 && p <= 1)) throw new RangeError(`RandomState.geometric: p must be in (0, 1], got ${p}`);
    // numpy writes 0.333333333333333333333333; this is the same double.
    if (p >= 0.3333333333333333) {
      let x = 1;
      let sum = p;
      let prod = p;
      const q = 1 - p;
      const u = this.random();
      while (u > sum) {
        prod *= q;
        sum += prod;
        x++;
      }
      return x;
    }
    return Math.ceil(Math.log1p(-this.random()) / Math.log(1 - p));
  }

  /** `choice(values, p=probs)` for one draw: inverse CDF with a right-sided search. */
  choice<T>(values: readonly T[], probs: ArrayLike<number>): T {
    if (values.length !== probs.length || values.length === 0) {
      throw new RangeError('RandomState.choice: a and p must have the same, non-zero size');
    }
    const cdf = new Float64Array(probs.length);
    let acc = 0;
    for (let i = 0; i < probs.length; i++) cdf[i] = acc += probs[i]!;
    const last = cdf[cdf.length - 1]!;
    for (let i = 0; i < cdf.length; i++) cdf[i] = cdf[i]! / last;
    const u = this.random();
    let lo = 0;
    let hi = cdf.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (cdf[mid]! <= u) lo = mid + 1;
      else hi = mid;
    }
    return values[lo]!;
  }
}
