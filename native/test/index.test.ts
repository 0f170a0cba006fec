// CPU index kernels at the binding level: indexSelect (embedding forward), indexAdd (embedding
// backward, incl. f32 accumulation of bf16 gradients), gather, scatterAdd; out-of-range indices
// throw before anything is written; the adds are deterministic for any thread count.
import { afterAll, describe, expect, it } from 'vitest';
import type { DTypeName } from '../src/index.ts';
import { ALL_DTYPES, FLOAT_DTYPES, isFloat, roundTo } from './refs.ts';
import { assertClose, CPU, code, download, empty, nb, randomValues, TOL, upload } from './util.ts';

const INDEX_DTYPES = ['i32', 'i64'] as const;
const threadsBefore = nb.numThreads();
afterAll(() => nb.setNumThreads(threadsBefore));

const randomIndices = (n: number, size: number, seed: number) => randomValues(n, seed, 0, size).map(Math.floor);
const valuesOf = (dtype: DTypeName, n: number, seed: number) =>
  roundTo(dtype, randomValues(n, seed, -4, 4).map((v) => (isFloat(dtype) ? v : Math.trunc(v) + 0)));

// References over [outer, size, inner] views.
function indexSelectRef(src: number[], idx: number[], outer: number, size: number, inner: number): number[] {
  const out: number[] = [];
  for (let o = 0; o < outer; o++)
    for (const t of idx) for (let i = 0; i < inner; i++) out.push(src[(o * size + t) * inner + i] as number);
  return out;
}
function indexAddRef(out: number[], src: number[], idx: number[], outer: number, size: number, inner: number): number[] {
  const r = [...out];
  const n = idx.length;
  for (let o = 0; o < outer; o++)
    for (let j = 0; j < n; j++)
      for (let i = 0; i < inner; i++) {
        const k = (o * size + (idx[j] as number)) * inner + i;
        r[k] = (r[k] as number) + (src[(o * n + j) * inner + i] as number);
      }
  return r;
}

describe('indexSelect', () => {
  for (const idt of INDEX_DTYPES) {
    for (const dtype of ALL_DTYPES) {
      it(`embedding lookup: ${dtype} table, ${idt} ids with repeats`, () => {
        const vocab = 37, hidden = 13, tokens = 101;
        const table = valuesOf(dtype, vocab * hidden, 1);
        const ids = randomIndices(tokens, vocab, 2);
        ids[5] = ids[0] as number;
        ids[7] = vocab - 1;
        const ht = upload(CPU, dtype, table);
        const hi = upload(CPU, idt, ids);
        const ho = empty(CPU, dtype, tokens * hidden);
        nb.indexSelect(ht, 0, 1, vocab, hidden, code(dtype), hi, 0, code(idt), tokens, ho, 0);
        expect(download(ho, dtype, tokens * hidden)).toEqual(indexSelectRef(table, ids, 1, vocab, hidden));
        for (const h of [ht, hi, ho]) nb.free(h);
      });
    }
  }

  it('selects along a middle dimension (outer and inner > 1) at offsets', () => {
    const outer = 3, size = 10, inner = 4, nIndex = 6;
    const src = valuesOf('f32', 2 + outer * size * inner, 3);
    const ids = [9, 0, 3, 3, 7, 1];
    const hs = upload(CPU, 'f32', src);
    const hi = upload(CPU, 'i64', [0, ...ids]);
    const ho = empty(CPU, 'f32', 1 + outer * nIndex * inner);
    nb.indexSelect(hs, 2, outer, size, inner, code('f32'), hi, 1, code('i64'), nIndex, ho, 1);
    const got = download(ho, 'f32', 1 + outer * nIndex * inner);
    expect(Number.isNaN(got[0])).toBe(true);
    expect(got.slice(1)).toEqual(indexSelectRef(src.slice(2), ids, outer, size, inner));
    for (const h of [hs, hi, ho]) nb.free(h);
  });

  it('allows an empty selection', () => {
    const hs = upload(CPU, 'f32', [1, 2, 3]);
    const hi = upload(CPU, 'i32', [0]);
    const ho = empty(CPU, 'f32', 1);
    nb.indexSelect(hs, 0, 1, 3, 1, code('f32'), hi, 0, code('i32'), 0, ho, 0);
    expect(Number.isNaN(download(ho, 'f32', 1)[0])).toBe(true);
    for (const h of [hs, hi, ho]) nb.free(h);
  });

  for (const bad of [11, -1]) {
    it(`throws for index ${bad} out of [0, 11) and leaves the output untouched`, () => {
      const hs = upload(CPU, 'f32', randomValues(11 * 3, 1));
      const hi = upload(CPU, 'i32', [0, 4, bad, 2]);
      const ho = empty(CPU, 'f32', 4 * 3);
      expect(() => nb.indexSelect(hs, 0, 1, 11, 3, code('f32'), hi, 0, code('i32'), 4, ho, 0)).toThrow(
        new RegExp(`indexSelect: index ${bad} at position 2 is out of range .*\\[0, 11\\)`),
      );
      expect(download(ho, 'f32', 12).every(Number.isNaN)).toBe(true);
      for (const h of [hs, hi, ho]) nb.free(h);
    });
  }
});

