// The rank grid against Megatron-Core's layout. The expected groups are written out by hand from
// RankGenerator's rule (order tp-cp-dp-pp, tp fastest: rank = tp + TP*(cp + CP*(dp + DP*pp))),
// so a change in the layout shows up member by member.
import { describe, expect, it } from 'vitest';
import { computeRankGrid } from './grid.ts';

const singles = (n: number) => Array.from({ length: n }, (_, r) => [r]);

describe('Megatron-Core layouts of 8 ranks', () => {
  it('tp 2, pp 2, dp 2', () => {
    const g = computeRankGrid(8, { tensor: 2, pipeline: 2, data: 2 });
    expect(g.groups.tensor).toEqual([[0, 1], [2, 3], [4, 5], [6, 7]]);
    expect(g.groups.data).toEqual([[0, 2], [1, 3], [4, 6], [5, 7]]);
    expect(g.groups.pipeline).toEqual([[0, 4], [1, 5], [2, 6], [3, 7]]);
    expect(g.groups.context).toEqual(singles(8));
    expect(g.groups.dataWithContext).toEqual([[0, 2], [1, 3], [4, 6], [5, 7]]);
    expect(g.groups.modelParallel).toEqual([[0, 1, 4, 5], [2, 3, 6, 7]]);
    expect(g.groups.embedding).toEqual([[0, 4], [1, 5], [2, 6], [3, 7]]);
    expect(g.groups.positionEmbedding).toEqual([[0], [1], [2], [3]]);
    expect(g.coords(6)).toEqual({ tp: 0, cp: 0, dp: 1, pp: 1 });
  });

  it('tp 4, pp 2, dp 1', () => {
    const g = computeRankGrid(8, { tensor: 4, pipeline: 2, data: 1 });
    expect(g.groups.tensor).toEqual([[0, 1, 2, 3], [4, 5, 6, 7]]);
    expect(g.groups.data).toEqual(singles(8));
    expect(g.groups.pipeline).toEqual([[0, 4], [1, 5], [2, 6], [3, 7]]);
    expect(g.groups.modelParallel).toEqual([[0, 1, 2, 3, 4, 5, 6, 7]]);
    expect(g.groups.embedding).toEqual([[0, 4], [1, 5], [2, 6], [3, 7]]);
    expect(g.groups.positionEmbedding).toEqual([[0], [1], [2], [3]]);
    expect(g.coords(5)).toEqual({ tp: 1, cp: 0, dp: 0, pp: 1 });
  });

  it('tp 1, pp 4, dp 2', () => {
    const g = computeRankGrid(8, { tensor: 1, pipeline: 4, data: 2 });
    expect(g.groups.tensor).toEqual(singles(8));
    expect(g.groups.data).toEqual([[0, 1], [2, 3], [4, 5], [6, 7]]);
    expect(g.groups.pipeline).toEqual([[0, 2, 4, 6], [1, 3, 5, 7]]);
    expect(g.groups.modelParallel).toEqual([[0, 2, 4, 6], [1, 3, 5, 7]]);
    expect(g.groups.embedding).toEqual([[0, 6], [1, 7]]);
    expect(g.groups.positionEmbedding).toEqual([[0], [1]]);
    expect(g.coords(5)).toEqual({ tp: 0, cp: 0, dp: 1, pp: 2 });
  });

  it('tp 2, cp 2, dp 2: context groups, and data with context varying cp fastest', () => {
    const g = computeRankGrid(8, { tensor: 2, context: 2 });
    expect(g.dp).toBe(2);
    expect(g.groups.context).toEqual([[0, 2], [1, 3], [4, 6], [5, 7]]);
    expect(g.groups.data).toEqual([[0, 4], [1, 5], [2, 6], [3, 7]]);
    expect(g.groups.dataWithContext).toEqual([[0, 2, 4, 6], [1, 3, 5, 7]]);
    expect(g.groups.modelParallel).toEqual([[0, 1], [2, 3], [4, 5], [6, 7]]);
    expect(g.groups.embedding).toEqual([[0], [1], [2], [3], [4], [5], [6], [7]]);
  });
});

describe('the grid', () => {
  it('rankAt inverts coords, and every kind of group partitions the ranks', () => {
    const g = computeRankGrid(24, { tensor: 2, pipeline: 3, context: 2 });
    for (let r = 0; r < 24; r++) expect(g.rankAt(g.coords(r))).toBe(r);
    for (const kind of ['tensor', 'pipeline', 'data', 'context', 'dataWithContext', 'modelParallel'] as const) {
      expect(g.groups[kind].flat().sort((a, b) => a - b)).toEqual(Array.from({ length: 24 }, (_, r) => r));
    }
  });

  it('derives dp from the world size and keeps a virtual pipeline size', () => {
    const g = computeRankGrid(16, { tensor: 2, pipeline: 2, virtualPipeline: 3 });
    expect([g.tp, g.cp, g.dp, g.pp, g.vpp]).toEqual([2, 1, 4, 2, 3]);
  });

  it('explains sizes that do not fit', () => {
    expect(() => computeRankGrid(8, { tensor: 3 })).toThrow('the world size 8 is not divisible by tensor (3) x pipeline (1) x context (1) = 3');
    expect(() => computeRankGrid(8, { tensor: 2, pipeline: 2, data: 4 })).toThrow(
      'tensor (2) x context (1) x data (4) x pipeline (2) = 16 does not equal the world size 8',
    );
    expect(() => computeRankGrid(8, { tensor: 0 })).toThrow('the tensor size must be a positive integer, got 0');
    expect(() => computeRankGrid(8, { pipeline: 1, virtualPipeline: 2 })).toThrow('needs a pipeline size of at least 2');
    expect(() => computeRankGrid(8).coords(8)).toThrow('rank 8 is outside the world of 8');
  });
});
