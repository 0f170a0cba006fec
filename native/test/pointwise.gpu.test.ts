// GPU parity of the pointwise kernels: each kernel and dtype on random inputs on the CPU and on
// cuda:0, outputs poisoned first; exact where both backends do the same IEEE operations (fills,
// casts, copies, selects, uniform draws, dropout, single arithmetic ops), per-dtype tolerances where
// they call different math libraries. Run on a CUDA machine: node --test test/pointwise.gpu.test.ts
import assert from 'node:assert';
import { describe, it } from 'node:test';
import { BINARY_OPS, type BinaryOpName, type DTypeName, UNARY_OPS } from '../src/index.ts';
import { assertParity, assertSame, countDifferent, onBoth } from './parity.ts';
import {
  ALL_DTYPES, BINARY_NAMES, contiguousStrides, extentOf, FLOAT_DTYPES, INTEGER_UNARY, isFloat, roundTo, UNARY_NAMES,
  unaryCase,
} from './refs.ts';
import { assertClose, code, hasCuda, nb, randomValues, TOL } from './util.ts';

const N = 100_003; // odd and past one wave: vector bodies, tails and grid-stride loops
const OFFSETS = [0, 1]; // 1: every pointer off its 16-byte alignment (the scalar fallback paths)

const intsOr = (dtype: DTypeName, v: number[]) => roundTo(dtype, isFloat(dtype) ? v : v.map((x) => Math.trunc(x) + 0));
const data = (dtype: DTypeName, n: number, seed: number, lo = -4, hi = 4) => intsOr(dtype, randomValues(n, seed, lo, hi));

