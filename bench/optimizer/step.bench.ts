// Optimizer step for GPT-2 large's 774,030,080 parameters on one GPU (bf16 weights, fp32 main
// weights, gradients and Adam moments), beside torch.optim.AdamW(fused=True) in the same run:
//   - the fused AdamW update alone: 30 bytes per parameter must move (read main 4, grad 4, m 4,
//     v 4; write main 4, m 4, v 4, bf16 weight 2), timed with CUDA events, against the 4.3 TB/s
//     device copy bandwidth of the H200;
//   - the whole training-loop step (MixedPrecisionOptimizer: global norm + clip + update): 34 B/param;
//   - bytes per parameter allocated, plain (Megatron: 18) and for the distributed optimizer's
//     shard at d = 8 (Megatron: 6 + 12/d = 7.5), measured from core's allocation stats.
// Prints a table; writes JSON to $OUT/optimizer-step.json (or bench/results/).
//
//   node --conditions=@tessera/source bench/optimizer/step.bench.ts [--no-torch]
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ProcessGroup } from '../../packages/collectives/src/index.ts';
import {
  cudaAvailable, Linear, memoryStats, Module, noGrad, nativeVariant, type Parameter,
} from '../../packages/core/src/index.ts';
import { nb } from '../../packages/core/src/native.ts';
import {
  AdamW, DistributedDataParallel, DistributedOptimizer, megatronParamGroups, MixedPrecisionOptimizer,
} from '../../packages/optimizer/src/index.ts';
import { timeAsyncMs, timeMs } from '../common/timing.ts';

const COPY_GBPS = 4300;
const SHARD_D = 8;
const dev = 'cuda:0';

if (!cudaAvailable()) {
  console.log(`optimizer step.bench: no CUDA device (${nativeVariant} build); this benchmark needs the GPU machine. Nothing measured.`);
  process.exit(0);
}

// GPT-2 large: vocab 50257, 1024 positions, hidden 1280, 36 layers, MLP 4x.
const V = 50257, P = 1024, H = 1280, L = 36;
const SHAPES: number[][] = [[V, H], [P, H]];
for (let l = 0; l < L; l++) SHAPES.push([H], [H], [3 * H, H], [3 * H], [H, H], [H], [H], [H], [4 * H, H], [4 * H], [H, 4 * H], [H]);
SHAPES.push([H], [H]);
const N = SHAPES.reduce((s, shape) => s + shape.reduce((a, b) => a * b, 1), 0);

/** The parameters as a module (bf16, random), so the DDP wrapper and param groups see names. */
class Gpt2LargeParams extends Module {
  items: Linear[];
  constructor() {
    super();
    // Every weight as a Linear of the right shape keeps init and naming simple; biases are separate 1-D params.
    this.items = SHAPES.filter((s) => s.length === 2).map((s) => new Linear(s[1] as number, s[0] as number, { bias: false, dtype: 'bf16', device: dev }));
    const vectors = SHAPES.filter((s) => s.length === 1);
    vectors.forEach((s, i) => {
      const lin = new Linear(1, s[0] as number, { dtype: 'bf16', device: dev });
      (this as unknown as Record<string, Parameter>)[`vec${i}`] = lin.bias as Parameter;
      lin.weight.dispose();
    });
  }
}


/** A DP group of size d seen from its rank 0, to size the distributed optimizer's shard on one GPU; it refuses to communicate. */
function shardSizingGroup(d: number): ProcessGroup {
  const refuse = (): never => {
    throw new Error('shardSizingGroup: only for sizing a shard; it cannot communicate');
  };
  return {
    backend: 'nccl', rank: 0, size: d, ranks: Array.from({ length: d }, (_, i) => i),
    allReduce: refuse, reduceScatter: refuse, allGather: refuse, broadcast: refuse, send: refuse, recv: refuse, batchSendRecv: refuse, barrier: refuse,
  };
}

interface Row { name: string; ms?: number; bytesPerParam?: number; gbps?: number; value?: number; unit?: string }
const rows: Row[] = [];
const gib = (b: number) => (b / 2 ** 30).toFixed(2);

