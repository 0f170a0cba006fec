// Cross entropy (+ backward) on the CPU against float64 references: every float dtype, i32 and
// i64 labels, odd vocab sizes, ignoreIndex rows, label smoothing, huge logits, finite differences,
// and the error for a label outside the vocab.
import { describe, expect, it } from 'vitest';
import type { DTypeName } from '../src/index.ts';
import { dot, FLOATS, numericGrad, quantize, refCrossEntropy, refCrossEntropyBackward, Scope } from './rows.ref.ts';
import { assertClose, CPU, code, download, nb, randomValues, TOL } from './util.ts';

interface CeCase {
  dtype: DTypeName; labelDtype: 'i32' | 'i64'; rows: number; vocab: number; ignoreIndex: number; s: number;
  logits: number[]; labels: number[];
}

function forward(c: CeCase) {
  const sc = new Scope(CPU);
  const loss = sc.out('f32', c.rows), lse = sc.out('f32', c.rows);
  nb.crossEntropy(sc.in(c.dtype, c.logits), 0, sc.in(c.labelDtype, c.labels), 0, code(c.labelDtype), loss, 0, lse, 0,
    c.rows, c.vocab, code(c.dtype), c.ignoreIndex, c.s);
  const r = { loss: download(loss, 'f32', c.rows), lse: download(lse, 'f32', c.rows) };
  sc.free();
  return r;
}

function backward(c: CeCase, lse: number[], gloss: number[]) {
  const sc = new Scope(CPU);
  const g = sc.out(c.dtype, c.rows * c.vocab);
  nb.crossEntropyBackward(sc.in(c.dtype, c.logits), 0, sc.in(c.labelDtype, c.labels), 0, code(c.labelDtype),
    sc.in('f32', lse), 0, sc.in('f32', gloss), 0, g, 0, c.rows, c.vocab, code(c.dtype), c.ignoreIndex, c.s);
  const r = download(g, c.dtype, c.rows * c.vocab);
  sc.free();
  return r;
}

function makeCase(dtype: DTypeName, labelDtype: 'i32' | 'i64', rows: number, vocab: number, s: number, seed: number, offset = 0): CeCase {
  const logits = quantize(dtype, randomValues(rows * vocab, seed, -4, 4).map((v) => v + offset));
  const labels = randomValues(rows, seed + 1, 0, vocab).map(Math.floor);
  if (rows > 2) labels[1] = -100;  // one ignored row
  return { dtype, labelDtype, rows, vocab, ignoreIndex: -100, s, logits, labels };
}

describe('crossEntropy (CPU)', () => {
  for (const dtype of FLOATS) {
    for (const vocab of [1, 3, 17, 1000, 4097]) {
      for (const s of [0, 0.1]) {
        it(`${dtype} vocab ${vocab} smoothing ${s}`, () => {
          const labelDtype = vocab % 2 ? 'i64' : 'i32';
          const c = makeCase(dtype, labelDtype, 5, vocab, s, vocab + s * 10);
          const got = forward(c);
          const ref = refCrossEntropy(c.logits, c.labels, c.rows, vocab, c.ignoreIndex, s);
          // fp32 statistics of values that are exact in every dtype.
          const statTol = dtype === 'f64' ? 1e-7 : 1e-5;
          assertClose(got.lse, ref.lse, statTol, statTol, 'lse');
          assertClose(got.loss, ref.loss, statTol, statTol, 'loss');
          expect(got.loss[1]).toBe(0);

          const gloss = randomValues(c.rows, vocab + 3, 0.5, 2);
          const g = backward(c, got.lse, gloss);
          const gref = refCrossEntropyBackward(c.logits, c.labels, gloss, c.rows, vocab, c.ignoreIndex, s);
          // The kernel uses the saved fp32 lse; for f64 that rounding dominates.
          const gtol = dtype === 'f64' ? { rtol: 1e-6, atol: 1e-7 } : TOL[dtype];
          assertClose(g, gref, gtol.rtol, gtol.atol * 2, 'glogits');
          expect(g.slice(vocab, 2 * vocab).every((v) => v === 0)).toBe(true);
        });
      }
    }
  }

  it('is stable for logits near 1e4', () => {
    const c = makeCase('f32', 'i64', 4, 50, 0.1, 5, 1e4);
    const got = forward(c);
    expect(got.loss.every(Number.isFinite)).toBe(true);
    const ref = refCrossEntropy(c.logits, c.labels, c.rows, c.vocab, c.ignoreIndex, c.s);
    assertClose(got.loss, ref.loss, 1e-3, 1e-3, 'loss');
    assertClose(got.lse, ref.lse, 1e-6, 0, 'lse');
  });

  it('treats a non-negative ignoreIndex like any other ignored label', () => {
    const c = { ...makeCase('f32', 'i32', 4, 8, 0, 6), ignoreIndex: 3 };
    c.labels = [3, 0, 7, 3];
    const got = forward(c);
    expect(got.loss[0]).toBe(0);
    expect(got.loss[3]).toBe(0);
    assertClose(got.loss, refCrossEntropy(c.logits, c.labels, 4, 8, 3, 0).loss, 1e-5, 1e-5, 'loss');
    const g = backward(c, got.lse, [1, 1, 1, 1]);
    expect(g.slice(0, 8).every((v) => v === 0)).toBe(true);
  });

  it('backward matches finite differences of the forward (f64)', () => {
    for (const s of [0, 0.2]) {
      const c = makeCase('f64', 'i64', 4, 5, s, 41);
      const gloss = randomValues(c.rows, 42, 0.5, 2);
      const got = forward(c);
      const g = backward(c, got.lse, gloss);
      const numeric = numericGrad((x) => dot(gloss, refCrossEntropy(x, c.labels, c.rows, c.vocab, c.ignoreIndex, s).loss), c.logits);
      // The saved lse is fp32, so agreement is to about 1e-7.
      assertClose(g, numeric, 1e-5, 1e-6, `smoothing ${s}`);
    }
  });

  it('names the bad label and the vocab size', () => {
    for (const labelDtype of ['i32', 'i64'] as const) {
      for (const bad of [17, -1, 1000]) {
        const c = makeCase('f32', labelDtype, 3, 17, 0, 8);
        c.labels = [0, bad, 5];
        expect(() => forward(c)).toThrow(new RegExp(`crossEntropy: label ${bad} .*vocab size 17`));
        expect(() => backward(c, [1, 1, 1], [1, 1, 1])).toThrow(new RegExp(`crossEntropyBackward: label ${bad} .*vocab size 17`));
      }
    }
  });

  it('refuses float labels and smoothing outside [0, 1)', () => {
    const c = makeCase('f32', 'i64', 2, 4, 0, 9);
    expect(() => forward({ ...c, labelDtype: 'f32' as 'i64' })).toThrow(/i32 or i64/);
    expect(() => forward({ ...c, s: 1 })).toThrow(/smoothing/);
  });
});
