// One rank of a multi-process optimizer test (started by the collectives package's test/spawn.ts
// with RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT set): runs the scenario named by argv[2] and
// reports measurements for the parent test (src/distributed.test.ts) to check.
import { type Distributed, initDistributed } from '@tessera/collectives';
import { report } from './common.ts';
import { clipTp } from './scenario-clip.ts';
import { dataParallel } from './scenario-ddp.ts';
import { reshard } from './scenario-reshard.ts';
import { distributedMemory, distributedOptimizer } from './scenario-distopt.ts';

const scenarios: Record<string, (dist: Distributed, args: string[]) => Promise<unknown>> = {
  ddp: dataParallel,
  distopt: distributedOptimizer,
  'distopt-memory': distributedMemory,
  'clip-tp': clipTp,
  reshard,
};

const name = process.argv[2] ?? '';
const run = scenarios[name];
if (!run) throw new Error(`unknown scenario '${name}' (known: ${Object.keys(scenarios).join(', ')})`);
const dist = await initDistributed();
try {
  report(await run(dist, process.argv.slice(3)));
  await dist.world.barrier();
} finally {
  await dist.destroy();
}
