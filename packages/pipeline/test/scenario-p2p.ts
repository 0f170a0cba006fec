// Two stages exchanging through StageP2P's named helpers (Megatron's p2p_communication), then
// both directions at once between the same two ranks (next and prev are the same peer), then a
// tensor of the wrong shape or dtype, which is refused before anything is sent.
import { type Distributed, ParallelState } from '@tessera/collectives';
import { full, type Tensor } from '@tessera/core';
import { StageP2P } from '../src/index.ts';

export async function p2p(dist: Distributed): Promise<Record<string, unknown>> {
  const ps = await ParallelState.create(dist, { pipeline: 2 });
  const link = new StageP2P(ps.pipeline, [2, 3], 'f32');
  const first = ps.pipelineRank === 0;
  const seen: Record<string, unknown> = {};
  const value = (t: Tensor | undefined) => t?.toArray()[0];
  if (first) {
    seen.recvForward = link.recvForward() ?? null; // nothing before the first stage
    link.sendForward(full([2, 3], 1));
    seen.grad = value(link.sendForwardRecvBackward(full([2, 3], 2)));
    seen.recvBackward = value(link.recvBackward());
  } else {
    seen.input = value(link.recvForward());
    link.sendForward(full([2, 3], 99)); // the last stage sends no activations: a no-op
    seen.input2 = value(link.sendBackwardRecvForward(full([2, 3], 10)));
    link.sendBackward(full([2, 3], 11));
  }
  // Both directions with one peer: activations pair with activations, gradients with gradients.
  const both = link.communicate({ sendNext: full([2, 3], first ? 100 : 200), sendPrev: full([2, 3], first ? 101 : 201), recvPrev: true, recvNext: true });
  seen.both = [value(both.fromPrev), value(both.fromNext)];
  try {
    if (first) link.sendForward(full([3, 2], 0));
    else link.sendBackward(full([2, 3], 0).to('bf16'));
    seen.wrongShape = 'sent';
  } catch (err) {
    seen.wrongShape = (err as Error).message;
  }
  ps.destroy();
  return seen;
}
