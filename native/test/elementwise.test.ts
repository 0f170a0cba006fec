// CPU pointwise kernels at the binding level, against float64 references: fill, arange, random,
// cast, unary (+ backward), binary (broadcasting), where, copyStrided, accumulate, dropout,
// maskedScale, and the errors they raise.
import { describe, expect, it } from 'vitest';
import { BINARY_OPS, type BinaryOpName, type DTypeName, UNARY_OPS } from '../src/index.ts';
import {
  ALL_DTYPES, BINARY_NAMES, binaryRef, contiguousStrides, extentOf, FLOAT_DTYPES, INTEGER_UNARY, isComparison,
  isFloat, roundTo, stridedOffsets, UNARY_NAMES, unaryCase, unaryGradRef, unaryRef,
} from './refs.ts';
import { assertClose, CPU, code, download, empty, nb, randomValues, TOL, upload } from './util.ts';

const N = 1037; // odd: exercises every tail
const trunc = (v: number) => Math.trunc(v) + 0; // + 0: integers have no -0

function mean(v: number[]): number {
  return v.reduce((a, b) => a + b, 0) / v.length;
}
function variance(v: number[]): number {
  const m = mean(v);
  return v.reduce((a, b) => a + (b - m) ** 2, 0) / v.length;
}

describe('fill and arange', () => {
  for (const dtype of ALL_DTYPES) {
    it(`fill ${dtype} at an offset`, () => {
      const h = empty(CPU, dtype, N + 3);
      nb.fill(h, 3, N, code(dtype), 2.75);
      const got = download(h, dtype, N + 3);
      const expected = dtype === 'bool' ? 1 : isFloat(dtype) ? roundTo(dtype, [2.75])[0] : 2;
      expect(got.slice(3).every((v) => v === expected)).toBe(true);
      // the three elements before the offset are untouched
      expect(got.slice(0, 3).every((v) => (isFloat(dtype) ? Number.isNaN(v) : v === (dtype === 'bool' ? 1 : 77)))).toBe(true);
      nb.free(h);
    });
  }

  it('fill converts like a cast through int64 for integers and bool', () => {
    const h = empty(CPU, 'bool', 4);
    nb.fill(h, 0, 4, code('bool'), 0.5); // int64(0.5) = 0 -> false
    expect(download(h, 'bool', 4)).toEqual([0, 0, 0, 0]);
    const i = empty(CPU, 'i32', 2);
    nb.fill(i, 0, 2, code('i32'), -2.9);
    expect(download(i, 'i32', 2)).toEqual([-2, -2]);
    nb.free(h);
    nb.free(i);
  });

  for (const dtype of ALL_DTYPES.filter((d) => d !== 'bool')) {
    it(`arange ${dtype}`, () => {
      const h = empty(CPU, dtype, N);
      const start = dtype.startsWith('i') ? -5.5 : -3.25;
      nb.arange(h, 0, N, code(dtype), start, 0.75);
      const expected = Array.from({ length: N }, (_, i) => start + i * 0.75);
      const got = download(h, dtype, N);
      if (dtype.startsWith('i')) expect(got).toEqual(expected.map(trunc));
      else expect(got).toEqual(roundTo(dtype, expected));
      nb.free(h);
    });
  }
});

