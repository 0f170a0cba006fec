// Bandwidth of the row kernels on cuda:0 in bf16: LayerNorm and RMSNorm forward/backward,
// softmax forward/backward and cross entropy forward/backward at a few large sizes.
// Run on a CUDA machine with Node 24: `node bench/kernels/rows.bench.ts`. Each case warms up, then
// times ITERS launches one by one with CUDA events on the current stream and reports the median.
// Bytes count every tensor read once plus every tensor written once; the fraction is of 4300 GB/s
// (a device-to-device copy on an H200). Inputs rotate among several buffer sets so the data does
// not sit in L2. Results: $OUT/rows.json when OUT is set, else bench/results/rows-local.json.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DTYPE_CODES, type DTypeCode, loadNative } from '../../native/src/index.ts';

const PEAK_GBS = 4300;
const WARMUP = 5;
const ITERS = Number(process.env.ROWS_BENCH_ITERS ?? 30);
const DEV = 0;
const BF16 = DTYPE_CODES.bf16, F32 = DTYPE_CODES.f32, I64 = DTYPE_CODES.i64;

const { binding: nb, variant } = loadNative();
if (!nb.buildInfo().cuda || nb.cudaDeviceCount() === 0) {
  console.log(`rows.bench: no CUDA device (loaded the ${variant} build, ${nb.cudaDeviceCount()} CUDA devices); nothing to measure.`);
  process.exit(0);
}
const props = nb.cudaDeviceProperties(DEV);

// ---- buffers --------------------------------------------------------------------------------------
interface Buf { h: number; bytes: number }
const live: number[] = [];
let seed = 1;

/** A device buffer of n elements of a float dtype, filled with normal(mean, std) values. */
function randn(n: number, dtype: DTypeCode, mean = 0, std = 1): Buf {
  const size = dtype === F32 ? 4 : 2;
  const h = nb.alloc(DEV, n * size);
  nb.random(h, 0, n, dtype, 1, mean, std, seed++, 0);
  live.push(h);
  return { h, bytes: n * size };
}
function zeros(bytes: number): Buf {
  const h = nb.alloc(DEV, bytes);
  live.push(h);
  return { h, bytes };
}
function labels(rows: number, vocab: number): Buf {
  const v = new BigInt64Array(rows);
  for (let i = 0; i < rows; i++) v[i] = i % 97 === 0 ? -100n : BigInt((i * 7919) % vocab);
  const h = nb.alloc(DEV, rows * 8);
  nb.write(h, 0, v);
  live.push(h);
  return { h, bytes: rows * 8 };
}
function freeAll(): void {
  nb.synchronize(DEV);
  while (live.length) nb.free(live.pop() as number);
}

// Enough independent buffer sets that one pass over all of them is at least 3x the L2 cache.
const setsFor = (bytesPerCall: number) => Math.min(8, Math.max(1, Math.ceil((3 * props.l2CacheBytes) / bytesPerCall)));

// ---- timing -------------------------------------------------------------------------------------
const stream = nb.currentStream(DEV);
const start = nb.eventCreate(DEV, true), stop = nb.eventCreate(DEV, true);

function timeMedianMs(run: (i: number) => void): number {
  for (let i = 0; i < WARMUP; i++) run(i);
  nb.synchronize(DEV);
  const times: number[] = [];
  for (let i = 0; i < ITERS; i++) {
    nb.eventRecord(start, stream);
    run(i);
    nb.eventRecord(stop, stream);
    nb.eventSynchronize(stop);
    times.push(nb.eventElapsedMs(start, stop));
  }
  nb.synchronize(DEV);  // raises any device-side error
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)] as number;
}

interface Result { kernel: string; rows: number; cols: number; medianUs: number; bytes: number; gbs: number; fractionOfPeak: number }
const results: Result[] = [];

function record(kernel: string, rows: number, cols: number, bytes: number, ms: number): void {
  const gbs = bytes / (ms * 1e-3) / 1e9;
  results.push({ kernel, rows, cols, medianUs: ms * 1e3, bytes, gbs, fractionOfPeak: gbs / PEAK_GBS });
}

// ---- cases ----------------------------------------------------------------------------------------
function benchNorm(rows: number, cols: number, rms: boolean): void {
  const n = rows * cols;
  const name = rms ? 'rmsnorm' : 'layernorm';
  const fwdBytes = n * 2 * 2 + rows * (rms ? 4 : 8) + cols * 2 * (rms ? 1 : 2);
  const bwdBytes = n * 2 * 3 + rows * (rms ? 4 : 8) + cols * 2 + cols * 4 * (rms ? 1 : 2);
  const sets = Array.from({ length: setsFor(n * 6) }, () => ({
    x: randn(n, BF16, 0.5), gy: randn(n, BF16), out: zeros(n * 2),
    mean: zeros(rows * 4), rstd: zeros(rows * 4),
  }));
  const w = randn(cols, BF16, 1, 0.1), b = randn(cols, BF16, 0, 0.1);
  const gw = zeros(cols * 4), gb = zeros(cols * 4);
  const fwd = (i: number) => {
    const s = sets[i % sets.length]!;
    nb.norm(s.x.h, 0, w.h, 0, rms ? 0 : b.h, 0, s.out.h, 0, rms ? 0 : s.mean.h, 0, s.rstd.h, 0, rows, cols, 1e-5, BF16, BF16, rms);
  };
  record(`${name} fwd`, rows, cols, fwdBytes, timeMedianMs(fwd));
  for (let i = 0; i < sets.length; i++) fwd(i);  // statistics for the backward
  record(`${name} bwd`, rows, cols, bwdBytes, timeMedianMs((i) => {
    const s = sets[i % sets.length]!;
    nb.normBackward(s.gy.h, 0, s.x.h, 0, w.h, 0, rms ? 0 : s.mean.h, 0, s.rstd.h, 0, s.out.h, 0, gw.h, 0, rms ? 0 : gb.h, 0,
      rows, cols, BF16, BF16, rms);
  }));
  freeAll();
}

