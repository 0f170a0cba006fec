// GPU parity for the row kernels: each case runs on the CPU (the reference implementation) and on
// cuda:0 with the same fresh random inputs and poisoned outputs, then compares every output.
// Shapes are picked to reach every CUDA path: warp and block rows, rows too long for registers,
// 16-byte and scalar (offset) accesses, strided inner layouts, split reductions, and the fused and
// fallback norm backward. Runs under node:test (`node --test test/rows.gpu.test.ts`); skips
// everything without a CUDA device.
import assert from 'node:assert';
import { describe, it } from 'node:test';
import { type DTypeName, REDUCE_OPS } from '../src/index.ts';
import { FLOATS, quantize, type ReduceOp } from './rows.ref.ts';
import { bytesOf, CPU, closeness, code, decode, encode, hasCuda, nb, randomValues } from './util.ts';

const GPU = 0;
let seed = 1000;
const fresh = (n: number, lo = -1, hi = 1) => randomValues(n, ++seed, lo, hi);

// ---- running one case on a device -----------------------------------------------------------------
interface In { dtype: DTypeName; values: number[] }
interface Out { dtype: DTypeName; n: number }

/** Handles of inputs and outputs, each placed `offset` elements into its storage. */
type Call = (ins: number[], outs: number[], offset: number) => void;

function runOn(device: number, ins: In[], outs: Out[], offset: number, call: Call): number[][] {
  const handles: number[] = [];
  const alloc = (dtype: DTypeName, n: number) => {
    const h = nb.alloc(device, (n + offset) * bytesOf(dtype) + 16);
    handles.push(h);
    return h;
  };
  const inH = ins.map(({ dtype, values }) => {
    const h = alloc(dtype, values.length);
    nb.write(h, offset * bytesOf(dtype), encode(dtype, values));
    return h;
  });
  const outH = outs.map(({ dtype, n }) => {
    const h = alloc(dtype, n);
    nb.fill(h, 0, n + offset, code(dtype), dtype.startsWith('i') || dtype === 'bool' ? 77 : Number.NaN);
    return h;
  });
  call(inH, outH, offset);
  if (device >= 0) nb.synchronize(device);
  const results = outs.map(({ dtype, n }, k) => {
    const bytes = new Uint8Array(n * bytesOf(dtype));
    nb.read(outH[k] as number, offset * bytesOf(dtype), bytes);
    return decode(dtype, bytes);
  });
  for (const h of handles) nb.free(h);
  return results;
}

interface Tol { rtol: number; atol: number }
// CPU and GPU both compute in fp32 (fp64) but in different orders; 16-bit outputs may round apart
// by one unit in the last place.
const PARITY: Record<string, Tol> = {
  f64: { rtol: 1e-9, atol: 1e-12 }, f32: { rtol: 2e-5, atol: 1e-6 }, bf16: { rtol: 1.6e-2, atol: 1e-5 },
  f16: { rtol: 2e-3, atol: 1e-6 }, i32: { rtol: 0, atol: 0 }, i64: { rtol: 0, atol: 0 }, bool: { rtol: 0, atol: 0 },
};

function parity(what: string, ins: In[], outs: (Out & { tol?: Tol })[], call: Call, offset = 0): void {
  const cpu = runOn(CPU, ins, outs, offset, call);
  const gpu = runOn(GPU, ins, outs, offset, call);
  outs.forEach((o, k) => {
    const tol = o.tol ?? (PARITY[o.dtype] as Tol);
    const c = closeness(gpu[k] as number[], cpu[k] as number[], tol.rtol, tol.atol);
    if (!(c <= 1)) {
      const a = gpu[k] as number[], e = cpu[k] as number[];
      let at = 0;
      for (let i = 0; i < a.length; i++)
        if (!(Math.abs((a[i] as number) - (e[i] as number)) <= tol.atol + tol.rtol * Math.abs(e[i] as number)) && !(Number.isNaN(a[i]) && Number.isNaN(e[i]))) { at = i; break; }
      assert.fail(`${what} output ${k}: GPU and CPU differ (worst ratio ${c.toFixed(2)}), first at [${at}]: gpu ${a[at]} cpu ${e[at]}`);
    }
  });
}

const scaled = (t: Tol, f: number): Tol => ({ rtol: t.rtol, atol: t.atol * f });

