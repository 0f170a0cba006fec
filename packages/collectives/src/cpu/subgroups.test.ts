// Sub-groups from rank lists: members get a group ordered as listed, others get undefined, and
// the collectives work inside each group (including a single-member group).
import { expect, it } from 'vitest';
import type { CaseResult } from '../../test/cases.ts';
import { expectAllOk, runWorld } from '../../test/spawn.ts';

interface GroupReport {
  info: { ranks: number[]; rank: number; size: number };
  cases: CaseResult[];
}

it('creates groups from rank lists and runs collectives in them', async () => {
  const outcomes = await runWorld(4, 'subgroups');
  expectAllOk(outcomes);
  const lists = [[1, 3], [0, 2], [3, 0, 1], [2]];
  for (const o of outcomes) {
    const report = o.report as Record<string, GroupReport | string>;
    for (const list of lists) {
      const entry = report[list.join(',')];
      if (!list.includes(o.rank)) {
        expect(entry).toBe('not a member');
        continue;
      }
      const g = entry as GroupReport;
      expect(g.info).toEqual({ ranks: list, rank: list.indexOf(o.rank), size: list.length });
      for (const c of g.cases) expect(c.error, `rank ${o.rank}, group [${list}], ${c.name}`).toBeUndefined();
      expect(g.cases.length).toBeGreaterThan(5);
    }
  }
}, 60_000);
