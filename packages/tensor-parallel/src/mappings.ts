// The conjugate pairs of Megatron's tensor parallelism as autograd functions: each forward is the
// backward of its partner. "f" (copy to the region) and "g" (reduce from it) bracket a
// column-then-row-parallel block; the sequence-parallel forms replace the all-reduces with an
// all-gather before and a reduce-scatter after, splitting activations along the sequence
// (dimension 0 of [s, b, h]) outside the TP region. At TP = 1 every mapping returns its input.
import { defineFunction, type Tensor } from '@tessera/core';
import { allGatherFirst, allGatherLast, allReduce, reduceScatterFirst, splitFirst, splitLast } from './comm.ts';
import type { TensorParallel } from './tensor-parallel.ts';

const CopyToRegion = defineFunction({
  name: 'copyToTensorParallelRegion',
  forward(ctx, x: Tensor, tp: TensorParallel) {
    ctx.tp = tp;
    return x.reshape(x.shape);
  },
  backward(ctx, gy) {
    return [allReduce(gy, ctx.tp as TensorParallel), null];
  },
});

const ReduceFromRegion = defineFunction({
  name: 'reduceFromTensorParallelRegion',
  forward(_ctx, x: Tensor, tp: TensorParallel) {
    return allReduce(x, tp);
  },
  backward(_ctx, gy) {
    return [gy, null];
  },
});

const ScatterToRegion = defineFunction({
  name: 'scatterToTensorParallelRegion',
  forward(ctx, x: Tensor, tp: TensorParallel) {
    ctx.tp = tp;
    return splitLast(x, tp);
  },
  backward(ctx, gy) {
    return [allGatherLast(gy, ctx.tp as TensorParallel), null];
  },
});

const GatherFromRegion = defineFunction({
  name: 'gatherFromTensorParallelRegion',
  forward(ctx, x: Tensor, tp: TensorParallel) {
    ctx.tp = tp;
    return allGatherLast(x, tp);
  },
  backward(ctx, gy) {
    return [splitLast(gy, ctx.tp as TensorParallel), null];
  },
});

const ScatterToSequence = defineFunction({
  name: 'scatterToSequenceParallelRegion',
  forward(ctx, x: Tensor, tp: TensorParallel) {
    ctx.tp = tp;
    return splitFirst(x, tp);
  },
  backward(ctx, gy) {
    return [allGatherFirst(gy, ctx.tp as TensorParallel), null];
  },
});

const GatherFromSequence = defineFunction({
  name: 'gatherFromSequenceParallelRegion',
  forward(ctx, x: Tensor, tp: TensorParallel, tensorParallelOutputGrad: boolean) {
    ctx.tp = tp;
    ctx.reduce = tensorParallelOutputGrad;
    return allGatherFirst(x, tp);
  },
  backward(ctx, gy) {
    const tp = ctx.tp as TensorParallel;
    // The gathered activation fed a TP region (each rank holds a partial gradient): reduce-scatter.
    // Otherwise every rank already holds the full gradient: keep this rank's part.
    return [ctx.reduce ? reduceScatterFirst(gy, tp) : splitFirst(gy, tp), null, null];
  },
});

const ReduceScatterToSequence = defineFunction({
  name: 'reduceScatterToSequenceParallelRegion',
  forward(ctx, x: Tensor, tp: TensorParallel) {
    ctx.tp = tp;
    return reduceScatterFirst(x, tp);
  },
  backward(ctx, gy) {
    return [allGatherFirst(gy, ctx.tp as TensorParallel), null];
  },
});

/** Forward identity, backward all-reduce (Megatron's "f"). */
export function copyToTensorParallelRegion(x: Tensor, tp: TensorParallel): Tensor {
  return tp.size === 1 ? x : CopyToRegion(x, tp);
}

/** Forward all-reduce, backward identity (Megatron's "g"). */
export function reduceFromTensorParallelRegion(x: Tensor, tp: TensorParallel): Tensor {
  return tp.size === 1 ? x : ReduceFromRegion(x, tp);
}

/** Forward keeps this rank's chunk of the last dimension, backward all-gathers it. */
export function scatterToTensorParallelRegion(x: Tensor, tp: TensorParallel): Tensor {
  return tp.size === 1 ? x : ScatterToRegion(x, tp);
}

/** Forward all-gathers the last dimension, backward keeps this rank's chunk. */
export function gatherFromTensorParallelRegion(x: Tensor, tp: TensorParallel): Tensor {
  return tp.size === 1 ? x : GatherFromRegion(x, tp);
}

/** Forward keeps this rank's chunk of dimension 0 (the sequence), backward all-gathers it. */
export function scatterToSequenceParallelRegion(x: Tensor, tp: TensorParallel): Tensor {
  return tp.size === 1 ? x : ScatterToSequence(x, tp);
}

/**
 * Forward all-gathers dimension 0; backward reduce-scatters the gradient (the default: the output
 * feeds a TP region, so each rank's gradient is partial), or just splits it when
 * tensorParallelOutputGrad is false (every rank's gradient is already complete).
 */
export function gatherFromSequenceParallelRegion(x: Tensor, tp: TensorParallel, tensorParallelOutputGrad = true): Tensor {
  return tp.size === 1 ? x : GatherFromSequence(x, tp, tensorParallelOutputGrad);
}

/** Forward reduce-scatters along dimension 0, backward all-gathers it. */
export function reduceScatterToSequenceParallelRegion(x: Tensor, tp: TensorParallel): Tensor {
  return tp.size === 1 ? x : ReduceScatterToSequence(x, tp);
}
