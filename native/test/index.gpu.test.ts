// GPU parity of the index kernels (indexSelect/indexAdd as embedding forward/backward, gather,
// scatterAdd) on the CPU and cuda:0, and the device error path: an out-of-range index on CUDA is
// recorded, its element skipped, and raised as a JS error at the next read.
// Run on a CUDA machine: node --test test/index.gpu.test.ts
import assert from 'node:assert';
import { describe, it } from 'node:test';
import type { DTypeName } from '../src/index.ts';
import { assertParity, GPU, onBoth } from './parity.ts';
import { ALL_DTYPES, FLOAT_DTYPES, isFloat, roundTo } from './refs.ts';
import { code, download, empty, hasCuda, nb, randomValues, upload } from './util.ts';

const INDEX_DTYPES = ['i32', 'i64'] as const;
const ids = (n: number, size: number, seed: number) => randomValues(n, seed, 0, size).map(Math.floor);
const data = (dtype: DTypeName, n: number, seed: number) =>
  roundTo(dtype, randomValues(n, seed, -2, 2).map((v) => (isFloat(dtype) ? v : Math.trunc(v * 50) + 0)));

// [name, outer, size, inner, nIndex, offset]: rows per warp with 16-byte words (embedding), short
// rows (one thread per element), few rows, and misaligned bases (narrower words).
const SHAPES: [string, number, number, number, number, number][] = [
  ['embedding 1000 x 256, 2048 tokens', 1, 1000, 256, 2048, 0],
  ['embedding, misaligned by one element', 1, 1000, 256, 2048, 1],
  ['odd hidden 37', 1, 300, 37, 1500, 0],
  ['short rows (inner 3), outer 4', 4, 50, 3, 700, 0],
  ['few long rows', 2, 10, 4096, 3, 0],
];

describe('index kernels: cuda:0 matches the CPU', { skip: !hasCuda }, () => {
  for (const idt of INDEX_DTYPES) {
    for (const dtype of ALL_DTYPES) {
      it(`indexSelect ${dtype}, ${idt} indices, every shape`, () => {
        for (const [name, outer, size, inner, nIndex, off] of SHAPES) {
          const src = data(dtype, off + outer * size * inner, 1);
          const index = ids(nIndex, size, 2);
          const res = onBoth((_, up) => {
            const o = up.out(dtype, off + outer * nIndex * inner);
            nb.indexSelect(up.values(dtype, src), off, outer, size, inner, code(dtype), up.values(idt, index), 0, code(idt), nIndex, o.handle, off);
            return [o];
          });
          assertParity(res, [dtype], true, `indexSelect ${dtype} ${name}`);
        }
      });
    }

    for (const out of FLOAT_DTYPES) {
      it(`indexAdd into ${out} from every float dtype, ${idt} indices`, () => {
        for (const src of FLOAT_DTYPES) {
          for (const [name, outer, size, inner, nIndex, off] of SHAPES) {
            // 16-bit outputs round at every add, in whatever order the atomics land: keep few
            // repeats per row there; f32/f64 outputs take many
            const rows = sizeof16(out) ? Math.min(nIndex, size * 2) : nIndex;
            const base = data(out, off + outer * size * inner, 3);
            const g = data(src, off + outer * rows * inner, 4);
            const index = ids(rows, size, 5);
            const res = onBoth((_, up) => {
              const o = up.values(out, base);
              nb.indexAdd(up.values(src, g), off, code(src), outer, rows, inner, up.values(idt, index), 0, code(idt), o, off, size, code(out));
              return [{ handle: o, dtype: out, n: base.length }];
            });
            assertParity(res, [out], false, `indexAdd ${src} -> ${out} ${name}`, out === 'f64' ? 1e4 : 8);
          }
        }
      });
    }

    it(`gather and scatterAdd, every dtype, ${idt} indices`, () => {
      for (const [name, outer, size, inner, nIndex] of [['small', 3, 7, 5, 4], ['large', 4, 333, 129, 200]] as const) {
        const index = ids(outer * nIndex * inner, size, 6);
        for (const dtype of ALL_DTYPES) {
          const src = data(dtype, outer * size * inner, 7);
          const res = onBoth((_, up) => {
            const o = up.out(dtype, index.length);
            nb.gather(up.values(dtype, src), 0, outer, size, inner, code(dtype), up.values(idt, index), 0, code(idt), nIndex, o.handle, 0);
            return [o];
          });
          assertParity(res, [dtype], true, `gather ${dtype} ${name}`);
        }
        for (const [src, out] of [['f32', 'f32'], ['bf16', 'f32'], ['bf16', 'bf16'], ['f16', 'f16'], ['f64', 'f64'], ['f32', 'f64']] as const) {
          const base = data(out, outer * size * inner, 8);
          const s = data(src, index.length, 9);
          const res = onBoth((_, up) => {
            const o = up.values(out, base);
            nb.scatterAdd(up.values(src, s), 0, code(src), outer, nIndex, inner, up.values(idt, index), 0, code(idt), o, 0, size, code(out));
            return [{ handle: o, dtype: out, n: base.length }];
          });
          assertParity(res, [out], false, `scatterAdd ${src} -> ${out} ${name}`, out === 'f64' ? 1e4 : 8);
        }
      }
    });
  }

  it('an out-of-range index is raised at the next read, and the device recovers', () => {
    const table = upload(GPU, 'f32', randomValues(11 * 64, 1));
    const index = upload(GPU, 'i64', [0, 4, 11, 2]);
    const out = empty(GPU, 'f32', 4 * 64);
    // the launch itself does not throw: the kernel records the bad index and skips its row
    nb.indexSelect(table, 0, 1, 11, 64, code('f32'), index, 0, code('i64'), 4, out, 0);
    assert.throws(() => download(out, 'f32', 4 * 64), /index is out of range.*got 11, valid range \[0, 11\)/);
    // the error word was cleared: the next reads succeed, and the good rows were written
    const got = download(out, 'f32', 4 * 64);
    assert.ok(got.slice(0, 128).every((v) => !Number.isNaN(v)), 'rows 0 and 1 written');
    assert.ok(got.slice(128, 192).every(Number.isNaN), 'the bad row was skipped');

    // gather with a negative index, surfacing through synchronize()
    const g = upload(GPU, 'i32', [0, -3, 1]);
    const go = empty(GPU, 'f32', 3);
    nb.gather(table, 0, 1, 11, 1, code('f32'), g, 0, code('i32'), 3, go, 0);
    assert.throws(() => nb.synchronize(GPU), /got -3, valid range \[0, 11\)/);

    // indexAdd with a bad index into an f32 accumulator, then a clean call works
    const acc = empty(GPU, 'f32', 11 * 64, 0);
    nb.indexAdd(table, 0, code('f32'), 1, 4, 64, index, 0, code('i64'), acc, 0, 11, code('f32'));
    assert.throws(() => download(acc, 'f32', 1), /out of range/);
    nb.fill(acc, 0, 11 * 64, code('f32'), 1);
    assert.deepStrictEqual(download(acc, 'f32', 3), [1, 1, 1]);
    for (const h of [table, index, out, g, go, acc]) nb.free(h);
  });
});

function sizeof16(dtype: DTypeName): boolean {
  return dtype === 'bf16' || dtype === 'f16';
}
