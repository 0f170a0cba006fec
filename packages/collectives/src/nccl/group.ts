// A process group of the nccl backend: one NCCL communicator on this rank's GPU, with its own
// stream. Calls enqueue at once (after the work already queued on the compute stream) and return
// an EventWork. NVLink multicast (NVLS) stays off: NCCL_NVLS_ENABLE defaults to 0 here and is never
// turned on.
import { comm as coreComm, type Device, Event, type Tensor, zeros } from '@tessera/core';
import { checkChunked, checkGroupRank, checkReduceOp, checkTensor } from '../checks.ts';
import { DistributedError, seconds } from '../errors.ts';
import type { TcpStore } from '../store/client.ts';
import type { P2POp, ProcessGroup, ReduceOp, Work } from '../types.ts';
import { DONE } from '../work.ts';
import { EventWork } from './work.ts';

export interface NcclGroupOptions {
  key: string;
  ranks: readonly number[];
  globalRank: number;
  store: TcpStore;
  device: Device;
  timeoutMs: number;
}

// NCCL's reduce op numbers.
const NCCL_OPS: Record<ReduceOp, number> = { sum: 0, max: 2, min: 3, avg: 4 };

function ncclOp(op: ReduceOp, dtype: string): number {
  // bool travels as uint8: "sum" is any (max), like torch's NCCL backend.
  if (dtype === 'bool' && op === 'sum') return NCCL_OPS.max;
  return NCCL_OPS[op];
}

function withTimeout<T>(p: Promise<T>, ms: number, message: () => string): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new DistributedError('TIMEOUT', message())), Math.min(ms, 2 ** 31 - 1));
    p.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (err) => {
        clearTimeout(timer);
        reject(err);
      },
    );
  });
}

export class NcclProcessGroup implements ProcessGroup {
  readonly backend = 'nccl' as const;
  readonly rank: number;
  readonly size: number;
  readonly ranks: readonly number[];
  readonly key: string;
  readonly device: Device;
  readonly timeoutMs: number;
  readonly #nb: coreComm.NcclBinding;
  #comm: number;
  #broken: DistributedError | undefined;
  readonly #outstanding = new Set<EventWork>();

  private constructor(o: NcclGroupOptions, nb: coreComm.NcclBinding, handle: number) {
    this.ranks = Object.freeze([...o.ranks]);
    this.rank = o.ranks.indexOf(o.globalRank);
    this.size = o.ranks.length;
    this.key = o.key;
    this.device = o.device;
    this.timeoutMs = o.timeoutMs;
    this.#nb = nb;
    this.#comm = handle;
  }

  /** Creates the communicator (all members must call this): group rank 0 makes the NCCL id. */
  static async create(o: NcclGroupOptions): Promise<NcclProcessGroup> {
    const nb = coreComm.ncclBinding();
    process.env.NCCL_NVLS_ENABLE ??= '0';
    const rank = o.ranks.indexOf(o.globalRank);
    const idKey = `tessera/nccl/${o.key}/id`;
    let id: Uint8Array;
    if (rank === 0) {
      id = new Uint8Array(nb.ncclGetUniqueId());
      await o.store.set(idKey, id);
    } else {
      id = await o.store.get(idKey, o.timeoutMs);
    }
    const where = `group [${o.ranks.join(', ')}]`;
    const handle = await withTimeout(
      nb.ncclCommInitRank(Number(o.device.slice(5)), o.ranks.length, id, rank),
      o.timeoutMs,
      () =>
        `NCCL communicator init for ${where} did not finish within ${seconds(o.timeoutMs)}: a member is missing or stuck ` +
        '(run with NCCL_DEBUG=INFO to see which)',
    );
    return new NcclProcessGroup(o, nb, handle);
  }

  describe(): string {
    return `group [${this.ranks.join(', ')}]`;
  }

  globalRank(r: number): number {
    checkGroupRank('globalRank', 'rank', r, this.size);
    return this.ranks[r] as number;
  }

  groupRankOf(globalRank: number): number {
    return this.ranks.indexOf(globalRank);
  }

  /** The communicator's stream handle (for callers that order work against it themselves). */
  get streamHandle(): number {
    return this.#nb.ncclCommStream(this.#usable('streamHandle'));
  }

