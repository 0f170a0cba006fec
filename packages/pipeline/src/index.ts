// @tessera/pipeline: pipeline parallelism the way Megatron-Core does it. Models split into stages
// of contiguous layers (and virtual chunks for interleaving); stages exchange hidden states and
// gradients through batched p2p; schedules are plain functions with one signature, chosen from
// the config by getForwardBackwardFunc().
export {
  forwardBackwardNoPipelining, forwardBackwardPipeliningWithInterleaving, forwardBackwardPipeliningWithoutInterleaving, getForwardBackwardFunc,
} from './schedules.ts';
export type {
  ForwardBackwardArgs, ForwardBackwardFunc, ForwardBackwardResult, ForwardStepFunc, ForwardStepResult, GradSync, LossFunc, LossOutput, PipelineModule,
  ScheduleConfig, ScheduleEvent, StepInfo,
} from './types.ts';
export { type LayerSplitOptions, splitLayers, type StageLayers, stageLayers } from './layers.ts';
export { activationShape, type ActivationShapeOptions } from './shapes.ts';
export { allReduceEmbeddingGrads, sharedEmbeddingParams } from './embedding-grads.ts';
export { type ExchangeResult, type StageMessage, StageP2P } from './p2p.ts';
export { releaseTensorData } from './release.ts';
export { checkScheduleShape, type ScheduleShape } from './validate.ts';
export { PipelineConfigError, PipelineError } from './errors.ts';
export { interleavedOrder, interleavedPlan, interleavedWarmup, type MicroBatchChunk } from './plan/interleaved.ts';
export { oneFOneBPlan, oneFOneBWarmup } from './plan/one-f-one-b.ts';
export { noPipeliningPlan } from './plan/no-pipelining.ts';
export { type Simulation, SimulationError, simulatePlans, type StepTiming, type TimedStep } from './plan/simulate.ts';
export type { CommOp, CommStep, ComputeStep, Direction, Payload, PlanShape, Step } from './plan/types.ts';
