// Bandwidth of the CUDA pointwise and index kernels at the binding level, on cuda:0: GELU (tanh)
// forward and backward, SiLU, add, casts f32 <-> bf16, copy, embedding forward (indexSelect) and
// backward (indexAdd), each at about 2^28 elements; plus the per-call overhead of a tiny op from JS.
// GB/s counts every input read once and every output written once (index-add: each gradient read
// once, each f32 accumulator element read and written once per add), over the median of CUDA-event
// timings after warm-up; "% peak" is against the 4300 GB/s device-to-device copy of the H200.
// Prints a table; writes JSON to $OUT/pointwise.json when OUT is set, else bench/results/.
//
//   node bench/kernels/pointwise.bench.ts
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BINARY_OPS, DTYPE_CODES, type DTypeName, loadNative, UNARY_OPS } from '../../native/src/index.ts';

const PEAK_GBPS = 4300;
const N = 2 ** 28;
const DEV = 0;
const nb = loadNative().binding;

if (!nb.buildInfo().cuda || nb.cudaDeviceCount() === 0) {
  console.log('pointwise.bench: no CUDA device in this build or machine (run it on the GPU machine); nothing measured.');
  process.exit(0);
}

const BYTES: Record<DTypeName, number> = { f32: 4, f64: 8, f16: 2, bf16: 2, i32: 4, i64: 8, bool: 1 };
const live: number[] = [];
function tensor(dtype: DTypeName, n: number, init: 'uniform' | 'zero' | 'none' = 'uniform'): number {
  const h = nb.alloc(DEV, n * BYTES[dtype]);
  live.push(h);
  if (init === 'uniform') nb.random(h, 0, n, DTYPE_CODES[dtype], 0, -3, 3, live.length, 0);
  else if (init === 'zero') nb.fill(h, 0, n, DTYPE_CODES[dtype], 0);
  return h;
}
function freeAll(): void {
  nb.synchronize(DEV);
  while (live.length) nb.free(live.pop() as number);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

/** Median milliseconds of `fn` on the current stream, by CUDA events, after warm-up runs. */
function timeMs(fn: () => void, warmup = 3, reps = 15): number {
  const stream = nb.currentStream(DEV);
  const start = nb.eventCreate(DEV, true);
  const end = nb.eventCreate(DEV, true);
  for (let i = 0; i < warmup; i++) fn();
  nb.synchronize(DEV);
  const times: number[] = [];
  for (let i = 0; i < reps; i++) {
    nb.eventRecord(start, stream);
    fn();
    nb.eventRecord(end, stream);
    nb.eventSynchronize(end);
    times.push(nb.eventElapsedMs(start, end));
  }
  nb.eventDestroy(start);
  nb.eventDestroy(end);
  nb.synchronize(DEV); // surfaces any device error the kernels recorded
  return median(times);
}

interface Row { name: string; elements: number; bytes: number; ms: number; gbps: number; peakFraction: number }
const rows: Row[] = [];
function measure(name: string, elements: number, bytes: number, fn: () => void): void {
  const ms = timeMs(fn);
  const gbps = bytes / ms / 1e6;
  rows.push({ name, elements, bytes, ms, gbps, peakFraction: gbps / PEAK_GBPS });
  console.log(`  ${name.padEnd(40)} ${ms.toFixed(3).padStart(8)} ms ${gbps.toFixed(0).padStart(6)} GB/s ${(100 * gbps / PEAK_GBPS).toFixed(1).padStart(5)}%`);
}

console.log(`pointwise.bench on ${nb.cudaDeviceProperties(DEV).name}, ${N} elements (2^${Math.log2(N)})`);

for (const dtype of ['bf16', 'f32'] as const) {
  const c = DTYPE_CODES[dtype], b = BYTES[dtype];
  const x = tensor(dtype, N), gy = tensor(dtype, N), y = tensor(dtype, N, 'none');
  measure(`gelu tanh fwd ${dtype}`, N, 2 * N * b, () => nb.unary(UNARY_OPS.geluTanh, x, 0, y, 0, N, c, 0, 0));
  measure(`gelu tanh bwd ${dtype}`, N, 3 * N * b, () => nb.unaryBackward(UNARY_OPS.geluTanh, x, 0, gy, 0, y, 0, N, c, 0, 0));
  measure(`silu fwd ${dtype}`, N, 2 * N * b, () => nb.unary(UNARY_OPS.silu, x, 0, y, 0, N, c, 0, 0));
  measure(`add ${dtype}`, N, 3 * N * b, () => nb.binary(BINARY_OPS.add, x, 0, [1], gy, 0, [1], y, 0, [N], c));
  measure(`copy ${dtype}`, N, 2 * N * b, () => nb.copyStrided(x, 0, [1], y, 0, [1], [N], c));
  freeAll();
}
{
  const f = tensor('f32', N), h = tensor('bf16', N);
  measure('cast f32 -> bf16', N, 6 * N, () => nb.cast(f, 0, DTYPE_CODES.f32, h, 0, DTYPE_CODES.bf16, N));
  measure('cast bf16 -> f32', N, 6 * N, () => nb.cast(h, 0, DTYPE_CODES.bf16, f, 0, DTYPE_CODES.f32, N));
  freeAll();
}
{
  // A bias-style broadcast add and a transposing copy: the strided paths.
  const rowsN = 2 ** 16, cols = 2 ** 12;
  const x = tensor('bf16', N), bias = tensor('bf16', cols), y = tensor('bf16', N, 'none');
  measure('add bias row (strided) bf16', N, 2 * N * 2, () => nb.binary(BINARY_OPS.add, x, 0, [cols, 1], bias, 0, [0, 1], y, 0, [rowsN, cols], DTYPE_CODES.bf16));
  // x as [S = 2^14, H = 128, D = 128] copied to [H, S, D]: iterate the output's order
  measure('copy [S,H,D] -> [H,S,D] bf16', N, 2 * N * 2, () => nb.copyStrided(x, 0, [128, 2 ** 14, 1], y, 0, [2 ** 21, 128, 1], [128, 2 ** 14, 128], DTYPE_CODES.bf16));
  freeAll();
}
{
  // Embedding: vocab 50304 x hidden 4096 in bf16, 32768 tokens (2^27 output elements).
  const vocab = 50304, hidden = 4096, tokens = 2 ** 15;
  const table = tensor('bf16', vocab * hidden);
  // random token ids: uniform floats in [0, vocab - 1) truncated to i64 (random has no integer dtype)
  const ids = tensor('i64', tokens, 'none');
  const idsF = tensor('f32', tokens, 'none');
  nb.random(idsF, 0, tokens, DTYPE_CODES.f32, 0, 0, vocab - 1, 5, 0);
  nb.cast(idsF, 0, DTYPE_CODES.f32, ids, 0, DTYPE_CODES.i64, tokens);
  const out = tensor('bf16', tokens * hidden, 'none');
  const e = tokens * hidden;
  measure('embedding fwd (indexSelect) bf16', e, 2 * e * 2 + tokens * 8, () =>
    nb.indexSelect(table, 0, 1, vocab, hidden, DTYPE_CODES.bf16, ids, 0, DTYPE_CODES.i64, tokens, out, 0));
  const grad = tensor('f32', vocab * hidden, 'zero');
  measure('embedding bwd (indexAdd) bf16 -> f32', e, e * 2 + 2 * e * 4 + tokens * 8, () =>
    nb.indexAdd(out, 0, DTYPE_CODES.bf16, 1, tokens, hidden, ids, 0, DTYPE_CODES.i64, grad, 0, vocab, DTYPE_CODES.f32));
  freeAll();
}

// Launch overhead of a tiny op from JS: wall time per call over 1e5 calls, one sync at the end.
// The binary add (strides and shape cross as arrays) is the headline; unary and fill show how much
// of it is argument parsing rather than the launch.
const calls = 100_000;
const a = tensor('f32', 1), b = tensor('f32', 1), o = tensor('f32', 1, 'none');
const tinyOps: Record<string, () => void> = {
  add: () => nb.binary(BINARY_OPS.add, a, 0, [1], b, 0, [1], o, 0, [1], DTYPE_CODES.f32),
  unary: () => nb.unary(UNARY_OPS.neg, a, 0, o, 0, 1, DTYPE_CODES.f32, 0, 0),
  fill: () => nb.fill(o, 0, 1, DTYPE_CODES.f32, 1),
};
const overheadUs: Record<string, number> = {};
for (const [name, call] of Object.entries(tinyOps)) {
  for (let i = 0; i < 1000; i++) call();
  nb.synchronize(DEV);
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < calls; i++) call();
  nb.synchronize(DEV);
  overheadUs[name] = Number(process.hrtime.bigint() - t0) / 1e3 / calls;
  console.log(`  launch overhead, 1-element ${name.padEnd(5)} from JS: ${(overheadUs[name] as number).toFixed(2)} us per call (${calls} calls, one sync)`);
}
freeAll();

const result = {
  device: nb.cudaDeviceProperties(DEV).name,
  elements: N,
  peakGBps: PEAK_GBPS,
  rows,
  launchOverheadUs: overheadUs.add,
  launchOverheadUsByOp: overheadUs,
  when: new Date().toISOString(),
};
const outPath = process.env.OUT
  ? join(process.env.OUT, 'pointwise.json')
  : join(dirname(fileURLToPath(import.meta.url)), '..', 'results', 'pointwise-local.json');
mkdirSync(dirname(outPath), { recursive: true });
writeFileSync(outPath, `${JSON.stringify(result, null, 2)}\n`);
console.log(`wrote ${outPath}`);