// ---- plain: DDP buffers (one replica) + MixedPrecisionOptimizer(AdamW) --------------------------
{
  const base = memoryStats(dev).allocated;
  const model = new Gpt2LargeParams();
  if (model.numParameters() !== N) throw new Error(`built ${model.numParameters()} parameters, expected ${N}`);
  const ddp = new DistributedDataParallel(model);
  const inner = new AdamW(megatronParamGroups(model, { weightDecay: 0.1 }), { lr: 1e-4, betas: [0.9, 0.95] });
  const opt = new MixedPrecisionOptimizer(inner, { ddp, clipGrad: 1 });
  const allocated = memoryStats(dev).allocated - base;
  rows.push({ name: 'bytes per parameter, plain (Megatron: 18)', value: allocated / N, unit: 'B/param' });
  noGrad(() => {
    for (const buf of ddp.buffers) buf.grads.normal_(0, 1e-3);
  });
  const updateMs = timeMs(dev, () => inner.step(), { reps: 10, scoped: false });
  rows.push({ name: 'fused AdamW update (bf16 weights, fp32 main/grad/m/v)', ms: updateMs, bytesPerParam: 30, gbps: (30 * N) / updateMs / 1e6 });
  // The training-loop step: the gradients count as new each time (as after a backward).
  const stepMs = await timeAsyncMs(dev, async () => {
    await opt.step();
  });
  rows.push({ name: 'MixedPrecisionOptimizer.step (norm + clip + update, host sync)', ms: stepMs, bytesPerParam: 34, gbps: (34 * N) / stepMs / 1e6 });
  console.log(`plain: ${gib(allocated)} GiB for ${N} parameters`);
  opt.dispose();
  ddp.dispose();
  model.dispose();
}

// ---- distributed optimizer: this rank's shard at d = SHARD_D -----------------------------------
{
  const base = memoryStats(dev).allocated;
  const model = new Gpt2LargeParams();
  const ddp = new DistributedDataParallel(model, { dataParallel: shardSizingGroup(SHARD_D), distributedOptimizer: true });
  const opt = new DistributedOptimizer(ddp, megatronParamGroups(model, { weightDecay: 0.1 }), (g) => new AdamW(g, { lr: 1e-4 }));
  const allocated = memoryStats(dev).allocated - base;
  rows.push({ name: `bytes per parameter, distributed d=${SHARD_D} (Megatron: ${6 + 12 / SHARD_D})`, value: allocated / N, unit: 'B/param' });
  const shardMs = timeMs(dev, () => opt.optimizer.step(), { reps: 10, scoped: false });
  const shardN = opt.shardSlots.reduce((s, x) => s + (x.end - x.start), 0);
  rows.push({ name: `fused AdamW update of one shard (d=${SHARD_D}, ${shardN} params)`, ms: shardMs, bytesPerParam: 30, gbps: (30 * shardN) / shardMs / 1e6 });
  opt.dispose();
  ddp.dispose();
  model.dispose();
}

// ---- PyTorch in the same run --------------------------------------------------------------------
let torch: Record<string, unknown> = {};
if (!process.argv.includes('--no-torch')) {
  const r = spawnSync('python3', [join(import.meta.dirname, 'step_torch.py'), JSON.stringify({ shapes: SHAPES })], { encoding: 'utf8' });
  if (r.status === 0) torch = JSON.parse(r.stdout);
  else console.log(`PyTorch reference failed: ${r.stderr.split('\n').slice(-4).join(' ')}`);
}
const tUpdate = (torch as { update_ms?: number }).update_ms;
const tStep = (torch as { clip_step_ms?: number }).clip_step_ms;

const props = nb.cudaDeviceProperties(0);
console.log(`\n${props.name}; ${N} parameters (GPT-2 large); PyTorch ${(torch as { torch?: string }).torch ?? 'not run'}`);
console.log('| measurement | Tessera | bandwidth | of 4.3 TB/s | PyTorch fused AdamW (fp32) | PyTorch / Tessera time |');
console.log('|---|---:|---:|---:|---:|---:|');
for (const r of rows) {
  const torchMs = r.name.startsWith('fused AdamW update (') ? tUpdate : r.name.startsWith('MixedPrecision') ? tStep : undefined;
  const main = r.ms !== undefined ? `${r.ms.toFixed(2)} ms` : `${(r.value as number).toFixed(3)} ${r.unit}`;
  const bw = r.gbps !== undefined ? `${r.gbps.toFixed(0)} GB/s` : '';
  const frac = r.gbps !== undefined ? `${((100 * r.gbps) / COPY_GBPS).toFixed(1)}%` : '';
  const tor = torchMs !== undefined ? `${torchMs.toFixed(2)} ms` : '';
  const ratio = torchMs !== undefined && r.ms ? (torchMs / r.ms).toFixed(2) : '';
  console.log(`| ${r.name} | ${main} | ${bw} | ${frac} | ${tor} | ${ratio} |`);
}
const outDir = process.env.OUT ?? join(import.meta.dirname, '..', 'results');
mkdirSync(outDir, { recursive: true });
writeFileSync(join(outDir, 'optimizer-step.json'), JSON.stringify({ date: new Date().toISOString(), device: props.name, parameters: N, copyGBps: COPY_GBPS, rows, torch }, null, 2));
