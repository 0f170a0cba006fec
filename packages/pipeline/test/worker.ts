// One rank of a multi-process pipeline test (started by the collectives package's test/spawn.ts):
//   parity <json ParityOptions>: see scenario-parity.ts;
//   p2p: see scenario-p2p.ts;
//   distopt <json DistoptOptions>: see scenario-distopt.ts.
// A failure prints one line naming the rank and exits with 1, so the test can read why.
import { initDistributed } from '@tessera/collectives';
import { type DistoptOptions, distopt } from './scenario-distopt.ts';
import { report } from './report.ts';
import { p2p } from './scenario-p2p.ts';
import { type ParityOptions, parity } from './scenario-parity.ts';

const [name = '', json = '{}'] = process.argv.slice(2);
const dist = await initDistributed();
try {
  if (name === 'parity') report(await parity(dist, JSON.parse(json) as ParityOptions));
  else if (name === 'p2p') report(await p2p(dist));
  else if (name === 'distopt') report(await distopt(dist, JSON.parse(json) as DistoptOptions));
  else throw new Error(`unknown scenario '${name}' (known: parity, p2p, distopt)`);
  await dist.world.barrier();
  await dist.destroy();
} catch (err) {
  console.error(`rank ${dist.rank} failed: ${(err as Error).message}`);
  process.exit(1);
}
