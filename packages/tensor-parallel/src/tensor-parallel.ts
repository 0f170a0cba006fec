// What a tensor-parallel layer needs to know about its group: who it talks to, its rank and size,
// whether sequence parallelism is on, and the RNG tracker. Built from a ParallelState, or for a
// single device (size 1: no group, every mapping is the identity).
import type { ParallelState, ProcessGroup } from '@tessera/collectives';
import { type DeviceLike, getDefaultDevice, initialSeed } from '@tessera/core';
import { MODEL_PARALLEL_RNG, modelParallelManualSeed, RngTracker } from './random.ts';

export interface TensorParallel {
  /** undefined when size === 1. */
  readonly group: ProcessGroup | undefined;
  /** Rank within the tensor-parallel group. */
  readonly rank: number;
  readonly size: number;
  /** Activations outside the TP regions are split along the sequence (always false when size === 1). */
  readonly sequenceParallel: boolean;
  readonly rng: RngTracker;
}

export interface TensorParallelOptions {
  sequenceParallel?: boolean;
  /**
   * Calls modelParallelManualSeed(seed, tp): every device's default generator gets `seed` (as
   * Megatron's --seed), the 'model-parallel-rng' tracker state seed + 2718 + tp rank. Without it
   * the tracker is seeded from core's initialSeed() the same way, and the default generators are
   * left alone.
   */
  seed?: number;
  /** Device whose default generator the RNG tracker swaps while forked (default: the default device). */
  device?: DeviceLike;
}

/** The TP view of a ParallelState (or of a single device when state is undefined). */
export function tensorParallel(state: ParallelState | undefined, opts: TensorParallelOptions = {}): TensorParallel {
  const size = state?.tensorSize ?? 1;
  const tp: TensorParallel = {
    group: size > 1 ? state?.tensor : undefined,
    rank: state?.tensorRank ?? 0,
    size,
    // Megatron turns sequence parallelism off at TP = 1: there is nothing to split over.
    sequenceParallel: (opts.sequenceParallel ?? false) && size > 1,
    rng: new RngTracker(opts.device ?? getDefaultDevice()),
  };
  if (opts.seed !== undefined) modelParallelManualSeed(opts.seed, tp);
  else tp.rng.add(MODEL_PARALLEL_RNG, initialSeed() + 2718 + tp.rank);
  return tp;
}
