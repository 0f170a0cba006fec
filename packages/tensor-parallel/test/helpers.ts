// Shared by the tensor-parallel tests: TP descriptions without a process group (for code that only
// reads rank and size, like initialization), and closeness measures.
import type { Tensor } from '@tessera/core';
import { RngTracker } from '../src/random.ts';
import type { TensorParallel } from '../src/tensor-parallel.ts';

/** Rank `rank` of a TP group of `size` that never communicates (construction and init only). */
export function offlineTp(rank: number, size: number, sequenceParallel = false): TensorParallel {
  return { group: undefined, rank, size, sequenceParallel, rng: new RngTracker('cpu') };
}

/** Largest |a - b| over the elements (NaN propagates). */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`maxAbsDiff: ${a.length} values vs ${b.length}`);
  let worst = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs((a[i] as number) - (b[i] as number));
    if (!(d <= worst)) worst = d;
  }
  return worst;
}

export function diff(a: Tensor, b: Tensor): number {
  if (a.shape.join() !== b.shape.join()) throw new Error(`diff: shapes [${a.shape}] and [${b.shape}] differ`);
  return maxAbsDiff(a.toArray(), b.toArray());
}
