// Each conjugate mapping against what it must compute, forward and backward. Inputs and output
// gradients come from seeds, so every rank can make every other rank's and check locally.
import { cat, scope, type Tensor } from '@tessera/core';
import {
  copyToTensorParallelRegion, gatherFromSequenceParallelRegion, gatherFromTensorParallelRegion, reduceFromTensorParallelRegion,
  reduceScatterToSequenceParallelRegion, scatterToSequenceParallelRegion, scatterToTensorParallelRegion, type TensorParallel,
} from '../../src/index.ts';
import { chunkOf, maxDiff, shared } from './common.ts';

type Result = { fwd: number; bwd: number };

/** Rank r's value (the same on every rank when not perRank). */
const value = (shape: number[], seed: number, r: number, perRank: boolean, requiresGrad = false) => shared(shape, perRank ? seed + r : seed, requiresGrad);
const all = (tp: TensorParallel, f: (r: number) => Tensor) => Array.from({ length: tp.size }, (_, r) => f(r));
const sum = (ts: Tensor[]) => ts.reduce((a, b) => a.add(b));

/** out = mapping(x); backward with g; returns [out, x.grad]. */
function apply(x: Tensor, mapping: (x: Tensor) => Tensor, g: Tensor): [Tensor, Tensor] {
  const out = mapping(x);
  out.backward(g);
  return [out, x.grad as Tensor];
}

const S = 8;
const checks: Record<string, (tp: TensorParallel) => Result> = {
  copyTo(tp) {
    const x = value([S, 3], 1, 0, false, true);
    const [out, gx] = apply(x, (t) => copyToTensorParallelRegion(t, tp), value([S, 3], 2, tp.rank, true));
    return { fwd: maxDiff(out, x), bwd: maxDiff(gx, sum(all(tp, (r) => value([S, 3], 2, r, true)))) };
  },
  reduceFrom(tp) {
    const x = value([S, 3], 1, tp.rank, true, true);
    const g = value([S, 3], 2, 0, false);
    const [out, gx] = apply(x, (t) => reduceFromTensorParallelRegion(t, tp), g);
    return { fwd: maxDiff(out, sum(all(tp, (r) => value([S, 3], 1, r, true)))), bwd: maxDiff(gx, g) };
  },
  scatterToTensorParallel(tp) {
    const x = value([S, 4 * tp.size], 1, 0, false, true);
    const [out, gx] = apply(x, (t) => scatterToTensorParallelRegion(t, tp), value([S, 4], 2, tp.rank, true));
    return { fwd: maxDiff(out, chunkOf(x, 1, tp.rank, tp.size)), bwd: maxDiff(gx, cat(all(tp, (r) => value([S, 4], 2, r, true)), 1)) };
  },
  gatherFromTensorParallel(tp) {
    const x = value([2, S, 4], 1, tp.rank, true, true);
    const g = value([2, S, 4 * tp.size], 2, 0, false);
    const [out, gx] = apply(x, (t) => gatherFromTensorParallelRegion(t, tp), g);
    return { fwd: maxDiff(out, cat(all(tp, (r) => value([2, S, 4], 1, r, true)), 2)), bwd: maxDiff(gx, chunkOf(g, 2, tp.rank, tp.size)) };
  },
  scatterToSequenceParallel(tp) {
    const x = value([S, 2, 3], 1, 0, false, true);
    const part = [S / tp.size, 2, 3];
    const [out, gx] = apply(x, (t) => scatterToSequenceParallelRegion(t, tp), value(part, 2, tp.rank, true));
    return { fwd: maxDiff(out, chunkOf(x, 0, tp.rank, tp.size)), bwd: maxDiff(gx, cat(all(tp, (r) => value(part, 2, r, true)), 0)) };
  },
  gatherFromSequenceParallel(tp) {
    const part = [S / tp.size, 2, 3];
    const x = value(part, 1, tp.rank, true, true);
    // Each rank's gradient is partial (the output fed a TP region): reduce-scatter.
    const [out, gx] = apply(x, (t) => gatherFromSequenceParallelRegion(t, tp), value([S, 2, 3], 2, tp.rank, true));
    const want = chunkOf(sum(all(tp, (r) => value([S, 2, 3], 2, r, true))), 0, tp.rank, tp.size);
    return { fwd: maxDiff(out, cat(all(tp, (r) => value(part, 1, r, true)), 0)), bwd: maxDiff(gx, want) };
  },
  gatherFromSequenceParallelSplitGrad(tp) {
    const part = [S / tp.size, 2, 3];
    const x = value(part, 1, tp.rank, true, true);
    const g = value([S, 2, 3], 2, 0, false); // every rank holds the whole gradient: keep this rank's part
    const [out, gx] = apply(x, (t) => gatherFromSequenceParallelRegion(t, tp, false), g);
    return { fwd: maxDiff(out, cat(all(tp, (r) => value(part, 1, r, true)), 0)), bwd: maxDiff(gx, chunkOf(g, 0, tp.rank, tp.size)) };
  },
  reduceScatterToSequenceParallel(tp) {
    const part = [S / tp.size, 2, 3];
    const x = value([S, 2, 3], 1, tp.rank, true, true);
    const [out, gx] = apply(x, (t) => reduceScatterToSequenceParallelRegion(t, tp), value(part, 2, tp.rank, true));
    const want = chunkOf(sum(all(tp, (r) => value([S, 2, 3], 1, r, true))), 0, tp.rank, tp.size);
    return { fwd: maxDiff(out, want), bwd: maxDiff(gx, cat(all(tp, (r) => value(part, 2, r, true)), 0)) };
  },
};

export function mappings(tp: TensorParallel): Record<string, Result> {
  return Object.fromEntries(Object.entries(checks).map(([name, check]) => [name, scope(() => check(tp))]));
}
