// Point-to-point between neighbouring stages (Megatron's p2p_communication with batch_p2p_comm):
// every exchange is one batchSendRecv on the pipeline group, so a stage that sends to its next
// neighbour while receiving from it cannot deadlock. Shapes and dtype are fixed for the run, so
// receive buffers are allocated without asking the peer. Activations go first in every batch: with
// two stages next and prev are the same rank, and messages between two ranks pair up in order.
import type { P2POp, ProcessGroup } from '@tessera/collectives';
import { type DeviceLike, type DType, empty, keep, type Tensor } from '@tessera/core';
import { PipelineError } from './errors.ts';

export interface StageMessage {
  op: 'send' | 'recv';
  peer: 'next' | 'prev';
  tensor: Tensor;
  /** For error messages, e.g. "activation of micro-batch 3 (chunk 1)". */
  what?: string;
}

export interface ExchangeResult {
  /** The activation received from the previous stage. */
  fromPrev?: Tensor;
  /** The gradient received from the next stage. */
  fromNext?: Tensor;
}

export class StageP2P {
  readonly group: ProcessGroup;
  readonly shape: readonly number[];
  readonly dtype: DType;
  readonly device: DeviceLike | undefined;

  constructor(group: ProcessGroup, shape: readonly number[], dtype: DType = 'f32', device?: DeviceLike) {
    this.group = group;
    this.shape = [...shape];
    this.dtype = dtype;
    this.device = device;
  }

  get rank(): number {
    return this.group.rank;
  }
  get size(): number {
    return this.group.size;
  }
  get isFirst(): boolean {
    return this.group.rank === 0;
  }
  get isLast(): boolean {
    return this.group.rank === this.group.size - 1;
  }
  /** Group rank of a neighbour (wrapping around, for the interleaved schedule). */
  peerRank(peer: 'next' | 'prev'): number {
    const n = this.group.size;
    return peer === 'next' ? (this.group.rank + 1) % n : (this.group.rank - 1 + n) % n;
  }

  /** A receive buffer of the run's shape, owned by the caller (outside every scope). */
  buffer(): Tensor {
    return keep(empty(this.shape, { dtype: this.dtype, device: this.device }));
  }

  /** One batched exchange; fails with the stage, the messages and the peer's error. */
  exchange(messages: readonly StageMessage[]): void {
    if (messages.length === 0) return;
    const ops: P2POp[] = messages.map((m) => {
      if (m.op === 'send') this.#checkShape(m);
      return { op: m.op, tensor: m.tensor, peer: this.peerRank(m.peer) };
    });
    try {
      this.group.batchSendRecv(ops).waitSync();
    } catch (err) {
      const list = messages.map((m) => `${m.op === 'send' ? 'send' : 'receive'} ${m.what ?? 'a tensor'} ${m.op === 'send' ? 'to' : 'from'} stage ${this.peerRank(m.peer)}`);
      throw new PipelineError(`pipeline stage ${this.rank} of ${this.size}: ${list.join(', ')} failed: ${(err as Error).message}`, { cause: err });
    }
  }

  #checkShape(m: StageMessage): void {
    const t = m.tensor;
    if (t.dtype !== this.dtype || t.shape.length !== this.shape.length || t.shape.some((d, i) => d !== this.shape[i])) {
      throw new PipelineError(
        `pipeline stage ${this.rank} of ${this.size}: the ${m.what ?? 'tensor'} to send is ${t.describe()}, but this run's stages exchange ${this.dtype}[${this.shape.join(', ')}] ` +
          '(shapes are fixed per run: set tensorShape to what a stage outputs, [s, b, h] or [s / tp, b, h] with sequence parallelism)',
      );
    }
  }

  /** Megatron's _communicate: send to either neighbour and receive from either, in one batch. */
  communicate(o: { sendNext?: Tensor; sendPrev?: Tensor; recvPrev?: boolean; recvNext?: boolean }): ExchangeResult {
    const out: ExchangeResult = {};
    const messages: StageMessage[] = [];
    if (o.sendNext) messages.push({ op: 'send', peer: 'next', tensor: o.sendNext, what: 'activation' });
    if (o.recvPrev) messages.push({ op: 'recv', peer: 'prev', tensor: (out.fromPrev = this.buffer()), what: 'activation' });
    if (o.sendPrev) messages.push({ op: 'send', peer: 'prev', tensor: o.sendPrev, what: 'gradient' });
    if (o.recvNext) messages.push({ op: 'recv', peer: 'next', tensor: (out.fromNext = this.buffer()), what: 'gradient' });
    try {
      this.exchange(messages);
    } catch (err) {
      out.fromPrev?.dispose();
      out.fromNext?.dispose();
      throw err;
    }
    return out;
  }

  // Megatron's named helpers: the first stage receives no activations, the last sends none, and
  // the reverse for gradients.
  recvForward(): Tensor | undefined {
    return this.isFirst ? undefined : this.communicate({ recvPrev: true }).fromPrev;
  }
  sendForward(output: Tensor): void {
    if (!this.isLast) this.communicate({ sendNext: output });
  }
  recvBackward(): Tensor | undefined {
    return this.isLast ? undefined : this.communicate({ recvNext: true }).fromNext;
  }
  sendBackward(inputGrad: Tensor): void {
    if (!this.isFirst) this.communicate({ sendPrev: inputGrad });
  }
  sendForwardRecvBackward(output: Tensor): Tensor | undefined {
    return this.isLast ? undefined : this.communicate({ sendNext: output, recvNext: true }).fromNext;
  }
  sendBackwardRecvForward(inputGrad: Tensor): Tensor | undefined {
    return this.isFirst ? undefined : this.communicate({ sendPrev: inputGrad, recvPrev: true }).fromPrev;
  }
}
