// One rank of a multi-process tensor-parallel test (started by the collectives package's
// test/spawn.ts): joins the job, makes every rank one TP group, runs the scenario named by
// argv[2] and reports its measurements for src/distributed.test.ts to check.
import { initDistributed } from '@tessera/collectives';
import { crossEntropy } from './scenario-cross-entropy.ts';
import { layers } from './scenario-layers.ts';
import { mappings } from './scenario-mappings.ts';
import { report, tpWorld } from './common.ts';

const [name = '', ...args] = process.argv.slice(2);
const dist = await initDistributed();
try {
  const { ps, tp } = await tpWorld(dist, args.includes('sp'));
  const result = name === 'mappings' ? mappings(tp) : name === 'layers' ? await layers(tp) : name === 'cross-entropy' ? crossEntropy(tp) : undefined;
  if (result === undefined) throw new Error(`unknown scenario '${name}' (known: mappings, layers, cross-entropy)`);
  report(result);
  await dist.world.barrier();
  ps.destroy();
} finally {
  await dist.destroy();
}