describe('random (Philox)', () => {
  const n = 100_000;
  function draw(dtype: DTypeName, kind: 0 | 1, a: number, b: number, seed: number, counter: number, count = n): number[] {
    const h = empty(CPU, dtype, count);
    nb.random(h, 0, count, code(dtype), kind, a, b, seed, counter);
    const v = download(h, dtype, count);
    nb.free(h);
    return v;
  }

  it('uniform: in [a, b) with the right mean and variance', () => {
    const v = draw('f32', 0, -2, 3, 1234, 0);
    expect(v.every((x) => x >= -2 && x < 3)).toBe(true);
    expect(Math.abs(mean(v) - 0.5)).toBeLessThan(5 * Math.sqrt(25 / 12 / n));
    expect(Math.abs(variance(v) - 25 / 12)).toBeLessThan(0.03);
  });

  it('normal: the right mean, std and one-sigma mass', () => {
    const v = draw('f32', 1, 1, 2, 99, 7);
    expect(Math.abs(mean(v) - 1)).toBeLessThan(5 * (2 / Math.sqrt(n)));
    expect(Math.abs(Math.sqrt(variance(v)) - 2)).toBeLessThan(5 * (2 / Math.sqrt(2 * n)));
    const inside = v.filter((x) => Math.abs(x - 1) < 2).length / n;
    expect(Math.abs(inside - 0.682689)).toBeLessThan(5 * Math.sqrt((0.68 * 0.32) / n));
  });

  it('is deterministic in (seed, counter) and follows the block layout', () => {
    const a = draw('f32', 0, 0, 1, 42, 100, 4096);
    expect(draw('f32', 0, 0, 1, 42, 100, 4096)).toEqual(a);
    const other = draw('f32', 0, 0, 1, 42, 101, 4096);
    expect(other).not.toEqual(a);
    // element i uses block counter + i/4: counter + 1 is the same stream shifted by 4 elements
    expect(other.slice(0, 4092)).toEqual(a.slice(4));
    expect(draw('f32', 0, 0, 1, 43, 100, 4096)).not.toEqual(a);
    // the normal stream obeys the same layout
    const g = draw('f32', 1, 0, 1, 5, 8, 1000);
    expect(draw('f32', 1, 0, 1, 5, 9, 996)).toEqual(g.slice(4));
  });

  it('seeds above 2^32 matter (the key uses both halves)', () => {
    expect(draw('f32', 0, 0, 1, 2 ** 33 + 1, 0, 64)).not.toEqual(draw('f32', 0, 0, 1, 1, 0, 64));
  });

  for (const dtype of ['f64', 'bf16', 'f16'] as const) {
    it(`${dtype} draws the f32 stream rounded to ${dtype}`, () => {
      // uniform in f64: a + (b - a) * u exactly, u a multiple of 2^-24
      const u = draw('f32', 0, 0, 1, 3, 4, 999);
      expect(draw(dtype, 0, 0, 1, 3, 4, 999)).toEqual(roundTo(dtype, u));
    });
  }
});

describe('cast', () => {
  // Values every source dtype can hold exactly (after rounding to it), plus negatives and zero.
  const base = [-3.75, -2, -1, -0.5, 0, 0.25, 0.5, 1, 1.5, 2, 7.125, 100.5, -100.5, 1000, 3];
  const values = Array.from({ length: 61 }, (_, i) => base[i % base.length] as number);
  for (const src of ALL_DTYPES) {
    for (const dst of ALL_DTYPES) {
      it(`${src} -> ${dst}`, () => {
        const exact = roundTo(src, values);
        const s = upload(CPU, src, exact);
        const o = empty(CPU, dst, exact.length);
        nb.cast(s, 0, code(src), o, 0, code(dst), exact.length);
        const expected = dst === 'bool' ? exact.map((v) => +(v !== 0)) : isFloat(dst) ? roundTo(dst, exact) : exact.map(trunc);
        expect(download(o, dst, exact.length)).toEqual(expected);
        nb.free(s);
        nb.free(o);
      });
    }
  }

  it('float -> integer truncates and saturates; NaN becomes 0', () => {
    const v = [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 3e9, -3e9, 1e30, -1e30, 2.9, -2.9];
    const s = upload(CPU, 'f64', v);
    const limits = { i32: [-(2 ** 31), 2 ** 31 - 1], i64: [-(2 ** 63), 2 ** 63 - 1] } as const;
    for (const dst of ['i32', 'i64'] as const) {
      const [lo, hi] = limits[dst];
      const o = empty(CPU, dst, v.length);
      nb.cast(s, 0, code('f64'), o, 0, code(dst), v.length);
      const big = dst === 'i64' ? [3e9, -3e9] : [hi, lo];
      expect(download(o, dst, v.length)).toEqual([0, hi, lo, ...big, hi, lo, 2, -2]);
      nb.free(o);
    }
    nb.free(s);
  });

  it('rounds f32 to bf16 and f16 to nearest even', () => {
    const v = [1 + 2 ** -8, 1 + 3 * 2 ** -8, 1 + 2 ** -11, 1 + 3 * 2 ** -11, 70000, -1e-8];
    const s = upload(CPU, 'f32', v);
    for (const dst of ['bf16', 'f16'] as const) {
      const o = empty(CPU, dst, v.length);
      nb.cast(s, 0, code('f32'), o, 0, code(dst), v.length);
      expect(download(o, dst, v.length)).toEqual(roundTo(dst, v));
      nb.free(o);
    }
    nb.free(s);
  });
});

