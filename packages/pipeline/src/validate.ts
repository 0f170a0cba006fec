// The rules a schedule's configuration must meet, checked before anything runs. The interleaved
// rules are Megatron's (microbatch_group_size_per_vp_stage in [pp, m]; the last group empty or at
// least pp micro-batches); test/plans.test.ts checks with the simulator that they accept exactly
// the configurations whose plans run.
import { PipelineConfigError, positiveInteger } from './errors.ts';

export interface ScheduleShape {
  pipelineSize: number;
  virtualSize: number;
  numMicroBatches: number;
  /** Micro-batches per group of the interleaved schedule (default pipelineSize). */
  microBatchGroupSize?: number;
}

export function checkScheduleShape(s: ScheduleShape): void {
  const pp = positiveInteger('pipeline-size', 'the pipeline size', s.pipelineSize);
  const v = positiveInteger('virtual-size', 'the virtual pipeline size', s.virtualSize);
  const m = positiveInteger('micro-batches', 'numMicroBatches', s.numMicroBatches);
  if (v === 1) return;
  if (pp < 2) throw new PipelineConfigError('virtual-needs-pipeline', `a virtual pipeline size of ${v} needs a pipeline size of at least 2, got ${pp}`);
  const G = positiveInteger('interleaved-group-size', 'microBatchGroupSize', s.microBatchGroupSize ?? pp);
  if (G < pp || G > m) {
    throw new PipelineConfigError(
      'interleaved-group-size',
      `the interleaved schedule runs micro-batches in groups of microBatchGroupSize = ${G}${s.microBatchGroupSize === undefined ? ' (the pipeline size)' : ''}, ` +
        `which must be from the pipeline size (${pp}) to the number of micro-batches (${m})${G > m ? `: use at least ${G} micro-batches` : ''}`,
    );
  }
  const tail = m % G;
  if (tail !== 0 && tail < pp) {
    throw new PipelineConfigError(
      'interleaved-micro-batches',
      `the interleaved schedule cannot take ${m} micro-batches in groups of ${G}: the last group would hold ${tail}, and it must hold 0 or at least the pipeline size (${pp}); use a multiple of ${G}`,
    );
  }
}
