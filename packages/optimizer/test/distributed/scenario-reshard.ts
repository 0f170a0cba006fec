// Resuming the distributed optimizer with another DP size (world of 4): two DP=2 replicas train 3
// steps, group 0's two shards are merged and loaded into a DP=4 optimizer over a copy of the
// model, and both continue 2 steps on the same global batch (4 micro-batches: 2 per rank at DP=2,
// 1 per rank at DP=4). The weights must stay equal.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Distributed, ProcessGroup } from '@tessera/collectives';
import { manualSeed, noGrad, type Parameter } from '@tessera/core';
import { AdamW, DistributedDataParallel, DistributedOptimizer, loadMergedState, megatronParamGroups, mergeShardedStateDicts } from '../../src/index.ts';
import { backwardOn, maxDiff, Mlp, reviveShards, serializeShard } from './common.ts';

function build(group: ProcessGroup): { model: Mlp; ddp: DistributedDataParallel; opt: DistributedOptimizer } {
  manualSeed(1);
  const model = new Mlp();
  const ddp = new DistributedDataParallel(model, { dataParallel: group, distributedOptimizer: true, bucketSize: 50 });
  const opt = new DistributedOptimizer(ddp, megatronParamGroups(model, { weightDecay: 0.1 }), (g) => new AdamW(g, { lr: 0.02 }), { clipGrad: 0.5 });
  return { model, ddp, opt };
}

async function stepAtDp2(a: ReturnType<typeof build>, g2: ProcessGroup, step: number): Promise<void> {
  a.opt.zeroGrad();
  a.ddp.noSync(() => backwardOn(a.model, step, 2 * g2.rank, 0, 0.5));
  backwardOn(a.model, step, 2 * g2.rank + 1, 0, 0.5);
  await a.opt.step();
}

export async function reshard(dist: Distributed): Promise<unknown> {
  const first = await dist.newGroup([0, 1]);
  const second = await dist.newGroup([2, 3]);
  const g2 = (first ?? second) as ProcessGroup;
  const replica = first ? 0 : 1;
  const a = build(g2);
  for (let step = 0; step < 3; step++) await stepAtDp2(a, g2, step);
  const dir = process.env.TESSERA_TEST_OUT as string;
  writeFileSync(join(dir, `shard-${replica}-${g2.rank}.json`), JSON.stringify(serializeShard(a.opt.stateDict())));
  await dist.world.barrier();
  const { shards, tensors } = reviveShards([0, 1].map((r) => JSON.parse(readFileSync(join(dir, `shard-0-${r}.json`), 'utf8'))));
  const merged = mergeShardedStateDicts(shards);
  const b = build(dist.world);
  const pa = [...a.model.parameters()];
  noGrad(() => {
    [...b.model.parameters()].forEach((p: Parameter, i) => {
      p.copy_(pa[i] as Parameter);
    });
  });
  await loadMergedState(b.opt, merged);
  const loadedStep = b.opt.optimizer.stateOf(b.opt.optimizer.slots[0] as never)?.step;
  for (let step = 3; step < 5; step++) {
    await stepAtDp2(a, g2, step);
    b.opt.zeroGrad();
    backwardOn(b.model, step, dist.rank, 0, 1);
    await b.opt.step();
  }
  for (const t of tensors) t.dispose();
  return { loadedStep, diff: maxDiff(pa, [...b.model.parameters()]), dp4Slots: b.opt.shardSlots.length };
}