describe('indexAdd', () => {
  for (const idt of INDEX_DTYPES) {
    for (const out of FLOAT_DTYPES) {
      for (const src of FLOAT_DTYPES) {
        it(`${src} rows into ${out}, ${idt} ids with repeats`, () => {
          const outer = 2, size = 9, inner = 5, nIndex = 23;
          const base = valuesOf(out, outer * size * inner, 4);
          const g = valuesOf(src, outer * nIndex * inner, 5);
          const ids = randomIndices(nIndex, size, 6);
          const ho = upload(CPU, out, base);
          const hs = upload(CPU, src, g);
          const hi = upload(CPU, idt, ids);
          nb.indexAdd(hs, 0, code(src), outer, nIndex, inner, hi, 0, code(idt), ho, 0, size, code(out));
          const { rtol, atol } = TOL[out];
          // every output element sums up to ~5 terms, each rounded once to `out`
          assertClose(download(ho, out, base.length), indexAddRef(base, g, ids, outer, size, inner), rtol, atol * 4);
          for (const h of [ho, hs, hi]) nb.free(h);
        });
      }
    }
  }

  it('accumulates bf16 embedding gradients into an f32 main grad without bf16 rounding', () => {
    // Sums of these bf16 values need more than bf16's 8 significant bits, but are exact in f32.
    const vocab = 4, hidden = 3;
    const grads = [1, 2 ** -7, 2 ** -9, 3, 2 ** -8, 1, 2 ** -10, 1, 1, 0.5, 0.25, 0.125];
    const ids = [2, 2, 0, 2];
    const ho = upload(CPU, 'f32', new Array(vocab * hidden).fill(0));
    const hg = upload(CPU, 'bf16', grads);
    const hi = upload(CPU, 'i64', ids);
    nb.indexAdd(hg, 0, code('bf16'), 1, 4, hidden, hi, 0, code('i64'), ho, 0, vocab, code('f32'));
    expect(download(ho, 'f32', vocab * hidden)).toEqual(indexAddRef(new Array(12).fill(0), grads, ids, 1, vocab, hidden));
    for (const h of [ho, hg, hi]) nb.free(h);
  });

  it('is deterministic and independent of the thread count', () => {
    const vocab = 50, hidden = 64, tokens = 20000;
    const g = roundTo('bf16', randomValues(tokens * hidden, 8, -1, 1));
    const ids = randomIndices(tokens, vocab, 9);
    const hg = upload(CPU, 'bf16', g);
    const hi = upload(CPU, 'i32', ids);
    const runs = [1, 4, 3].map((threads) => {
      nb.setNumThreads(threads);
      const ho = upload(CPU, 'f32', new Array(vocab * hidden).fill(0));
      nb.indexAdd(hg, 0, code('bf16'), 1, tokens, hidden, hi, 0, code('i32'), ho, 0, vocab, code('f32'));
      const bytes = new Uint8Array(vocab * hidden * 4);
      nb.read(ho, 0, bytes);
      nb.free(ho);
      return bytes;
    });
    nb.setNumThreads(threadsBefore);
    expect(runs[1]).toEqual(runs[0]);
    expect(runs[2]).toEqual(runs[0]);
    const got = [...new Float32Array((runs[0] as Uint8Array).buffer)];
    assertClose(got, indexAddRef(new Array(vocab * hidden).fill(0), g, ids, 1, vocab, hidden), 1e-4, 1e-4);
    for (const h of [hg, hi]) nb.free(h);
  });

  it('throws for an out-of-range index and leaves the output untouched', () => {
    const ho = upload(CPU, 'f32', [1, 2, 3, 4]);
    const hs = upload(CPU, 'f32', [10, 20, 30, 40, 50, 60]);
    const hi = upload(CPU, 'i64', [1, 0, 2]);
    expect(() => nb.indexAdd(hs, 0, code('f32'), 1, 3, 2, hi, 0, code('i64'), ho, 0, 2, code('f32'))).toThrow(
      /indexAdd: index 2 at position 2 is out of range .*\[0, 2\)/,
    );
    expect(download(ho, 'f32', 4)).toEqual([1, 2, 3, 4]);
    for (const h of [ho, hs, hi]) nb.free(h);
  });

  it('refuses integer outputs and non-integer indices', () => {
    const h = upload(CPU, 'i32', [0, 0]);
    const f = upload(CPU, 'f32', [0, 0]);
    expect(() => nb.indexAdd(h, 0, code('i32'), 1, 1, 1, h, 0, code('i32'), h, 0, 2, code('i32'))).toThrow(/floating dtype/);
    expect(() => nb.indexAdd(f, 0, code('f32'), 1, 1, 1, f, 0, code('f32'), f, 0, 2, code('f32'))).toThrow(/indices must be i32 or i64/);
    for (const x of [h, f]) nb.free(x);
  });
});

