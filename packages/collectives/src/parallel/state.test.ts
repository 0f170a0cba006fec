// ParallelState across 8 processes: each rank's groups, neighbours and source ranks match the
// grid, and collectives run in the groups it created.
import { describe, expect, it } from 'vitest';
import type { CaseResult } from '../../test/cases.ts';
import { expectAllOk, runWorld } from '../../test/spawn.ts';
import { computeRankGrid, groupContaining, type GridGroups } from './grid.ts';

interface Info {
  ranks: number[];
  rank: number;
  size: number;
}

interface StateReport {
  coords: { tp: number; cp: number; dp: number; pp: number };
  groups: Record<keyof GridGroups, Info | undefined>;
  tensorSrcRank: number;
  dataSrcRank: number;
  pipelineFirstRank: number;
  pipelineLastRank: number;
  pipelineNextRank: number;
  pipelinePrevRank: number;
  first: boolean;
  last: boolean;
  cases: Record<string, CaseResult[]>;
}

describe.each([
  [2, 2, 2],
  [4, 2, 1],
  [1, 4, 2],
])('tp %i, pp %i, dp %i on 8 processes', (tp, pp, dp) => {
  it('gives every rank its groups, neighbours and source ranks', async () => {
    const outcomes = await runWorld(8, 'parallel-state', { args: [String(tp), String(pp), String(dp)], timeoutMs: 90_000 });
    expectAllOk(outcomes);
    const grid = computeRankGrid(8, { tensor: tp, pipeline: pp, data: dp });
    for (const o of outcomes) {
      const r = o.report as StateReport;
      const rank = o.rank;
      expect(r.coords).toEqual(grid.coords(rank));
      for (const kind of Object.keys(grid.groups) as Array<keyof GridGroups>) {
        const ranks = groupContaining(grid.groups[kind], rank);
        expect(r.groups[kind], `rank ${rank} ${kind}`).toEqual(ranks && { ranks, rank: ranks.indexOf(rank), size: ranks.length });
      }
      const pipe = groupContaining(grid.groups.pipeline, rank) as number[];
      const at = pipe.indexOf(rank);
      expect(r.tensorSrcRank).toBe(groupContaining(grid.groups.tensor, rank)?.[0]);
      expect(r.dataSrcRank).toBe(groupContaining(grid.groups.data, rank)?.[0]);
      expect([r.pipelineFirstRank, r.pipelineLastRank]).toEqual([pipe[0], pipe[pp - 1]]);
      expect([r.pipelineNextRank, r.pipelinePrevRank]).toEqual([pipe[(at + 1) % pp], pipe[(at - 1 + pp) % pp]]);
      expect([r.first, r.last]).toEqual([at === 0, at === pp - 1]);
      for (const [name, results] of Object.entries(r.cases)) {
        for (const c of results) expect(c.error, `rank ${rank} ${name} group: ${c.name}`).toBeUndefined();
      }
    }
  }, 100_000);
});
