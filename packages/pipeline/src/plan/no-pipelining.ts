// One stage: forward and backward of each micro-batch in turn (gradient accumulation); the
// executor keeps the gradient sync back until the last backward, as Megatron's
// forward_backward_no_pipelining does with no_sync.
import { PlanBuilder, type PlanShape, type Step } from './types.ts';

export function noPipeliningPlan(s: Pick<PlanShape, 'numMicroBatches' | 'forwardOnly'>): Step[] {
  const b = new PlanBuilder();
  for (let i = 0; i < s.numMicroBatches; i++) {
    b.forward(0, i);
    if (!s.forwardOnly) b.backward(0, i);
  }
  return b.steps;
}