describe('unary', () => {
  for (const dtype of FLOAT_DTYPES) {
    for (const op of UNARY_NAMES) {
      it(`${op} ${dtype}`, () => {
        const { lo, hi, a, b } = unaryCase(op);
        const x = roundTo(dtype, randomValues(N, 11 + UNARY_OPS[op], lo, hi));
        const hx = upload(CPU, dtype, x);
        const ho = empty(CPU, dtype, N);
        nb.unary(UNARY_OPS[op], hx, 0, ho, 0, N, code(dtype), a, b);
        const { rtol, atol } = TOL[dtype];
        assertClose(download(ho, dtype, N), x.map((v) => unaryRef(op, v, a, b)), rtol, atol, `${op} ${dtype}`);
        nb.free(hx);
        nb.free(ho);
      });
    }
  }

  for (const dtype of ['i32', 'i64'] as const) {
    for (const op of INTEGER_UNARY) {
      it(`${op} ${dtype} stays in the integers`, () => {
        const x = randomValues(N, 5, -50, 50).map(Math.trunc);
        const [a, b] = op === 'affine' ? [3, -7] : op === 'clamp' ? [-10, 20] : [0, 0];
        const hx = upload(CPU, dtype, x);
        const ho = empty(CPU, dtype, N);
        nb.unary(UNARY_OPS[op], hx, 0, ho, 0, N, code(dtype), a, b);
        expect(download(ho, dtype, N)).toEqual(x.map((v) => unaryRef(op, v, a, b) + 0));
        nb.free(hx);
        nb.free(ho);
      });
    }
  }

  it('works in place', () => {
    const x = roundTo('f32', randomValues(N, 3));
    const h = upload(CPU, 'f32', x);
    nb.unary(UNARY_OPS.tanh, h, 0, h, 0, N, code('f32'), 0, 0);
    assertClose(download(h, 'f32', N), x.map(Math.tanh));
    nb.free(h);
  });

  it('refuses float-only ops on integers and any math on bool', () => {
    const h = upload(CPU, 'i32', [1, 2, 3]);
    expect(() => nb.unary(UNARY_OPS.exp, h, 0, h, 0, 3, code('i32'), 0, 0)).toThrow(/needs a floating dtype, got i32/);
    expect(() => nb.unary(UNARY_OPS.sqrt, h, 0, h, 0, 3, code('i32'), 0, 0)).toThrow(/cast with .to\('f32'\)/);
    const b = upload(CPU, 'bool', [1, 0]);
    expect(() => nb.unary(UNARY_OPS.neg, b, 0, b, 0, 2, code('bool'), 0, 0)).toThrow(/bool/);
    expect(() => nb.unary(99, h, 0, h, 0, 3, code('i32'), 0, 0)).toThrow(/unknown unary op 99/);
    nb.free(h);
    nb.free(b);
  });
});

