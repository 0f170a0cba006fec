// The tiny-GPT training run the tests share: GPT-2 tokenizer on the start of WikiText-2's train
// split, blocks of blockSize + 1 tokens, a fixed global batch per step split over the DP ranks,
// mixed-precision AdamW with DistributedDataParallel, and the sequence-parallel gradient
// all-reduce. Returns the global mean loss of every step (the same on every rank).
import type { ParallelState } from '@tessera/collectives';
import { liveTensorCount, scope, tensor } from '@tessera/core';
import { gpt2Tokenizer, readWikiText2, TextDataset } from '@tessera/datasets';
import { AdamW, DistributedDataParallel, megatronParamGroups, MixedPrecisionOptimizer } from '@tessera/optimizer';
import { allReduceSequenceParallelGrads, type TensorParallel } from '@tessera/tensor-parallel';
import { maskedMeanLoss } from '../src/gpt/loss.ts';
import { GPTModel } from '../src/gpt/model.ts';
import { gptConfig } from '../src/gpt/presets.ts';

export interface TinyTrainOptions {
  tp: TensorParallel;
  /** Data-parallel and model-parallel groups; undefined for one process. */
  parallel?: ParallelState;
  steps: number;
  globalBatch: number;
  blockSize: number;
  lr?: number;
  seed?: number;
}

export interface TinyTrainResult {
  losses: number[];
  gradNorms: number[];
  /** Live tensors after each step (constant once the optimizer state exists). */
  liveTensors: number[];
}

/** WikiText-2 blocks (the first 60k characters, about 13k GPT-2 tokens). */
export function wikiTextBlocks(blockSize: number): TextDataset {
  return TextDataset.fromText(readWikiText2('train').slice(0, 60_000), gpt2Tokenizer(), { blockSize });
}

export async function trainTinyGpt(o: TinyTrainOptions): Promise<TinyTrainResult> {
  const ps = o.parallel;
  const dpSize = ps?.dataSize ?? 1;
  const dpRank = ps?.dataRank ?? 0;
  // makeVocabSizeDivisibleBy 64: GPT-2's 50257 pads to 50304 at TP = 1 and 2 alike, so both runs
  // have the same softmax (padded rows take part in it, as in Megatron).
  const config = gptConfig('gpt2-tiny', { hiddenDropout: 0, attentionDropout: 0, makeVocabSizeDivisibleBy: 64, maxPositionEmbeddings: o.blockSize });
  const model = new GPTModel(config, { tp: o.tp, seed: o.seed ?? 1234 });
  const ddp = new DistributedDataParallel(model, { dataParallel: ps?.data });
  const opt = new MixedPrecisionOptimizer(new AdamW(megatronParamGroups(model, { weightDecay: 0.01 }), { lr: o.lr ?? 2e-3, betas: [0.9, 0.95] }), {
    ddp, clipGrad: 1.0, parallel: ps,
  });
  const data = wikiTextBlocks(o.blockSize);
  const local = o.globalBatch / dpSize;
  if (!Number.isInteger(local)) throw new Error(`the global batch (${o.globalBatch}) must split evenly over ${dpSize} data-parallel ranks`);
  const losses: number[] = [];
  const gradNorms: number[] = [];
  const liveTensors: number[] = [];
  for (let step = 0; step < o.steps; step++) {
    opt.zeroGrad();
    const first = (step * o.globalBatch + dpRank * local) % (data.length - local);
    const samples = Array.from({ length: local }, (_, i) => data.get(first + i));
    const cat = (f: 'tokens' | 'labels') => tensor(Int32Array.from(samples.flatMap((x) => [...x[f]])), { shape: [local, o.blockSize], dtype: 'i64' });
    const lossValue = scope(() => {
      const ids = cat('tokens');
      const loss = maskedMeanLoss(model.forward(ids, { labels: cat('labels') }), tensor(samples.flatMap((x) => [...x.lossMask]), { shape: [local, o.blockSize] }));
      loss.backward();
      return loss.detach();
    });
    await ddp.finishGradSync();
    await allReduceSequenceParallelGrads(model, o.tp);
    const { gradNorm } = await opt.step();
    if (ps && dpSize > 1) await ps.data.allReduce(lossValue, 'avg').wait();
    losses.push(lossValue.item());
    lossValue.dispose();
    gradNorms.push(gradNorm ?? Number.NaN);
    liveTensors.push(liveTensorCount());
  }
  ddp.dispose();
  opt.optimizer.dispose();
  model.dispose();
  return { losses, gradNorms, liveTensors };
}
