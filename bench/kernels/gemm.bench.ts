// GEMM throughput on cuda:0 through the binding's matmul (cuBLASLt): bf16 squares at 4096^3 and
// 8192^3, then GPT-2 (124M) and GPT-2 large training shapes at 16 x 1024 tokens: forward, both
// backward GEMMs, and the weight gradient accumulated into an fp32 main grad (beta = 1).
//
//   node bench/kernels/gemm.bench.ts                 both modes: heuristic plans, then autotuned
//   node bench/kernels/gemm.bench.ts --mode=heuristic  (or --mode=autotune) one mode only
//   node bench/kernels/gemm.bench.ts --filter=square   only the shapes whose name contains 'square'
//   TESSERA_GEMM_AUTOTUNE=2 node bench/kernels/gemm.bench.ts   also print each autotuned key's timings
//
// Each mode runs in its own process, since TESSERA_GEMM_AUTOTUNE is read once per process. Timing:
// CUDA events around each call on the current stream, warm-up first (it also runs any autotuning),
// median of RUNS calls; inputs are random (never zeros, which run faster) and rotate over enough
// buffer sets to defeat the L2. The H200 slows by ~15% after a few hundred ms of sustained GEMMs
// (power limit), so each shape starts after an idle cool-down (--cooldown=MS, default 1500) and
// its timed burst lasts well under that: like the burst that measured the 807 reference.
// Results print as TFLOP/s and as a fraction of 807 TFLOP/s (bare cuBLASLt, bf16 8192^3, H200),
// and go to $OUT/gemm.json when OUT is set, else bench/results/gemm-local.json.
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DTYPE_CODES, type DTypeName, loadNative } from '../../native/src/index.ts';

const REFERENCE_TFLOPS = 807;
const WARMUP = 5;
const RUNS = 30;
const ROTATE_BYTES = 512 * 2 ** 20; // inputs touched between two uses of one buffer set (L2 is 60 MB)

interface Shape {
  name: string;
  m: number;
  n: number;
  k: number;
  transA?: boolean;
  transB?: boolean;
  ab?: DTypeName;
  c?: DTypeName;
  beta?: number;
  bias?: boolean;
}

const T = 16 * 1024; // tokens per step
const D = 768;
const L = 1280; // GPT-2 large
const SHAPES: Shape[] = [
  { name: 'square 4096', m: 4096, n: 4096, k: 4096 },
  { name: 'square 8192', m: 8192, n: 8192, k: 8192 },
  { name: 'qkv fwd (X W^T + b)', m: T, n: 3 * D, k: D, transB: true, bias: true },
  { name: 'attn proj fwd', m: T, n: D, k: D, transB: true, bias: true },
  { name: 'fc fwd (X W^T + b)', m: T, n: 4 * D, k: D, transB: true, bias: true },
  { name: 'fc bwd data (dY W)', m: T, n: D, k: 4 * D },
  { name: 'fc bwd weight (dY^T X)', m: 4 * D, n: D, k: T, transA: true },
  { name: 'fc bwd weight, fp32 main grad += ', m: 4 * D, n: D, k: T, transA: true, c: 'f32', beta: 1 },
  { name: 'proj fwd (H W^T + b)', m: T, n: D, k: 4 * D, transB: true, bias: true },
  { name: 'proj bwd data (dY W)', m: T, n: 4 * D, k: D },
  { name: 'proj bwd weight, fp32 main grad += ', m: D, n: 4 * D, k: T, transA: true, c: 'f32', beta: 1 },
  { name: 'lm head fwd (X E^T)', m: T, n: 50304, k: D, transB: true },
  // GPT-2 large (hidden 1280): the MLP's GEMMs, where the training step spends most of its time.
  { name: 'large fc1 fwd (X W^T + b)', m: T, n: 4 * L, k: L, transB: true, bias: true },
  { name: 'large fc1 bwd data (dY W)', m: T, n: L, k: 4 * L },
  { name: 'large fc1 bwd weight (dY^T X), bf16', m: 4 * L, n: L, k: T, transA: true },
  { name: 'large fc1 bwd weight, fp32 main grad += ', m: 4 * L, n: L, k: T, transA: true, c: 'f32', beta: 1 },
  { name: 'large fc2 fwd (H W^T + b)', m: T, n: L, k: 4 * L, transB: true, bias: true },
  { name: 'large fc2 bwd data (dY W)', m: T, n: 4 * L, k: L },
  { name: 'large fc2 bwd weight, fp32 main grad += ', m: L, n: 4 * L, k: T, transA: true, c: 'f32', beta: 1 },
];

const BYTES: Partial<Record<DTypeName, number>> = { f32: 4, f64: 8, f16: 2, bf16: 2 };
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

