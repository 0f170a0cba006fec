// The distributed optimizer at DP = world size: must train like the plain mixed-precision
// optimizer on all ranks' data, skip together when one rank's gradients overflow, report its
// shard state for the parent to merge, and use 6 + 12/d bytes per parameter (bf16 weights).
import type { Distributed } from '@tessera/collectives';
import { type DType, Linear, manualSeed, memoryStats, Module } from '@tessera/core';
import { AdamW, DistributedDataParallel, DistributedOptimizer, megatronParamGroups, MixedPrecisionOptimizer } from '../../src/index.ts';
import { backwardOn, maxDiff, Mlp, serializeShard } from './common.ts';

export async function distributedOptimizer(dist: Distributed, args: string[]): Promise<unknown> {
  const dtype = (args[0] ?? 'f32') as DType;
  const group = dist.world;
  const dp = group.size;
  const r = group.rank;
  const make = () => {
    manualSeed(1);
    return new Mlp(dtype);
  };
  const model = make();
  const ref = make();
  const ddp = new DistributedDataParallel(model, { dataParallel: group, distributedOptimizer: true, bucketSize: 60 });
  const hp = { lr: 0.02, betas: [0.9, 0.95] as const };
  const opt = new DistributedOptimizer(ddp, megatronParamGroups(model, { weightDecay: 0.1 }), (g) => new AdamW(g, hp), { clipGrad: 0.5 });
  // The reference accumulates in an fp32 gradient buffer too (one replica, no group), as Megatron's bf16 training does.
  const refDdp = new DistributedDataParallel(ref);
  const refOpt = new MixedPrecisionOptimizer(new AdamW(megatronParamGroups(ref, { weightDecay: 0.1 }), hp), { clipGrad: 0.5, ddp: refDdp });
  const norms: Array<[number, number]> = [];
  const paramDiffs: number[] = [];
  for (let step = 0; step < 5; step++) {
    opt.zeroGrad();
    backwardOn(model, step, r, 0, 1);
    refOpt.zeroGrad();
    for (let q = 0; q < dp; q++) backwardOn(ref, step, q, 0, 1 / dp);
    const [a, b] = [await opt.step(), await refOpt.step()];
    norms.push([a.gradNorm, b.gradNorm]);
    paramDiffs.push(maxDiff([...model.parameters()], [...ref.parameters()]));
  }
  // One rank's overflow makes every rank skip.
  const before = [...model.parameters()].map((p) => p.toArray());
  opt.zeroGrad();
  backwardOn(model, 9, r, 0, r === dp - 1 ? Number.POSITIVE_INFINITY : 1);
  const logs: string[] = [];
  opt.options.log = (m) => logs.push(m);
  const skipped = await opt.step();
  const unchanged = [...model.parameters()].every((p, i) => JSON.stringify(p.toArray()) === JSON.stringify(before[i]));
  // Sharded state: reported for merging; a self-load round-trips; another rank's shard is refused.
  const sd = opt.stateDict();
  const serialized = serializeShard(sd);
  await opt.loadStateDict(sd);
  let refusal = '';
  try {
    await opt.loadStateDict({ ...sd, dp_rank: (r + 1) % dp });
  } catch (err) {
    refusal = (err as Error).message;
  }
  const refState = Object.fromEntries(
    refOpt.optimizer.slots.map((s) => {
      const st = refOpt.optimizer.stateOf(s);
      return [s.name ?? '', { step: st?.step, exp_avg: st?.tensors.exp_avg?.toArray(), exp_avg_sq: st?.tensors.exp_avg_sq?.toArray() }];
    }),
  );
  return { norms, paramDiffs, skipped, unchanged, logs, state: serialized, refState, refusal, dp };
}

class Wide extends Module {
  a = new Linear(256, 256, { dtype: 'bf16' });
  b = new Linear(256, 256, { dtype: 'bf16' });
}

/** Bytes per parameter of bf16 weights + fp32 gradient buffer + this rank's shard of main weights and Adam state. */
export async function distributedMemory(dist: Distributed): Promise<unknown> {
  const base = memoryStats('cpu').allocated;
  const model = new Wide();
  const n = model.numParameters();
  const ddp = new DistributedDataParallel(model, { dataParallel: dist.world, distributedOptimizer: true });
  const opt = new DistributedOptimizer(ddp, megatronParamGroups(model), (g) => new AdamW(g));
  const bytesPerParam = (memoryStats('cpu').allocated - base) / n;
  opt.dispose();
  ddp.dispose();
  model.dispose();
  return { bytesPerParam, d: dist.worldSize, formula: 6 + 12 / dist.worldSize, n };
}
