// Argument checks shared by the backends: they run before an operation is queued, so a bad call
// fails at once with a message about the call, on the rank that made it.
import type { Device, Tensor } from '@tessera/core';
import { DistributedError } from './errors.ts';
import type { ReduceOp } from './types.ts';

const REDUCE_OPS: readonly ReduceOp[] = ['sum', 'avg', 'max', 'min'];

function invalid(message: string): never {
  throw new DistributedError('INVALID', message);
}

export function checkReduceOp(name: string, op: unknown, t: Tensor): ReduceOp {
  if (!REDUCE_OPS.includes(op as ReduceOp)) invalid(`${name}: unknown reduce op ${JSON.stringify(op)}; use one of ${REDUCE_OPS.join(', ')}`);
  if (op === 'avg' && t.dtype === 'bool') invalid(`${name}: avg is not defined for bool tensors (use max for any, min for all)`);
  return op as ReduceOp;
}

/** The tensor is alive and on the group's device. */
export function checkTensor(name: string, t: Tensor, device: Device, backend: string): void {
  if (t.disposed) invalid(`${name}: the tensor (${t.dtype}) was disposed`);
  if (t.device !== device) {
    const fix = backend === 'cpu' ? "move it with .to('cpu'), or use the nccl backend for GPU tensors" : `move it with .to('${device}')`;
    invalid(`${name}: the ${backend} group works on ${device} tensors, got ${t.describe()}; ${fix}`);
  }
}

/** `big` is `size` chunks the size of `small`, of the same dtype. */
export function checkChunked(name: string, big: Tensor, bigName: string, small: Tensor, smallName: string, size: number): void {
  if (big.dtype !== small.dtype) invalid(`${name}: ${bigName} is ${big.dtype} but ${smallName} is ${small.dtype}; they must match`);
  if (big.numel !== small.numel * size) {
    invalid(
      `${name}: ${bigName} has ${big.numel} elements but must hold ${size} chunks of ${small.numel} (the ${smallName}'s size), ` +
        `i.e. ${small.numel * size} elements`,
    );
  }
}

export function checkGroupRank(name: string, what: string, r: number, size: number): void {
  if (!Number.isInteger(r) || r < 0 || r >= size) {
    invalid(`${name}: ${what} ${r} is not a rank of this group (group ranks are 0..${size - 1}; convert global ranks with groupRankOf())`);
  }
}
