// GPT-2 training steps on one GPU (forward, backward, AdamW with fp32 main weights), bf16 weights,
// sequence 1024: tokens/s, MFU (6N + 12·L·h·s FLOPs per token over 989 TFLOP/s) and peak memory,
// beside PyTorch (torch.compile and Transformers eager, bench/gpt/torch_reference.py) in the same run.
//
//   node --conditions=@tessera/source bench/gpt/train-step.bench.ts [--sizes gpt2,gpt2-medium,gpt2-large] [--batch 16] [--steps 10] [--no-torch]
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { cudaAvailable, emptyCache, memoryStats, noGrad, randint, resetPeakMemoryStats, scope, synchronize, tensor } from '../../packages/core/src/index.ts';
import { type GptConfigName, GPTModel, gptConfig, gptParameterCount, maskedMeanLoss } from '../../packages/models/src/index.ts';
import { AdamW, DistributedDataParallel, megatronParamGroups, MixedPrecisionOptimizer } from '../../packages/optimizer/src/index.ts';

const PEAK_TFLOPS = 989;
const SEQ = 1024;
const { values } = parseArgs({
  options: {
    sizes: { type: 'string', default: 'gpt2,gpt2-medium,gpt2-large' },
    batch: { type: 'string', default: '16' },
    steps: { type: 'string', default: '10' },
    'no-torch': { type: 'boolean', default: false },
    // Also time the forward alone and forward + backward alone (synchronized), to see where a step goes.
    breakdown: { type: 'boolean', default: false },
    // A CPU run checks the script itself (e.g. --device cpu --sizes gpt2-tiny --batch 1 --steps 1 --no-torch).
    device: { type: 'string', default: 'cuda:0' },
  },
});
const device = values.device as string;
if (device !== 'cpu' && !cudaAvailable()) {
  console.log('gpt train-step bench: no CUDA device; nothing measured.');
  process.exit(0);
}
const sizes = (values.sizes as string).split(',');
const batch = Number(values.batch);
const steps = Number(values.steps);

let torch: { torch?: string; results?: Record<string, Record<string, { tokens_per_s?: number; mfu?: number; peak_gib?: number; step_ms?: number; fwd_bwd_ms?: number; optimizer_ms?: number }>> } = {};
// PyTorch runs first, in its own process, while this one holds no GPU memory yet.
if (!values['no-torch']) {
  const r = spawnSync('python3', [join(import.meta.dirname, 'torch_reference.py'), JSON.stringify({ sizes, batch, steps })], { encoding: 'utf8' });
  if (r.status === 0) torch = JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}');
  else console.log(`PyTorch reference failed: ${r.stderr.split('\n').slice(-3).join(' ')}`);
}
interface Row { size: string; params: number; tokensPerS: number; mfu: number; stepMs: number; peakGiB: number; forwardMs?: number; forwardBackwardMs?: number }
const rows: Row[] = [];
for (const size of sizes) {
  const config = gptConfig(size as GptConfigName, { hiddenDropout: 0, attentionDropout: 0, maxPositionEmbeddings: SEQ });
  const model = new GPTModel(config, { dtype: 'bf16', device });
  const ddp = new DistributedDataParallel(model, {});
  const opt = new MixedPrecisionOptimizer(new AdamW(megatronParamGroups(model, { weightDecay: 0.01 }), { lr: 1e-4 }), { ddp, clipGrad: 1.0 });
  const ids = randint(0, 50257, [batch, SEQ], { device });
  const mask = tensor(new Float32Array(batch * SEQ).fill(1), { shape: [batch, SEQ], device });
  const step = async () => {
    opt.zeroGrad();
    scope(() => maskedMeanLoss(model.forward(ids, { labels: ids }), mask).backward());
    await ddp.finishGradSync();
    await opt.step();
  };
  for (let i = 0; i < 3; i++) await step();
  if (device !== 'cpu') synchronize(device);
  resetPeakMemoryStats(device);
  const t0 = performance.now();
  for (let i = 0; i < steps; i++) await step();
  if (device !== 'cpu') synchronize(device);
  const seconds = (performance.now() - t0) / 1000 / steps;
  const n = gptParameterCount(config);
  const tokens = (batch * SEQ) / seconds;
  const flopsPerToken = 6 * n + 12 * config.numLayers * config.hiddenSize * SEQ;
  const row: Row = { size, params: n, tokensPerS: tokens, mfu: (tokens * flopsPerToken) / (PEAK_TFLOPS * 1e12), stepMs: seconds * 1000, peakGiB: memoryStats(device).peak / 2 ** 30 };
  if (values.breakdown) {
    const timed = (f: () => void) => {
      f();
      if (device !== 'cpu') synchronize(device);
      const t = performance.now();
      for (let i = 0; i < steps; i++) f();
      if (device !== 'cpu') synchronize(device);
      return (performance.now() - t) / steps;
    };
    row.forwardMs = timed(() => noGrad(() => scope(() => maskedMeanLoss(model.forward(ids, { labels: ids }), mask).item())));
    row.forwardBackwardMs = timed(() => {
      opt.zeroGrad();
      scope(() => maskedMeanLoss(model.forward(ids, { labels: ids }), mask).backward());
    });
  }
  rows.push(row);
  emptyCache(device);
  ids.dispose();
  mask.dispose();
  ddp.dispose();
  opt.optimizer.dispose();
  model.dispose();
}

console.log(`GPT-2 training step, bf16, batch ${batch} x ${SEQ}; PyTorch ${torch.torch ?? 'not run'}`);
console.log('| model | Tessera tokens/s | MFU | peak GiB | torch.compile tokens/s | Transformers tokens/s | Tessera / torch.compile |');
console.log('|---|---:|---:|---:|---:|---:|---:|');
for (const r of rows) {
  const t = torch.results?.[r.size];
  const tc = t?.['torch.compile']?.tokens_per_s;
  const hf = t?.['transformers eager']?.tokens_per_s;
  console.log(`| ${r.size} | ${Math.round(r.tokensPerS)} | ${r.mfu.toFixed(3)} | ${r.peakGiB.toFixed(1)} | ${tc ? Math.round(tc) : ''} | ${hf ? Math.round(hf) : ''} | ${tc ? (r.tokensPerS / tc).toFixed(2) : ''} |`);
}
for (const r of rows) {
  if (r.forwardMs !== undefined) console.log(`${r.size}: step ${r.stepMs.toFixed(1)} ms = forward ${r.forwardMs.toFixed(1)} ms (no graph), forward + backward ${r.forwardBackwardMs?.toFixed(1)} ms, the rest (grad sync, optimizer) ${(r.stepMs - (r.forwardBackwardMs ?? 0)).toFixed(1)} ms`);
  const tc = torch.results?.[r.size]?.['torch.compile'];
  if (tc?.fwd_bwd_ms !== undefined) console.log(`${r.size} torch.compile: step ${tc.step_ms?.toFixed(1)} ms, forward + backward ${tc.fwd_bwd_ms.toFixed(1)} ms, optimizer ${tc.optimizer_ms?.toFixed(1)} ms`);
}
const outDir = process.env.OUT ?? join(import.meta.dirname, '..', 'results');
mkdirSync(outDir, { recursive: true });
writeFileSync(join(outDir, 'gpt-train-step.json'), JSON.stringify({ date: new Date().toISOString(), batch, seq: SEQ, rows, torch }, null, 2));
