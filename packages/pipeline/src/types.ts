// What a schedule is called with and gives back (Megatron's forward_backward_func signature):
// a forward-step function, the data iterator(s), the model chunks, the number of micro-batches,
// forward-only; plus the run's pipeline settings.
import type { ProcessGroup } from '@tessera/collectives';
import type { DeviceLike, DType, Tensor } from '@tessera/core';
import type { CommOp } from './plan/types.ts';

/** A model chunk a schedule can run: later stages receive their input through setInputTensor (Megatron's set_input_tensor). */
export interface PipelineModule {
  setInputTensor?(input: Tensor | undefined): void;
}

export interface StepInfo {
  microBatch: number;
  /** The model chunk (virtual stage on this rank); 0 without interleaving. */
  chunk: number;
}

/** A loss, with optional numbers to report (Megatron's (loss, dict)). */
export type LossOutput = Tensor | { loss: Tensor; report?: Record<string, number> };
export type LossFunc = (output: Tensor) => LossOutput;

export interface ForwardStepResult {
  /** The chunk's output: hidden states to send on, or on the last stage what lossFunc reduces. */
  output: Tensor;
  /** Needed on the last stage: the micro-batch's scalar loss from the output. */
  lossFunc?: LossFunc;
}

/**
 * Runs one micro-batch through one chunk. `data` is the chunk's iterator (take this micro-batch's
 * batch from it; later stages may need only labels or position ids). A later stage's model has
 * its input already set.
 */
export type ForwardStepFunc<M, B> = (data: Iterator<B> | undefined, model: M, step: StepInfo) => ForwardStepResult;

/** What holds back the data-parallel gradient reduction: DistributedDataParallel's noSync. */
export interface GradSync {
  noSync<T>(fn: () => T): T;
}

/** One step a rank took, for tests and benchmarks (times from performance.now(), in ms). */
export type ScheduleEvent =
  | {
      type: 'forward' | 'backward';
      chunk: number;
      microBatch: number;
      start: number;
      end: number;
      /** Micro-batches (over all chunks) whose activations this rank holds after the step: forward done, backward not yet. */
      inFlight: number;
    }
  | { type: 'comm'; ops: CommOp[]; start: number; end: number };

export interface ScheduleConfig {
  /** The pipeline group (ParallelState's `pipeline`); omit for a single stage. */
  pipeline?: ProcessGroup;
  /** Model chunks per rank for the interleaved schedule (default 1). */
  virtualPipelineSize?: number;
  /** Micro-batches per group in the interleaved schedule (Megatron's microbatch_group_size_per_vp_stage; default the pipeline size). */
  microBatchGroupSize?: number;
  /** Shape of the hidden states stages exchange ([s, b, h], or [s / tp, b, h] with sequence parallelism); needed with a pipeline. */
  tensorShape?: readonly number[];
  /** Their dtype (Megatron's pipeline_dtype; default f32). */
  dtype?: DType;
  /** Where receive buffers live (default: the default device). */
  device?: DeviceLike;
  /** Free each output's data once it is sent (default true; Megatron's deallocate_pipeline_outputs). */
  deallocateOutputs?: boolean;
  /** Per chunk (or one for all): backward of every micro-batch but a chunk's last runs inside its noSync (Megatron's no_sync_func). */
  gradSync?: GradSync | readonly (GradSync | undefined)[];
  /** Applied to each micro-batch's loss (already divided by the number of micro-batches) before backward: a loss scaler. */
  gradScale?: (loss: Tensor) => Tensor;
  /** Called after every step this rank takes. */
  trace?: (event: ScheduleEvent) => void;
}

export interface ForwardBackwardArgs<M extends PipelineModule, B> {
  forwardStep: ForwardStepFunc<M, B>;
  /** One iterator, or one per chunk. */
  dataIterator?: Iterator<B> | readonly (Iterator<B> | undefined)[];
  /** This rank's model chunks (one without interleaving). */
  model: M | readonly M[];
  numMicroBatches: number;
  /** Forwards only (evaluation): no backward, no gradients, nothing kept for backward. */
  forwardOnly?: boolean;
  config?: ScheduleConfig;
}

/** On the last stage: the losses the loss function returned (before dividing by the micro-batch count). */
export interface ForwardBackwardResult {
  /** Mean over the micro-batches. */
  loss: number;
  /** Per micro-batch, in micro-batch order. */
  losses: number[];
  /** Per micro-batch, what the loss function reported. */
  reports: Record<string, number>[];
}

/** Every schedule has this signature; it returns the losses on the last stage and undefined elsewhere. */
export type ForwardBackwardFunc = <M extends PipelineModule, B>(args: ForwardBackwardArgs<M, B>) => ForwardBackwardResult | undefined;
