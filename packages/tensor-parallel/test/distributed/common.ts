// Shared by the multi-process scenarios: the report file the parent test reads, the TP group from
// a joined job, and reference data every rank can make identically from a seed.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Distributed, ParallelState } from '@tessera/collectives';
import { Generator, randn, type Tensor } from '@tessera/core';
import { type TensorParallel, tensorParallel } from '../../src/index.ts';

export function report(value: unknown): void {
  writeFileSync(join(process.env.TESSERA_TEST_OUT as string, `report-${process.env.TESSERA_TEST_ID}.json`), JSON.stringify(value));
}

/** Every rank of the job in one TP group. */
export async function tpWorld(dist: Distributed, sequenceParallel: boolean): Promise<{ ps: ParallelState; tp: TensorParallel }> {
  const ps = await ParallelState.create(dist, { tensor: dist.worldSize });
  return { ps, tp: tensorParallel(ps, { sequenceParallel, seed: 1234 }) };
}

/** The same normal numbers on every rank. */
export function shared(shape: number[], seed: number, requiresGrad = false): Tensor {
  return randn(shape, { generator: new Generator(seed), requiresGrad });
}

export { maxAbsDiff as maxDiff } from '../../../core/test/helpers.ts';

/** This rank's chunk of t along dim (of `size` equal chunks). */
export function chunkOf(t: Tensor, dim: number, rank: number, size: number): Tensor {
  const n = (t.shape[dim] as number) / size;
  return t.narrow(dim, rank * n, n);
}
