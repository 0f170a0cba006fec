// softmax / log-softmax (+ backward) on the CPU against float64 references: every float dtype,
// contiguous rows and strided inner layouts, odd sizes, huge logits, and finite differences.
import { describe, expect, it } from 'vitest';
import type { DTypeName } from '../src/index.ts';
import { dot, FLOATS, numericGrad, quantize, refSoftmax, refSoftmaxBackward, Scope } from './rows.ref.ts';
import { assertClose, CPU, code, download, nb, randomValues, TOL } from './util.ts';

function softmax(dtype: DTypeName, x: number[], outer: number, size: number, inner: number, log: boolean): number[] {
  const s = new Scope(CPU);
  const out = s.out(dtype, x.length);
  nb.softmax(s.in(dtype, x), 0, out, 0, outer, size, inner, code(dtype), log);
  const y = download(out, dtype, x.length);
  s.free();
  return y;
}

function softmaxBackward(dtype: DTypeName, y: number[], gy: number[], outer: number, size: number, inner: number, log: boolean): number[] {
  const s = new Scope(CPU);
  const gx = s.out(dtype, y.length);
  nb.softmaxBackward(s.in(dtype, y), 0, s.in(dtype, gy), 0, gx, 0, outer, size, inner, code(dtype), log);
  const r = download(gx, dtype, y.length);
  s.free();
  return r;
}

const SHAPES: [number, number, number][] = [
  [1, 1, 1], [3, 17, 1], [2, 1000, 1], [1, 4097, 1], [2, 5, 3], [3, 7, 130], [1, 3, 300],
];

describe('softmax (CPU)', () => {
  for (const dtype of FLOATS) {
    const { rtol, atol } = TOL[dtype];
    for (const [outer, size, inner] of SHAPES) {
      for (const log of [false, true]) {
        const name = `${log ? 'log-softmax' : 'softmax'} ${dtype} [${outer}, ${size}, ${inner}]`;
        it(`${name} forward and backward`, () => {
          const n = outer * size * inner;
          const x = quantize(dtype, randomValues(n, n + (log ? 1 : 0), -6, 6));
          const y = softmax(dtype, x, outer, size, inner, log);
          assertClose(y, refSoftmax(x, outer, size, inner, log), rtol, atol, `${name} y`);

          // Backward from the kernel's own (rounded) output, as training would call it.
          const gy = quantize(dtype, randomValues(n, n + 2, -1, 1));
          const gx = softmaxBackward(dtype, y, gy, outer, size, inner, log);
          const ref = refSoftmaxBackward(y, gy, outer, size, inner, log);
          // gx cancels terms of size |y * gy|: scale the absolute tolerance by them.
          const scale = log ? Math.max(1, ...gy.map(Math.abs)) : 1;
          assertClose(gx, ref, rtol, atol * scale, `${name} gx`);
        });
      }
    }
  }

  it('subtracts the max: logits near 1e4 give the same result as near 0', () => {
    for (const dtype of ['f32', 'f64'] as DTypeName[]) {
      for (const inner of [1, 3]) {
        const x = quantize(dtype, randomValues(2 * 9 * inner, 21, -3, 3));
        const shifted = x.map((v) => v + 1e4);
        for (const log of [false, true]) {
          const a = softmax(dtype, x, 2, 9, inner, log);
          const b = softmax(dtype, quantize(dtype, shifted), 2, 9, inner, log);
          expect(b.every(Number.isFinite)).toBe(true);
          assertClose(b, refSoftmax(quantize(dtype, shifted), 2, 9, inner, log), 1e-3, 1e-3, 'shifted');
          assertClose(a, refSoftmax(x, 2, 9, inner, log), TOL[dtype].rtol, TOL[dtype].atol, 'unshifted');
        }
      }
    }
  });

  it('sums to one along the softmax dimension', () => {
    const [outer, size, inner] = [2, 37, 5];
    const x = randomValues(outer * size * inner, 4, -10, 10);
    const y = softmax('f32', x, outer, size, inner, false);
    for (let o = 0; o < outer; o++)
      for (let i = 0; i < inner; i++) {
        let s = 0;
        for (let j = 0; j < size; j++) s += y[(o * size + j) * inner + i] as number;
        expect(s).toBeCloseTo(1, 6);
      }
  });

  it('backward matches finite differences of the forward (f64)', () => {
    for (const [outer, size, inner] of [[2, 6, 1], [2, 4, 3]] as const) {
      for (const log of [false, true]) {
        const n = outer * size * inner;
        const x = randomValues(n, 31, -2, 2);
        const gy = randomValues(n, 32, -1, 1);
        const y = softmax('f64', x, outer, size, inner, log);
        const gx = softmaxBackward('f64', y, gy, outer, size, inner, log);
        const numeric = numericGrad((v) => dot(gy, refSoftmax(v, outer, size, inner, log)), x);
        assertClose(gx, numeric, 1e-6, 1e-8, `${log ? 'log-' : ''}softmax [${outer}, ${size}, ${inner}] finite differences`);
      }
    }
  });

  it('does nothing for an empty dimension and refuses integer dtypes', () => {
    const s = new Scope(CPU);
    const x = s.in('f32', [1, 2]);
    expect(() => nb.softmax(x, 0, x, 0, 2, 0, 1, code('f32'), false)).not.toThrow();
    const i = s.in('i32', [1, 2]);
    expect(() => nb.softmax(i, 0, i, 0, 1, 2, 1, code('i32'), false)).toThrow(/floating/);
    s.free();
  });
});
