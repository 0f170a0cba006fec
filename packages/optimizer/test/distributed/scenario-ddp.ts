// Data parallelism: the same model on every DP rank, different data per rank, two micro-batches
// per step (the first under noSync). A bucketed DDP (buckets reduced during backward) and a
// one-bucket DDP (reduced at finishGradSync) must give the same averaged gradients, and training
// must equal one process training on all ranks' data.
import type { Distributed } from '@tessera/collectives';
import { manualSeed, type Tensor } from '@tessera/core';
import { AdamW, DistributedDataParallel, MixedPrecisionOptimizer } from '../../src/index.ts';
import { backwardOn, maxDiff, Mlp } from './common.ts';

export async function dataParallel(dist: Distributed): Promise<unknown> {
  const group = dist.world;
  const dp = group.size;
  const r = group.rank;
  const make = () => {
    manualSeed(1);
    return new Mlp();
  };
  const [a, b, ref] = [make(), make(), make()];
  const ddpA = new DistributedDataParallel(a, { dataParallel: group, bucketSize: 40 });
  const ddpB = new DistributedDataParallel(b, { dataParallel: group, overlapGradReduce: false });
  const optA = new MixedPrecisionOptimizer(new AdamW(a.parameters(), { lr: 0.05 }), { ddp: ddpA, clipGrad: 1 });
  const optB = new MixedPrecisionOptimizer(new AdamW(b.parameters(), { lr: 0.05 }), { ddp: ddpB, clipGrad: 1 });
  const optRef = new MixedPrecisionOptimizer(new AdamW(ref.parameters(), { lr: 0.05 }), { clipGrad: 1 });
  const grads = (m: Mlp) => [...m.parameters()].map((p) => (p.mainGrad ?? p.grad) as Tensor);
  const bucketedVsOne: number[] = [];
  const vsSingle: number[] = [];
  const norms: Array<[number, number]> = [];
  for (let step = 0; step < 4; step++) {
    for (const [m, ddp, opt] of [[a, ddpA, optA], [b, ddpB, optB]] as const) {
      opt.zeroGrad();
      ddp.noSync(() => backwardOn(m, step, r, 0, 0.5));
      backwardOn(m, step, r, 1, 0.5);
      await ddp.finishGradSync();
    }
    optRef.zeroGrad();
    for (let q = 0; q < dp; q++) for (const micro of [0, 1]) backwardOn(ref, step, q, micro, 0.5 / dp);
    bucketedVsOne.push(maxDiff(grads(a), grads(b)));
    vsSingle.push(maxDiff(grads(a), grads(ref)));
    const [ra, , rr] = [await optA.step(), await optB.step(), await optRef.step()];
    norms.push([ra.gradNorm, rr.gradNorm]);
  }
  // Replicas that start different become rank 0's copy (plain buffers, and parameter buffers).
  const firsts: number[] = [];
  for (const distributedOptimizer of [false, true]) {
    manualSeed(10 + r);
    const c = new Mlp();
    const ddpC = new DistributedDataParallel(c, { dataParallel: group, distributedOptimizer });
    await ddpC.broadcastParams();
    firsts.push(...c.fc1.weight.toArray().slice(0, 3), ...c.fc2.bias!.toArray());
    ddpC.dispose();
    c.dispose();
  }
  return {
    broadcast: firsts,
    buckets: ddpA.bucketCount,
    bucketedVsOne,
    vsSingle,
    norms,
    paramsVsSingle: maxDiff([...a.parameters()], [...ref.parameters()]),
    paramsBucketedVsOne: maxDiff([...a.parameters()], [...b.parameters()]),
  };
}
