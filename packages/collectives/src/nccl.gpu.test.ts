// The nccl backend on a CUDA machine, through the same checks as the cpu backend (test/cases.ts):
// a one-rank job in this process, and, when a second GPU is visible, a two-rank job of child
// processes. node:test, so it runs where there are no npm packages:
//   node --conditions=@tessera/source --test src/nccl.gpu.test.ts
// Skipped without a CUDA build with NCCL and a visible GPU.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { comm, cudaDeviceCount, mul, Stream, tensor, zeros } from '@tessera/core';
import { collectiveCases } from '../test/cases.ts';
import { freePort, runWorld } from '../test/spawn.ts';
import { type Distributed, DistributedError, initDistributed, NcclProcessGroup, ParallelState } from './index.ts';

const skip = !comm.ncclAvailable();

describe('nccl backend, one rank', { skip }, () => {
  let dist: Distributed;
  before(async () => {
    const port = await freePort();
    dist = await initDistributed({ backend: 'nccl', env: { RANK: '0', WORLD_SIZE: '1', LOCAL_RANK: '0', MASTER_ADDR: '127.0.0.1', MASTER_PORT: String(port) } });
  });
  after(async () => {
    await dist?.destroy();
  });

  it('joins on cuda:0 with NVLink multicast left off', () => {
    assert.equal(dist.backend, 'nccl');
    assert.equal(dist.device, 'cuda:0');
    assert.ok(dist.world instanceof NcclProcessGroup);
    assert.notEqual(process.env.NCCL_NVLS_ENABLE, '1');
  });

  for (const c of collectiveCases()) {
    it(c.name, async () => {
      await c.run(dist.world, 'cuda:0');
    });
  }

  it('orders the collective after work queued on the compute stream, on its own stream', async () => {
    const x = tensor([1, 2, 3], { device: 'cuda:0' });
    const y = mul(x, 3); // queued on the compute stream just before the collective
    const group = dist.world as NcclProcessGroup;
    assert.notEqual(group.streamHandle, Stream.current('cuda:0').handle);
    await group.allReduce(y, 'sum').wait();
    assert.deepEqual(y.toArray(), [3, 6, 9]);
    x.dispose();
    y.dispose();
  });

  it('reports completion', async () => {
    const t = zeros([1 << 20], { device: 'cuda:0' });
    const work = dist.world.allReduce(t);
    await work.wait();
    t.toArray(); // synchronizes
    assert.equal(work.completed, true);
    t.dispose();
  });

  it('rejects tensors on another device, saying where they should be', () => {
    const t = tensor([1, 2]);
    assert.throws(
      () => dist.world.allReduce(t),
      (err: unknown) => err instanceof DistributedError && err.code === 'INVALID' && /on cuda:0 tensors, got f32\[2\] on cpu/.test(err.message),
    );
    t.dispose();
  });

  it('makes sub-groups and a parallel state', async () => {
    const g = await dist.newGroup([0]);
    assert.ok(g);
    const t = tensor([5, 7], { device: 'cuda:0' });
    await g.allReduce(t, 'max').wait();
    assert.deepEqual(t.toArray(), [5, 7]);
    t.dispose();
    const ps = await ParallelState.create(dist, {});
    assert.deepEqual([ps.tensorSize, ps.pipelineSize, ps.dataSize], [1, 1, 1]);
    const u = tensor([1, 2], { device: 'cuda:0' });
    await ps.data.allReduce(u, 'avg').wait();
    assert.deepEqual(u.toArray(), [1, 2]);
    u.dispose();
  });
});

describe('nccl backend, two ranks on two GPUs', { skip: skip || cudaDeviceCount() < 2 }, () => {
  it('passes every check in each rank', async () => {
    const outcomes = await runWorld(2, 'collectives', { env: { TESSERA_BACKEND: 'nccl' }, timeoutMs: 300_000 });
    for (const o of outcomes) {
      assert.equal(o.code, 0, o.output);
      const failed = (o.report as Array<{ name: string; error?: string }>).filter((r) => r.error);
      assert.deepEqual(failed, [], `rank ${o.rank}`);
    }
  });
});
