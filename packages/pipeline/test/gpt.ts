// Tiny GPTs and their micro-batches for the pipeline tests: configs whose padded vocabulary is the
// same at TP = 1 and 2, the micro-batches of every data-parallel rank (random tokens from fixed
// seeds), a forward step for any stage, and the gradient a rank's parameter should have, sliced
// from the single-process model.
import { cat, Generator, type Parameter, randint, type Tensor } from '@tessera/core';
import type { GPTModel, GptConfig } from '@tessera/models';
import type { ForwardStepFunc } from '../src/index.ts';

export const CONFIGS: Record<string, GptConfig> = {
  gpt2: {
    numLayers: 8, hiddenSize: 32, numAttentionHeads: 4, vocabSize: 120, makeVocabSizeDivisibleBy: 64, maxPositionEmbeddings: 16,
    hiddenDropout: 0, attentionDropout: 0,
  },
  llama: {
    numLayers: 8, hiddenSize: 32, numAttentionHeads: 4, numQueryGroups: 2, ffnHiddenSize: 64, vocabSize: 120, makeVocabSizeDivisibleBy: 64,
    maxPositionEmbeddings: 16, positionEmbeddingType: 'rope', normalization: 'RMSNorm', swiglu: true, addBiasLinear: false,
    untieEmbeddingsAndOutputWeights: true, hiddenDropout: 0, attentionDropout: 0,
  },
};

export const SEQ = 16;
export const MICRO_BATCH = 2;

export interface Batch {
  ids: Tensor;
  labels: Tensor;
}

/** Micro-batch i of data-parallel rank d (the same on every stage and TP rank). */
export function microBatch(config: GptConfig, d: number, i: number): Batch {
  const g = new Generator(1000 + 97 * d + i);
  return { ids: randint(0, config.vocabSize, [MICRO_BATCH, SEQ], { generator: g }), labels: randint(0, config.vocabSize, [MICRO_BATCH, SEQ], { generator: g }) };
}

export function* batches(config: GptConfig, d: number, m: number): IterableIterator<Batch> {
  for (let i = 0; i < m; i++) yield microBatch(config, d, i);
}

/** Megatron's GPT forward_step: the first stage embeds the ids, the last computes the mean token loss. */
export const gptForwardStep: ForwardStepFunc<GPTModel, Batch> = (data, model) => {
  const b = data?.next().value as Batch;
  const output = model.forward(model.preProcess ? b.ids : undefined, model.postProcess ? { labels: b.labels } : {});
  return { output, lossFunc: (perToken) => perToken.mean() };
};

/** This rank's slice of a full tensor, per the parameter's partition meta. */
export function sliceLike(full: Tensor, p: Parameter, tpRank: number, tpSize: number): Tensor {
  if (p.meta.tensorParallel !== true) return full;
  const dim = p.meta.partitionDim as number;
  const stride = (p.meta.partitionStride as number | undefined) ?? 1;
  const chunk = (full.shape[dim] as number) / (tpSize * stride);
  const parts = Array.from({ length: stride }, (_, k) => full.narrow(dim, (k * tpSize + tpRank) * chunk, chunk));
  return parts.length === 1 ? (parts[0] as Tensor) : cat(parts, dim);
}

export { maxAbsDiff } from '../../core/test/helpers.ts';