describe('unaryBackward', () => {
  for (const dtype of FLOAT_DTYPES) {
    for (const op of UNARY_NAMES) {
      it(`${op}' ${dtype}`, () => {
        const { lo, hi, a, b } = unaryCase(op);
        const x = roundTo(dtype, randomValues(N, 21 + UNARY_OPS[op], lo, hi));
        const gy = roundTo(dtype, randomValues(N, 77, -2, 2));
        const hx = upload(CPU, dtype, x);
        const hg = upload(CPU, dtype, gy);
        const ho = empty(CPU, dtype, N);
        nb.unaryBackward(UNARY_OPS[op], hx, 0, hg, 0, ho, 0, N, code(dtype), a, b);
        const { rtol, atol } = TOL[dtype];
        const expected = x.map((v, i) => unaryGradRef(op, v, gy[i] as number, a, b));
        assertClose(download(ho, dtype, N), expected, rtol, atol * 2, `${op}' ${dtype}`);
        nb.free(hx);
        nb.free(hg);
        nb.free(ho);
      });
    }
  }

  it('needs a floating dtype', () => {
    const h = upload(CPU, 'i32', [1, 2]);
    expect(() => nb.unaryBackward(UNARY_OPS.neg, h, 0, h, 0, h, 0, 2, code('i32'), 0, 0)).toThrow(/floating dtype/);
    nb.free(h);
  });
});

// Runs binary(op) on strided views of a and b; returns the output and the float64 reference.
function runBinary(op: BinaryOpName, dtype: DTypeName, shape: number[], aStrides: number[], bStrides: number[], seed: number) {
  const float = isFloat(dtype);
  const gen = (n: number, s: number) => {
    if (dtype === 'bool') return randomValues(n, s, 0, 2).map((v) => +(v >= 1));
    if (!float) return randomValues(n, s, -20, 20).map(Math.trunc);
    return op === 'pow' ? randomValues(n, s, 0.5, 2) : randomValues(n, s, -4, 4);
  };
  const aData = roundTo(dtype, gen(extentOf(shape, aStrides), seed));
  const bData = roundTo(dtype, gen(extentOf(shape, bStrides), seed + 1));
  // some equal pairs so eq/le/ge see ties: copy a's first elements into b where the views allow
  for (let i = 0; i < Math.min(aData.length, bData.length); i += 3) bData[i] = aData[i] as number;
  if (op === 'div') for (let i = 0; i < bData.length; i++) if (Math.abs(bData[i] as number) < 0.25) bData[i] = 0.5;
  const ha = upload(CPU, dtype, aData);
  const hb = upload(CPU, dtype, bData);
  const outDtype: DTypeName = isComparison(op) ? 'bool' : dtype;
  const n = shape.reduce((x, y) => x * y, 1);
  const ho = empty(CPU, outDtype, n);
  nb.binary(BINARY_OPS[op], ha, 0, aStrides, hb, 0, bStrides, ho, 0, shape, code(dtype));
  const aOff = stridedOffsets(shape, aStrides);
  const bOff = stridedOffsets(shape, bStrides);
  let expected = aOff.map((o, i) => binaryRef(op, aData[o] as number, bData[bOff[i] as number] as number));
  if (!isComparison(op) && dtype === 'bool') expected = expected.map((v) => +(v !== 0));
  else if (!float) expected = expected.map((v) => v + 0);
  const got = download(ho, outDtype, n);
  for (const h of [ha, hb, ho]) nb.free(h);
  return { got, expected, outDtype };
}

