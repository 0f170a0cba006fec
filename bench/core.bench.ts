// Issue-2 benchmarks through the Tessera API on a CUDA device, beside PyTorch in the same run:
// bf16 GEMM TFLOP/s, the launch overhead of a small op, and the bandwidth of LayerNorm, softmax,
// GELU and casts. Prints a table and writes JSON to $OUT/core-bench.json (or bench/results/).
//
//   node --conditions=@tessera/source bench/core.bench.ts [--no-torch]
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  cudaAvailable, cudaDeviceCount, matmul, noGrad, randn, scope, synchronize, tensor,
} from '../packages/core/src/index.ts';
import * as k from '../packages/core/src/kernels.ts';
import { nb } from '../packages/core/src/native.ts';
import { timeEachMs, timeMs } from './common/timing.ts';

const COPY_GBPS = 4300; // measured device-to-device copy bandwidth of the H200 (read + write)
const CUBLASLT_TFLOPS = 807; // bare cuBLASLt bf16 8192^3 from a Node addon on this card
const SPEC = { gemm: [4096, 8192], layernorm: [32768, 4096], softmax: [131072, 1024], pointwise: 2 ** 28 };

if (!cudaAvailable()) {
  console.log('core.bench: no CUDA device (this benchmark needs the GPU machine); nothing measured.');
  process.exit(0);
}
const dev = 'cuda:0';


interface Row { name: string; value: number; unit: string; ceiling?: number; torch?: number; higherIsBetter: boolean }
const rows: Row[] = [];

noGrad(() => {
  // ---- GEMM ----
  for (const n of SPEC.gemm) {
    scope(() => {
      const a = randn([n, n], { dtype: 'bf16', device: dev });
      const b = randn([n, n], { dtype: 'bf16', device: dev });
      const ms = timeMs(dev, () => void matmul(a, b), { warmup: 5, reps: 30 });
      rows.push({ name: `gemm ${n}^3 bf16`, value: (2 * n ** 3) / ms / 1e9, unit: 'TFLOP/s', ceiling: CUBLASLT_TFLOPS, higherIsBetter: true });
      const steady = timeMs(dev, () => void matmul(a, b), { calls: 20, reps: 10 });
      rows.push({ name: `gemm ${n}^3 bf16, 20 calls back to back`, value: (2 * n ** 3) / steady / 1e9, unit: 'TFLOP/s', ceiling: CUBLASLT_TFLOPS, higherIsBetter: true });
      // The method that measured the 807 ceiling through the bare binding (gemm.bench.ts).
      const each = timeEachMs(dev, () => void matmul(a, b));
      rows.push({ name: `gemm ${n}^3 bf16, binding-bench method (cool-down, 30 calls, each timed)`, value: (2 * n ** 3) / each / 1e9, unit: 'TFLOP/s', ceiling: CUBLASLT_TFLOPS, higherIsBetter: true });
    });
  }

  // ---- bandwidth-bound ops: GB/s counting each input read once and each output written once ----
  const gbps = (bytes: number, ms: number) => bytes / ms / 1e6;
  scope(() => {
    const [r, c] = SPEC.layernorm as [number, number];
    const x = randn([r, c], { dtype: 'bf16', device: dev });
    const w = randn([c], { dtype: 'bf16', device: dev });
    const b = randn([c], { dtype: 'bf16', device: dev });
    const { out, mean, rstd } = k.norm(x, w, b, c, 1e-5, false);
    const fwd = timeMs(dev, () => void k.norm(x, w, b, c, 1e-5, false));
    rows.push({ name: `layernorm fwd [${r}, ${c}]`, value: gbps(2 * x.numel * 2, fwd), unit: 'GB/s', ceiling: COPY_GBPS, higherIsBetter: true });
    const bwd = timeMs(dev, () => void k.normBackward(out, x, w, mean, rstd, c, false, true, true));
    rows.push({ name: `layernorm bwd [${r}, ${c}]`, value: gbps(3 * x.numel * 2, bwd), unit: 'GB/s', ceiling: COPY_GBPS, higherIsBetter: true });
  });
  scope(() => {
    const [r, c] = SPEC.softmax as [number, number];
    const x = randn([r, c], { dtype: 'bf16', device: dev });
    const y = k.softmax(x, 1, false);
    const fwd = timeMs(dev, () => void k.softmax(x, 1, false));
    rows.push({ name: `softmax fwd [${r}, ${c}]`, value: gbps(2 * x.numel * 2, fwd), unit: 'GB/s', ceiling: COPY_GBPS, higherIsBetter: true });
    const bwd = timeMs(dev, () => void k.softmaxBackward(y, x, 1, false));
    rows.push({ name: `softmax bwd [${r}, ${c}]`, value: gbps(3 * x.numel * 2, bwd), unit: 'GB/s', ceiling: COPY_GBPS, higherIsBetter: true });
  });
  scope(() => {
    const n = SPEC.pointwise;
    const x = randn([n], { dtype: 'bf16', device: dev });
    const fwd = timeMs(dev, () => void k.unary('geluTanh', x));
    rows.push({ name: `gelu fwd [2^28] bf16`, value: gbps(2 * n * 2, fwd), unit: 'GB/s', ceiling: COPY_GBPS, higherIsBetter: true });
    const bwd = timeMs(dev, () => void k.unaryBackward('geluTanh', x, x));
    rows.push({ name: `gelu bwd [2^28] bf16`, value: gbps(3 * n * 2, bwd), unit: 'GB/s', ceiling: COPY_GBPS, higherIsBetter: true });
    const f = randn([n], { dtype: 'f32', device: dev });
    const down = timeMs(dev, () => void k.cast(f, 'bf16'));
    rows.push({ name: 'cast f32->bf16 [2^28]', value: gbps(n * 6, down), unit: 'GB/s', ceiling: COPY_GBPS, higherIsBetter: true });
    const up = timeMs(dev, () => void k.cast(x, 'f32'));
    rows.push({ name: 'cast bf16->f32 [2^28]', value: gbps(n * 6, up), unit: 'GB/s', ceiling: COPY_GBPS, higherIsBetter: true });
  });

  // ---- launch overhead: a 1-element add from JS, output allocated and freed each time ----
  scope(() => {
    const a = tensor([1], { device: dev });
    const iters = 100000;
    for (let i = 0; i < 1000; i++) a.add(a).dispose();
    synchronize(dev);
    const t0 = performance.now();
    for (let i = 0; i < iters; i++) a.add(a).dispose();
    synchronize(dev);
    rows.push({ name: 'launch overhead: 1-element add (tensor API)', value: ((performance.now() - t0) / iters) * 1000, unit: 'us', higherIsBetter: false });
    const out = k.empty([1], 'f32', dev);
    const t1 = performance.now();
    for (let i = 0; i < iters; i++) nb.binary(0, a.handle, 0, [1], a.handle, 0, [1], out.handle, 0, [1], 0);
    synchronize(dev);
    rows.push({ name: 'launch overhead: 1-element add (binding call)', value: ((performance.now() - t1) / iters) * 1000, unit: 'us', higherIsBetter: false });
  });
});

