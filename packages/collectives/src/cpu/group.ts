// A process group of the cpu backend: several processes (usually on one host) exchanging CPU
// tensors through the native data plane (csrc/cpu/comm_*.cpp). Every operation runs to the end
// inside the call, on this thread, reading and writing the tensors' memory directly: the Work it
// returns is already complete, so collectives work inside synchronous code (autograd forward and
// backward). A failed operation (timeout, lost peer, mismatch) throws from the call, is reported to
// the other members, and leaves the group unusable, as NCCL does.
import { comm, type Tensor } from '@tessera/core';
import { checkChunked, checkGroupRank, checkReduceOp, checkTensor } from '../checks.ts';
import { DistributedError } from '../errors.ts';
import type { P2POp, ProcessGroup, ReduceOp, Work } from '../types.ts';
import { DONE } from '../work.ts';
import { callNative, type CpuCommBinding, cpuCommBinding } from './native.ts';

export interface CpuGroupOptions {
  /** Identifies the group across ranks (the same on every member). */
  key: string;
  /** Global ranks of the members, in group-rank order. */
  ranks: readonly number[];
  /** This process's global rank. */
  globalRank: number;
  timeoutMs: number;
  /** How many bytes the data plane moves and reduces at a time. */
  segmentBytes: number;
}

const MAX_TIMEOUT_MS = 2 ** 31 - 1;
const REDUCE_CODES: Record<ReduceOp, number> = { sum: 0, avg: 1, max: 2, min: 3 };

const code = (t: Tensor) => comm.nativeDtypeCode(t.dtype) as 0 | 1 | 2 | 3 | 4 | 5 | 6;

export class CpuProcessGroup implements ProcessGroup {
  readonly backend = 'cpu' as const;
  readonly rank: number;
  readonly size: number;
  readonly ranks: readonly number[];
  readonly key: string;
  readonly timeoutMs: number;
  readonly #nb: CpuCommBinding;
  #handle: number;

  private constructor(o: CpuGroupOptions, nb: CpuCommBinding, handle: number) {
    this.ranks = Object.freeze([...o.ranks]);
    this.rank = o.ranks.indexOf(o.globalRank);
    this.size = o.ranks.length;
    this.key = o.key;
    this.timeoutMs = Math.min(o.timeoutMs, MAX_TIMEOUT_MS);
    this.#nb = nb;
    this.#handle = handle;
  }

  /** The group over connections that CpuMesh.connect() has made (every member calls this). */
  static create(o: CpuGroupOptions): CpuProcessGroup {
    const nb = cpuCommBinding();
    const timeoutMs = Math.min(o.timeoutMs, MAX_TIMEOUT_MS);
    const handle = callNative(() => nb.cpuCommGroupCreate(o.key, o.ranks, timeoutMs, o.segmentBytes));
    return new CpuProcessGroup(o, nb, handle);
  }

  describe(): string {
    return `group [${this.ranks.join(', ')}]`;
  }

  /** The global rank of group rank r. */
  globalRank(r: number): number {
    checkGroupRank('globalRank', 'rank', r, this.size);
    return this.ranks[r] as number;
  }

  /** The group rank of a global rank, or -1 when it is not a member. */
  groupRankOf(globalRank: number): number {
    return this.ranks.indexOf(globalRank);
  }

  allReduce(tensor: Tensor, op: ReduceOp = 'sum'): Work {
    checkTensor('allReduce', tensor, 'cpu', 'cpu');
    checkReduceOp('allReduce', op, tensor);
    const h = this.#group();
    callNative(() => this.#nb.cpuCommAllReduce(h, tensor.handle, tensor.offset, tensor.numel, code(tensor), REDUCE_CODES[op]));
    return DONE;
  }

  reduceScatter(output: Tensor, input: Tensor, op: ReduceOp = 'sum'): Work {
    checkTensor('reduceScatter', output, 'cpu', 'cpu');
    checkTensor('reduceScatter', input, 'cpu', 'cpu');
    checkReduceOp('reduceScatter', op, input);
    checkChunked('reduceScatter', input, 'input', output, 'output', this.size);
    const h = this.#group();
    callNative(() =>
      this.#nb.cpuCommReduceScatter(h, output.handle, output.offset, input.handle, input.offset, output.numel, code(input), REDUCE_CODES[op]),
    );
    return DONE;
  }

  allGather(output: Tensor, input: Tensor): Work {
    checkTensor('allGather', output, 'cpu', 'cpu');
    checkTensor('allGather', input, 'cpu', 'cpu');
    checkChunked('allGather', output, 'output', input, 'input', this.size);
    const h = this.#group();
    callNative(() => this.#nb.cpuCommAllGather(h, output.handle, output.offset, input.handle, input.offset, input.numel, code(input)));
    return DONE;
  }

  broadcast(tensor: Tensor, src: number): Work {
    checkTensor('broadcast', tensor, 'cpu', 'cpu');
    checkGroupRank('broadcast', 'src', src, this.size);
    const h = this.#group();
    callNative(() => this.#nb.cpuCommBroadcast(h, tensor.handle, tensor.offset, tensor.numel, code(tensor), src));
    return DONE;
  }

  /** Resolves once every member has reached it (it has, when the promise exists). */
  barrier(): Promise<void> {
    try {
      const h = this.#group();
      callNative(() => this.#nb.cpuCommBarrier(h));
      return Promise.resolve();
    } catch (err) {
      return Promise.reject(err);
    }
  }

  send(tensor: Tensor, dst: number): Work {
    return this.batchSendRecv([{ op: 'send', tensor, peer: dst }]);
  }

  recv(tensor: Tensor, src: number): Work {
    return this.batchSendRecv([{ op: 'recv', tensor, peer: src }]);
  }

  /**
   * Every send and receive of the batch progresses at once, so neighbours that send to each other
   * cannot deadlock, whatever the sizes. Messages between two ranks meet in call order.
   */
  batchSendRecv(ops: readonly P2POp[]): Work {
    const list = ops.map((o, i) => {
      const name = `batchSendRecv op ${i} (${o.op})`;
      if (o.op !== 'send' && o.op !== 'recv') throw new DistributedError('INVALID', `${name}: op must be 'send' or 'recv', got '${o.op}'`);
      checkTensor(name, o.tensor, 'cpu', 'cpu');
      checkGroupRank(name, 'peer', o.peer, this.size);
      return [o.op === 'send' ? 1 : 0, o.tensor.handle, o.tensor.offset, o.tensor.numel, code(o.tensor), o.peer] as const;
    });
    const h = this.#group();
    callNative(() => this.#nb.cpuCommSendRecv(h, list));
    return DONE;
  }

  /** Later calls fail with CLOSED (the job is shutting down). */
  destroy(): void {
    if (this.#handle === 0) return;
    const h = this.#handle;
    this.#handle = 0;
    try {
      this.#nb.cpuCommGroupDestroy(h);
    } catch {
      // the whole mesh is closed already
    }
  }

  #group(): number {
    if (this.#handle === 0) {
      throw new DistributedError('CLOSED', `${this.describe()} was destroyed; this process group is unusable`);
    }
    return this.#handle;
  }
}
