// ColumnParallelLinear: Y = X A + b with A split by output columns, so each rank computes its
// slice of the outputs. The input enters the TP region through "f" (or, with sequence
// parallelism, an all-gather along the sequence whose backward reduce-scatters).
import { F, Module, type Parameter, scope, type Tensor } from '@tessera/core';
import { initPartitioned } from '../init.ts';
import { copyToTensorParallelRegion, gatherFromSequenceParallelRegion, gatherFromTensorParallelRegion } from '../mappings.ts';
import type { TensorParallel } from '../tensor-parallel.ts';
import { divide } from '../utils.ts';
import { checkFeatures, DEFAULT_INIT, type LinearOptions, parameterFrom, zeroBias } from './options.ts';

export interface ColumnParallelOptions extends LinearOptions {
  /** All-gather the output so every rank has all of it (not with sequence parallelism). */
  gatherOutput?: boolean;
  /** Return the bias instead of adding it, for a later fused add. */
  skipBiasAdd?: boolean;
  /** Allocate no weight: forward() is given one (a tied output layer uses the embedding's). */
  skipWeightParamAllocation?: boolean;
}

export interface ParallelLinearOutput {
  output: Tensor;
  /** The bias, when skipBiasAdd asked for it back. */
  bias: Tensor | undefined;
}

export class ColumnParallelLinear extends Module {
  readonly inFeatures: number;
  readonly outFeatures: number;
  readonly outPerPartition: number;
  readonly tp: TensorParallel;
  readonly gatherOutput: boolean;
  readonly skipBiasAdd: boolean;
  /** [out / tp, in]; undefined with skipWeightParamAllocation. */
  weight: Parameter | undefined;
  /** [out / tp]. */
  bias: Parameter | undefined;

  constructor(inFeatures: number, outFeatures: number, opts: ColumnParallelOptions) {
    super();
    checkFeatures('ColumnParallelLinear', 'inFeatures', inFeatures);
    checkFeatures('ColumnParallelLinear', 'outFeatures', outFeatures);
    const tp = opts.tp;
    this.tp = tp;
    this.inFeatures = inFeatures;
    this.outFeatures = outFeatures;
    this.outPerPartition = divide(outFeatures, tp.size, `ColumnParallelLinear: outFeatures split over ${tp.size} tensor-parallel ranks`);
    this.gatherOutput = opts.gatherOutput ?? false;
    this.skipBiasAdd = opts.skipBiasAdd ?? false;
    if (this.gatherOutput && tp.sequenceParallel) {
      throw new Error('ColumnParallelLinear: gatherOutput cannot be combined with sequence parallelism (the output would be gathered along both sequence and features)');
    }
    const stride = opts.stride ?? 1;
    const meta = { tensorParallel: true, partitionDim: 0, partitionStride: stride };
    this.weight = opts.skipWeightParamAllocation
      ? undefined
      : parameterFrom(
          initPartitioned({ shape: [outFeatures, inFeatures], dim: 0, stride, initMethod: opts.initMethod ?? DEFAULT_INIT, generator: opts.generator, dtype: opts.dtype, device: opts.device }, tp),
          meta,
        );
    this.bias = (opts.bias ?? true) ? zeroBias(this.outPerPartition, opts, { ...meta }) : undefined;
  }

  /**
   * x: [s, b, in], or [s / tp, b, in] with sequence parallelism (gathered along s first).
   * `weight` replaces the layer's own (it must be [out / tp, in]).
   */
  forward(x: Tensor, weight: Tensor | undefined = this.weight): ParallelLinearOutput {
    if (!weight) throw new Error('ColumnParallelLinear: this layer has no weight of its own (skipWeightParamAllocation); pass one to forward()');
    if (weight.shape[0] !== this.outPerPartition || weight.shape[1] !== this.inFeatures) {
      throw new Error(`ColumnParallelLinear: the weight must be [${this.outPerPartition}, ${this.inFeatures}], got ${weight.describe()}`);
    }
    const addBias = this.skipBiasAdd ? undefined : this.bias;
    const output = scope(() => {
      const partial = F.linear(this.enterRegion(x), weight, addBias); // weight-gradient GEMM accumulates into mainGrad when set
      return this.gatherOutput ? gatherFromTensorParallelRegion(partial, this.tp) : partial;
    });
    return { output, bias: this.skipBiasAdd ? this.bias : undefined };
  }

  /**
   * The input as this layer's GEMM takes it: through "f" into the TP region, or gathered along the
   * sequence with sequence parallelism. For fusions that run this layer's GEMM themselves.
   */
  enterRegion(x: Tensor): Tensor {
    const tp = this.tp;
    return tp.sequenceParallel ? gatherFromSequenceParallelRegion(x, tp, true) : copyToTensorParallelRegion(x, tp);
  }
}
