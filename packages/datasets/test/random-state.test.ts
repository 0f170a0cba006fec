// numpy RandomState parity: every expected number comes from numpy itself
// (tools/fixtures/make_random_fixtures.py).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { MT19937_64 } from '../src/random/mt19937-64.ts';
import { npSum, pyRound } from '../src/random/numpy-math.ts';
import { RandomState } from '../src/random/random-state.ts';

const fx = JSON.parse(readFileSync(new URL('./fixtures/random-state.json', import.meta.url), 'utf8'));

function digest(values: ArrayLike<number>): number {
  let acc = 0n;
  for (let i = 0; i < values.length; i++) acc = (acc * 1000003n + BigInt(values[i]!) + BigInt(i)) % 2147483647n;
  return Number(acc);
}

describe('RandomState (numpy legacy) parity', () => {
  it('produces the same raw 32-bit stream', () => {
    for (const c of fx.uint32) {
      const rs = new RandomState(c.seed);
      expect(Array.from({ length: c.values.length }, () => rs.nextUint32())).toEqual(c.values);
    }
  });

  it('produces the same doubles', () => {
    for (const c of fx.random) {
      const rs = new RandomState(c.seed);
      expect(Array.from({ length: c.values.length }, () => rs.random())).toEqual(c.values);
    }
  });

  it('shuffles arrays identically and leaves the stream where numpy does', () => {
    for (const c of fx.shuffle) {
      const rs = new RandomState(c.seed);
      const a = new Uint32Array(c.n).map((_, i) => i);
      rs.shuffle(a);
      expect(Array.from(a.subarray(0, 16))).toEqual(c.head);
      expect(digest(a)).toBe(c.digest);
      expect([rs.nextUint32(), rs.nextUint32()]).toEqual(c.after);
    }
  });

  it('shuffles Python lists identically', () => {
    const rs = new RandomState(fx.shuffle_list.seed);
    const a = Array.from({ length: fx.shuffle_list.n }, (_, i) => i);
    expect(rs.shuffle(a)).toEqual(fx.shuffle_list.values);
  });

  it('draws randint, geometric and choice like numpy', () => {
    for (const c of fx.randint) {
      const rs = new RandomState(c.seed);
      expect(Array.from({ length: 10 }, () => rs.randint(c.low, c.high))).toEqual(c.values);
    }
    for (const c of fx.geometric) {
      const rs = new RandomState(c.seed);
      expect(Array.from({ length: c.values.length }, () => rs.geometric(c.p))).toEqual(c.values);
    }
    for (const c of fx.choice) {
      const rs = new RandomState(c.seed);
      const values = Array.from({ length: c.n }, (_, i) => i + 1);
      expect(Array.from({ length: 100 }, () => rs.choice(values, c.probs))).toEqual(c.values);
    }
  });

  it('keeps an interleaved stream of mixed draws in step', () => {
    const rs = new RandomState(fx.mixed.seed);
    let k = 0;
    for (let i = 0; i < fx.mixed.draws.length; i += 3, k++) {
      expect(rs.random()).toBe(fx.mixed.draws[i][1]);
      expect(rs.randint(1, 2 + (k % 5))).toBe(fx.mixed.draws[i + 1][1]);
      expect(rs.geometric(0.2)).toBe(fx.mixed.draws[i + 2][1]);
    }
  });

  it('rejects seeds numpy rejects', () => {
    expect(() => new RandomState(-1)).toThrow(/Seed must be between 0 and 2\*\*32 - 1/);
    expect(() => new RandomState(2 ** 32)).toThrow(/Seed/);
  });
});

describe('numpy and Python float arithmetic', () => {
  it('sums pairwise like numpy.sum', () => {
    for (const c of fx.sum) expect(npSum(c.values)).toBe(c.sum);
  });
  it('rounds half to even like Python round()', () => {
    for (const [x, r] of fx.round) expect(pyRound(x)).toBe(r);
  });
});

describe('std::mt19937_64', () => {
  it('matches the C++ standard reference value (10000th output for the default seed)', () => {
    // [rand.predef]: the 10000th consecutive invocation of a default-constructed mt19937_64
    // produces 9981545732273789042.
    const g = new MT19937_64(5489);
    let v = 0n;
    for (let i = 0; i < 10000; i++) v = g.next();
    expect(v).toBe(9981545732273789042n);
  });
});
