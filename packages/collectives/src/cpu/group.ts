// A process group of the cpu backend: several processes (usually on one host) exchanging CPU
// tensors over the transport's sockets. Operations of a group run one after another in call order,
// like kernels on a stream; each returns a Work at once. A failed operation (timeout, lost peer,
// mismatch) is reported to the other members and leaves the group unusable, as NCCL does.
import { comm, type Tensor } from '@tessera/core';
import { checkChunked, checkGroupRank, checkReduceOp, checkTensor } from '../checks.ts';
import { DistributedError, seconds } from '../errors.ts';
import type { P2POp, ProcessGroup, ReduceOp, Work } from '../types.ts';
import { PromiseWork } from '../work.ts';
import { Channel, groupId, NO_META, type OpMeta } from './frame.ts';
import { OpContext, type OpGroup } from './op.ts';
import {
  chainBroadcast, disseminationBarrier, expectSegment, ringAllGather, ringAllReduce, ringReduceScatter, segmentElems, segments,
  writeSegment,
} from './ring.ts';
import type { CpuTransport } from './transport.ts';

export interface CpuGroupOptions {
  /** Identifies the group across ranks (the same on every member). */
  key: string;
  /** Global ranks of the members, in group-rank order. */
  ranks: readonly number[];
  /** This process's global rank. */
  globalRank: number;
  transport: CpuTransport;
  timeoutMs: number;
  segmentBytes: number;
}

const MAX_TIMER_MS = 2 ** 31 - 1;

/** An operation's work, on views of its tensors (in the order they were passed). */
type Body = (ctx: OpContext, held: [Tensor, Tensor]) => Promise<void>;

/** The elementwise combine for a reduce op on a dtype (bool: sum is "any", like NCCL on uint8 max). */
function combineFor(op: ReduceOp, dtype: string): comm.ElementwiseReduceOp {
  if (dtype === 'bool') return op === 'min' ? 'min' : 'max';
  return op === 'avg' ? 'sum' : op;
}

export class CpuProcessGroup implements ProcessGroup, OpGroup {
  readonly backend = 'cpu' as const;
  readonly rank: number;
  readonly size: number;
  readonly ranks: readonly number[];
  readonly key: string;
  readonly gid: number;
  readonly transport: CpuTransport;
  readonly timeoutMs: number;
  readonly segmentBytes: number;
  #seq = 0;
  readonly #sent: number[];
  readonly #received: number[];
  #tail: Promise<void> = Promise.resolve();
  #current: OpContext | undefined;
  #broken: DistributedError | undefined;

  private constructor(o: CpuGroupOptions) {
    this.ranks = Object.freeze([...o.ranks]);
    this.rank = o.ranks.indexOf(o.globalRank);
    this.size = o.ranks.length;
    this.key = o.key;
    this.gid = groupId(o.key);
    this.transport = o.transport;
    this.timeoutMs = Math.min(o.timeoutMs, MAX_TIMER_MS);
    this.segmentBytes = o.segmentBytes;
    this.#sent = new Array<number>(this.size).fill(0);
    this.#received = new Array<number>(this.size).fill(0);
  }

  /** Connects to every member (all members must call this) and returns the group. */
  static async create(o: CpuGroupOptions): Promise<CpuProcessGroup> {
    const g = new CpuProcessGroup(o);
    await o.transport.connect(o.ranks, o.timeoutMs);
    o.transport.register(g.gid, { abort: (from, _header, message) => g.#onRemoteFailure(from, message) });
    return g;
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
    const meta = this.#meta('allReduce', tensor, op);
    return this.#collective('allReduce', meta, [tensor], async (ctx, [t]) => {
      await ringAllReduce(ctx, t, combineFor(op, t.dtype));
      if (op === 'avg') comm.divideElements(t, 0, t.numel, this.size);
    });
  }

