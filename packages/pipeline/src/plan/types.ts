// A schedule, written down: the list of steps one pipeline rank takes, in order. Compute steps
// run a micro-batch through a model chunk forward or backward; communication steps are one
// batched exchange with the neighbouring stages. Plans are pure data, so the same plan the
// executor runs can be checked by the simulator (no deadlock, every message where it belongs).

export type Direction = 'next' | 'prev';
export type Payload = 'activation' | 'grad';

/** Forward or backward of one micro-batch through one model chunk. */
export interface ComputeStep {
  type: 'forward' | 'backward';
  chunk: number;
  microBatch: number;
}

/**
 * One message of an exchange. A sent activation is this chunk's output for the micro-batch, a sent
 * gradient the gradient of this chunk's input; a received activation is this chunk's input, a
 * received gradient the gradient of this chunk's output.
 */
export interface CommOp {
  op: 'send' | 'recv';
  peer: Direction;
  payload: Payload;
  chunk: number;
  microBatch: number;
}

/** One batched send/receive with the neighbours (activations first, so that with two stages, where next and prev are the same rank, messages pair up in order). */
export interface CommStep {
  type: 'comm';
  ops: CommOp[];
}

export type Step = ComputeStep | CommStep;

export interface PlanShape {
  pipelineSize: number;
  pipelineRank: number;
  /** Model chunks per rank (1 without interleaving). */
  virtualSize: number;
  numMicroBatches: number;
  forwardOnly: boolean;
}

/** A plan under construction: compute steps and exchanges (empty exchanges are dropped). */
export class PlanBuilder {
  readonly steps: Step[] = [];
  forward(chunk: number, microBatch: number): void {
    this.steps.push({ type: 'forward', chunk, microBatch });
  }
  backward(chunk: number, microBatch: number): void {
    this.steps.push({ type: 'backward', chunk, microBatch });
  }
  comm(...ops: (CommOp | undefined)[]): void {
    const list = ops.filter((o): o is CommOp => o !== undefined);
    if (list.length === 0) return;
    list.sort((a, b) => (a.payload === b.payload ? 0 : a.payload === 'activation' ? -1 : 1));
    this.steps.push({ type: 'comm', ops: list });
  }
}

export const sendNext = (chunk: number, microBatch: number): CommOp => ({ op: 'send', peer: 'next', payload: 'activation', chunk, microBatch });
export const recvPrev = (chunk: number, microBatch: number): CommOp => ({ op: 'recv', peer: 'prev', payload: 'activation', chunk, microBatch });
export const sendPrev = (chunk: number, microBatch: number): CommOp => ({ op: 'send', peer: 'prev', payload: 'grad', chunk, microBatch });
export const recvNext = (chunk: number, microBatch: number): CommOp => ({ op: 'recv', peer: 'next', payload: 'grad', chunk, microBatch });