describe('binary', () => {
  const shape = [7, 13, 11];
  const dense = contiguousStrides(shape);
  for (const dtype of ALL_DTYPES) {
    for (const op of BINARY_NAMES) {
      if (!isFloat(dtype) && (op === 'div' || op === 'pow')) continue;
      it(`${op} ${dtype}`, () => {
        const { got, expected, outDtype } = runBinary(op, dtype, shape, dense, dense, 3 + BINARY_OPS[op]);
        if (isFloat(outDtype)) assertClose(got, expected, TOL[dtype].rtol, TOL[dtype].atol, `${op} ${dtype}`);
        else expect(got).toEqual(expected);
      });
    }
  }

  it('broadcasts through zero strides (both sides) and scalars', () => {
    // a: [7, 1, 11] broadcast over dim 1; b: [1, 13, 11] broadcast over dim 0
    let r = runBinary('sub', 'f32', shape, [11, 0, 1], [0, 11, 1], 1);
    assertClose(r.got, r.expected);
    r = runBinary('mul', 'bf16', shape, dense, [0, 0, 0], 2); // scalar b
    assertClose(r.got, r.expected, TOL.bf16.rtol, TOL.bf16.atol);
    r = runBinary('lt', 'f64', shape, [0, 0, 0], dense, 4); // scalar a, comparison
    expect(r.got).toEqual(r.expected);
    r = runBinary('add', 'i64', shape, [0, 1, 0], dense, 5); // a row broadcast along two dims
    expect(r.got).toEqual(r.expected);
  });

  it('reads permuted (transposed) inputs', () => {
    // a is a [11, 13, 7] tensor read as its transpose [7, 13, 11]
    const r = runBinary('maximum', 'f16', shape, [1, 7, 91], dense, 6);
    assertClose(r.got, r.expected, TOL.f16.rtol, TOL.f16.atol);
  });

  it('handles 0-d and size-1 shapes', () => {
    let r = runBinary('add', 'f32', [], [], [], 7);
    assertClose(r.got, r.expected);
    r = runBinary('div', 'f64', [1, 1, 5], [5, 5, 1], [0, 0, 0], 8);
    assertClose(r.got, r.expected, TOL.f64.rtol, TOL.f64.atol);
  });

  it('propagates NaN through maximum and minimum', () => {
    const a = upload(CPU, 'f32', [Number.NaN, 1, 2]);
    const b = upload(CPU, 'f32', [0, Number.NaN, 1]);
    const o = empty(CPU, 'f32', 3);
    nb.binary(BINARY_OPS.maximum, a, 0, [1], b, 0, [1], o, 0, [3], code('f32'));
    const got = download(o, 'f32', 3);
    expect(Number.isNaN(got[0])).toBe(true);
    expect(Number.isNaN(got[1])).toBe(true);
    expect(got[2]).toBe(2);
    for (const h of [a, b, o]) nb.free(h);
  });

  it('refuses integer division and pow', () => {
    const h = upload(CPU, 'i32', [1, 2]);
    expect(() => nb.binary(BINARY_OPS.div, h, 0, [1], h, 0, [1], h, 0, [2], code('i32'))).toThrow(/division and pow need a floating dtype/);
    expect(() => nb.binary(BINARY_OPS.pow, h, 0, [1], h, 0, [1], h, 0, [2], code('i64'))).toThrow();
    nb.free(h);
  });
});

describe('where', () => {
  for (const dtype of ALL_DTYPES) {
    it(`${dtype} with broadcast cond and operands`, () => {
      const shape = [5, 9, 7];
      const condStrides = [0, 7, 1]; // [1, 9, 7]
      const aStrides = contiguousStrides(shape);
      const bStrides = [1, 0, 5]; // a permuted [7, 1, 5] view
      const cond = randomValues(extentOf(shape, condStrides), 1, 0, 2).map((v) => +(v >= 1));
      const gen = (n: number, s: number) => roundTo(dtype, randomValues(n, s, -9, 9).map((v) => (isFloat(dtype) ? v : Math.trunc(v))));
      const a = gen(extentOf(shape, aStrides), 2);
      const b = gen(extentOf(shape, bStrides), 3);
      const hc = upload(CPU, 'bool', cond);
      const ha = upload(CPU, dtype, a);
      const hb = upload(CPU, dtype, b);
      const n = 5 * 9 * 7;
      const ho = empty(CPU, dtype, n);
      nb.where(hc, 0, condStrides, ha, 0, aStrides, hb, 0, bStrides, ho, 0, shape, code(dtype));
      const co = stridedOffsets(shape, condStrides);
      const ao = stridedOffsets(shape, aStrides);
      const bo = stridedOffsets(shape, bStrides);
      const expected = co.map((c, i) => (cond[c] ? a[ao[i] as number] : b[bo[i] as number]) as number);
      expect(download(ho, dtype, n)).toEqual(expected);
      for (const h of [hc, ha, hb, ho]) nb.free(h);
    });
  }
});

