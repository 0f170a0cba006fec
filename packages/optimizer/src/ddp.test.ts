// DistributedDataParallel in one process: gradient buffers and hooks, bucket timing, noSync, and
// the errors for gradients that arrive late. Multi-process reductions are in test/distributed.
import { F, Linear, manualSeed, Module, type Parameter, scope, type Tensor, tensor } from '@tessera/core';
import type { ProcessGroup } from '@tessera/collectives';
import { describe, expect, it } from 'vitest';
import { IdenticalReplicasGroup, maxAbsDiff, seeded } from '../test/helpers.ts';
import { AdamW, DistributedDataParallel, MixedPrecisionOptimizer } from './index.ts';

class Mlp extends Module {
  fc1 = new Linear(4, 8);
  fc2 = new Linear(8, 3);
  forward(x: Tensor): Tensor {
    return this.fc2.forward(this.fc1.forward(x).tanh());
  }
}

/** Uses fc.weight twice (a tied weight): its hook runs twice per backward. */
class Tied extends Module {
  fc = new Linear(4, 4, { bias: false });
  forward(x: Tensor): Tensor {
    return this.fc.forward(this.fc.forward(x).tanh());
  }
}

function batch(seed: number): { x: Tensor; y: Tensor } {
  return { x: tensor(seeded(24, seed), { shape: [6, 4] }), y: tensor([0, 1, 2, 0, 1, 2], { dtype: 'i64' }) };
}

function lossOf(m: { forward(x: Tensor): Tensor }, seed: number): Tensor {
  const { x, y } = batch(seed);
  const out = m.forward(x);
  return F.crossEntropy(out.shape[1] === 3 ? out : out.narrow(1, 0, 3), y);
}

/** Plain .grad of each parameter for the sum of the losses of `seeds`. */
function referenceGrads<M extends Module & { forward(x: Tensor): Tensor }>(make: () => M, seeds: number[]): number[][] {
  manualSeed(1);
  const m = make();
  for (const s of seeds) scope(() => lossOf(m, s).backward());
  const grads = [...m.parameters()].map((p) => (p.grad as Tensor).toArray());
  m.dispose();
  return grads;
}

