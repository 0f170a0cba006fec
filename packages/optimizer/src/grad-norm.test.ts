import type { ProcessGroup } from '@tessera/collectives';
import { type Parameter, tensor } from '@tessera/core';
import { describe, expect, it } from 'vitest';
import { param, setGrad } from '../test/helpers.ts';
import { clipFactor, clipGradNorm, countsTowardNorm } from './index.ts';

/** A one-member "group" that reports a given rank: enough for the TP-rank convention, no communication. */
const tensorRank = (rank: number) => ({ rank, size: 1 }) as unknown as ProcessGroup;

describe('global gradient norm and clipping (one process)', () => {
  it('counts TP-sharded parameters everywhere, replicated ones on TP rank 0 only, shared copies never', () => {
    const sharded = param([1], [1]);
    sharded.meta = { tensorParallel: true, partitionDim: 0 };
    const replicated = param([1], [1]);
    const shared = param([1], [1]);
    shared.meta = { shared: true, tensorParallel: true };
    expect([0, 1].map((r) => countsTowardNorm(sharded, r))).toEqual([true, true]);
    expect([0, 1].map((r) => countsTowardNorm(replicated, r))).toEqual([true, false]);
    expect([0, 1].map((r) => countsTowardNorm(shared, r))).toEqual([false, false]);
    for (const p of [sharded, replicated, shared]) p.dispose();
  });

  it('returns the norm, scales by maxNorm / (norm + 1e-6) only above maxNorm, and uses mainGrad when present', async () => {
    const a = param([0, 0, 0], [3]);
    const b = param([0], [1]);
    setGrad(a, [3, 0, 0]);
    b.mainGrad = tensor([4]);
    expect(await clipGradNorm([a, b], 10)).toBeCloseTo(5, 6);
    expect((a.grad as Parameter).toArray()).toEqual([3, 0, 0]);
    expect(await clipGradNorm([a, b], 1)).toBeCloseTo(5, 6);
    expect((a.grad as Parameter).toArray()[0]).toBeCloseTo(3 / (5 + 1e-6), 6);
    expect((b.mainGrad as Parameter).toArray()[0]).toBeCloseTo(4 / (5 + 1e-6), 6);
    expect(clipFactor(5, 0)).toBe(1);
    b.mainGrad.dispose();
    b.mainGrad = null;
    for (const p of [a, b]) p.dispose();
  });

  it('on TP rank 1 leaves replicated parameters out of the norm but still clips them', async () => {
    const w = param([0, 0], [2]);
    w.meta = { tensorParallel: true };
    const n = param([0], [1]);
    setGrad(w, [3, 4]);
    setGrad(n, [100]);
    expect(await clipGradNorm([w, n], 1, { groups: { tensor: tensorRank(1) } })).toBeCloseTo(5, 6);
    expect((n.grad as Parameter).toArray()[0]).toBeCloseTo(100 / (5 + 1e-6), 4);
    for (const p of [w, n]) p.dispose();
  });

  it('reports inf or NaN without scaling anything', async () => {
    const a = param([0, 0], [2]);
    setGrad(a, [1, Number.POSITIVE_INFINITY]);
    expect(await clipGradNorm([a], 1)).toBe(Number.POSITIVE_INFINITY);
    expect((a.grad as Parameter).toArray()).toEqual([1, Number.POSITIVE_INFINITY]);
    setGrad(a, [Number.NaN, 1]);
    expect(Number.isNaN(await clipGradNorm([a], 1))).toBe(true);
    a.dispose();
  });
});
