// VocabParallelEmbedding: the embedding table split by vocabulary rows. Each rank looks up the
// ids it owns (others give zero rows) and the partial results are summed over the TP group, or
// reduce-scattered along the sequence when the caller asks for sequence-parallel output.
import { F, type Generator, Module, type Parameter, scope, type Tensor } from '@tessera/core';
import { initPartitioned, type InitMethod } from '../init.ts';
import { reduceFromTensorParallelRegion, reduceScatterToSequenceParallelRegion } from '../mappings.ts';
import type { TensorParallel } from '../tensor-parallel.ts';
import { vocabRange } from '../utils.ts';
import { checkFeatures, DEFAULT_INIT, type LinearOptions, parameterFrom } from './options.ts';

export interface VocabParallelEmbeddingOptions extends Omit<LinearOptions, 'bias' | 'stride'> {
  /**
   * Return [s / tp, b, h] reduce-scattered along the sequence (ids [b, s]) instead of the
   * all-reduced [..., h] (Megatron's reduce_scatter_embeddings; needs sequence parallelism).
   */
  reduceScatterEmbeddings?: boolean;
}

export class VocabParallelEmbedding extends Module {
  readonly numEmbeddings: number;
  readonly embeddingDim: number;
  readonly tp: TensorParallel;
  /** This rank's vocabulary rows [start, end). */
  readonly vocabStart: number;
  readonly vocabEnd: number;
  readonly reduceScatterEmbeddings: boolean;
  /** [vocab / tp, dim]. */
  weight: Parameter;

  constructor(numEmbeddings: number, embeddingDim: number, opts: VocabParallelEmbeddingOptions) {
    super();
    checkFeatures('VocabParallelEmbedding', 'numEmbeddings', numEmbeddings);
    checkFeatures('VocabParallelEmbedding', 'embeddingDim', embeddingDim);
    const tp = opts.tp;
    this.tp = tp;
    this.numEmbeddings = numEmbeddings;
    this.embeddingDim = embeddingDim;
    const { start, end } = vocabRange(numEmbeddings, tp.rank, tp.size);
    this.vocabStart = start;
    this.vocabEnd = end;
    this.reduceScatterEmbeddings = opts.reduceScatterEmbeddings ?? false;
    if (this.reduceScatterEmbeddings && !tp.sequenceParallel && tp.size > 1) {
      throw new Error('VocabParallelEmbedding: reduceScatterEmbeddings needs sequence parallelism');
    }
    const initMethod: InitMethod = opts.initMethod ?? DEFAULT_INIT;
    const generator: Generator | undefined = opts.generator;
    this.weight = parameterFrom(
      initPartitioned({ shape: [numEmbeddings, embeddingDim], dim: 0, initMethod, generator, dtype: opts.dtype, device: opts.device }, tp),
      { tensorParallel: true, partitionDim: 0, partitionStride: 1 },
    );
  }

  /** ids: integers of any shape -> [...ids.shape, dim]; with reduceScatterEmbeddings ids [b, s] -> [s / tp, b, dim]. */
  forward(ids: Tensor): Tensor {
    const tp = this.tp;
    return scope(() => {
      let out: Tensor;
      if (tp.size === 1) out = F.embedding(ids, this.weight);
      else {
        const outside = ids.lt(this.vocabStart).logicalOr(ids.ge(this.vocabEnd));
        const local = ids.sub(this.vocabStart).maskedFill(outside, 0);
        out = F.embedding(local, this.weight).maskedFill(outside.unsqueeze(-1), 0);
      }
      if (!this.reduceScatterEmbeddings) return reduceFromTensorParallelRegion(out, tp);
      if (ids.rank !== 2) throw new Error(`VocabParallelEmbedding: reduceScatterEmbeddings expects ids [b, s], got ${ids.describe()}`);
      return reduceScatterToSequenceParallelRegion(out.transpose(0, 1), tp);
    });
  }
}