describe('gather and scatterAdd', () => {
  const outer = 3, size = 7, inner = 5, nIndex = 4;
  const ids = randomIndices(outer * nIndex * inner, size, 10);
  const gatherRef = (src: number[]) =>
    ids.map((t, k) => {
      const o = Math.floor(k / (nIndex * inner)), i = k % inner;
      return src[(o * size + t) * inner + i] as number;
    });
  const scatterRef = (base: number[], src: number[]) => {
    const r = [...base];
    ids.forEach((t, k) => {
      const o = Math.floor(k / (nIndex * inner)), i = k % inner;
      const at = (o * size + t) * inner + i;
      r[at] = (r[at] as number) + (src[k] as number);
    });
    return r;
  };

  for (const idt of INDEX_DTYPES) {
    for (const dtype of ALL_DTYPES) {
      it(`gather ${dtype} with ${idt} indices`, () => {
        const src = valuesOf(dtype, outer * size * inner, 11);
        const hs = upload(CPU, dtype, src);
        const hi = upload(CPU, idt, ids);
        const ho = empty(CPU, dtype, ids.length);
        nb.gather(hs, 0, outer, size, inner, code(dtype), hi, 0, code(idt), nIndex, ho, 0);
        expect(download(ho, dtype, ids.length)).toEqual(gatherRef(src));
        for (const h of [hs, hi, ho]) nb.free(h);
      });
    }
    for (const [src, out] of [['f32', 'f32'], ['bf16', 'f32'], ['bf16', 'bf16'], ['f16', 'f16'], ['f64', 'f64'], ['f32', 'f64']] as const) {
      it(`scatterAdd ${src} into ${out} with ${idt} indices`, () => {
        const base = valuesOf(out, outer * size * inner, 12);
        const s = valuesOf(src, ids.length, 13);
        const ho = upload(CPU, out, base);
        const hs = upload(CPU, src, s);
        const hi = upload(CPU, idt, ids);
        nb.scatterAdd(hs, 0, code(src), outer, nIndex, inner, hi, 0, code(idt), ho, 0, size, code(out));
        assertClose(download(ho, out, base.length), scatterRef(base, s), TOL[out].rtol, TOL[out].atol * 4);
        for (const h of [ho, hs, hi]) nb.free(h);
      });
    }
  }

  it('scatterAdd is deterministic across thread counts', () => {
    const o2 = 2, sz = 30, inn = 300, n = 400;
    const idx = randomIndices(o2 * n * inn, sz, 14);
    const s = randomValues(o2 * n * inn, 15);
    const hs = upload(CPU, 'f32', s);
    const hi = upload(CPU, 'i64', idx);
    const runs = [1, 4].map((threads) => {
      nb.setNumThreads(threads);
      const ho = upload(CPU, 'f32', new Array(o2 * sz * inn).fill(0));
      nb.scatterAdd(hs, 0, code('f32'), o2, n, inn, hi, 0, code('i64'), ho, 0, sz, code('f32'));
      const r = download(ho, 'f32', o2 * sz * inn);
      nb.free(ho);
      return r;
    });
    nb.setNumThreads(threadsBefore);
    expect(runs[1]).toEqual(runs[0]);
    for (const h of [hs, hi]) nb.free(h);
  });

  it('out-of-range indices throw naming the op, the index and the range', () => {
    const bad = [...ids];
    bad[17] = size;
    const hs = upload(CPU, 'f32', new Array(outer * size * inner).fill(1));
    const hi = upload(CPU, 'i32', bad);
    const ho = empty(CPU, 'f32', outer * size * inner);
    expect(() => nb.gather(hs, 0, outer, size, inner, code('f32'), hi, 0, code('i32'), nIndex, ho, 0)).toThrow(
      /gather: index 7 at position 17 is out of range .*\[0, 7\)/,
    );
    expect(() => nb.scatterAdd(hs, 0, code('f32'), outer, nIndex, inner, hi, 0, code('i32'), ho, 0, size, code('f32'))).toThrow(
      /scatterAdd: index 7 at position 17/,
    );
    expect(download(ho, 'f32', outer * size * inner).every(Number.isNaN)).toBe(true);
    for (const h of [hs, hi, ho]) nb.free(h);
  });
});
