// The contract every communication backend implements (cpu for multi-process runs on one host,
// nccl for GPUs), and what the parallel packages (tensor-parallel, pipeline, optimizer) code
// against. Each operation returns a Work at once. On NCCL the operation is queued on the
// communicator's stream, so it overlaps compute; on the cpu backend it has already run when the
// call returns. `await work.wait()` or `work.waitSync()` orders later work after it (for NCCL: the
// current compute stream waits on the communication stream, without blocking the host). Code
// inside autograd functions (the tensor-parallel mappings) uses waitSync(), since forward and
// backward are synchronous.
import type { Tensor } from '@tessera/core';

export type ReduceOp = 'sum' | 'avg' | 'max' | 'min';
export type BackendName = 'cpu' | 'nccl';

export interface Work {
  /** Resolves when the operation's results may be used by later work (and its inputs reused). */
  wait(): Promise<void>;
  /**
   * The same ordering without a promise: returns once later work on the current stream (or, on
   * the cpu backend, later host code) sees the results. Throws the operation's error, if any.
   */
  waitSync(): void;
  /** True once the operation has finished (non-blocking check). */
  readonly completed: boolean;
}

/** One point-to-point operation of a batched exchange (pipeline stages send and receive together). */
export interface P2POp {
  op: 'send' | 'recv';
  tensor: Tensor;
  /** The peer's rank within the group. */
  peer: number;
}

export interface ProcessGroup {
  readonly backend: BackendName;
  /** This process's rank within the group. */
  readonly rank: number;
  readonly size: number;
  /** Global ranks of the group's members, in group-rank order. */
  readonly ranks: readonly number[];

  /** In place: every member ends with the reduction of all members' tensors. */
  allReduce(tensor: Tensor, op?: ReduceOp): Work;
  /** input holds `size` equal contiguous chunks; member r receives the reduction of chunk r. */
  reduceScatter(output: Tensor, input: Tensor, op?: ReduceOp): Work;
  /** output holds `size` equal contiguous chunks; chunk r is member r's input. */
  allGather(output: Tensor, input: Tensor): Work;
  /** In place: every member ends with the tensor of group rank `src`. */
  broadcast(tensor: Tensor, src: number): Work;
  send(tensor: Tensor, dst: number): Work;
  recv(tensor: Tensor, src: number): Work;
  /** Several sends and receives issued together (deadlock-free between pipeline neighbours). */
  batchSendRecv(ops: readonly P2POp[]): Work;
  barrier(): Promise<void>;
}
