// Tensor parallelism in real processes on the cpu backend (one TP group of 2 or 4 ranks): every
// mapping, every parallel layer against its dense counterpart (with and without sequence
// parallelism), and vocab-parallel cross entropy. Each rank measures its differences from the
// dense computation (scenarios in test/distributed/) and this file checks them.
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { expectAllOk, runWorld } from '../../collectives/test/spawn.ts';

const WORKER = fileURLToPath(new URL('../test/distributed/worker.ts', import.meta.url));

async function world<T>(size: number, scenario: string, args: string[] = []): Promise<T[]> {
  const outcomes = await runWorld(size, scenario, { script: WORKER, args, timeoutMs: 100_000 });
  expectAllOk(outcomes);
  return outcomes.map((o) => o.report as T);
}

describe('tensor-parallel mappings (cpu backend, real processes)', () => {
  for (const tp of [2, 4]) {
    it(`TP=${tp}: each mapping's forward and backward`, async () => {
      for (const r of await world<Record<string, { fwd: number; bwd: number }>>(tp, 'mappings')) {
        expect(Object.keys(r)).toHaveLength(8);
        for (const [name, d] of Object.entries(r)) {
          expect(d.fwd, `${name} forward`).toBeLessThan(1e-6);
          expect(d.bwd, `${name} backward`).toBeLessThan(1e-6);
        }
      }
    }, 120_000);
  }
});

describe('parallel layers equal their dense counterparts (cpu backend, real processes)', () => {
  for (const tp of [2, 4]) {
    for (const sp of [false, true]) {
      it(`TP=${tp}${sp ? ' with sequence parallelism' : ''}: column, row and vocab-parallel embedding, forward and backward`, async () => {
        for (const r of await world<Record<string, Record<string, number>>>(tp, 'layers', sp ? ['sp'] : [])) {
          expect(Object.keys(r).sort()).toEqual(sp ? ['column', 'embedding', 'embeddingReduceScatter', 'row'] : ['column', 'columnGatherOutput', 'embedding', 'row', 'rowScatterInput']);
          for (const [layer, diffs] of Object.entries(r)) {
            for (const [what, d] of Object.entries(diffs)) {
              if (what === 'biasGradPartialGap') expect(d, `${layer}: the SP bias gradient is partial before the all-reduce`).toBeGreaterThan(1e-3);
              else expect(d, `${layer} ${what}`).toBeLessThan(1e-5);
            }
          }
        }
      }, 120_000);
    }
  }
});

describe('vocab-parallel cross entropy (cpu backend, real processes)', () => {
  for (const tp of [2, 4]) {
    it(`TP=${tp}: equals dense cross entropy, and follows Megatron's local-vocabulary label smoothing`, async () => {
      for (const r of await world<Record<string, number>>(tp, 'cross-entropy')) {
        for (const k of ['plainLoss', 'plainGrad', 'ignoreIndexLoss', 'ignoreIndexGrad', 'smoothedLoss', 'smoothedGrad']) expect(r[k], k).toBeLessThan(1e-5);
        expect(r.smoothedVsGlobal).toBeGreaterThan(1e-4);
      }
    }, 120_000);
  }
});