  reduceScatter(output: Tensor, input: Tensor, op: ReduceOp = 'sum'): Work {
    checkTensor('reduceScatter', output, 'cpu', 'cpu');
    checkTensor('reduceScatter', input, 'cpu', 'cpu');
    checkReduceOp('reduceScatter', op, input);
    checkChunked('reduceScatter', input, 'input', output, 'output', this.size);
    const meta = this.#meta('reduceScatter', output, op);
    return this.#collective('reduceScatter', meta, [output, input], async (ctx, [out, inp]) => {
      await ringReduceScatter(ctx, out, inp, combineFor(op, inp.dtype));
      if (op === 'avg') comm.divideElements(out, 0, out.numel, this.size);
    });
  }

  allGather(output: Tensor, input: Tensor): Work {
    checkTensor('allGather', output, 'cpu', 'cpu');
    checkTensor('allGather', input, 'cpu', 'cpu');
    checkChunked('allGather', output, 'output', input, 'input', this.size);
    const meta = this.#meta('allGather', input);
    return this.#collective('allGather', meta, [output, input], (ctx, [out, inp]) => ringAllGather(ctx, out, inp));
  }

  broadcast(tensor: Tensor, src: number): Work {
    checkTensor('broadcast', tensor, 'cpu', 'cpu');
    checkGroupRank('broadcast', 'src', src, this.size);
    const meta = { ...this.#meta('broadcast', tensor), root: src };
    return this.#collective('broadcast', meta, [tensor], (ctx, [t]) => chainBroadcast(ctx, t, src));
  }

  barrier(): Promise<void> {
    return this.#collective('barrier', { ...NO_META, op: 'barrier' }, [], disseminationBarrier).wait();
  }

  send(tensor: Tensor, dst: number): Work {
    return this.batchSendRecv([{ op: 'send', tensor, peer: dst }]);
  }

  recv(tensor: Tensor, src: number): Work {
    return this.batchSendRecv([{ op: 'recv', tensor, peer: src }]);
  }

  /** Sends go out first, then every receive waits at once: neighbours cannot deadlock on order. */
  batchSendRecv(ops: readonly P2POp[]): Work {
    const planned = ops.map((o, i) => {
      const name = `batchSendRecv op ${i} (${o.op})`;
      if (o.op !== 'send' && o.op !== 'recv') throw new DistributedError('INVALID', `${name}: op must be 'send' or 'recv', got '${o.op}'`);
      checkTensor(name, o.tensor, 'cpu', 'cpu');
      checkGroupRank(name, 'peer', o.peer, this.size);
      return { ...o, meta: this.#meta('send', o.tensor) };
    });
    // Message numbers follow call order per peer and direction, so the n-th send from A to B
    // meets the n-th receive on B from A.
    const numbered = planned.map((o) => {
      const counts = o.op === 'send' ? this.#sent : this.#received;
      const seq = counts[o.peer] as number;
      counts[o.peer] = seq + 1;
      return { ...o, seq };
    });
    const label =
      numbered.length === 1
        ? `${numbered[0]!.op === 'send' ? 'send to' : 'recv from'} rank ${this.ranks[numbered[0]!.peer]}`
        : `batchSendRecv of ${numbered.length} ops`;
    return this.#submit(label, Channel.p2p, numbered.map((o) => o.tensor), async (ctx, held) => {
      const all = numbered.map((o, i) => ({ ...o, tensor: held[i] as Tensor }));
      for (const o of all) {
        if (o.op !== 'send') continue;
        for (const [off, len] of segments(0, o.tensor.numel, segmentElems(ctx, o.tensor))) {
          ctx.sendElements(o.peer, o.tensor, off, len, o.seq, o.meta);
        }
      }
      await Promise.all(
        all
          .filter((o) => o.op === 'recv')
          .map(async (o) => {
            for (const [off, len] of segments(0, o.tensor.numel, segmentElems(ctx, o.tensor))) {
              const payload = await ctx.recv(o.peer, o.seq, o.meta);
              writeSegment(o.tensor, off, expectSegment(ctx, o.peer, payload, o.tensor, len));
            }
          }),
      );
      await ctx.flush();
    });
  }

  /** Fails whatever runs now and every later call (the job is shutting down). */
  destroy(): void {
    this.#break(new DistributedError('CLOSED', `${this.describe()} was destroyed`));
    this.transport.unregister(this.gid);
  }

  #meta(op: OpMeta['op'], t: Tensor, reduce?: ReduceOp): OpMeta {
    return { op, dtype: t.dtype, numel: t.numel, reduce: reduce ?? 'none', root: 0 };
  }

  #collective(name: string, meta: OpMeta, tensors: Tensor[], body: Body): Work {
    return this.#submit(`${name} #${this.#seq}`, Channel.collective, tensors, body, this.#seq++, meta);
  }

  #submit(label: string, channel: Channel, tensors: Tensor[], body: Body, seq = 0, meta = NO_META): Work {
    // The operation works through its own views, so the caller may dispose the tensors meanwhile.
    const held = tensors.map((t) => comm.retainView(t));
    const self = this.ranks[this.rank] as number;
    const where = `${label} on ${this.describe()} (rank ${self})`;
    const run = async () => {
      const ctx = new OpContext(this, channel, seq, meta);
      try {
        if (this.#broken) {
          throw new DistributedError(this.#broken.code, `this process group is unusable after an earlier failure: ${this.#broken.message}`);
        }
        this.#current = ctx;
        const timer = setTimeout(() => {
          const waiting =
            ctx.waitingOn === undefined
              ? 'its sends to be taken (is a peer stuck without reading?)'
              : `data from rank ${ctx.waitingOn} (is that rank stuck, or did it skip this call?)`;
          ctx.fail(new DistributedError('TIMEOUT', `did not finish within ${seconds(this.timeoutMs)}; it was waiting for ${waiting}`));
        }, this.timeoutMs);
        try {
          await body(ctx, held as [Tensor, Tensor]);
        } finally {
          clearTimeout(timer);
          this.#current = undefined;
        }
      } catch (err) {
        const cause = err instanceof DistributedError ? err : new DistributedError('INVALID', (err as Error).message, { cause: err });
        const failure = new DistributedError(cause.code, `${where}: ${cause.message}`, { cause: err });
        if (!this.#broken) {
          if (cause.code !== 'ABORTED') ctx.reportFailure(failure.message);
          this.#break(failure);
        }
        throw failure;
      } finally {
        for (const t of held) t.dispose();
      }
    };
    const promise = this.#tail.then(run);
    this.#tail = promise.catch(() => {});
    return new PromiseWork(promise);
  }

  #break(err: DistributedError): void {
    if (this.#broken) return;
    this.#broken = err;
    this.#current?.fail(err);
  }

  #onRemoteFailure(from: number, message: string): void {
    this.#break(new DistributedError('ABORTED', `rank ${from} reported a failure: ${message}`));
  }
}
