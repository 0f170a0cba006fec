// Every collective of the cpu backend across real processes: worlds of 2, 4 and 8 ranks run the
// same checks (test/cases.ts) against values computed in JS. Each world starts once (beforeAll);
// each check is its own test, passing when every rank passed it.
import { beforeAll, describe, expect, it } from 'vitest';
import { type CaseResult, collectiveCases } from '../../test/cases.ts';
import { expectAllOk, type RankOutcome, runWorld } from '../../test/spawn.ts';

const names = collectiveCases().map((c) => c.name);

function suite(title: string, size: number, env: Record<string, string> = {}) {
  describe(title, () => {
    let outcomes: RankOutcome[] = [];
    beforeAll(async () => {
      outcomes = await runWorld(size, 'collectives', { env, timeoutMs: 100_000 });
      expectAllOk(outcomes);
    }, 120_000);

    it.each(names)('%s', (name) => {
      for (const o of outcomes) {
        const result = (o.report as CaseResult[]).find((r) => r.name === name);
        expect(result, `rank ${o.rank} did not run '${name}'`).toBeDefined();
        expect(result?.error, `rank ${o.rank}`).toBeUndefined();
        expect(result?.ok).toBe(true);
      }
    });
  });
}

suite('world of 2 ranks', 2);
suite('world of 4 ranks (TCP, 100-byte frames: elements cut between frames)', 4, { TESSERA_CPU_TRANSPORT: 'tcp', TESSERA_CPU_SEGMENT_BYTES: '100' });
suite('world of 8 ranks', 8);