function measure(mode: string) {
  const nb = loadNative().binding;
  const dev = 0;
  const stream = nb.currentStream(dev);
  const results = [];
  let seed = 1;
  for (const s of SHAPES.filter((x) => x.name.includes(filter))) {
    const ab = s.ab ?? 'bf16', c = s.c ?? ab, beta = s.beta ?? 0;
    const abBytes = BYTES[ab] as number, cBytes = BYTES[c] as number;
    const setBytes = (s.m * s.k + s.k * s.n) * abBytes + s.m * s.n * cBytes;
    const sets = Math.max(1, Math.min(8, Math.ceil(ROTATE_BYTES / setBytes)));
    const bufs = Array.from({ length: sets }, () => {
      const h = {
        a: nb.alloc(dev, s.m * s.k * abBytes), b: nb.alloc(dev, s.k * s.n * abBytes),
        c: nb.alloc(dev, s.m * s.n * cBytes), bias: s.bias ? nb.alloc(dev, s.n * cBytes) : 0,
      };
      nb.random(h.a, 0, s.m * s.k, DTYPE_CODES[ab], 0, -1, 1, seed++, 0);
      nb.random(h.b, 0, s.k * s.n, DTYPE_CODES[ab], 0, -1, 1, seed++, 0);
      nb.random(h.c, 0, s.m * s.n, DTYPE_CODES[c], 0, -1, 1, seed++, 0);
      if (h.bias) nb.random(h.bias, 0, s.n, DTYPE_CODES[c], 0, -1, 1, seed++, 0);
      return h;
    });
    const call = (i: number) => {
      const h = bufs[i % sets] as (typeof bufs)[number];
      nb.matmul(h.a, 0, h.b, 0, h.c, 0, h.bias, 0, s.m, s.n, s.k, !!s.transA, !!s.transB, 1, 0, 0, 0,
        DTYPE_CODES[ab], DTYPE_CODES[c], DTYPE_CODES[c], 1, beta, 0, 0, 0, 0, 0, 0);
    };
    for (let i = 0; i < WARMUP; i++) call(i);
    nb.synchronize(dev);
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, cooldownMs); // let clocks recover
    const events = Array.from({ length: RUNS + 1 }, () => nb.eventCreate(dev, true));
    nb.eventRecord(events[0] as number, stream);
    for (let i = 0; i < RUNS; i++) {
      // Back-to-back calls: event i+1 closes call i and opens call i+1, so nothing idles between.
      call(WARMUP + i);
      nb.eventRecord(events[i + 1] as number, stream);
    }
    nb.eventSynchronize(events[RUNS] as number);
    const ms = Array.from({ length: RUNS }, (_, i) => nb.eventElapsedMs(events[i] as number, events[i + 1] as number));
    for (const e of events) nb.eventDestroy(e);
    for (const h of bufs) for (const x of [h.a, h.b, h.c, h.bias]) if (x) nb.free(x);
    nb.synchronize(dev);
    const flop = 2 * s.m * s.n * s.k;
    const tflops = flop / (median(ms) * 1e-3) / 1e12;
    results.push({
      name: s.name, m: s.m, n: s.n, k: s.k, transA: !!s.transA, transB: !!s.transB, ab, c, beta, bias: !!s.bias,
      bufferSets: sets, msMedian: median(ms), msMin: Math.min(...ms), tflops, fractionOf807: tflops / REFERENCE_TFLOPS,
    });
  }
  return { mode, device: nb.cudaDeviceProperties(dev).name, results };
}

function print(run: ReturnType<typeof measure>) {
  console.log(`\n${run.mode} plans on ${run.device} (median of ${RUNS}; bf16 unless noted):`);
  for (const r of run.results) {
    const types = r.ab === r.c ? r.ab : `${r.ab}->${r.c}`;
    console.log(`  ${r.name.padEnd(36)} ${`${r.m}x${r.n}x${r.k}`.padEnd(18)} ${types.padEnd(9)} ` +
      `${r.msMedian.toFixed(3).padStart(8)} ms ${r.tflops.toFixed(1).padStart(7)} TFLOP/s ` +
      `${(100 * r.fractionOf807).toFixed(1).padStart(6)}% of ${REFERENCE_TFLOPS}`);
  }
}

const option = (name: string) => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const modeArg = option('mode');
const filter = option('filter') ?? '';
const cooldownMs = Number(option('cooldown') ?? 1500);
// TESSERA_GEMM_AUTOTUNE=2 (autotune, printing each shape's candidate timings) carries into the autotune run.
const tuneLevel = process.env.TESSERA_GEMM_AUTOTUNE === '2' ? '2' : '1';
const native = loadNative().binding;
if (!native.buildInfo().cuda || native.cudaDeviceCount() === 0) {
  console.log(`gemm.bench: no CUDA device (the loaded build is the '${native.buildInfo().variant}' variant); ` +
    'run it on a GPU machine with the CUDA build. Nothing measured.');
  process.exit(0);
}

if (modeArg === 'heuristic' || modeArg === 'autotune') {
  // Single-mode (or child) run. The addon reads the variable at its first GEMM, so this sets it.
  process.env.TESSERA_GEMM_AUTOTUNE = modeArg === 'heuristic' ? '0' : tuneLevel;
  const run = measure(modeArg);
  if (process.argv.includes('--json')) console.log(JSON.stringify(run));
  else print(run);
} else {
  const runs = [];
  for (const mode of ['heuristic', 'autotune'] as const) {
    const args = [fileURLToPath(import.meta.url), `--mode=${mode}`, `--filter=${filter}`, `--cooldown=${cooldownMs}`, '--json'];
    const child = spawnSync(process.execPath, args, {
      env: { ...process.env, TESSERA_GEMM_AUTOTUNE: mode === 'autotune' ? tuneLevel : '0' },
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    if (child.status !== 0) throw new Error(`gemm.bench: the ${mode} run failed (exit ${child.status})`);
    const run = JSON.parse(child.stdout.trim().split('\n').pop() as string);
    print(run);
    runs.push(run);
  }
  const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
  const file = process.env.OUT ? join(process.env.OUT, 'gemm.json') : join(root, 'bench', 'results', 'gemm-local.json');
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, `${JSON.stringify({ date: new Date().toISOString(), referenceTflops: REFERENCE_TFLOPS, runsPerShape: RUNS, cooldownMs, runs }, null, 2)}\n`);
  console.log(`\nwrote ${file}`);
}