describe('copyStrided', () => {
  function check(dtype: DTypeName, shape: number[], srcStrides: number[], outStrides: number[], srcOff = 0, outOff = 0) {
    const srcLen = srcOff + extentOf(shape, srcStrides);
    const outLen = outOff + extentOf(shape, outStrides);
    const src = roundTo(dtype, randomValues(srcLen, 9, -100, 100).map((v) => (isFloat(dtype) ? v : Math.trunc(v))));
    const hs = upload(CPU, dtype, src);
    const ho = empty(CPU, dtype, outLen);
    nb.copyStrided(hs, srcOff, srcStrides, ho, outOff, outStrides, shape, code(dtype));
    // the copied elements where the view lands; poison (untouched) everywhere else
    const poison = isFloat(dtype) ? Number.NaN : dtype === 'bool' ? 1 : 77;
    const expected = new Array<number>(outLen).fill(poison);
    const so = stridedOffsets(shape, srcStrides);
    stridedOffsets(shape, outStrides).forEach((o, i) => { expected[o + outOff] = src[(so[i] as number) + srcOff] as number; });
    expect(download(ho, dtype, outLen)).toEqual(expected);
    nb.free(hs);
    nb.free(ho);
  }

  for (const dtype of ALL_DTYPES) {
    it(`${dtype}: permute, narrow, broadcast and contiguous`, () => {
      check(dtype, [3, 5, 7], [1, 3, 15], contiguousStrides([3, 5, 7])); // transpose of [7, 5, 3]
      check(dtype, [4, 6], [10, 1], [6, 1], 2); // a narrowed window of a [.., 10] row-major tensor
      check(dtype, [4, 6], [6, 1], [12, 1], 0, 6); // into the right half of a [4, 12] buffer (concat)
      check(dtype, [5, 8, 3], [0, 3, 1], contiguousStrides([5, 8, 3])); // materialize a broadcast
      check(dtype, [1001], [1], [1], 1, 3); // contiguous, odd length, odd offsets
      check(dtype, [2, 3, 4, 5], [60, 5, 15, 1], [60, 20, 5, 1]); // swap two middle dims, inner contiguous
    });
  }
});

describe('accumulate', () => {
  for (const dst of FLOAT_DTYPES) {
    for (const src of FLOAT_DTYPES) {
      it(`${dst} += alpha * ${src}`, () => {
        const d = roundTo(dst, randomValues(N, 1, -2, 2));
        const s = roundTo(src, randomValues(N, 2, -2, 2));
        const hd = upload(CPU, dst, d);
        const hs = upload(CPU, src, s);
        nb.accumulate(hd, 0, code(dst), hs, 0, code(src), N, -0.75);
        const { rtol, atol } = TOL[dst];
        assertClose(download(hd, dst, N), d.map((v, i) => v - 0.75 * (s[i] as number)), rtol, atol, `${dst} += ${src}`);
        nb.free(hd);
        nb.free(hs);
      });
    }
  }

  it('accumulates bf16 gradients into an f32 main grad exactly', () => {
    const g = [1.5, -0.25, 3, 0.0078125];
    const main = upload(CPU, 'f32', [0, 0, 0, 0]);
    const hg = upload(CPU, 'bf16', g);
    for (let k = 0; k < 3; k++) nb.accumulate(main, 0, code('f32'), hg, 0, code('bf16'), 4, 1);
    expect(download(main, 'f32', 4)).toEqual(g.map((v) => 3 * v));
    nb.free(main);
    nb.free(hg);
  });
});

