// initDistributed end to end: a one-rank job in this process, and the startup failures (a rank
// that never comes, no rank 0, a busy port, two processes with one rank) in child processes.
import net from 'node:net';
import { comm, tensor } from '@tessera/core';
import { describe, expect, it } from 'vitest';
import { quickCases, runCases } from '../test/cases.ts';
import { freePort, runWorld } from '../test/spawn.ts';
import { initDistributed } from './init.ts';
import { ParallelState } from './parallel/state.ts';

interface ErrorReport {
  code: string;
  message: string;
  ms: number;
}

describe('a job of one rank', () => {
  it('runs every collective, sub-groups and a parallel state', async () => {
    const port = await freePort();
    const dist = await initDistributed({ backend: 'cpu', env: { RANK: '0', WORLD_SIZE: '1', MASTER_ADDR: '127.0.0.1', MASTER_PORT: String(port) } });
    try {
      expect([dist.rank, dist.worldSize, dist.localRank, dist.backend, dist.device]).toEqual([0, 1, 0, 'cpu', 'cpu']);
      for (const r of await runCases(quickCases(), dist.world, 'cpu')) expect(r.error, r.name).toBeUndefined();
      const solo = await dist.newGroup([0]);
      const t = tensor([1, 2, 3]);
      await solo?.allReduce(t, 'avg').wait();
      expect(t.toArray()).toEqual([1, 2, 3]);
      const ps = await ParallelState.create(dist, {});
      expect([ps.tensorSize, ps.pipelineSize, ps.dataSize, ps.isPipelineFirstStage(), ps.isPipelineLastStage()]).toEqual([1, 1, 1, true, true]);
      expect(ps.embedding?.ranks).toEqual([0]);
      t.dispose();
    } finally {
      await dist.destroy();
    }
  });

  it('refuses the nccl backend on a build or machine without it, saying why', async () => {
    if (comm.ncclAvailable()) return;
    const port = await freePort();
    const init = initDistributed({ backend: 'nccl', env: { RANK: '0', WORLD_SIZE: '1', MASTER_ADDR: '127.0.0.1', MASTER_PORT: String(port) } });
    await expect(init).rejects.toThrow(/NCCL|GPU/);
  });
});

describe('startup failures', () => {
  it('a rank that never starts is named after the rendezvous timeout', async () => {
    const [r0] = await runWorld(3, 'init-error', { args: ['800'], only: [0, 2] });
    const e = r0?.report as ErrorReport;
    expect(e.code).toBe('TIMEOUT');
    expect(e.message).toMatch(/only 2 of 3 ranks joined within 0\.8 s; missing rank\(s\) 1/);
    expect(e.ms).toBeLessThan(4000);
  }, 20_000);

  it('without rank 0 the store is unreachable, with its address named', async () => {
    const port = await freePort();
    const [r1] = await runWorld(2, 'init-error', { args: ['800'], only: [1], port });
    const e = r1?.report as ErrorReport;
    expect(e.code).toBe('UNREACHABLE');
    expect(e.message).toContain(`127.0.0.1:${port}`);
    expect(e.ms).toBeLessThan(4000);
  }, 20_000);

  it('a busy MASTER_PORT is reported by rank 0', async () => {
    const busy = net.createServer();
    const port = await new Promise<number>((resolve) => busy.listen(0, () => resolve((busy.address() as net.AddressInfo).port)));
    try {
      const [r0] = await runWorld(1, 'init-error', { port });
      const e = r0?.report as ErrorReport;
      expect(e.code).toBe('PORT_IN_USE');
      expect(e.message).toContain(`port ${port}`);
    } finally {
      busy.close();
    }
  }, 20_000);

  it('two processes claiming one rank are told so', async () => {
    const outcomes = await runWorld(3, 'init-error', { args: ['5000'], only: [0, 1, 1] });
    const messages = outcomes.map((o) => (o.report as ErrorReport).message);
    expect(messages.some((m) => /two processes claim RANK 1/.test(m))).toBe(true);
  }, 20_000);
});