describe('DistributedDataParallel (one process)', () => {
  it('accumulates every gradient into views of one fp32 buffer, bucketed in reverse order', async () => {
    const expected = referenceGrads(() => new Mlp(), [1]);
    manualSeed(1);
    const model = new Mlp();
    const ddp = new DistributedDataParallel(model, { bucketSize: 30 });
    expect(ddp.bucketCount).toBe(2);
    expect(() => new DistributedDataParallel(model)).toThrow(/already has a mainGrad \(is the model wrapped twice\?\)/);
    const first = ddp.buffers[0]?.layout.params[0];
    expect(first?.name).toBe('fc2.bias');
    scope(() => lossOf(model, 1).backward());
    await ddp.finishGradSync();
    [...model.parameters()].forEach((p, i) => {
      expect(p.grad).toBeNull();
      expect(maxAbsDiff((p.mainGrad as Tensor).toArray(), expected[i] as number[])).toBeLessThan(1e-6);
    });
    ddp.zeroGradBuffers();
    expect((model.fc1.weight.mainGrad as Tensor).toArray().every((v) => v === 0)).toBe(true);
    ddp.dispose();
    expect(model.fc1.weight.mainGrad).toBeNull();
    model.dispose();
  });

  it('starts each bucket during backward once it is complete (after the first iteration), never inside noSync', async () => {
    manualSeed(1);
    const model = new Mlp();
    const group = new IdenticalReplicasGroup(2);
    const ddp = new DistributedDataParallel(model, { dataParallel: group as unknown as ProcessGroup, bucketSize: 30 });
    const backward = (seed: number) => {
      group.phase = 'backward';
      scope(() => lossOf(model, seed).backward());
      group.phase = 'after';
    };
    backward(1);
    expect(group.calls).toEqual([]); // first iteration: counts are being learned
    await ddp.finishGradSync();
    expect(group.calls.map((c) => c.phase)).toEqual(['after', 'after']);
    group.calls.length = 0;
    ddp.zeroGradBuffers();
    ddp.noSync(() => backward(2));
    expect(group.calls).toEqual([]);
    backward(3);
    // Both buckets started while backward was running, the one holding the last layer first.
    expect(group.calls.map((c) => [c.op, c.phase])).toEqual([['allReduce', 'backward'], ['allReduce', 'backward']]);
    expect(group.calls[0]?.numel).toBe(ddp.buffers[0]?.bucketGrads(0).numel);
    await ddp.finishGradSync();
    expect(group.calls).toHaveLength(2);
    await ddp.finishGradSync(); // nothing new: no second reduction
    expect(group.calls).toHaveLength(2);
    ddp.dispose();
    model.dispose();
  });

  it('sums micro-batches under noSync and says clearly when a gradient arrives after its bucket started', async () => {
    const expected = referenceGrads(() => new Mlp(), [1, 2]);
    manualSeed(1);
    const model = new Mlp();
    const ddp = new DistributedDataParallel(model, { dataParallel: new IdenticalReplicasGroup(2) as unknown as ProcessGroup });
    ddp.noSync(() => scope(() => lossOf(model, 1).backward()));
    scope(() => lossOf(model, 2).backward());
    await ddp.finishGradSync();
    [...model.parameters()].forEach((p, i) => {
      expect(maxAbsDiff((p.mainGrad as Tensor).toArray(), expected[i] as number[])).toBeLessThan(1e-6);
    });
    ddp.zeroGradBuffers();
    scope(() => lossOf(model, 1).backward());
    expect(() => scope(() => lossOf(model, 2).backward())).toThrow(/received a gradient after its bucket's all-reduce had started.*noSync/s);
    await expect(ddp.noSync(async () => ddp.finishGradSync())).rejects.toThrow(/inside noSync/);
    ddp.dispose();
    model.dispose();
  });

  it('learns that a tied weight receives two gradients per backward', async () => {
    const expected = referenceGrads(() => new Tied(), [5]);
    manualSeed(1);
    const model = new Tied();
    const group = new IdenticalReplicasGroup(2);
    const ddp = new DistributedDataParallel(model, { dataParallel: group as unknown as ProcessGroup });
    for (let it = 0; it < 3; it++) {
      ddp.zeroGradBuffers();
      group.phase = 'backward';
      scope(() => lossOf(model, 5).backward());
      group.phase = 'after';
      await ddp.finishGradSync();
      expect(maxAbsDiff((model.fc.weight.mainGrad as Tensor).toArray(), expected[0] as number[])).toBeLessThan(1e-6);
    }
    expect(group.calls.map((c) => c.phase)).toEqual(['after', 'backward', 'backward']);
    ddp.dispose();
    model.dispose();
  });

  it('trains with MixedPrecisionOptimizer exactly like AdamW on plain gradients', async () => {
    manualSeed(1);
    const a = new Mlp();
    manualSeed(1);
    const b = new Mlp();
    const ddp = new DistributedDataParallel(a, { bucketSize: 40 });
    const optA = new MixedPrecisionOptimizer(new AdamW(a.parameters(), { lr: 0.05 }), { ddp, clipGrad: 0 });
    const optB = new AdamW(b.parameters(), { lr: 0.05 });
    const losses: number[] = [];
    for (let step = 0; step < 5; step++) {
      optA.zeroGrad();
      optB.zeroGrad();
      losses.push(scope(() => {
        const l = lossOf(a, step);
        l.backward();
        return l.item();
      }));
      scope(() => lossOf(b, step).backward());
      const r = await optA.step();
      expect(r.updated).toBe(true);
      optB.step();
    }
    const pa = [...a.parameters()];
    [...b.parameters()].forEach((p, i) => {
      expect(maxAbsDiff(p.toArray(), (pa[i] as Parameter).toArray())).toBeLessThan(1e-6);
    });
    expect(losses[4]).toBeLessThan(losses[0] as number);
    optA.dispose();
    optB.dispose();
    ddp.dispose();
    a.dispose();
    b.dispose();
  });
});

describe('DistributedDataParallel: tied embeddings with the distributed optimizer', () => {
  /** A stage with tied word embeddings between two layers. */
  class Stage extends Module {
    fc1 = new Linear(4, 8);
    emb = new Linear(8, 8, { bias: false });
    fc2 = new Linear(8, 3);
  }

  it('puts a meta.sharedEmbedding parameter in a bucket of its own, at its start, only for the distributed optimizer', () => {
    for (const distributedOptimizer of [true, false]) {
      for (const overlapGradReduce of [true, false]) {
        const m = new Stage();
        m.emb.weight.meta = { sharedEmbedding: true };
        const group = new IdenticalReplicasGroup(2) as unknown as ProcessGroup;
        const ddp = new DistributedDataParallel(m, { dataParallel: group, distributedOptimizer, overlapGradReduce, bucketSize: 1000 });
        const layout = ddp.buffers[0]?.layout;
        const names = layout?.buckets.map((b) => b.params.map((r) => r.name)) ?? [];
        if (distributedOptimizer) {
          expect(names).toEqual([['fc2.bias', 'fc2.weight'], ['emb.weight'], ['fc1.bias', 'fc1.weight']]);
          const emb = layout?.params.find((r) => r.name === 'emb.weight');
          const bucket = layout?.buckets[emb?.bucket ?? -1];
          expect(emb?.start).toBe(bucket?.start);
          expect(((bucket?.end ?? 0) - (bucket?.start ?? 0)) % 256).toBe(0);
          expect(ddp.bucketCount).toBe(3);
        } else {
          expect(names).toEqual([['fc2.bias', 'fc2.weight', 'emb.weight', 'fc1.bias', 'fc1.weight']]);
        }
        ddp.dispose();
        m.dispose();
      }
    }
  });
});