  allReduce(tensor: Tensor, op: ReduceOp = 'sum'): Work {
    this.#check('allReduce', tensor);
    checkReduceOp('allReduce', op, tensor);
    if (tensor.numel === 0) return DONE;
    return this.#launch([tensor], (c, done) =>
      this.#nb.ncclAllReduce(c, tensor.handle, tensor.offset, tensor.handle, tensor.offset, tensor.numel, code(tensor), ncclOp(op, tensor.dtype), done),
    );
  }

  reduceScatter(output: Tensor, input: Tensor, op: ReduceOp = 'sum'): Work {
    this.#check('reduceScatter', output);
    this.#check('reduceScatter', input);
    checkReduceOp('reduceScatter', op, input);
    checkChunked('reduceScatter', input, 'input', output, 'output', this.size);
    if (output.numel === 0) return DONE;
    return this.#launch([output, input], (c, done) =>
      this.#nb.ncclReduceScatter(c, input.handle, input.offset, output.handle, output.offset, output.numel, code(input), ncclOp(op, input.dtype), done),
    );
  }

  allGather(output: Tensor, input: Tensor): Work {
    this.#check('allGather', output);
    this.#check('allGather', input);
    checkChunked('allGather', output, 'output', input, 'input', this.size);
    if (input.numel === 0) return DONE;
    return this.#launch([output, input], (c, done) =>
      this.#nb.ncclAllGather(c, input.handle, input.offset, output.handle, output.offset, input.numel, code(input), done),
    );
  }

  broadcast(tensor: Tensor, src: number): Work {
    this.#check('broadcast', tensor);
    checkGroupRank('broadcast', 'src', src, this.size);
    if (tensor.numel === 0) return DONE;
    return this.#launch([tensor], (c, done) => this.#nb.ncclBroadcast(c, tensor.handle, tensor.offset, tensor.numel, code(tensor), src, done));
  }

  send(tensor: Tensor, dst: number): Work {
    return this.batchSendRecv([{ op: 'send', tensor, peer: dst }]);
  }

  recv(tensor: Tensor, src: number): Work {
    return this.batchSendRecv([{ op: 'recv', tensor, peer: src }]);
  }

  batchSendRecv(ops: readonly P2POp[]): Work {
    for (const [i, o] of ops.entries()) {
      const name = `batchSendRecv op ${i} (${o.op})`;
      if (o.op !== 'send' && o.op !== 'recv') throw new DistributedError('INVALID', `${name}: op must be 'send' or 'recv', got '${o.op}'`);
      this.#check(name, o.tensor);
      checkGroupRank(name, 'peer', o.peer, this.size);
    }
    // Empty messages have no memory to point NCCL at: both ends skip them (their sizes must match).
    const real = ops.filter((o) => o.tensor.numel > 0);
    if (real.length === 0) return DONE;
    const list = real.map((o) => [o.op === 'send' ? 1 : 0, o.tensor.handle, o.tensor.offset, o.tensor.numel, code(o.tensor), o.peer] as const);
    return this.#launch(
      real.map((o) => o.tensor),
      (c, done) => this.#nb.ncclSendRecv(c, list, done),
    );
  }

  /**
   * Waits (without blocking the event loop) until every member has reached the barrier and this
   * group's earlier work has finished on the GPU; fails after the group's timeout.
   */
  async barrier(): Promise<void> {
    const token = zeros([1], { device: this.device });
    const work = this.allReduce(token);
    token.dispose(); // the work holds the memory until the GPU is done
    const deadline = Date.now() + this.timeoutMs;
    for (let delay = 0.1; !work.completed; delay = Math.min(delay * 2, 10)) {
      this.checkHealth();
      if (Date.now() > deadline) {
        this.abort();
        throw new DistributedError('TIMEOUT', `barrier on ${this.describe()} did not finish within ${seconds(this.timeoutMs)}; the communicator was aborted`);
      }
      await new Promise((r) => setTimeout(r, delay));
    }
    await work.wait();
  }

  /** Throws if NCCL reported an asynchronous error; the group is aborted then. */
  checkHealth(): void {
    if (this.#broken) throw this.#broken;
    const error = this.#nb.ncclCommAsyncError(this.#comm);
    if (error) {
      this.#broken = new DistributedError('PEER_LOST', `NCCL failed on ${this.describe()}: ${error}`);
      this.abort();
      throw this.#broken;
    }
  }

  /** Stops the communicator's pending work and frees it; later calls fail. */
  abort(): void {
    if (this.#comm === 0) return;
    this.#nb.ncclCommAbort(this.#comm);
    this.#comm = 0;
    this.#broken ??= new DistributedError('ABORTED', `${this.describe()} was aborted`);
  }

  /** Waits for queued work and frees the communicator. */
  destroy(): void {
    if (this.#comm === 0) return;
    this.#nb.ncclCommDestroy(this.#comm);
    this.#comm = 0;
    for (const w of this.#outstanding) void w.completed;
    this.#outstanding.clear();
    this.#broken ??= new DistributedError('CLOSED', `${this.describe()} was destroyed`);
  }

  #usable(name: string): number {
    if (this.#broken) throw new DistributedError(this.#broken.code, `${name} on ${this.describe()}: ${this.#broken.message}`);
    return this.#comm;
  }

  #check(name: string, t: Tensor): void {
    checkTensor(name, t, this.device, 'nccl');
  }

  #launch(tensors: Tensor[], call: (comm: number, done: number) => void): Work {
    const c = this.#usable('collective');
    for (const w of this.#outstanding) if (w.completed) this.#outstanding.delete(w);
    const done = new Event(this.device);
    // Views that keep the memory alive until the work is waited on or finished.
    const held = tensors.map((t) => coreComm.retainView(t));
    try {
      call(c, done.handle);
    } catch (err) {
      for (const t of held) t.dispose();
      done.dispose();
      throw err;
    }
    const work = new EventWork(done, held, this);
    this.#outstanding.add(work);
    return work;
  }
}

function code(t: Tensor): 0 | 1 | 2 | 3 | 4 | 5 | 6 {
  return coreComm.nativeDtypeCode(t.dtype) as 0 | 1 | 2 | 3 | 4 | 5 | 6;
}
