// @tessera/optimizer: everything between a backward pass and updated weights, on one GPU or many.
export { Optimizer, type BaseHyperparams, type GroupSchedule, type OptimizerOptions, type OptimizerStateDict, type ParamGroup, type ParamGroupInput, type ParamsInput, type SlotState, type StepOptions } from './optimizer.ts';
export { type ParamSlot, type MainWeights, slotOf } from './slots.ts';
export { Adam, AdamW, type AdamHyperparams, type AdamOptions } from './adam.ts';
export { SGD, type SGDHyperparams, type SGDOptions } from './sgd.ts';
export { megatronParamGroups, isNoWeightDecay, type MegatronGroupOptions } from './param-groups.ts';
export { ConstantGradScaler, DynamicGradScaler, type DynamicGradScalerOptions, type GradScaler } from './grad-scaler.ts';
export { clipGradNorm, clipFactor, countsTowardNorm, gradStats, type ClipOptions, type GradStats, type NormGroups } from './grad-norm.ts';
export type { PrecisionOptions, StepResult } from './step-control.ts';
export { MixedPrecisionOptimizer, type GradSync, type MixedPrecisionOptions, type MixedPrecisionStateDict } from './mixed-precision.ts';
export { planLayout, defaultBucketSize, type BufferLayout, type BucketRange, type LayoutOptions, type ParamRange } from './buffer-layout.ts';
export { GradBuffer, type GradBufferOptions } from './grad-buffer.ts';
export { DistributedDataParallel, type DDPOptions } from './ddp.ts';
export { DistributedOptimizer, SHARDED_FORMAT, type DistributedOptimizerOptions, type ShardedOptimizerStateDict } from './distributed-optimizer.ts';
export { mergeShardedStateDicts, loadMergedState, type MergedOptimizerState } from './sharded-state.ts';
export { OptimizerParamScheduler, type HasParamGroups, type LrDecayStyle, type SchedulerOptions, type WdIncrStyle, type WsdDecayStyle } from './scheduler.ts';
export { megatronScheduleSteps, type MegatronScheduleArgs, type ScheduleSteps } from './schedule-steps.ts';
export { LambdaScheduler } from './lambda-scheduler.ts';
