// LayerNorm / RMSNorm (+ backward) on the CPU against float64 references: every float dtype and
// weight dtype, with and without weight and bias, odd widths, saved statistics, column sums, and
// finite differences of the forward.
import { describe, expect, it } from 'vitest';
import type { DTypeName } from '../src/index.ts';
import { dot, FLOATS, numericGrad, quantize, refNorm, refNormBackward, Scope } from './rows.ref.ts';
import { assertClose, CPU, code, download, nb, randomValues, TOL } from './util.ts';

interface NormCase {
  dtype: DTypeName; wDtype: DTypeName; rows: number; cols: number; rms: boolean; eps: number;
  x: number[]; w: number[] | null; b: number[] | null;
}

function forward(c: NormCase) {
  const s = new Scope(CPU);
  const n = c.rows * c.cols;
  const out = s.out(c.dtype, n), mean = s.out('f32', c.rows), rstd = s.out('f32', c.rows);
  nb.norm(s.in(c.dtype, c.x), 0, c.w ? s.in(c.wDtype, c.w) : 0, 0, c.b ? s.in(c.wDtype, c.b) : 0, 0, out, 0, mean, 0, rstd, 0,
    c.rows, c.cols, c.eps, code(c.dtype), code(c.wDtype), c.rms);
  const r = { y: download(out, c.dtype, n), mean: download(mean, 'f32', c.rows), rstd: download(rstd, 'f32', c.rows) };
  s.free();
  return r;
}

function backward(c: NormCase, gy: number[], want: { gw: boolean; gb: boolean }) {
  const s = new Scope(CPU);
  const n = c.rows * c.cols;
  const x = s.in(c.dtype, c.x);
  const w = c.w ? s.in(c.wDtype, c.w) : 0;
  // Statistics from the forward kernel, as training saves them.
  const out = s.out(c.dtype, n), mean = s.out('f32', c.rows), rstd = s.out('f32', c.rows);
  nb.norm(x, 0, w, 0, 0, 0, out, 0, mean, 0, rstd, 0, c.rows, c.cols, c.eps, code(c.dtype), code(c.wDtype), c.rms);
  const gx = s.out(c.dtype, n);
  const gw = want.gw ? s.out('f32', c.cols) : 0, gb = want.gb ? s.out('f32', c.cols) : 0;
  nb.normBackward(s.in(c.dtype, gy), 0, x, 0, w, 0, c.rms ? 0 : mean, 0, rstd, 0, gx, 0, gw, 0, gb, 0,
    c.rows, c.cols, code(c.dtype), code(c.wDtype), c.rms);
  const r = {
    gx: download(gx, c.dtype, n),
    gw: want.gw ? download(gw, 'f32', c.cols) : null,
    gb: want.gb ? download(gb, 'f32', c.cols) : null,
    stats: { mean: c.rms ? new Array<number>(c.rows).fill(0) : download(mean, 'f32', c.rows), rstd: download(rstd, 'f32', c.rows) },
  };
  s.free();
  return r;
}

function makeCase(dtype: DTypeName, wDtype: DTypeName, rows: number, cols: number, rms: boolean, affine: 'wb' | 'w' | 'none', seed: number): NormCase {
  // An offset mean makes LayerNorm's centring matter.
  const x = quantize(dtype, randomValues(rows * cols, seed, -1, 3));
  const w = affine === 'none' ? null : quantize(wDtype, randomValues(cols, seed + 1, 0.5, 1.5));
  const b = affine === 'wb' ? quantize(wDtype, randomValues(cols, seed + 2, -0.5, 0.5)) : null;
  return { dtype, wDtype, rows, cols, rms, eps: 1e-5, x, w, b };
}

const COLS = [1, 3, 17, 1000, 4097];
// f32 statistics of long rows lose a few more bits than the element-wise f32 tolerance allows.
const STAT_TOL = { rtol: 1e-5, atol: 1e-5 };

