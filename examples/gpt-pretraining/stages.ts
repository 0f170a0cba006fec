// This rank's part of the model and how one optimizer step runs it. With pipeline parallelism the
// rank builds its stage's chunks (the layer split of @tessera/pipeline), one
// DistributedDataParallel per chunk, and runs each global batch through the schedule the config
// picks (1F1B, interleaved 1F1B, or gradient accumulation over micro-batches on one stage).
// Gradient accumulation (--gradient_accumulation_steps) is separate: several schedule runs per
// optimizer step, all but the last without the data-parallel reduction. Then Megatron's
// finalize_model_grads: DP sync, sequence-parallel and tied-embedding all-reduces.
import type { ParallelState } from '@tessera/collectives';
import { type DType, noGrad, type Parameter } from '@tessera/core';
import { type GptConfig, GPTModel, maskedMeanLoss } from '@tessera/models';
import { DistributedDataParallel } from '@tessera/optimizer';
import {
  activationShape, allReduceEmbeddingGrads, type ForwardStepFunc, getForwardBackwardFunc, type ScheduleConfig, stageLayers,
} from '@tessera/pipeline';
import { allReduceSequenceParallelGrads, type TensorParallel } from '@tessera/tensor-parallel';
import type { MicroBatch } from './data.ts';

export interface StageOptions {
  config: GptConfig;
  tp: TensorParallel;
  ps: ParallelState | undefined;
  pipelineSize: number;
  virtualPipelineSize: number;
  numMicroBatches: number;
  microBatchSize: number;
  seqLength: number;
  dtype: DType;
  device: string;
  seed: number;
}

/** Megatron's GPT forward step: the first stage embeds the ids, the last turns per-token losses into the masked mean. */
const forwardStep: ForwardStepFunc<GPTModel, MicroBatch> = (data, model) => {
  const b = data?.next().value as MicroBatch;
  const output = model.forward(model.preProcess ? b.ids : undefined, model.postProcess ? { labels: b.labels } : {});
  return { output, lossFunc: (perToken) => maskedMeanLoss(perToken, b.lossMask) };
};

export class Stages {
  readonly o: StageOptions;
  readonly chunks: GPTModel[];
  readonly ddps: DistributedDataParallel[];
  readonly schedule: ScheduleConfig;
  /** Whether this rank computes the loss (the last pipeline stage). */
  readonly isLast: boolean;

  constructor(o: StageOptions) {
    this.o = o;
    const layout = stageLayers({ numLayers: o.config.numLayers, pipelineSize: o.pipelineSize, virtualPipelineSize: o.virtualPipelineSize, pipelineRank: o.ps?.pipelineRank ?? 0 });
    this.chunks = layout.map((s) => new GPTModel(o.config, { tp: o.tp, dtype: o.dtype, device: o.device, seed: o.seed, ...s }));
    this.ddps = this.chunks.map((c) => new DistributedDataParallel(c, { dataParallel: o.ps?.data }));
    this.schedule = this.#scheduleFor(o.microBatchSize);
    this.isLast = (o.ps?.pipelineRank ?? 0) === o.pipelineSize - 1;
  }

  /** The schedule's settings; stages exchange hidden states of micro-batches of this size. */
  #scheduleFor(microBatchSize: number): ScheduleConfig {
    const o = this.o;
    return {
      pipeline: o.pipelineSize > 1 ? o.ps?.pipeline : undefined,
      virtualPipelineSize: o.virtualPipelineSize,
      tensorShape: activationShape({ seqLength: o.seqLength, microBatchSize, hiddenSize: o.config.hiddenSize, tensorParallelSize: o.tp.size, sequenceParallel: o.tp.sequenceParallel }),
      dtype: o.dtype,
      device: o.device,
      gradSync: this.ddps,
    };
  }

  /** Every chunk's named parameters (global names), for the optimizer's groups. */
  *namedParameters(): Generator<[string, Parameter]> {
    for (const c of this.chunks) yield* c.namedParameters();
  }

  /** The optimizer's view of the chunks' DDPs: all of them reduced, all of them zeroed. */
  get gradSync(): { finishGradSync(): Promise<void>; zeroGradBuffers(): void } {
    return {
      finishGradSync: async () => {
        for (const d of this.ddps) await d.finishGradSync();
      },
      zeroGradBuffers: () => {
        for (const d of this.ddps) d.zeroGradBuffers();
      },
    };
  }

  train(mode: boolean): void {
    for (const c of this.chunks) c.train(mode);
  }

  /** Runs fn with every chunk's DDP holding its reduction back. */
  #noSync<T>(fn: () => T, depth = 0): T {
    const d = this.ddps[depth];
    return d ? d.noSync(() => this.#noSync(fn, depth + 1)) : fn();
  }

  /**
   * Forward and backward of accumulationSteps global batches of numMicroBatches micro-batches
   * each (batch(a, j) gives micro-batch j of accumulation step a), then the gradient
   * finalization. Returns the mean loss on the last stage.
   */
  async trainStep(accumulationSteps: number, batch: (a: number, j: number) => MicroBatch): Promise<number | undefined> {
    const fb = getForwardBackwardFunc(this.schedule);
    // The schedule averages over its micro-batches; this averages over the accumulation steps.
    const config: ScheduleConfig = accumulationSteps > 1 ? { ...this.schedule, gradScale: (loss) => loss.div(accumulationSteps) } : this.schedule;
    let total = 0;
    for (let a = 0; a < accumulationSteps; a++) {
      const run = () => fb({ forwardStep, dataIterator: this.#iterators((j) => batch(a, j)), model: this.chunks, numMicroBatches: this.o.numMicroBatches, config });
      const res = a < accumulationSteps - 1 ? this.#noSync(run) : run();
      total += res?.loss ?? 0;
    }
    await this.gradSync.finishGradSync();
    for (const c of this.chunks) await allReduceSequenceParallelGrads(c, this.o.tp);
    await allReduceEmbeddingGrads(this.chunks, this.o.ps?.embedding);
    return this.isLast ? total / accumulationSteps : undefined;
  }

  /** Forward-only over numMicroBatches micro-batches of microBatchSize blocks; the mean loss on the last stage. */
  evalStep(microBatchSize: number, batch: (j: number) => MicroBatch): number | undefined {
    const config = this.#scheduleFor(microBatchSize);
    const fb = getForwardBackwardFunc(config);
    return noGrad(() => fb({ forwardStep, dataIterator: this.#iterators(batch), model: this.chunks, numMicroBatches: this.o.numMicroBatches, forwardOnly: true, config }))?.loss;
  }

  /** One iterator per chunk over the same micro-batches (each chunk reads every micro-batch). */
  #iterators(batch: (j: number) => MicroBatch): Iterator<MicroBatch>[] {
    const m = this.o.numMicroBatches;
    function* microBatches(): Generator<MicroBatch> {
      for (let j = 0; j < m; j++) yield batch(j);
    }
    return this.chunks.map(() => microBatches());
  }

  dispose(): void {
    for (const d of this.ddps) d.dispose();
    for (const c of this.chunks) c.dispose();
  }
}