// ---- PyTorch in the same run ----
let torch: { torch?: string; device?: string; results?: Record<string, { ms?: number; tflops?: number; us?: number }> } = {};
if (!process.argv.includes('--no-torch')) {
  const r = spawnSync('python3', [join(import.meta.dirname, 'reference', 'core_ops.py'), JSON.stringify(SPEC)], { encoding: 'utf8' });
  if (r.status === 0) torch = JSON.parse(r.stdout);
  else console.log(`PyTorch reference failed: ${r.stderr.split('\n').slice(-3).join(' ')}`);
}
const t = torch.results ?? {};
const torchValue: Record<string, number | undefined> = {};
for (const n of SPEC.gemm) {
  torchValue[`gemm ${n}^3 bf16`] = t[`gemm ${n}^3`]?.tflops;
  torchValue[`gemm ${n}^3 bf16, 20 calls back to back`] = t[`gemm ${n}^3 back to back`]?.tflops;
  torchValue[`gemm ${n}^3 bf16, binding-bench method (cool-down, 30 calls, each timed)`] = t[`gemm ${n}^3 after cool-down`]?.tflops;
}
const bytesOf: Record<string, [string, number]> = {};
const [lr, lc] = SPEC.layernorm as [number, number];
const [sr, sc] = SPEC.softmax as [number, number];
bytesOf[`layernorm fwd [${lr}, ${lc}]`] = ['layernorm fwd', 2 * lr * lc * 2];
bytesOf[`layernorm bwd [${lr}, ${lc}]`] = ['layernorm bwd', 3 * lr * lc * 2];
bytesOf[`softmax fwd [${sr}, ${sc}]`] = ['softmax fwd', 2 * sr * sc * 2];
bytesOf[`softmax bwd [${sr}, ${sc}]`] = ['softmax bwd', 3 * sr * sc * 2];
bytesOf['gelu fwd [2^28] bf16'] = ['gelu fwd', 2 * SPEC.pointwise * 2];
bytesOf['gelu bwd [2^28] bf16'] = ['gelu bwd', 3 * SPEC.pointwise * 2];
bytesOf['cast f32->bf16 [2^28]'] = ['cast f32->bf16', 6 * SPEC.pointwise];
bytesOf['cast bf16->f32 [2^28]'] = ['cast bf16->f32', 6 * SPEC.pointwise];
for (const [name, [key, bytes]] of Object.entries(bytesOf)) {
  const ms = t[key]?.ms;
  torchValue[name] = ms ? bytes / ms / 1e6 : undefined;
}
torchValue['launch overhead: 1-element add (tensor API)'] = t['launch overhead']?.us;
for (const row of rows) row.torch = torchValue[row.name];

const props = nb.cudaDeviceProperties(0);
console.log(`\n${props.name}, ${cudaDeviceCount()} device(s); PyTorch ${torch.torch ?? 'not run'}`);
console.log('| benchmark | Tessera | of ceiling | PyTorch | Tessera / PyTorch |');
console.log('|---|---:|---:|---:|---:|');
for (const r of rows) {
  const ratio = r.torch ? (r.higherIsBetter ? r.value / r.torch : r.torch / r.value) : undefined;
  console.log(
    `| ${r.name} | ${r.value.toFixed(r.unit === 'us' ? 2 : 0)} ${r.unit} | ${r.ceiling ? `${((100 * r.value) / r.ceiling).toFixed(1)}%` : ''} | ${r.torch ? `${r.torch.toFixed(r.unit === 'us' ? 2 : 0)} ${r.unit}` : ''} | ${ratio ? ratio.toFixed(2) : ''} |`,
  );
}
const outDir = process.env.OUT ?? join(import.meta.dirname, 'results');
mkdirSync(outDir, { recursive: true });
writeFileSync(join(outDir, 'core-bench.json'), JSON.stringify({ date: new Date().toISOString(), device: props.name, rows, torch }, null, 2));