// ---- suites -------------------------------------------------------------------------------------
describe('row kernels: CUDA matches CPU', { skip: !hasCuda }, () => {
  describe('reduce', () => {
    const shapes: [number, number, number, number][] = [
      // outer, size, inner, offset
      [37, 5, 1, 0], [64, 1000, 1, 0], [3, 5000, 1, 0], [2, 300_000, 1, 0], [1, 4097, 1, 1],
      [3, 17, 45, 0], [1, 20_000, 3, 0], [5, 2, 1000, 1],
      // column sums read as 16-byte packs (bias gradients): a ragged last block, few rows, many splits
      [2, 3000, 520, 0], [1, 777, 64, 0], [3, 40, 4096, 0], [1, 16_384, 256, 0],
    ];
    for (const dtype of FLOATS) {
      for (const [outer, size, inner, offset] of shapes) {
        it(`${dtype} [${outer}, ${size}, ${inner}] offset ${offset}`, () => {
          const x = quantize(dtype, fresh(outer * size * inner, -2, 2));
          const n = outer * inner;
          for (const op of ['sum', 'mean', 'max', 'min'] as ReduceOp[]) {
            const arg = op === 'max' || op === 'min';
            const sumTol = { rtol: PARITY[dtype]!.rtol, atol: (dtype === 'f64' ? 1e-13 : 2e-6) * size };
            const outs: (Out & { tol?: Tol })[] = [{ dtype, n, tol: arg ? { rtol: 0, atol: 0 } : sumTol }];
            if (arg) outs.push({ dtype: 'i64', n });
            parity(`${op}`, [{ dtype, values: x }], outs, ([xh], [out, idx], off) =>
              nb.reduce(REDUCE_OPS[op], xh as number, off, outer, size, inner, code(dtype), out as number, off, code(dtype), arg ? (idx as number) : 0, off), offset);
          }
        });
      }
    }

    it('bf16 sums into f32 and NaN in max/min', () => {
      const x = quantize('bf16', fresh(8 * 3000));
      parity('bf16 -> f32 sum', [{ dtype: 'bf16', values: x }], [{ dtype: 'f32', n: 8, tol: { rtol: 1e-5, atol: 1e-4 } }],
        ([xh], [out]) => nb.reduce(REDUCE_OPS.sum, xh as number, 0, 8, 3000, 1, code('bf16'), out as number, 0, code('f32'), 0, 0));
      for (const inner of [1, 4]) {
        const y = fresh(6 * 700 * inner);
        y[3 * inner] = Number.NaN;
        y[(700 + 9) * inner] = Number.NaN;
        y[(700 + 600) * inner] = Number.NaN;
        for (const op of ['max', 'min'] as ReduceOp[])
          parity(`NaN ${op}`, [{ dtype: 'f32', values: y }], [{ dtype: 'f32', n: 6 * inner }, { dtype: 'i64', n: 6 * inner }],
            ([xh], [out, idx]) => nb.reduce(REDUCE_OPS[op], xh as number, 0, 6, 700, inner, code('f32'), out as number, 0, code('f32'), idx as number, 0));
      }
    });

    it('integers and bool', () => {
      for (const dtype of ['i32', 'i64', 'bool'] as DTypeName[]) {
        for (const [outer, size, inner] of [[9, 333, 1], [2, 100_000, 1], [3, 50, 7]] as const) {
          const x = fresh(outer * size * inner, -1e6, 1e6).map((v) => (dtype === 'bool' ? (v > 0 ? 1 : 0) : Math.trunc(v)));
          const n = outer * inner;
          parity(`${dtype} sum`, [{ dtype, values: x }], [{ dtype: 'i64', n }],
            ([xh], [out]) => nb.reduce(REDUCE_OPS.sum, xh as number, 0, outer, size, inner, code(dtype), out as number, 0, code('i64'), 0, 0));
          for (const op of ['max', 'min'] as ReduceOp[])
            parity(`${dtype} ${op}`, [{ dtype, values: x }], [{ dtype, n }, { dtype: 'i64', n }],
              ([xh], [out, idx]) => nb.reduce(REDUCE_OPS[op], xh as number, 0, outer, size, inner, code(dtype), out as number, 0, code(dtype), idx as number, 0));
          if (dtype !== 'bool')
            parity(`${dtype} mean`, [{ dtype, values: x }], [{ dtype: 'f64', n }],
              ([xh], [out]) => nb.reduce(REDUCE_OPS.mean, xh as number, 0, outer, size, inner, code(dtype), out as number, 0, code('f64'), 0, 0));
        }
      }
    });
  });

  describe('softmax', () => {
    const shapes: [number, number, number, number][] = [
      [5, 1, 1, 0], [33, 17, 1, 0], [40, 256, 1, 0], [19, 1000, 1, 0], [9, 1024, 1, 0], [7, 3000, 1, 0],
      [5, 8192, 1, 0], [3, 12_000, 1, 0], [3, 20_000, 1, 0], [6, 1024, 1, 1], [3, 20_001, 1, 1], [3, 50, 7, 0],
    ];
    for (const dtype of FLOATS) {
      for (const [outer, size, inner, offset] of shapes) {
        it(`${dtype} [${outer}, ${size}, ${inner}] offset ${offset}`, () => {
          const n = outer * size * inner;
          const x = quantize(dtype, fresh(n, -8, 8));
          const y = quantize(dtype, fresh(n, 0, 2 / size));
          const gy = quantize(dtype, fresh(n));
          for (const log of [false, true]) {
            parity(`softmax log=${log}`, [{ dtype, values: x }], [{ dtype, n }], ([xh], [out], off) =>
              nb.softmax(xh as number, off, out as number, off, outer, size, inner, code(dtype), log), offset);
            // Backward from a plausible y (probabilities, or log-probabilities for log-softmax).
            const yIn = log ? quantize(dtype, y.map((v) => Math.log(v + 1e-6))) : y;
            parity(`softmaxBackward log=${log}`, [{ dtype, values: yIn }, { dtype, values: gy }], [{ dtype, n, tol: scaled(PARITY[dtype]!, 10) }],
              ([yh, gh], [gx], off) => nb.softmaxBackward(yh as number, off, gh as number, off, gx as number, off, outer, size, inner, code(dtype), log), offset);
          }
        });
      }
    }
  });

  describe('norm', () => {
    const shapes: [number, number, number][] = [
      // rows, cols, offset
      [67, 1, 0], [67, 17, 0], [50, 256, 0], [70, 1000, 0], [33, 1024, 0], [21, 4096, 0], [9, 8192, 0],
      [5, 10_000, 0], [3, 20_000, 0], [29, 1024, 1], [3000, 512, 0],
    ];
    const statTol: Tol = { rtol: 1e-5, atol: 1e-6 };
    for (const rms of [false, true]) {
      for (const dtype of FLOATS) {
        for (const wDtype of dtype === 'bf16' ? (['bf16', 'f32'] as DTypeName[]) : [dtype]) {
          for (const [rows, cols, offset] of shapes) {
            it(`${rms ? 'RMSNorm' : 'LayerNorm'} ${dtype} (w ${wDtype}) [${rows}, ${cols}] offset ${offset}`, () => {
              const n = rows * cols;
              const x = quantize(dtype, fresh(n, -1, 3));
              const w = quantize(wDtype, fresh(cols, 0.5, 1.5));
              const b = quantize(wDtype, fresh(cols, -0.5, 0.5));
              const gy = quantize(dtype, fresh(n));
              for (const affine of ['wb', 'none']) {
                const hasW = affine === 'wb';
                parity(`norm ${affine}`, [{ dtype, values: x }, { dtype: wDtype, values: w }, { dtype: wDtype, values: b }],
                  [{ dtype, n, tol: scaled(PARITY[dtype]!, 10) }, { dtype: 'f32', n: rows, tol: statTol }, { dtype: 'f32', n: rows, tol: statTol }],
                  ([xh, wh, bh], [out, mean, rstd], off) => nb.norm(xh as number, off, hasW ? (wh as number) : 0, off, hasW ? (bh as number) : 0, off,
                    out as number, off, mean as number, off, rstd as number, off, rows, cols, 1e-5, code(dtype), code(wDtype), rms), offset);
              }
              // Backward with statistics from the CPU forward (identical inputs on both devices).
              const stats = runOn(CPU, [{ dtype, values: x }], [{ dtype, n }, { dtype: 'f32', n: rows }, { dtype: 'f32', n: rows }], 0,
                ([xh], [out, mean, rstd]) => nb.norm(xh as number, 0, 0, 0, 0, 0, out as number, 0, mean as number, 0, rstd as number, 0, rows, cols, 1e-5, code(dtype), code(wDtype), rms));
              const [, mean, rstd] = stats as [number[], number[], number[]];
              // gw/gb: the CPU adds rows one after another in fp32, so its rounding grows with rows.
              const sumTol: Tol = { rtol: 1e-4, atol: 2e-6 * rows + 1e-5 };
              for (const wants of [[true, true], [true, false], [false, false]]) {
                const [wantW, wantB] = wants as [boolean, boolean];
                parity(`normBackward gw=${wantW} gb=${wantB}`,
                  [{ dtype, values: gy }, { dtype, values: x }, { dtype: wDtype, values: w }, { dtype: 'f32', values: mean }, { dtype: 'f32', values: rstd }],
                  [{ dtype, n, tol: scaled(PARITY[dtype]!, 100) }, { dtype: 'f32', n: cols, tol: sumTol }, { dtype: 'f32', n: cols, tol: sumTol }],
                  ([gh, xh, wh, mh, rh], [gx, gw, gb], off) => nb.normBackward(gh as number, off, xh as number, off, wh as number, off,
                    mh as number, off, rh as number, off, gx as number, off, wantW ? (gw as number) : 0, off, wantB ? (gb as number) : 0, off,
                    rows, cols, code(dtype), code(wDtype), rms), offset);
              }
            });
          }
        }
      }
    }
  });

  describe('crossEntropy', () => {
    const vocabs: [number, number, number][] = [[37, 1, 0], [37, 17, 0], [20, 1000, 0], [9, 4096, 0], [7, 50_257, 0], [9, 4096, 1]];
    for (const dtype of FLOATS) {
      for (const [rows, vocab, offset] of vocabs) {
        for (const s of [0, 0.1]) {
          it(`${dtype} [${rows}, ${vocab}] smoothing ${s} offset ${offset}`, () => {
            const logits = quantize(dtype, fresh(rows * vocab, -6, 6));
            const labels = fresh(rows, 0, vocab).map(Math.floor);
            labels[2] = -100;
            const labelDtype = vocab % 2 ? 'i64' : 'i32';
            const lossTol = { rtol: 1e-5, atol: dtype === 'f64' ? 1e-6 : 1e-5 };
            parity('crossEntropy', [{ dtype, values: logits }, { dtype: labelDtype, values: labels }],
              [{ dtype: 'f32', n: rows, tol: lossTol }, { dtype: 'f32', n: rows, tol: lossTol }],
              ([lh, labh], [loss, lse], off) => nb.crossEntropy(lh as number, off, labh as number, off, code(labelDtype),
                loss as number, off, lse as number, off, rows, vocab, code(dtype), -100, s), offset);
            const lse = fresh(rows, 2, 12);
            const gloss = fresh(rows, 0.5, 2);
            parity('crossEntropyBackward',
              [{ dtype, values: logits }, { dtype: labelDtype, values: labels }, { dtype: 'f32', values: lse }, { dtype: 'f32', values: gloss }],
              [{ dtype, n: rows * vocab }],
              ([lh, labh, lseh, gh], [g], off) => nb.crossEntropyBackward(lh as number, off, labh as number, off, code(labelDtype),
                lseh as number, off, gh as number, off, g as number, off, rows, vocab, code(dtype), -100, s), offset);
          });
        }
      }
    }

    it('records a label outside the vocab and raises it at the next synchronize', () => {
      for (const backward of [false, true]) {
        const rows = 4, vocab = 17;
        const h = (dtype: DTypeName, values: number[]) => {
          const k = nb.alloc(GPU, values.length * bytesOf(dtype));
          nb.write(k, 0, encode(dtype, values));
          return k;
        };
        const logits = h('f32', fresh(rows * vocab)), labels = h('i64', [0, 17, 3, -100]);
        const f = h('f32', fresh(rows)), g = h('f32', fresh(rows)), gl = h('f32', fresh(rows * vocab));
        if (backward) nb.crossEntropyBackward(logits, 0, labels, 0, code('i64'), f, 0, g, 0, gl, 0, rows, vocab, code('f32'), -100, 0);
        else nb.crossEntropy(logits, 0, labels, 0, code('i64'), f, 0, g, 0, rows, vocab, code('f32'), -100, 0);
        assert.throws(() => nb.synchronize(GPU), /label is out of range.*got 17, valid range \[0, 17\)/);
        nb.synchronize(GPU);  // the error word was cleared
        for (const k of [logits, labels, f, g, gl]) nb.free(k);
      }
    });
  });
});
