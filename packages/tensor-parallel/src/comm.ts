// The collectives the mappings are built from, on plain tensors (no autograd): each returns a new
// tensor and never writes into its input, because autograd may share an input's memory with
// other gradients or saved activations. All wait synchronously (work.waitSync()), since autograd
// functions are synchronous; on NCCL that only orders the compute stream after the collective.
import { empty, type Tensor } from '@tessera/core';
import type { TensorParallel } from './tensor-parallel.ts';
import { divide } from './utils.ts';

function groupOf(tp: TensorParallel, op: string) {
  if (!tp.group) throw new Error(`${op}: tensor-parallel size ${tp.size} has no process group; build it with tensorParallel(parallelState)`);
  return tp.group;
}

/** Sum (or max) of x over the group, as a new tensor. */
export function allReduce(x: Tensor, tp: TensorParallel, op: 'sum' | 'max' = 'sum'): Tensor {
  const out = x.clone();
  groupOf(tp, 'allReduce').allReduce(out, op).waitSync();
  return out;
}

/** Members' x concatenated along dimension 0. */
export function allGatherFirst(x: Tensor, tp: TensorParallel): Tensor {
  const out = empty([(x.shape[0] as number) * tp.size, ...x.shape.slice(1)], { dtype: x.dtype, device: x.device });
  groupOf(tp, 'allGather').allGather(out, x).waitSync();
  return out;
}

/** Members' x concatenated along the last dimension. */
export function allGatherLast(x: Tensor, tp: TensorParallel): Tensor {
  const stacked = allGatherFirst(x.reshape(1, ...x.shape), tp); // [size, ..., last]
  const dims = stacked.shape.map((_, i) => i);
  // [size, ...lead, last] -> [...lead, size, last], then merge the last two.
  const moved = stacked.permute(...dims.slice(1, -1), 0, dims.length - 1);
  stacked.dispose();
  const out = moved.reshape(...x.shape.slice(0, -1), -1);
  moved.dispose();
  return out;
}

/** This rank's part of the sum over members of x, split along dimension 0. */
export function reduceScatterFirst(x: Tensor, tp: TensorParallel): Tensor {
  const rows = divide(x.shape[0] as number, tp.size, 'reduce-scatter along dimension 0: its size');
  const out = empty([rows, ...x.shape.slice(1)], { dtype: x.dtype, device: x.device });
  groupOf(tp, 'reduceScatter').reduceScatter(out, x).waitSync();
  return out;
}

/** This rank's chunk of x along dimension 0 (a view). */
export function splitFirst(x: Tensor, tp: TensorParallel, what = 'split along dimension 0 (the sequence): its size'): Tensor {
  const rows = divide(x.shape[0] as number, tp.size, what);
  return x.narrow(0, tp.rank * rows, rows);
}

/** This rank's chunk of x along the last dimension (a copy). */
export function splitLast(x: Tensor, tp: TensorParallel): Tensor {
  const cols = divide(x.shape[x.rank - 1] as number, tp.size, 'split along the last dimension: its size');
  return x.narrow(x.rank - 1, tp.rank * cols, cols);
}
