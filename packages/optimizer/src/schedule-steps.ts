// Megatron's training script turns its iteration- or sample-based flags into scheduler steps, and
// steps count samples: each iteration advances the scheduler by the global batch size. These are
// the same conversions, so a schedule configured like a Megatron run matches it step for step.
import type { SchedulerOptions } from './scheduler.ts';

export interface MegatronScheduleArgs {
  /** --global-batch-size: samples per iteration (the scheduler's increment per iteration). */
  globalBatchSize: number;
  /** --train-iters (iteration-based training) ... */
  trainIters?: number;
  /** ... or --train-samples (sample-based training). */
  trainSamples?: number;
  /** --lr-decay-iters / --lr-decay-samples (default: the whole run). */
  lrDecayIters?: number;
  lrDecaySamples?: number;
  /** Warmup: --lr-warmup-fraction of the decay steps, or --lr-warmup-iters / --lr-warmup-samples. */
  lrWarmupFraction?: number;
  lrWarmupIters?: number;
  lrWarmupSamples?: number;
  /** WSD anneal length: --lr-wsd-decay-iters / --lr-wsd-decay-samples. */
  lrWsdDecayIters?: number;
  lrWsdDecaySamples?: number;
}

export type ScheduleSteps = Pick<SchedulerOptions, 'warmupSteps' | 'decaySteps' | 'wdIncrSteps' | 'wsdDecaySteps'>;

/** warmup/decay/weight-decay/WSD steps, in samples, as Megatron's get_optimizer_param_scheduler computes them. */
export function megatronScheduleSteps(a: MegatronScheduleArgs): ScheduleSteps {
  const gbs = a.globalBatchSize;
  if (!(Number.isInteger(gbs) && gbs > 0)) throw new Error(`megatronScheduleSteps: globalBatchSize must be a positive integer, got ${gbs}`);
  if ((a.trainIters === undefined) === (a.trainSamples === undefined)) {
    throw new Error('megatronScheduleSteps: give exactly one of trainIters (iteration-based) and trainSamples (sample-based)');
  }
  let decaySteps: number;
  let wdIncrSteps: number;
  let wsdDecaySteps: number | undefined;
  let warmupSteps: number;
  if (a.trainIters !== undefined) {
    decaySteps = (a.lrDecayIters ?? a.trainIters) * gbs;
    wdIncrSteps = a.trainIters * gbs;
    wsdDecaySteps = a.lrWsdDecayIters === undefined ? undefined : a.lrWsdDecayIters * gbs;
    warmupSteps = a.lrWarmupFraction !== undefined ? a.lrWarmupFraction * decaySteps : (a.lrWarmupIters ?? 0) * gbs;
  } else {
    decaySteps = a.lrDecaySamples ?? (a.trainSamples as number);
    wdIncrSteps = a.trainSamples as number;
    wsdDecaySteps = a.lrWsdDecaySamples;
    warmupSteps = a.lrWarmupFraction !== undefined ? a.lrWarmupFraction * decaySteps : (a.lrWarmupSamples ?? 0);
  }
  return { warmupSteps, decaySteps, wdIncrSteps, wsdDecaySteps };
}