function benchSoftmax(rows: number, cols: number): void {
  const n = rows * cols;
  const sets = Array.from({ length: setsFor(n * 6) }, () => ({ x: randn(n, BF16, 0, 3), gy: randn(n, BF16), y: zeros(n * 2), gx: zeros(n * 2) }));
  const fwd = (i: number) => {
    const s = sets[i % sets.length]!;
    nb.softmax(s.x.h, 0, s.y.h, 0, rows, cols, 1, BF16, false);
  };
  record('softmax fwd', rows, cols, n * 4, timeMedianMs(fwd));
  for (let i = 0; i < sets.length; i++) fwd(i);
  record('softmax bwd', rows, cols, n * 6, timeMedianMs((i) => {
    const s = sets[i % sets.length]!;
    nb.softmaxBackward(s.y.h, 0, s.gy.h, 0, s.gx.h, 0, rows, cols, 1, BF16, false);
  }));
  freeAll();
}

function benchCrossEntropy(rows: number, vocab: number): void {
  const n = rows * vocab;
  const sets = Array.from({ length: setsFor(n * 4) }, () => ({
    logits: randn(n, BF16, 0, 2), g: zeros(n * 2), loss: zeros(rows * 4), lse: zeros(rows * 4),
  }));
  const lab = labels(rows, vocab);
  const gloss = randn(rows, F32, 1 / rows, 0);
  const fwd = (i: number) => {
    const s = sets[i % sets.length]!;
    nb.crossEntropy(s.logits.h, 0, lab.h, 0, I64, s.loss.h, 0, s.lse.h, 0, rows, vocab, BF16, -100, 0.1);
  };
  record('xent fwd', rows, vocab, n * 2 + rows * 16, timeMedianMs(fwd));
  for (let i = 0; i < sets.length; i++) fwd(i);
  record('xent bwd', rows, vocab, n * 4 + rows * 16, timeMedianMs((i) => {
    const s = sets[i % sets.length]!;
    nb.crossEntropyBackward(s.logits.h, 0, lab.h, 0, I64, s.lse.h, 0, gloss.h, 0, s.g.h, 0, rows, vocab, BF16, -100, 0.1);
  }));
  freeAll();
}

const NORM_SHAPES: [number, number][] = [[65536, 1024], [32768, 2048], [16384, 4096], [16384, 8192], [65536, 8192]];
for (const [rows, cols] of NORM_SHAPES) {
  benchNorm(rows, cols, false);
  benchNorm(rows, cols, true);
}
for (const [rows, cols] of [[65536, 1024], [16384, 4096], [16384, 8192], [4096, 32768]] as [number, number][]) benchSoftmax(rows, cols);
for (const [rows, vocab] of [[8192, 32000], [8192, 50257], [4096, 128256]] as [number, number][]) benchCrossEntropy(rows, vocab);

nb.eventDestroy(start);
nb.eventDestroy(stop);

// ---- report -------------------------------------------------------------------------------------
const pad = (s: string, w: number) => s.padEnd(w);
console.log(`\nrow kernels, bf16, ${props.name}; median of ${ITERS}; % of ${PEAK_GBS} GB/s`);
console.log(`${pad('kernel', 15)}${pad('rows x cols', 16)}${'us'.padStart(10)}${'GB/s'.padStart(9)}${'%'.padStart(7)}`);
for (const r of results)
  console.log(`${pad(r.kernel, 15)}${pad(`${r.rows} x ${r.cols}`, 16)}${r.medianUs.toFixed(1).padStart(10)}${r.gbs.toFixed(0).padStart(9)}${(r.fractionOfPeak * 100).toFixed(1).padStart(7)}`);

const here = dirname(fileURLToPath(import.meta.url));
const file = process.env.OUT ? join(process.env.OUT, 'rows.json') : resolve(here, '../results/rows-local.json');
mkdirSync(dirname(file), { recursive: true });
writeFileSync(file, `${JSON.stringify({ device: props.name, peakGBs: PEAK_GBS, iterations: ITERS, dtype: 'bf16', results }, null, 2)}\n`);
console.log(`wrote ${file}`);