describe('norm (CPU)', () => {
  for (const rms of [false, true]) {
    const kind = rms ? 'RMSNorm' : 'LayerNorm';
    for (const dtype of FLOATS) {
      for (const cols of COLS) {
        it(`${kind} ${dtype} [5, ${cols}] forward and backward`, () => {
          const { rtol, atol } = TOL[dtype];
          for (const affine of ['wb', 'w', 'none'] as const) {
            const c = makeCase(dtype, dtype, 5, cols, rms, affine, cols + (rms ? 100 : 0));
            const got = forward(c);
            const ref = refNorm(c.x, c.w, c.b, c.rows, c.cols, c.eps, rms);
            assertClose(got.y, ref.y, rtol, atol * 4, `${kind} ${affine} y`);
            assertClose(got.rstd, ref.rstd, STAT_TOL.rtol, STAT_TOL.atol, 'rstd');
            assertClose(got.mean, ref.mean, STAT_TOL.rtol, STAT_TOL.atol, 'mean');

            const gy = quantize(dtype, randomValues(c.rows * cols, cols + 7, -1, 1));
            const g = backward(c, gy, { gw: true, gb: true });
            const gref = refNormBackward(gy, c.x, c.w, c.rows, cols, c.eps, rms, g.stats);
            // gx is a difference of terms of size rstd * |g|: scale the absolute tolerance.
            const scale = Math.max(...ref.rstd);
            assertClose(g.gx, gref.gx, rtol * 2, atol * scale * 4, `${kind} ${affine} gx`);
            assertClose(g.gw ?? [], gref.gw, 1e-5, 1e-5, 'gw');
            assertClose(g.gb ?? [], gref.gb, 1e-5, 1e-5, 'gb');
          }
        });
      }
    }

    it(`${kind} with f32 weights on bf16 and f16 rows`, () => {
      for (const dtype of ['bf16', 'f16'] as DTypeName[]) {
        const c = makeCase(dtype, 'f32', 4, 33, rms, 'wb', 55);
        assertClose(forward(c).y, refNorm(c.x, c.w, c.b, 4, 33, c.eps, rms).y, TOL[dtype].rtol, TOL[dtype].atol * 4, 'y');
        const gy = quantize(dtype, randomValues(4 * 33, 56));
        const g = backward(c, gy, { gw: true, gb: false });
        const ref = refNormBackward(gy, c.x, c.w, 4, 33, c.eps, rms, g.stats);
        assertClose(g.gx, ref.gx, TOL[dtype].rtol * 2, TOL[dtype].atol * 8, 'gx');
        assertClose(g.gw ?? [], ref.gw, 1e-5, 1e-5, 'gw');
      }
    });

    it(`${kind} sums gw/gb over many rows and writes (not accumulates) them`, () => {
      const c = makeCase('f32', 'f32', 700, 19, rms, 'w', 77);
      const gy = randomValues(700 * 19, 78);
      const ref = refNormBackward(gy, c.x, c.w, 700, 19, c.eps, rms);
      for (let k = 0; k < 2; k++) {  // twice: a second call must give the same sums
        const g = backward(c, gy, { gw: true, gb: true });
        assertClose(g.gw ?? [], ref.gw, 1e-5, 1e-4, 'gw');
        assertClose(g.gb ?? [], ref.gb, 1e-5, 1e-4, 'gb');
      }
    });

    it(`${kind} backward matches finite differences of the forward (f64)`, () => {
      const rows = 3, cols = 6;
      const c = makeCase('f64', 'f64', rows, cols, rms, 'wb', 91);
      const gy = randomValues(rows * cols, 92);
      const g = backward(c, gy, { gw: true, gb: true });
      const loss = (x: number[], w: number[], b: number[]) => dot(gy, refNorm(x, w, b, rows, cols, c.eps, rms).y);
      const w = c.w as number[], b = c.b as number[];
      assertClose(g.gx, numericGrad((x) => loss(x, w, b), c.x), 1e-6, 1e-7, 'gx vs finite differences');
      assertClose(g.gw ?? [], numericGrad((v) => loss(c.x, v, b), w), 1e-6, 1e-6, 'gw vs finite differences');
      assertClose(g.gb ?? [], numericGrad((v) => loss(c.x, w, v), b), 1e-6, 1e-6, 'gb vs finite differences');
    });
  }

  it('RMSNorm needs no mean buffer; LayerNorm refuses to run without one', () => {
    const s = new Scope(CPU);
    const x = s.in('f32', [1, 2, 3, 4]);
    const out = s.out('f32', 4), rstd = s.out('f32', 2);
    nb.norm(x, 0, 0, 0, 0, 0, out, 0, 0, 0, rstd, 0, 2, 2, 1e-6, code('f32'), code('f32'), true);
    const r = download(rstd, 'f32', 2);
    assertClose(r, [1 / Math.sqrt(2.5 + 1e-6), 1 / Math.sqrt(12.5 + 1e-6)], 1e-6, 0, 'rstd');
    expect(() => nb.norm(x, 0, 0, 0, 0, 0, out, 0, 0, 0, rstd, 0, 2, 2, 1e-6, code('f32'), code('f32'), false)).toThrow(/mean/);
    s.free();
  });
});
