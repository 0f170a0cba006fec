// GPT's input embedding (Megatron-Core's LanguageModelEmbedding): vocab-parallel word embeddings
// plus learned absolute positions when configured, turned sequence-first [s, b, h], split along
// the sequence with sequence parallelism, then dropout.
import { arange, F, Module, type Parameter, scope, type Tensor } from '@tessera/core';
import { initFull, initNormal, scatterToSequenceParallelRegion, VocabParallelEmbedding } from '@tessera/tensor-parallel';
import type { BuildContext } from './build-context.ts';
import { parameter } from './parameters.ts';

/** A plain (replicated) table of learned position vectors. */
export class PositionEmbedding extends Module {
  weight: Parameter;
  constructor(ctx: BuildContext) {
    super();
    const c = ctx.config;
    this.weight = parameter(initFull([c.maxPositionEmbeddings, c.hiddenSize], initNormal(c.initMethodStd), { generator: ctx.generator('weight'), ...ctx.factory }));
  }
  forward(positionIds: Tensor): Tensor {
    return F.embedding(positionIds, this.weight);
  }
}

export class GptEmbedding extends Module {
  readonly ctx: BuildContext;
  word_embeddings: VocabParallelEmbedding;
  position_embeddings: PositionEmbedding | undefined;

  constructor(ctx: BuildContext) {
    super();
    this.ctx = ctx;
    const { config: c, tp } = ctx;
    const learned = c.positionEmbeddingType === 'learned_absolute';
    const words = ctx.child('word_embeddings');
    this.word_embeddings = new VocabParallelEmbedding(c.paddedVocabSize, c.hiddenSize, {
      tp, initMethod: initNormal(c.initMethodStd), generator: words.generator('weight'), ...ctx.factory,
      // Megatron reduce-scatters straight into the sequence-parallel layout when nothing is added after.
      reduceScatterEmbeddings: tp.sequenceParallel && !learned,
    });
    this.position_embeddings = learned ? new PositionEmbedding(ctx.child('position_embeddings')) : undefined;
  }

  /** ids [b, s], positionIds [b, s] (default 0..s-1) -> [s, b, h] (or [s / tp, b, h] with sequence parallelism). */
  forward(ids: Tensor, positionIds?: Tensor): Tensor {
    const { config: c, tp } = this.ctx;
    return scope(() => {
      let x: Tensor;
      if (this.word_embeddings.reduceScatterEmbeddings) x = this.word_embeddings.forward(ids);
      else {
        let words = this.word_embeddings.forward(ids);
        if (this.position_embeddings) {
          const pos = positionIds ?? arange(ids.shape[1] as number, undefined, 1, { device: ids.device }).reshape(1, -1);
          words = words.add(this.position_embeddings.forward(pos));
        }
        const sequenceFirst = words.transpose(0, 1);
        x = tp.sequenceParallel ? scatterToSequenceParallelRegion(sequenceFirst, tp) : sequenceFirst;
      }
      const training = this.training && c.hiddenDropout > 0;
      if (!training) return x;
      // Sequence-parallel ranks hold different positions: draw their masks from the TP stream.
      const drop = () => F.dropout(x, c.hiddenDropout, true);
      return tp.sequenceParallel ? tp.rng.fork(drop) : drop();
    });
  }
}
