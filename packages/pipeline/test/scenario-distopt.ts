// One rank of PP = 2 x DP = 2 training a tied-embedding GPT with the distributed optimizer (ZeRO-1):
// DistributedDataParallel({ distributedOptimizer: true, overlapGradReduce: true }) with small
// buckets, the 1F1B schedule, Megatron's finalize order (DP reduce-scatter, then the embedding
// all-reduce over the first and last stage) and DistributedOptimizer(AdamW) with clipping. The
// same GPT in one process, on every DP rank's micro-batches, with the plain optimizer is the
// reference: losses, gradient norms and every weight after each step must match it, and the first
// stage's word embeddings must stay equal to the last stage's copy (reported for the parent).
import { type Distributed, ParallelState } from '@tessera/collectives';
import { type Parameter, scope, type Tensor } from '@tessera/core';
import { GPTModel } from '@tessera/models';
import { AdamW, DistributedDataParallel, DistributedOptimizer, megatronParamGroups, MixedPrecisionOptimizer } from '@tessera/optimizer';
import { tensorParallel } from '@tessera/tensor-parallel';
import { activationShape, allReduceEmbeddingGrads, getForwardBackwardFunc, sharedEmbeddingParams, stageLayers } from '../src/index.ts';
import { type Batch, CONFIGS, gptForwardStep, MICRO_BATCH, maxAbsDiff, microBatch, SEQ } from './gpt.ts';

export interface DistoptOptions {
  pp: number;
  dp: number;
  /** Micro-batches per DP rank and step. */
  m: number;
  steps: number;
  bucketSize: number;
}

export interface DistoptReport {
  pipelineRank: number;
  dataRank: number;
  buckets: number;
  /** Names in the shared embedding's bucket, and its [start, end) relative to the bucket, and the bucket's size. */
  embeddingBucket?: { names: string[]; offset: number; size: number };
  /** Per step (last stage): worst gap of this DP rank's micro-batch losses. */
  lossDiffs: number[];
  /** Per step: [this run's gradient norm, the reference's]. */
  norms: Array<[number, number]>;
  /** Per step: worst gap of any weight after the step. */
  paramDiffs: number[];
  /** The tied embedding after the last step (first stage: the word embeddings; last: the copy). */
  embedding?: number[];
}

const HP = { lr: 0.01, betas: [0.9, 0.95] as const };
const WEIGHT_DECAY = 0.1;
const CLIP = 0.5;

export async function distopt(dist: Distributed, o: DistoptOptions): Promise<DistoptReport> {
  const config = CONFIGS.gpt2 as NonNullable<(typeof CONFIGS)['gpt2']>;
  const ps = await ParallelState.create(dist, { tensor: 1, pipeline: o.pp, data: o.dp });
  const tp = tensorParallel(ps, { seed: 1234 });
  const [stage] = stageLayers({ numLayers: config.numLayers, pipelineSize: o.pp, pipelineRank: ps.pipelineRank });
  const model = new GPTModel(config, { tp, seed: 7, ...stage });
  const ddp = new DistributedDataParallel(model, { dataParallel: ps.data, distributedOptimizer: true, overlapGradReduce: true, bucketSize: o.bucketSize });
  const opt = new DistributedOptimizer(ddp, megatronParamGroups(model, { weightDecay: WEIGHT_DECAY }), (g) => new AdamW(g, HP), { clipGrad: CLIP, parallel: ps });

  // The whole model in one process, trained on every DP rank's micro-batches.
  const ref = new GPTModel(config, { tp: tensorParallel(undefined), seed: 7 });
  const refDdp = new DistributedDataParallel(ref);
  const refOpt = new MixedPrecisionOptimizer(new AdamW(megatronParamGroups(ref, { weightDecay: WEIGHT_DECAY }), HP), { clipGrad: CLIP, ddp: refDdp });
  const refParams = Object.fromEntries(ref.namedParameters()) as Record<string, Parameter>;
  const refName = (name: string) => (name === 'output_layer.weight' ? 'embedding.word_embeddings.weight' : name);

  const schedule = {
    pipeline: ps.pipeline,
    tensorShape: activationShape({ seqLength: SEQ, microBatchSize: MICRO_BATCH, hiddenSize: config.hiddenSize, tensorParallelSize: 1, sequenceParallel: false }),
    gradSync: ddp,
  };
  const fb = getForwardBackwardFunc(schedule);
  const batchOf = (d: number, step: number, i: number) => microBatch(config, d, step * o.m + i);
  function* data(step: number): IterableIterator<Batch> {
    for (let i = 0; i < o.m; i++) yield batchOf(ps.dataRank, step, i);
  }

  const shared = sharedEmbeddingParams(model)[0];
  let embeddingBucket: DistoptReport['embeddingBucket'];
  for (const buffer of ddp.buffers) {
    const range = buffer.layout.params.find((r) => r.param === shared);
    const bucket = range && buffer.layout.buckets[range.bucket];
    if (range && bucket) embeddingBucket = { names: bucket.params.map((r) => r.name ?? ''), offset: range.start - bucket.start, size: bucket.end - bucket.start };
  }

  const lossDiffs: number[] = [];
  const norms: Array<[number, number]> = [];
  const paramDiffs: number[] = [];
  for (let step = 0; step < o.steps; step++) {
    opt.zeroGrad();
    const run = fb({ forwardStep: gptForwardStep, dataIterator: data(step), model, numMicroBatches: o.m, config: schedule });
    await ddp.finishGradSync();
    await allReduceEmbeddingGrads(model, ps.embedding);
    const result = await opt.step();

    refOpt.zeroGrad();
    const refLosses = scope(() => {
      let total: Tensor | undefined;
      const mine: number[] = [];
      for (let d = 0; d < o.dp; d++) {
        for (let i = 0; i < o.m; i++) {
          const b = batchOf(d, step, i);
          const loss = ref.forward(b.ids, { labels: b.labels }).mean();
          if (d === ps.dataRank) mine.push(loss.item());
          total = total ? total.add(loss) : loss;
        }
      }
      (total as Tensor).div(o.dp * o.m).backward();
      return mine;
    });
    const refResult = await refOpt.step();

    if (run?.losses) lossDiffs.push(Math.max(...run.losses.map((x, i) => Math.abs(x - (refLosses[i] as number)))));
    norms.push([result.gradNorm, refResult.gradNorm]);
    let worst = 0;
    for (const [name, p] of model.namedParameters()) {
      const want = refParams[refName(name)];
      if (!want) throw new Error(`no reference parameter for ${name}`);
      worst = Math.max(worst, maxAbsDiff(p, want));
    }
    paramDiffs.push(worst);
  }
  const out: DistoptReport = {
    pipelineRank: ps.pipelineRank,
    dataRank: ps.dataRank,
    buckets: ddp.bucketCount,
    embeddingBucket,
    lossDiffs,
    norms,
    paramDiffs,
    embedding: shared ? shared.toArray() : undefined,
  };
  opt.dispose();
  ddp.dispose();
  model.dispose();
  refOpt.optimizer.dispose();
  refDdp.dispose();
  ref.dispose();
  ps.destroy();
  return out;
}
