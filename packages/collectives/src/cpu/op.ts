// One running operation of a cpu process group: sends and receives its frames, checks that every
// frame it receives describes the same operation as its own call, and fails as a whole (timeout,
// lost peer, mismatch, another rank's report), rejecting whatever it is waiting for.
import { bytesPerElement, comm, type Tensor } from '@tessera/core';
import { DistributedError } from '../errors.ts';
import { Channel, FrameType, type OpMeta, payloadBytes } from './frame.ts';
import type { CpuTransport } from './transport.ts';
import { messageKey } from './transport.ts';

/** The group an operation runs in, as the operation needs it. */
export interface OpGroup {
  readonly gid: number;
  /** This process's rank within the group. */
  readonly rank: number;
  readonly size: number;
  /** Global ranks of the members, in group-rank order. */
  readonly ranks: readonly number[];
  readonly transport: CpuTransport;
  readonly segmentBytes: number;
}

function describeMeta(m: OpMeta): string {
  const parts = [`${m.op}`, `${m.dtype} x ${m.numel}`];
  if (m.reduce !== 'none') parts.push(`op ${m.reduce}`);
  if (m.op === 'broadcast') parts.push(`root ${m.root}`);
  return parts.join(', ');
}

function sameMeta(a: OpMeta, b: OpMeta): boolean {
  return a.op === b.op && a.dtype === b.dtype && a.numel === b.numel && a.reduce === b.reduce && a.root === b.root;
}

export class OpContext {
  readonly group: OpGroup;
  readonly channel: Channel;
  readonly seq: number;
  readonly meta: OpMeta;
  /** The global rank this operation waits for right now (named when it times out). */
  waitingOn: number | undefined;
  #failure: DistributedError | undefined;
  readonly #cancels = new Set<(err: Error) => void>();
  readonly #sends: Promise<void>[] = [];

  constructor(group: OpGroup, channel: Channel, seq: number, meta: OpMeta) {
    this.group = group;
    this.channel = channel;
    this.seq = seq;
    this.meta = meta;
  }

  get rank(): number {
    return this.group.rank;
  }

  get size(): number {
    return this.group.size;
  }

  /** Sends a payload (in pieces) to a member (group rank) under this operation's key. */
  send(to: number, payload: readonly Uint8Array[], seq = this.seq, meta = this.meta): Promise<void> {
    this.#check();
    const peer = this.group.ranks[to] as number;
    const header = { type: FrameType.data, channel: this.channel, gid: this.group.gid, seq, meta, length: payloadBytes(payload) };
    const sent = this.group.transport.send(peer, header, payload);
    sent.catch(() => {}); // reported by flush() or by the receive that needs the peer
    this.#sends.push(sent);
    return sent;
  }

  /** Sends elements [start, start+count) of t, through a pooled buffer. */
  sendElements(to: number, t: Tensor, start: number, count: number, seq = this.seq, meta = this.meta): void {
    const pool = this.group.transport.pool;
    const buf = pool.take(count * bytesPerElement(t.dtype));
    comm.readElements(t, start, count, buf);
    const settle = () => pool.give(buf);
    this.send(to, [buf], seq, meta).then(settle, settle);
  }

  /** The next payload from a member (group rank), after checking that it describes the same call. */
  async recv(from: number, seq = this.seq, expect = this.meta): Promise<Buffer[]> {
    this.#check();
    const peer = this.group.ranks[from] as number;
    const { message, cancel } = this.group.transport.mailbox(peer).take(messageKey(this.group.gid, this.channel, seq));
    let onFail: ((err: Error) => void) | undefined;
    const failed = new Promise<never>((_, reject) => {
      onFail = reject;
    });
    this.#cancels.add(onFail as (err: Error) => void);
    this.waitingOn = peer;
    try {
      const m = await Promise.race([message, failed]);
      if (!sameMeta(m.header.meta, expect)) throw this.#mismatch(peer, m.header.meta, expect);
      return m.payload;
    } catch (err) {
      cancel();
      throw err;
    } finally {
      this.#cancels.delete(onFail as (err: Error) => void);
      this.waitingOn = undefined;
    }
  }

  /** Waits until every payload sent so far is handed to the operating system. */
  async flush(): Promise<void> {
    this.#check();
    await Promise.all(this.#sends);
    this.#sends.length = 0;
  }

  /** Fails the operation: what it waits for rejects with `err`, and so does every later step. */
  fail(err: DistributedError): void {
    if (this.#failure) return;
    this.#failure = err;
    for (const cancel of this.#cancels) cancel(err);
    this.#cancels.clear();
  }

  get failure(): DistributedError | undefined {
    return this.#failure;
  }

  /** Tells the other members that this operation failed here, so they stop waiting for it. */
  reportFailure(message: string): void {
    const header = {
      type: FrameType.abort,
      channel: this.channel,
      gid: this.group.gid,
      seq: this.seq,
      meta: this.meta,
      length: 0,
    };
    const payload = Buffer.from(message, 'utf8');
    for (const peer of this.group.ranks) {
      if (peer === this.group.ranks[this.group.rank]) continue;
      if (this.group.transport.lost(peer)) continue;
      this.group.transport.send(peer, { ...header, length: payload.length }, [payload]).catch(() => {});
    }
  }

  #check(): void {
    if (this.#failure) throw this.#failure;
  }

  #mismatch(peer: number, theirs: OpMeta, mine: OpMeta): DistributedError {
    const self = this.group.ranks[this.group.rank] as number;
    const what =
      this.channel === Channel.p2p
        ? `rank ${peer} sent ${theirs.dtype} x ${theirs.numel}, but this rank (${self}) receives into ${mine.dtype} x ${mine.numel}; ` +
          'a recv must match its send in dtype and element count'
        : theirs.op !== mine.op
          ? `rank ${peer} called ${theirs.op} while this rank (${self}) called ${mine.op}; every member must call the same ` +
            'collectives in the same order'
          : `rank ${peer} called ${describeMeta(theirs)}, but this rank (${self}) called ${describeMeta(mine)}; every member ` +
            'must pass the same dtype, element count, reduce op and root';
    return new DistributedError('MISMATCH', what);
  }
}

export { Channel };
