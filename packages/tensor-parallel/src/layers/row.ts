// RowParallelLinear: Y = X A + b with A split by input rows. Each rank multiplies its slice of the
// features; the partial outputs are summed by "g" (an all-reduce), or reduce-scattered along the
// sequence with sequence parallelism. The bias is whole and added after the reduction.
import { F, Module, type Parameter, scope, type Tensor } from '@tessera/core';
import { initPartitioned } from '../init.ts';
import { reduceFromTensorParallelRegion, reduceScatterToSequenceParallelRegion, scatterToTensorParallelRegion } from '../mappings.ts';
import type { TensorParallel } from '../tensor-parallel.ts';
import { divide } from '../utils.ts';
import type { ParallelLinearOutput } from './column.ts';
import { checkFeatures, DEFAULT_INIT, type LinearOptions, parameterFrom, zeroBias } from './options.ts';

export interface RowParallelOptions extends LinearOptions {
  /** The input is already split over the TP ranks along its last dimension (default true). */
  inputIsParallel?: boolean;
  /** Return the bias instead of adding it, for a later fused add. */
  skipBiasAdd?: boolean;
}

export class RowParallelLinear extends Module {
  readonly inFeatures: number;
  readonly outFeatures: number;
  readonly inPerPartition: number;
  readonly tp: TensorParallel;
  readonly inputIsParallel: boolean;
  readonly skipBiasAdd: boolean;
  /** [out, in / tp]. */
  weight: Parameter;
  /** [out], not partitioned; with sequence parallelism its gradient is partial on each rank (meta.sequenceParallel). */
  bias: Parameter | undefined;

  constructor(inFeatures: number, outFeatures: number, opts: RowParallelOptions) {
    super();
    checkFeatures('RowParallelLinear', 'inFeatures', inFeatures);
    checkFeatures('RowParallelLinear', 'outFeatures', outFeatures);
    const tp = opts.tp;
    this.tp = tp;
    this.inFeatures = inFeatures;
    this.outFeatures = outFeatures;
    this.inPerPartition = divide(inFeatures, tp.size, `RowParallelLinear: inFeatures split over ${tp.size} tensor-parallel ranks`);
    this.inputIsParallel = opts.inputIsParallel ?? true;
    this.skipBiasAdd = opts.skipBiasAdd ?? false;
    if (tp.sequenceParallel && !this.inputIsParallel) {
      throw new Error('RowParallelLinear: sequence parallelism needs inputIsParallel (the input must come from a column-parallel layer)');
    }
    const stride = opts.stride ?? 1;
    this.weight = parameterFrom(
      initPartitioned({ shape: [outFeatures, inFeatures], dim: 1, stride, initMethod: opts.initMethod ?? DEFAULT_INIT, generator: opts.generator, dtype: opts.dtype, device: opts.device }, tp),
      { tensorParallel: true, partitionDim: 1, partitionStride: stride },
    );
    this.bias = (opts.bias ?? true) ? zeroBias(outFeatures, opts, tp.sequenceParallel ? { sequenceParallel: true } : {}) : undefined;
  }

  /** x: [s, b, in / tp] (or [s, b, in] without inputIsParallel); output [s, b, out] or [s / tp, b, out] with sequence parallelism. */
  forward(x: Tensor): ParallelLinearOutput {
    const tp = this.tp;
    const output = scope(() => {
      const input = this.inputIsParallel ? x : scatterToTensorParallelRegion(x, tp);
      // One device: nothing to reduce, so the bias can ride in the GEMM's epilogue.
      if (tp.size === 1) return F.linear(input, this.weight, this.skipBiasAdd ? undefined : this.bias);
      return this.exitRegion(F.linear(input, this.weight));
    });
    return { output, bias: this.skipBiasAdd ? this.bias : undefined };
  }

  /**
   * This rank's partial product x_slice @ A_slice^T made whole: summed over the TP ranks ("g"), or
   * reduce-scattered along the sequence, then the bias added (unless skipBiasAdd). For fusions
   * that run this layer's GEMM themselves (at TP = 1 they may fuse the bias instead).
   */
  exitRegion(partial: Tensor): Tensor {
    const tp = this.tp;
    const reduced = tp.sequenceParallel ? reduceScatterToSequenceParallelRegion(partial, tp) : reduceFromTensorParallelRegion(partial, tp);
    return this.bias && !this.skipBiasAdd ? reduced.add(this.bias) : reduced;
  }
}
