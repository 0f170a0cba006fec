// One rank of a pipeline-parallel GPT (with TP, SP and DP when asked) against the same GPT in one
// process: every stage builds its chunks from the layer split, the schedule runs the rank's
// micro-batches, gradients are finished as Megatron's finalize_model_grads does (DP sync, SP
// all-reduce, tied-embedding all-reduce), and then the loss (last stage) and every gradient are
// compared with the single-process model on all data-parallel ranks' micro-batches. Also reports
// the rank's order of forward/backward steps, the most micro-batches it held at once, and its live
// tensors before and after (leaks).
import { type Distributed, ParallelState } from '@tessera/collectives';
import { liveTensorCount, type Parameter, scope, type Tensor } from '@tessera/core';
import { GPTModel } from '@tessera/models';
import { DistributedDataParallel } from '@tessera/optimizer';
import { allReduceSequenceParallelGrads, tensorParallel } from '@tessera/tensor-parallel';
import { activationShape, allReduceEmbeddingGrads, type ForwardStepFunc, getForwardBackwardFunc, type ScheduleEvent, stageLayers } from '../src/index.ts';
import { type Batch, batches, CONFIGS, gptForwardStep, MICRO_BATCH, maxAbsDiff, microBatch, SEQ, sliceLike } from './gpt.ts';

export interface ParityOptions {
  tp: number;
  pp: number;
  dp: number;
  v: number;
  m: number;
  config: string;
  sp?: boolean;
  ddp?: boolean;
  firstStageLayers?: number;
  lastStageLayers?: number;
  /** This pipeline rank exits during the forward of micro-batch 2 (the failure test). */
  dieAt?: number;
}

export interface ParityReport {
  pipelineRank: number;
  tensorRank: number;
  dataRank: number;
  /** Last stage only: worst gap of the per-micro-batch losses, training and forward-only runs. */
  lossDiff?: number;
  evalLossDiff?: number;
  gradDiff: number;
  params: number;
  order: string[];
  maxInFlight: number;
  liveBefore: number;
  liveAfter: number;
}

export async function parity(dist: Distributed, o: ParityOptions): Promise<ParityReport> {
  const config = CONFIGS[o.config];
  if (!config) throw new Error(`unknown config ${o.config}`);
  const ps = await ParallelState.create(dist, { tensor: o.tp, pipeline: o.pp, data: o.dp, virtualPipeline: o.v > 1 ? o.v : undefined });
  const tp = tensorParallel(ps, { sequenceParallel: o.sp ?? false, seed: 1234 });
  const layout = stageLayers({ numLayers: config.numLayers, pipelineSize: o.pp, virtualPipelineSize: o.v, firstStageLayers: o.firstStageLayers, lastStageLayers: o.lastStageLayers, pipelineRank: ps.pipelineRank });
  const chunks = layout.map((s) => new GPTModel(config, { tp, seed: 7, ...s }));
  const ddps = o.ddp ? chunks.map((c) => new DistributedDataParallel(c, { dataParallel: ps.data })) : undefined;
  const events: ScheduleEvent[] = [];
  const schedule = {
    pipeline: ps.pipeline,
    virtualPipelineSize: o.v,
    tensorShape: activationShape({ seqLength: SEQ, microBatchSize: MICRO_BATCH, hiddenSize: config.hiddenSize, tensorParallelSize: o.tp, sequenceParallel: tp.sequenceParallel }),
    gradSync: ddps,
  };
  const fb = getForwardBackwardFunc(schedule);
  const step: ForwardStepFunc<GPTModel, Batch> = (data, model, info) => {
    if (o.dieAt === ps.pipelineRank && info.microBatch === 2) process.exit(7);
    return gptForwardStep(data, model, info);
  };
  const iterators = () => chunks.map(() => batches(config, ps.dataRank, o.m));

  const liveBefore = liveTensorCount();
  const evalRun = fb({ forwardStep: step, dataIterator: iterators(), model: chunks, numMicroBatches: o.m, forwardOnly: true, config: schedule });
  const run = fb({ forwardStep: step, dataIterator: iterators(), model: chunks, numMicroBatches: o.m, config: { ...schedule, trace: (e) => events.push(e) } });
  for (const d of ddps ?? []) await d.finishGradSync();
  for (const c of chunks) await allReduceSequenceParallelGrads(c, tp);
  await allReduceEmbeddingGrads(chunks, ps.embedding);

  // The whole model in this process, on every data-parallel rank's micro-batches.
  const ref = new GPTModel(config, { tp: tensorParallel(undefined), seed: 7 });
  const refLosses = scope(() => {
    const all: number[][] = [];
    let total: Tensor | undefined;
    for (let d = 0; d < o.dp; d++) {
      all.push([]);
      for (let i = 0; i < o.m; i++) {
        const b = microBatch(config, d, i);
        const loss = ref.forward(b.ids, { labels: b.labels }).mean();
        all[d]?.push(loss.item());
        total = total ? total.add(loss) : loss;
      }
    }
    (total as Tensor).div(o.dp * o.m).backward();
    return all[ps.dataRank] as number[];
  });
  const refParams = Object.fromEntries(ref.namedParameters()) as Record<string, Parameter>;
  const tied = !config.untieEmbeddingsAndOutputWeights;
  let gradDiff = 0;
  let params = 0;
  scope(() => {
    for (const c of chunks) {
      for (const [name, p] of c.namedParameters()) {
        const refName = name === 'output_layer.weight' && tied ? 'embedding.word_embeddings.weight' : name;
        const want = refParams[refName]?.grad;
        const got = p.mainGrad ?? p.grad;
        if (!want || !got) throw new Error(`no gradient for ${name}`);
        gradDiff = Math.max(gradDiff, maxAbsDiff(got, sliceLike(want, p, tp.rank, tp.size)));
        params++;
      }
    }
  });
  const worst = (xs: number[] | undefined) => (xs ? Math.max(...xs.map((x, i) => Math.abs(x - (refLosses[i] as number)))) : undefined);
  for (const d of ddps ?? []) d.zeroGradBuffers();
  for (const c of chunks) c.zeroGrad();
  ref.dispose();
  const liveAfter = liveTensorCount();
  const compute = events.filter((e) => e.type !== 'comm');
  const out: ParityReport = {
    pipelineRank: ps.pipelineRank,
    tensorRank: ps.tensorRank,
    dataRank: ps.dataRank,
    lossDiff: worst(run?.losses),
    evalLossDiff: worst(evalRun?.losses),
    gradDiff,
    params,
    order: compute.map((e) => `${e.type === 'forward' ? 'F' : 'B'}${e.microBatch}${o.v > 1 ? `.${e.chunk}` : ''}`),
    maxInFlight: Math.max(...compute.map((e) => e.inFlight)),
    liveBefore,
    liveAfter,
  };
  for (const d of ddps ?? []) d.dispose();
  for (const c of chunks) c.dispose();
  ps.destroy();
  return out;
}
