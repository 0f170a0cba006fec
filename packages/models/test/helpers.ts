// Shared by the model tests: TP descriptions without a process group (construction only), full
// weights reassembled from TP slices, and closeness measures.
import { cat, type Module, type Parameter, type Tensor } from '@tessera/core';
import { RngTracker, type TensorParallel } from '@tessera/tensor-parallel';

export function offlineTp(rank: number, size: number, sequenceParallel = false): TensorParallel {
  return { group: undefined, rank, size, sequenceParallel, rng: new RngTracker('cpu') };
}

/** The full parameter from every rank's slice, using its meta (partitionDim, partitionStride). */
export function reassemble(slices: Parameter[]): Tensor {
  const first = slices[0] as Parameter;
  if (first.meta.tensorParallel !== true) return first.clone();
  const dim = first.meta.partitionDim as number;
  const stride = (first.meta.partitionStride as number | undefined) ?? 1;
  const chunk = (first.shape[dim] as number) / stride;
  const parts: Tensor[] = [];
  for (let k = 0; k < stride; k++) for (const s of slices) parts.push(s.narrow(dim, k * chunk, chunk));
  return cat(parts, dim);
}

export function shapes(m: Module): Record<string, number[]> {
  return Object.fromEntries([...m.namedParameters()].map(([n, p]) => [n, [...p.shape]]));
}

export { maxAbsDiff } from '../../core/test/helpers.ts';