describe('pointwise kernels: cuda:0 matches the CPU', { skip: !hasCuda }, () => {
  describe('fill and arange', () => {
    for (const dtype of ALL_DTYPES) {
      for (const off of OFFSETS) {
        it(`fill ${dtype} (offset ${off})`, () => {
          for (const value of [2.75, -1.5, 0.5, 0]) {
            const res = onBoth((_, up) => {
              const o = up.out(dtype, N + off);
              nb.fill(o.handle, off, N, code(dtype), value);
              return [o];
            });
            assertParity(res, [dtype], true, `fill ${dtype} ${value}`);
          }
        });
        it(`arange ${dtype} (offset ${off})`, () => {
          const res = onBoth((_, up) => {
            const o = up.out(dtype, N + off);
            nb.arange(o.handle, off, N, code(dtype), -7.25, 0.375);
            return [o];
          });
          assertParity(res, [dtype], true, `arange ${dtype}`);
        });
      }
    }
  });

  describe('random', () => {
    for (const dtype of FLOAT_DTYPES) {
      for (const off of OFFSETS) {
        it(`uniform ${dtype} draws the same numbers (offset ${off})`, () => {
          for (const [seed, counter] of [[1, 0], [2 ** 40 + 3, 12345], [7, 2 ** 35]] as const) {
            const res = onBoth((_, up) => {
              const o = up.out(dtype, N + off);
              nb.random(o.handle, off, N, code(dtype), 0, -1.5, 2.5, seed, counter);
              return [o];
            });
            assertParity(res, [dtype], true, `uniform ${dtype} seed ${seed} counter ${counter}`);
          }
        });
      }
      it(`normal ${dtype} draws the same numbers up to libm rounding`, () => {
        const res = onBoth((_, up) => {
          const o = up.out(dtype, N);
          nb.random(o.handle, 0, N, code(dtype), 1, 0.5, 2, 99, 3);
          return [o];
        });
        // Box-Muller calls logf/sinf/cosf, which CUDA and the host libm round differently in the
        // last bit now and then (so the draws agree to fp32 precision, not bit for bit).
        const tol = dtype === 'f32' || dtype === 'f64' ? { rtol: 2e-6, atol: 2e-6 } : TOL[dtype];
        assertClose(res.gpu[0] as number[], res.cpu[0] as number[], tol.rtol, tol.atol, `normal ${dtype}`);
        const differ = countDifferent(res.gpu[0] as number[], res.cpu[0] as number[]);
        if (differ) console.log(`normal ${dtype}: ${differ} of ${N} draws differ in the last bits`);
      });
    }
  });

  describe('cast', () => {
    const base = randomValues(4099, 5, -1000, 1000);
    const special = [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, -0, 1e-40, 6e-8, 65519, 65520, 3e38];
    for (const src of ALL_DTYPES) {
      for (const dst of ALL_DTYPES) {
        it(`${src} -> ${dst}`, () => {
          let values = base;
          // NaN, infinities, subnormals and overflow (float -> integer saturates, NaN -> 0)
          if (isFloat(src)) values = [...special, -3e9, 3e9, -1e30, ...base];
          if (src === 'i64') values = [...values, 2 ** 40 + 12345, -(2 ** 53) + 1, 2 ** 24 + 1];
          const exact = intsOr(src, values);
          for (const off of OFFSETS) {
            const res = onBoth((_, up) => {
              const s = up.values(src, off ? [0, ...exact] : exact);
              const o = up.out(dst, exact.length + off);
              nb.cast(s, off, code(src), o.handle, off, code(dst), exact.length);
              return [o];
            });
            assertParity(res, [dst], true, `cast ${src} -> ${dst} (offset ${off})`);
          }
        });
      }
    }
  });

  describe('unary', () => {
    for (const dtype of FLOAT_DTYPES) {
      for (const op of UNARY_NAMES) {
        it(`${op} ${dtype} and its backward`, () => {
          const { lo, hi, a, b } = unaryCase(op);
          for (const off of OFFSETS) {
            const x = data(dtype, N, 30 + UNARY_OPS[op], lo, hi);
            const gy = data(dtype, N, 31, -2, 2);
            const res = onBoth((_, up) => {
              const hx = up.values(dtype, x);
              const hg = up.values(dtype, gy);
              const y = up.out(dtype, N);
              const gx = up.out(dtype, N);
              nb.unary(UNARY_OPS[op], hx, off, y.handle, off, N - off, code(dtype), a, b);
              nb.unaryBackward(UNARY_OPS[op], hx, off, hg, off, gx.handle, off, N - off, code(dtype), a, b);
              return [y, gx];
            });
            // one rounding of a value that differs by an ulp or two of fp32 (fp64) can move a
            // 16-bit result by one of its ulps: the dtype tolerances cover that
            assertParity(res, [dtype, dtype], false, `${op} ${dtype} (offset ${off})`, dtype === 'f64' ? 10 : 2);
          }
        });
      }
    }
    for (const dtype of ['i32', 'i64'] as const) {
      it(`integer unary ops ${dtype}`, () => {
        for (const op of INTEGER_UNARY) {
          const x = data(dtype, N, 40, -1000, 1000);
          const res = onBoth((_, up) => {
            const hx = up.values(dtype, x);
            const y = up.out(dtype, N);
            nb.unary(UNARY_OPS[op], hx, 0, y.handle, 0, N, code(dtype), 3, 77);
            return [y];
          });
          assertParity(res, [dtype], true, `${op} ${dtype}`);
        }
      });
    }
    it('refuses the same things as the CPU', () => {
      const h = nb.alloc(0, 16);
      assert.throws(() => nb.unary(UNARY_OPS.exp, h, 0, h, 0, 2, code('i32'), 0, 0), /needs a floating dtype/);
      assert.throws(() => nb.binary(BINARY_OPS.div, h, 0, [1], h, 0, [1], h, 0, [2], code('i64')), /division and pow/);
      nb.free(h);
    });
  });

  describe('binary', () => {
    const shape = [37, 29, 41];
    const dense = contiguousStrides(shape);
    const rows = [40, 3, 64]; // inner dim a multiple of every pack width: the packed strided walk
    const rowsDense = contiguousStrides(rows);
    // [shape, a strides, b strides]; extents are computed from them
    const layouts: Record<string, [number[], number[], number[]]> = {
      dense: [shape, dense, dense],
      'scalar b': [shape, dense, [0, 0, 0]],
      'scalar a': [shape, [0, 0, 0], dense],
      'bias row, odd inner dim': [shape, dense, [0, 0, 1]],
      'both broadcast': [shape, [41, 0, 1], [0, 41, 1]],
      'permuted a': [shape, [1, 37, 37 * 29], dense],
      'bias row, packed': [rows, rowsDense, [0, 0, 1]],
      'column broadcast, packed': [rows, [3, 1, 0], rowsDense],
      'both broadcast, packed': [rows, [64, 0, 1], [0, 64, 1]],
    };
    const exactOp = (op: BinaryOpName) => op !== 'pow';
    for (const dtype of ALL_DTYPES) {
      it(`every op, ${dtype}, every layout`, () => {
        for (const op of BINARY_NAMES) {
          if (!isFloat(dtype) && (op === 'div' || op === 'pow')) continue;
          const outDtype: DTypeName = BINARY_OPS[op] >= BINARY_OPS.eq ? 'bool' : dtype;
          for (const [name, [sh, as, bs]] of Object.entries(layouts)) {
            for (const off of name === 'dense' || name === 'bias row, packed' ? OFFSETS : [0]) {
              const lo = op === 'pow' ? 0.5 : -4;
              const a = data(dtype, extentOf(sh, as) + 1, 50, lo, 4);
              const b = data(dtype, extentOf(sh, bs) + 1, 51, lo, 4);
              for (let i = 0; i < Math.min(a.length, b.length); i += 5) b[i] = a[i] as number; // ties
              if (op === 'div') for (let i = 0; i < b.length; i++) if (Math.abs(b[i] as number) < 0.25) b[i] = 1;
              const n = sh.reduce((x, y) => x * y, 1);
              const res = onBoth((_, up) => {
                const ha = up.values(dtype, a);
                const hb = up.values(dtype, b);
                const o = up.out(outDtype, n + off);
                nb.binary(BINARY_OPS[op], ha, off, as, hb, off, bs, o.handle, off, sh, code(dtype));
                return [o];
              });
              assertParity(res, [outDtype], exactOp(op), `${op} ${dtype} ${name} (offset ${off})`, 2);
            }
          }
        }
      });
    }
  });

  describe('where', () => {
    const shape = [33, 65, 17];
    const dense = contiguousStrides(shape);
    const layouts: Record<string, [number[], number[], number[]]> = {
      dense: [dense, dense, dense],
      'scalar b (masked fill)': [dense, dense, [0, 0, 0]],
      'broadcast cond, permuted b': [[0, 17, 1], dense, [1, 0, 17]],
    };
    const rows = [24, 5, 48]; // packed strided walks: a broadcast mask over rows, a scalar fill
    const rowsDense = contiguousStrides(rows);
    const packedLayouts: Record<string, [number[], number[], number[]]> = {
      'row mask, packed': [[0, 48, 1], rowsDense, [0, 0, 0]],
      'column mask, packed': [[5, 1, 0], rowsDense, rowsDense],
    };
    for (const dtype of ALL_DTYPES) {
      it(`${dtype}, every layout`, () => {
        const all = [
          ...Object.entries(layouts).map(([k, v]) => [k, shape, ...v] as const),
          ...Object.entries(packedLayouts).map(([k, v]) => [k, rows, ...v] as const),
        ];
        for (const [name, sh, cs, as, bs] of all) {
          for (const off of name === 'dense' ? OFFSETS : [0]) {
            const n = sh.reduce((x, y) => x * y, 1);
            const c = randomValues(extentOf(sh, cs) + 1, 60, 0, 2).map((v) => +(v >= 1));
            const a = data(dtype, extentOf(sh, as) + 1, 61);
            const b = data(dtype, extentOf(sh, bs) + 1, 62);
            const res = onBoth((_, up) => {
              const o = up.out(dtype, n + off);
              nb.where(up.values('bool', c), off, cs, up.values(dtype, a), off, as, up.values(dtype, b), off, bs, o.handle, off, sh, code(dtype));
              return [o];
            });
            assertParity(res, [dtype], true, `where ${dtype} ${name} (offset ${off})`);
          }
        }
      });
    }
  });

  describe('copyStrided', () => {
    // [shape, src strides, out strides, src offset, out offset]
    const cases: [string, number[], number[], number[], number, number][] = [
      ['contiguous, odd length', [N], [1], [1], 0, 0],
      ['contiguous, misaligned', [N], [1], [1], 1, 3],
      ['2-D transpose', [513, 385], [1, 513], [385, 1], 0, 0],
      ['heads permute [S,H,D] -> [H,S,D]', [16, 300, 64], [64, 1024, 1], [300 * 64, 64, 1], 0, 0],
      ['narrow into a concat slice', [300, 100], [128, 1], [200, 1], 5, 100],
      ['materialize a broadcast', [200, 3, 128], [0, 128, 1], [384, 128, 1], 0, 0],
      ['size-1 dims and a 0-d copy', [1, 50, 1, 7], [999, 7, 5, 1], [350, 7, 7, 1], 0, 0],
      ['0-d', [], [], [], 2, 1],
    ];
    for (const dtype of ALL_DTYPES) {
      it(`${dtype}: permutes, narrows, broadcasts`, () => {
        for (const [name, shape, ss, os, soff, ooff] of cases) {
          const src = data(dtype, soff + extentOf(shape, ss), 70, -100, 100);
          const res = onBoth((_, up) => {
            const o = up.out(dtype, ooff + extentOf(shape, os));
            nb.copyStrided(up.values(dtype, src), soff, ss, o.handle, ooff, os, shape, code(dtype));
            return [o];
          });
          assertParity(res, [dtype], true, `copy ${dtype} ${name}`);
        }
      });
    }
  });

  describe('accumulate, dropout, maskedScale', () => {
    for (const dst of FLOAT_DTYPES) {
      it(`accumulate into ${dst} from every float dtype`, () => {
        for (const src of FLOAT_DTYPES) {
          for (const off of OFFSETS) {
            const d = data(dst, N, 80);
            const s = data(src, N, 81);
            const res = onBoth((_, up) => {
              const hd = up.values(dst, d);
              nb.accumulate(hd, off, code(dst), up.values(src, s), off, code(src), N - off, 0.3);
              return [{ handle: hd, dtype: dst, n: N }];
            });
            // the GPU fuses alpha * src + dst into one fma; the CPU may round the product first
            assertParity(res, [dst], false, `accumulate ${dst} += ${src} (offset ${off})`, 2);
          }
        }
      });
    }
    for (const dtype of FLOAT_DTYPES) {
      it(`dropout ${dtype}: same mask and outputs; maskedScale`, () => {
        for (const off of OFFSETS) {
          const x = data(dtype, N, 90);
          const res = onBoth((_, up) => {
            const hx = up.values(dtype, x);
            const o = up.out(dtype, N);
            const m = up.out('bool', N);
            const gx = up.out(dtype, N);
            nb.dropout(hx, off, o.handle, off, m.handle, off, N - off, code(dtype), 0.1, 2 ** 33 + 5, 77);
            nb.maskedScale(hx, off, m.handle, off, gx.handle, off, N - off, code(dtype), 1 / 0.9);
            return [o, m, gx];
          });
          assertParity(res, [dtype, 'bool', dtype], true, `dropout ${dtype} (offset ${off})`);
        }
      });
    }
  });

  it('keeps all results in order on the stream (no read-before-write)', () => {
    // 200 dependent launches, then one read: every kernel ran in order on the current stream
    const res = onBoth((_, up) => {
      const h = up.values('f32', new Array(4096).fill(0));
      for (let k = 0; k < 200; k++) nb.unary(UNARY_OPS.affine, h, 0, h, 0, 4096, code('f32'), 1, 1);
      return [{ handle: h, dtype: 'f32', n: 4096 }];
    });
    assertSame(res.gpu[0] as number[], new Array(4096).fill(200), 'chained affine');
  });
});
