// GPT at TP = world size against the same model at TP = 1 built in this process from the same
// seed (TP-invariant initialization makes them the same full model): logits (this rank's
// vocabulary slice), per-token loss, and every parameter's gradient slice after backward.
import { cat, Generator, type Parameter, randint, scope, type Tensor } from '@tessera/core';
import { allReduceSequenceParallelGrads, type TensorParallel, tensorParallel } from '@tessera/tensor-parallel';
import { resolveGptConfig, type GptConfig } from '../../src/gpt/config.ts';
import { GPTModel } from '../../src/gpt/model.ts';
import { gptConfig } from '../../src/gpt/presets.ts';
import type { RecomputeConfig } from '../../src/gpt/recompute.ts';
import { maxAbsDiff } from '../helpers.ts';

/** Configs whose padded vocabulary is the same at TP = 1 and 2 (the padding takes part in the softmax). */
export const PARITY_CONFIGS: Record<string, GptConfig> = {
  gpt2: gptConfig('gpt2-tiny', { vocabSize: 500, makeVocabSizeDivisibleBy: 64, maxPositionEmbeddings: 64, hiddenDropout: 0, attentionDropout: 0 }),
  llama: gptConfig('llama-tiny'),
  alibi: gptConfig('gpt2-tiny', { vocabSize: 500, makeVocabSizeDivisibleBy: 64, positionEmbeddingType: 'alibi', hiddenDropout: 0, attentionDropout: 0 }),
};

/** This rank's slice of a full tensor, per the parameter's partition meta. */
function sliceLike(full: Tensor, p: Parameter, tp: TensorParallel): Tensor {
  if (p.meta.tensorParallel !== true) return full;
  const dim = p.meta.partitionDim as number;
  const stride = (p.meta.partitionStride as number | undefined) ?? 1;
  const chunk = (full.shape[dim] as number) / (tp.size * stride);
  const parts = Array.from({ length: stride }, (_, k) => full.narrow(dim, (k * tp.size + tp.rank) * chunk, chunk));
  return parts.length === 1 ? (parts[0] as Tensor) : cat(parts, dim);
}

export async function parity(tp: TensorParallel, configName: string, recompute: RecomputeConfig | undefined): Promise<Record<string, number>> {
  const config = PARITY_CONFIGS[configName] as GptConfig;
  const single = tensorParallel(undefined);
  if (resolveGptConfig(config, tp.size).paddedVocabSize !== resolveGptConfig(config, 1).paddedVocabSize) throw new Error('parity needs the same padded vocabulary at both TP sizes');
  const model = new GPTModel(config, { tp, seed: 7, recompute });
  const ref = new GPTModel(config, { tp: single, seed: 7 });
  return scope(async () => {
    const ids = randint(0, config.vocabSize, [2, 16], { generator: new Generator(3) });
    const labels = randint(0, config.vocabSize, [2, 16], { generator: new Generator(4) });
    const out: Record<string, number> = {};
    const logits = model.forward(ids);
    const refLogits = ref.forward(ids);
    const per = logits.shape[2] as number;
    out.logits = maxAbsDiff(logits, refLogits.narrow(2, tp.rank * per, per));
    const loss = model.forward(ids, { labels });
    const refLoss = ref.forward(ids, { labels });
    out.loss = maxAbsDiff(loss, refLoss);
    loss.mean().backward();
    refLoss.mean().backward();
    await allReduceSequenceParallelGrads(model, tp);
    const refParams = Object.fromEntries(ref.namedParameters());
    let worst = 0;
    let count = 0;
    for (const [name, p] of model.namedParameters()) {
      const want = sliceLike((refParams[name] as Parameter).grad as Tensor, p, tp);
      worst = Math.max(worst, maxAbsDiff(p.grad as Tensor, want));
      count++;
    }
    out.grads = worst;
    out.params = count;
    return out;
  });
}
