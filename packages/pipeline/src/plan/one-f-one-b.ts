// 1F1B without interleaving (PipeDream-Flush, Megatron's
// forward_backward_pipelining_without_interleaving): rank r runs min(pp - r - 1, m) warm-up
// forwards, then alternates one forward and one backward, then drains the remaining backwards.
// At most pp - r micro-batches are in flight on rank r. The exchanges are Megatron's: recv_forward
// before a forward, send_forward after it, send_forward_recv_backward and
// send_backward_recv_forward in the steady state, recv_backward / send_backward around cool-down
// backwards. The first stage receives nothing, the last sends no activations.
import { PlanBuilder, type PlanShape, recvNext, recvPrev, sendNext, sendPrev, type Step } from './types.ts';

/** Megatron's warm-up length: min(pp - rank - 1, m). */
export function oneFOneBWarmup(pipelineSize: number, pipelineRank: number, numMicroBatches: number): number {
  return Math.min(pipelineSize - pipelineRank - 1, numMicroBatches);
}

export function oneFOneBPlan(s: Omit<PlanShape, 'virtualSize'>): Step[] {
  const { pipelineSize: p, pipelineRank: r, numMicroBatches: m, forwardOnly } = s;
  const first = r === 0;
  const last = r === p - 1;
  const recvF = (mb: number) => (first ? undefined : recvPrev(0, mb));
  const sendF = (mb: number) => (last ? undefined : sendNext(0, mb));
  const recvB = (mb: number) => (last ? undefined : recvNext(0, mb));
  const sendB = (mb: number) => (first ? undefined : sendPrev(0, mb));
  const b = new PlanBuilder();
  const warmup = oneFOneBWarmup(p, r, m);
  const remaining = m - warmup;
  let fwd = 0;
  let bwd = 0;
  for (let i = 0; i < warmup; i++, fwd++) {
    b.comm(recvF(fwd));
    b.forward(0, fwd);
    b.comm(sendF(fwd));
  }
  if (remaining > 0) b.comm(recvF(fwd));
  for (let i = 0; i < remaining; i++) {
    const lastIteration = i === remaining - 1;
    b.forward(0, fwd);
    if (forwardOnly) {
      b.comm(sendF(fwd));
      fwd++;
      if (!lastIteration) b.comm(recvF(fwd));
      continue;
    }
    b.comm(sendF(fwd), recvB(bwd));
    fwd++;
    b.backward(0, bwd);
    b.comm(sendB(bwd), lastIteration ? undefined : recvF(fwd));
    bwd++;
  }
  if (!forwardOnly) {
    for (let i = 0; i < warmup; i++, bwd++) {
      b.comm(recvB(bwd));
      b.backward(0, bwd);
      b.comm(sendB(bwd));
    }
  }
  return b.steps;
}