describe('dropout and maskedScale', () => {
  const n = 100_000;
  for (const dtype of FLOAT_DTYPES) {
    it(`dropout ${dtype}: keep fraction, scaling and mask`, () => {
      const p = 0.3;
      const x = roundTo(dtype, randomValues(n, 4, -2, 2));
      const hx = upload(CPU, dtype, x);
      const ho = empty(CPU, dtype, n);
      const hm = empty(CPU, 'bool', n);
      nb.dropout(hx, 0, ho, 0, hm, 0, n, code(dtype), p, 77, 1000);
      const out = download(ho, dtype, n);
      const mask = download(hm, 'bool', n);
      expect(mask.every((m) => m === 0 || m === 1)).toBe(true);
      const kept = mask.reduce((a, b) => a + b, 0) / n;
      expect(Math.abs(kept - (1 - p))).toBeLessThan(5 * Math.sqrt((p * (1 - p)) / n));
      const expected = x.map((v, i) => (mask[i] ? v / (1 - p) : 0));
      assertClose(out, expected, TOL[dtype].rtol, TOL[dtype].atol, `dropout ${dtype}`);
      // the mask is uniform(seed, counter) < float(1 - p): the same for every dtype
      const u = empty(CPU, 'f32', n);
      nb.random(u, 0, n, code('f32'), 0, 0, 1, 77, 1000);
      expect(download(u, 'f32', n).map((v) => +(v < Math.fround(1 - p)))).toEqual(mask);
      for (const h of [hx, ho, hm, u]) nb.free(h);
    });
  }

  it('dropout is deterministic and p = 0 keeps everything', () => {
    const x = randomValues(999, 5);
    const hx = upload(CPU, 'f32', x);
    const runs = [0, 1, 2].map((k) => {
      const ho = empty(CPU, 'f32', 999);
      const hm = empty(CPU, 'bool', 999);
      nb.dropout(hx, 0, ho, 0, hm, 0, 999, code('f32'), k === 2 ? 0 : 0.5, 1, k === 1 ? 3 : 2);
      const r = { out: download(ho, 'f32', 999), mask: download(hm, 'bool', 999) };
      nb.free(ho);
      nb.free(hm);
      return r;
    });
    expect(runs[1]?.mask).not.toEqual(runs[0]?.mask);
    expect(runs[2]?.mask.every((m) => m === 1)).toBe(true);
    expect(runs[2]?.out).toEqual(roundTo('f32', x));
    expect(() => nb.dropout(hx, 0, hx, 0, hx, 0, 1, code('f32'), 1, 0, 0)).toThrow(/probability must be in \[0, 1\)/);
    nb.free(hx);
  });

  for (const dtype of FLOAT_DTYPES) {
    it(`maskedScale ${dtype}`, () => {
      const gy = roundTo(dtype, randomValues(N, 6, -3, 3));
      const mask = randomValues(N, 7, 0, 2).map((v) => +(v >= 1));
      const hg = upload(CPU, dtype, gy);
      const hm = upload(CPU, 'bool', mask);
      const ho = empty(CPU, dtype, N);
      nb.maskedScale(hg, 0, hm, 0, ho, 0, N, code(dtype), 1 / 0.7);
      assertClose(download(ho, dtype, N), gy.map((g, i) => (mask[i] ? g / 0.7 : 0)), TOL[dtype].rtol, TOL[dtype].atol);
      for (const h of [hg, hm, ho]) nb.free(h);
    });
  }

  it('random refuses integer dtypes', () => {
    const h = empty(CPU, 'i32', 4);
    expect(() => nb.random(h, 0, 4, code('i32'), 0, 0, 1, 1, 0)).toThrow(/floating dtype/);
    nb.free(h);
  });
});
