// Interleaved 1F1B (Megatron's forward_backward_pipelining_with_interleaving). Each rank holds v
// model chunks; micro-batches go through them in groups of G (default pp): for each group, chunk
// 0 runs forward over the group's micro-batches, then chunk 1, ...; backward visits chunks in
// reverse. Warm-up is 2 (pp - r - 1) + (v - 1) G forwards (all m v of them when that is more),
// then one forward and one backward per step, then the remaining backwards. The exchanges follow
// Megatron's code with batched p2p: after each step the rank sends what it produced and receives
// what its next step of that kind needs, where the first rank (in forward) and the last rank (in
// backward) lag their wrap-around peer by pp - 1 steps.
import { PlanBuilder, type PlanShape, recvNext, recvPrev, sendNext, sendPrev, type Step } from './types.ts';

export interface MicroBatchChunk {
  microBatch: number;
  chunk: number;
}

/** The forward order (Megatron's schedule table): for each group of G micro-batches, every chunk over the group. */
export function interleavedOrder(numMicroBatches: number, virtualSize: number, groupSize: number): MicroBatchChunk[] {
  const order: MicroBatchChunk[] = [];
  for (let start = 0; start < numMicroBatches; start += groupSize) {
    const end = start + groupSize >= numMicroBatches ? numMicroBatches : start + groupSize;
    for (let chunk = 0; chunk < virtualSize; chunk++) for (let mb = start; mb < end; mb++) order.push({ microBatch: mb, chunk });
    if (end === numMicroBatches) break;
  }
  return order;
}

/** Megatron's interleaved warm-up: 2 (pp - r - 1) + (v - 1) G, capped at all m v forwards. */
export function interleavedWarmup(pipelineSize: number, pipelineRank: number, numMicroBatches: number, virtualSize: number, groupSize: number): number {
  return Math.min((pipelineSize - pipelineRank - 1) * 2 + (virtualSize - 1) * groupSize, numMicroBatches * virtualSize);
}

export function interleavedPlan(s: PlanShape & { microBatchGroupSize?: number }): Step[] {
  const { pipelineSize: p, pipelineRank: r, virtualSize: v, numMicroBatches: m, forwardOnly } = s;
  const G = s.microBatchGroupSize ?? p;
  const table = interleavedOrder(m, v, G);
  const total = m * v;
  const chunkOf = (k: number, forward: boolean) => {
    const c = (table[k] as MicroBatchChunk).chunk;
    return forward ? c : v - 1 - c;
  };
  const mbOf = (k: number) => (table[k] as MicroBatchChunk).microBatch;
  const firstRank = r === 0;
  const lastRank = r === p - 1;
  // Each chunk receives its inputs (and output gradients) for micro-batches 0, 1, ... in turn.
  const inputsSeen = new Array<number>(v).fill(0);
  const gradsSeen = new Array<number>(v).fill(0);
  const recvInput = (chunk: number) => recvPrev(chunk, (inputsSeen[chunk] = (inputsSeen[chunk] as number) + 1) - 1);
  const recvGrad = (chunk: number) => recvNext(chunk, (gradsSeen[chunk] = (gradsSeen[chunk] as number) + 1) - 1);

  // Megatron's recv_tensor_from_previous_stage: whether step k's exchange receives for the next
  // step of that kind, and for which chunk.
  const receiveAfter = (k: number, forward: boolean): { recv: boolean; chunk: number } => {
    const leading = forward ? firstRank : lastRank;
    if (!leading) return k + 1 < total ? { recv: true, chunk: chunkOf(k + 1, forward) } : { recv: false, chunk: -1 };
    const lagged = k - (p - 1);
    if (lagged < 0) return { recv: false, chunk: -1 };
    const c = chunkOf(lagged, forward);
    if (c === (forward ? v - 1 : 0)) return { recv: false, chunk: -1 };
    return { recv: true, chunk: forward ? c + 1 : c - 1 };
  };
  const sendsActivation = (chunk: number) => !(lastRank && chunk === v - 1);
  const sendsGrad = (chunk: number) => !(firstRank && chunk === 0);

  let warmup: number;
  let allWarmup = false;
  if (forwardOnly) warmup = total;
  else {
    warmup = interleavedWarmup(p, r, m, v, G);
    allWarmup = warmup === total;
  }
  const remaining = total - warmup;
  const b = new PlanBuilder();

  if (!firstRank) b.comm(recvInput(0));
  for (let k = 0; k < warmup; k++) {
    const c = chunkOf(k, true);
    b.forward(c, mbOf(k));
    const next = receiveAfter(k, true);
    const recv = next.recv && k !== total - 1;
    const send = sendsActivation(c) ? sendNext(c, mbOf(k)) : undefined;
    const input = recv ? recvInput(next.chunk) : undefined;
    // The last warm-up exchange also fetches the first output gradient for the steady state.
    const grad = k === warmup - 1 && !forwardOnly && !allWarmup && !lastRank ? recvGrad(v - 1) : undefined;
    b.comm(send, input, grad);
  }
  for (let k = 0; k < remaining; k++) {
    const fk = k + warmup;
    const fc = chunkOf(fk, true);
    b.forward(fc, mbOf(fk));
    const bc = chunkOf(k, false);
    b.backward(bc, mbOf(k));
    const nextF = receiveAfter(fk, true);
    const nextB = receiveAfter(k, false);
    const recvF = nextF.recv && k !== remaining - 1;
    b.comm(
      sendsActivation(fc) ? sendNext(fc, mbOf(fk)) : undefined,
      sendsGrad(bc) ? sendPrev(bc, mbOf(k)) : undefined,
      recvF ? recvInput(nextF.chunk) : undefined,
      nextB.recv ? recvGrad(nextB.chunk) : undefined,
    );
  }
  if (!forwardOnly) {
    if (allWarmup && !lastRank) b.comm(recvGrad(v - 1));
    for (let k = remaining; k < total; k++) {
      const c = chunkOf(k, false);
      b.backward(c, mbOf(k));
      const next = receiveAfter(k, false);
      const recv = next.recv && k !== total - 1;
      b.comm(sendsGrad(c) ? sendPrev(c, mbOf(k)) : undefined, recv ? recvGrad(next.chunk) : undefined);
    }
  }
  return b.steps;
}
