// One rank of a multi-process model test (started by the collectives package's test/spawn.ts):
//   parity <gpt2|llama> [sp] [selective|full]: TP = world size against TP = 1 in-process;
//   train <tp> <dp> [sp]: the tiny-GPT WikiText-2 run at TP x DP.
// Reports its measurements for src/gpt/distributed.test.ts to check.
import { initDistributed, ParallelState } from '@tessera/collectives';
import { tensorParallel } from '@tessera/tensor-parallel';
import { report } from './report.ts';
import type { RecomputeConfig } from '../../src/gpt/recompute.ts';
import { trainTinyGpt } from '../train-gpt.ts';
import { parity } from './scenario-parity.ts';

const RECOMPUTE: Record<string, RecomputeConfig> = {
  selective: { recomputeGranularity: 'selective' },
  full: { recomputeGranularity: 'full', recomputeMethod: 'uniform', recomputeNumLayers: 1 },
};

const [name = '', ...args] = process.argv.slice(2);
const dist = await initDistributed();
try {
  const sp = args.includes('sp');
  let result: unknown;
  if (name === 'parity') {
    const ps = await ParallelState.create(dist, { tensor: dist.worldSize });
    const recompute = args.map((a) => RECOMPUTE[a]).find((r) => r !== undefined);
    result = await parity(tensorParallel(ps, { sequenceParallel: sp, seed: 1234 }), args[0] as string, recompute);
    ps.destroy();
  } else if (name === 'train') {
    const [tpSize, dpSize] = args.map(Number) as [number, number];
    const ps = await ParallelState.create(dist, { tensor: tpSize, data: dpSize });
    const t0 = performance.now();
    const run = await trainTinyGpt({ tp: tensorParallel(ps, { sequenceParallel: sp, seed: 1234 }), parallel: ps, steps: 20, globalBatch: 8, blockSize: 32 });
    result = { ...run, seconds: (performance.now() - t0) / 1000 };
    ps.destroy();
  } else throw new Error(`unknown scenario '${name}' (known: parity, train)`);
  report(result);
  await dist.world.barrier();
} finally {
  await dist.destroy();
}
