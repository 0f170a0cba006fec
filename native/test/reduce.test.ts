// reduce on the CPU against float64 references: every op and float dtype, contiguous rows and
// strided columns, odd sizes, arg indices, NaN, integer and bool inputs, and output dtypes.
import { describe, expect, it } from 'vitest';
import { type DTypeName, REDUCE_OPS } from '../src/index.ts';
import { FLOATS, quantize, type ReduceOp, refReduce, Scope } from './rows.ref.ts';
import { assertClose, CPU, code, download, nb, randomValues, TOL } from './util.ts';

interface Case { op: ReduceOp; dtype: DTypeName; outDtype?: DTypeName; outer: number; size: number; inner: number; x: number[]; indices?: boolean }

function run(c: Case) {
  const s = new Scope(CPU);
  const outDtype = c.outDtype ?? c.dtype;
  const n = c.outer * c.inner;
  const x = s.in(c.dtype, c.x);
  const out = s.out(outDtype, n);
  const idx = c.indices ? s.out('i64', n) : 0;
  nb.reduce(REDUCE_OPS[c.op], x, 0, c.outer, c.size, c.inner, code(c.dtype), out, 0, code(outDtype), idx, 0);
  const result = { out: download(out, outDtype, n), idx: c.indices ? download(idx, 'i64', n) : [] };
  s.free();
  return result;
}

const SHAPES: [number, number, number][] = [
  [1, 1, 1], [3, 17, 1], [2, 1000, 1], [1, 4097, 1], [4, 5, 3], [2, 33, 300], [3, 1, 7],
];

