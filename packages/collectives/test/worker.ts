// One rank of a multi-process test (started by spawn.ts with RANK, WORLD_SIZE, MASTER_ADDR,
// MASTER_PORT set): runs the scenario named by argv[2] and writes what happened to
// $TESSERA_TEST_OUT/report-<TESSERA_TEST_ID>.json. Failures the scenario expects are reported,
// not thrown.
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { tensor, zeros } from '@tessera/core';
import { type Distributed, DistributedError, type Group, initDistributed, ParallelState } from '../src/index.ts';
import { collectiveCases, quickCases, runCases } from './cases.ts';
import { protocolCases } from './protocol.ts';
import { autogradMappings, largeExchange } from './sync.ts';

const scenario = process.argv[2] ?? '';
const args = process.argv.slice(3);
const rank = Number(process.env.RANK);

const reportFile = (id: string | number) => join(process.env.TESSERA_TEST_OUT as string, `report-${id}.json`);

function report(value: unknown): void {
  writeFileSync(reportFile(process.env.TESSERA_TEST_ID as string), JSON.stringify(value));
}

/** Waits (at most `ms`) until the rank started as `id` has written its report. */
async function reportOf(id: number, ms: number): Promise<void> {
  for (const end = Date.now() + ms; !existsSync(reportFile(id)) && Date.now() < end; ) await sleep(20);
}

function describeError(err: unknown, start: number): { code: string; message: string; ms: number } {
  const e = err as DistributedError;
  return { code: e instanceof DistributedError ? e.code : 'OTHER', message: e.message, ms: Date.now() - start };
}

function groupInfo(g: Group | undefined) {
  return g && { ranks: [...g.ranks], rank: g.rank, size: g.size };
}

async function finish(dist: Distributed, value: unknown): Promise<void> {
  report(value);
  await dist.world.barrier();
  await dist.destroy();
}

const scenarios: Record<string, () => Promise<void>> = {
  async collectives() {
    const dist = await initDistributed();
    await finish(dist, await runCases(collectiveCases(), dist.world, dist.device));
  },

  async subgroups() {
    const dist = await initDistributed();
    const lists = [[1, 3], [0, 2], [3, 0, 1], [2]];
    const results: Record<string, unknown> = {};
    for (const ranks of lists) {
      const g = await dist.newGroup(ranks);
      if (!g) {
        results[ranks.join(',')] = 'not a member';
        continue;
      }
      results[ranks.join(',')] = { info: groupInfo(g), cases: await runCases(quickCases(), g, 'cpu') };
    }
    await finish(dist, results);
  },

  async 'parallel-state'() {
    const [tp, pp, dp] = args.map(Number);
    const dist = await initDistributed();
    const ps = await ParallelState.create(dist, { tensor: tp, pipeline: pp, data: dp });
    const cases: Record<string, unknown> = {};
    for (const [name, g] of Object.entries({ tensor: ps.tensor, pipeline: ps.pipeline, data: ps.data, modelParallel: ps.modelParallel })) {
      cases[name] = await runCases(quickCases().slice(0, 2), g, 'cpu');
    }
    await finish(dist, {
      coords: ps.coords,
      groups: {
        tensor: groupInfo(ps.tensor),
        pipeline: groupInfo(ps.pipeline),
        data: groupInfo(ps.data),
        context: groupInfo(ps.context),
        dataWithContext: groupInfo(ps.dataWithContext),
        modelParallel: groupInfo(ps.modelParallel),
        embedding: groupInfo(ps.embedding),
        positionEmbedding: groupInfo(ps.positionEmbedding),
      },
      tensorSrcRank: ps.tensorSrcRank,
      dataSrcRank: ps.dataSrcRank,
      pipelineFirstRank: ps.pipelineFirstRank,
      pipelineLastRank: ps.pipelineLastRank,
      pipelineNextRank: ps.pipelineNextRank,
      pipelinePrevRank: ps.pipelinePrevRank,
      first: ps.isPipelineFirstStage(),
      last: ps.isPipelineLastStage(),
      cases,
    });
  },

  /** Rank 1 passes a different size (args[0] = 'size'), dtype ('dtype') or collective ('op'). */
  async mismatch() {
    const dist = await initDistributed();
    const odd = rank === 1;
    // 'late': rank 0 joins once rank 1 has failed (its report is written) and exited.
    if (args[1] === 'late' && rank === 0) await reportOf(1, 10_000).then(() => sleep(300));
    const start = Date.now();
    try {
      if (args[0] === 'size') await dist.world.allReduce(zeros([odd ? 12 : 10])).wait();
      else if (args[0] === 'dtype') await dist.world.allReduce(zeros([10], { dtype: odd ? 'bf16' : 'f32' })).wait();
      else if (odd) await dist.world.broadcast(zeros([10]), 0).wait();
      else await dist.world.allReduce(zeros([10])).wait();
      report({ ok: true });
    } catch (err) {
      report(describeError(err, start));
    }
    process.exit(0);
  },

  /** Rank 2 dies right after joining; the others start an allReduce. */
  async 'dead-peer'() {
    const dist = await initDistributed();
    await dist.world.barrier();
    if (rank === 2) process.exit(7);
    const start = Date.now();
    try {
      for (let i = 0; i < 50; i++) await dist.world.allReduce(tensor([1, 2, 3])).wait();
      report({ ok: true });
    } catch (err) {
      report(describeError(err, start));
    }
    process.exit(0);
  },

  /** Rank 1 never calls the collective; the op timeout is args[0] ms. */
  async timeout() {
    const dist = await initDistributed({ timeoutMs: Number(args[0]) });
    if (rank === 1) {
      await new Promise((r) => setTimeout(r, 1500));
      process.exit(0);
    }
    const start = Date.now();
    try {
      await dist.world.allReduce(zeros([4])).wait();
      report({ ok: true });
    } catch (err) {
      report(describeError(err, start));
    }
    process.exit(0);
  },

  /** Collectives inside autograd functions, then large unequal messages both ways in one batch. */
  async sync() {
    const dist = await initDistributed();
    const checked = autogradMappings(dist.world);
    const sizes = largeExchange(dist.world);
    await finish(dist, { checked, sizes });
  },

  /** One case of test/protocol.ts (args[0]): what each rank saw. */
  async protocol() {
    const run = protocolCases[args[0] ?? ''];
    if (!run) throw new Error(`worker: unknown protocol case '${args[0]}'`);
    const dist = await initDistributed({ timeoutMs: Number(args[1] ?? 5000) });
    const start = Date.now();
    try {
      report({ ok: true, value: await run(dist, rank) });
    } catch (err) {
      report(describeError(err, start));
    }
    process.exit(0);
  },

  /** Reports how initDistributed fails (unreachable master, missing ranks, port in use). */
  async 'init-error'() {
    const start = Date.now();
    try {
      const dist = await initDistributed({ rendezvousTimeoutMs: Number(args[0] ?? 2000) });
      report({ ok: true });
      await dist.destroy();
    } catch (err) {
      report(describeError(err, start));
    }
    process.exit(0);
  },
};

const run = scenarios[scenario];
if (!run) {
  console.error(`worker: unknown scenario '${scenario}'`);
  process.exit(2);
}
await run();