describe('reduce (CPU)', () => {
  for (const dtype of FLOATS) {
    for (const [outer, size, inner] of SHAPES) {
      it(`sum/mean/max/min ${dtype} [${outer}, ${size}, ${inner}]`, () => {
        const x = quantize(dtype, randomValues(outer * size * inner, outer * 7 + size + inner, -2, 2));
        const abs = x.map(Math.abs);
        for (const op of ['sum', 'mean', 'max', 'min'] as ReduceOp[]) {
          const got = run({ op, dtype, outer, size, inner, x, indices: op === 'max' || op === 'min' });
          const ref = refReduce(op, x, outer, size, inner);
          if (op === 'sum' || op === 'mean') {
            // fp32 accumulation error grows with the sum of magnitudes, not with the result.
            const scale = refReduce('sum', abs, outer, size, inner).out.map((v) => (op === 'mean' ? v / size : v));
            const eps = dtype === 'f64' ? 1e-14 : 1e-6;
            ref.out.forEach((e, i) => {
              const tol = TOL[dtype].rtol * Math.abs(e) + eps * (scale[i] as number) + 1e-12;
              expect(Math.abs((got.out[i] as number) - e), `${op}[${i}]`).toBeLessThanOrEqual(tol);
            });
          } else {
            expect(got.out, op).toEqual(ref.out);
            expect(got.idx, `${op} indices`).toEqual(ref.idx);
          }
        }
      });
    }
  }

  it('keeps the first index on ties', () => {
    // Small integers: many exact ties in every column.
    const x = randomValues(6 * 9 * 4, 3, 0, 3).map(Math.floor);
    for (const op of ['max', 'min'] as ReduceOp[]) {
      for (const inner of [1, 4]) {
        const outer = inner === 1 ? 24 : 6, size = 9;
        const got = run({ op, dtype: 'f32', outer, size, inner, x, indices: true });
        const ref = refReduce(op, x, outer, size, inner);
        expect(got.out).toEqual(ref.out);
        expect(got.idx).toEqual(ref.idx);
      }
    }
  });

  it('propagates NaN through max and min with the first NaN index', () => {
    for (const dtype of FLOATS) {
      for (const inner of [1, 3]) {
        const outer = 2, size = 8;
        const x = quantize(dtype, randomValues(outer * size * inner, 5));
        x[(0 * size + 5) * inner] = Number.NaN;  // row/column 0: NaN after a few numbers
        x[(0 * size + 6) * inner] = Number.NaN;  // a second NaN: the first one's index wins
        x[(1 * size + 0) * inner] = Number.NaN;  // row 1: NaN first
        for (const op of ['max', 'min'] as ReduceOp[]) {
          const got = run({ op, dtype, outer, size, inner, x, indices: true });
          expect(Number.isNaN(got.out[0])).toBe(true);
          expect(got.idx[0]).toBe(5);
          expect(Number.isNaN(got.out[inner])).toBe(true);
          expect(got.idx[inner]).toBe(0);
          expect(got.out, `${dtype} ${op}`).toEqual(refReduce(op, x, outer, size, inner).out);
          const sum = run({ op: 'sum', dtype, outer, size, inner, x });
          expect(Number.isNaN(sum.out[0])).toBe(true);
        }
      }
    }
  });

  it('sums 16-bit floats into an f32 output with fp32 accumulation', () => {
    // 4096 ones plus small values: a bf16 accumulator would stall at 256.
    const size = 4096;
    const x = quantize('bf16', randomValues(size, 9, 0.5, 1.5));
    const got = run({ op: 'sum', dtype: 'bf16', outDtype: 'f32', outer: 1, size, inner: 1, x });
    const ref = refReduce('sum', x, 1, size, 1).out;
    assertClose(got.out, ref, 1e-6, 1e-6, 'bf16 -> f32 sum');
    const mean = run({ op: 'mean', dtype: 'f16', outDtype: 'f32', outer: 1, size: 2048, inner: 2, x: quantize('f16', x) });
    assertClose(mean.out, refReduce('mean', quantize('f16', x), 1, 2048, 2).out, 1e-6, 1e-6, 'f16 -> f32 mean');
  });

  it('reduces integers exactly in int64', () => {
    for (const dtype of ['i32', 'i64'] as DTypeName[]) {
      for (const [outer, size, inner] of [[3, 17, 1], [2, 5, 6]] as const) {
        // Large values: an int32 or fp32 accumulator would lose them.
        const x = randomValues(outer * size * inner, 11, -2e8, 2e8).map(Math.trunc);
        const sum = run({ op: 'sum', dtype, outDtype: 'i64', outer, size, inner, x });
        expect(sum.out).toEqual(refReduce('sum', x, outer, size, inner).out);
        for (const op of ['max', 'min'] as ReduceOp[]) {
          const got = run({ op, dtype, outer, size, inner, x, indices: true });
          const ref = refReduce(op, x, outer, size, inner);
          expect(got.out).toEqual(ref.out);
          expect(got.idx).toEqual(ref.idx);
        }
        const mean = run({ op: 'mean', dtype, outDtype: 'f64', outer, size, inner, x });
        assertClose(mean.out, refReduce('mean', x, outer, size, inner).out, 1e-12, 1e-9, 'integer mean');
      }
    }
  });

  it('counts trues when summing bool, and max/min act as any/all', () => {
    const outer = 3, size = 10, inner = 2;
    const x = randomValues(outer * size * inner, 13).map((v) => (v > 0.3 ? 1 : 0));
    for (let j = 0; j < size; j++) x[j * inner] = 1;  // column (0, 0): all true
    const sum = run({ op: 'sum', dtype: 'bool', outDtype: 'i64', outer, size, inner, x });
    expect(sum.out).toEqual(refReduce('sum', x, outer, size, inner).out);
    const any = run({ op: 'max', dtype: 'bool', outer, size, inner, x, indices: true });
    expect(any.out).toEqual(refReduce('max', x, outer, size, inner).out);
    expect(any.idx).toEqual(refReduce('max', x, outer, size, inner).idx);
    const all = run({ op: 'min', dtype: 'bool', outer, size, inner, x });
    expect(all.out).toEqual(refReduce('min', x, outer, size, inner).out);
    expect(all.out[0]).toBe(1);
  });

  it('sums an empty dimension to zero', () => {
    const got = run({ op: 'sum', dtype: 'f32', outer: 2, size: 0, inner: 3, x: [] });
    expect(got.out).toEqual([0, 0, 0, 0, 0, 0]);
  });

  it('refuses what has no meaning', () => {
    const s = new Scope(CPU);
    const x = s.in('bool', [1, 0, 1]);
    const f = s.in('f32', [1, 2, 3]);
    const out = s.out('f32', 1);
    expect(() => nb.reduce(REDUCE_OPS.mean, x, 0, 1, 3, 1, code('bool'), out, 0, code('f32'), 0, 0)).toThrow(/bool/);
    expect(() => nb.reduce(REDUCE_OPS.max, f, 0, 1, 0, 1, code('f32'), out, 0, code('f32'), 0, 0)).toThrow(/empty/);
    s.free();
  });
});
