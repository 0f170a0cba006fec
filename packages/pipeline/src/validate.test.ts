// Configurations the schedules refuse before running, with the rule that failed.
import { describe, expect, it } from 'vitest';
import { PipelineConfigError } from './errors.ts';
import { forwardBackwardNoPipelining, forwardBackwardPipeliningWithInterleaving, forwardBackwardPipeliningWithoutInterleaving, getForwardBackwardFunc } from './schedules.ts';
import { checkScheduleShape } from './validate.ts';
import type { ProcessGroup } from '@tessera/collectives';

function ruleOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    if (err instanceof PipelineConfigError) return `${err.rule}: ${err.message}`;
    throw err;
  }
  return undefined;
}

// A group that is never used for communication: the checks fail first.
const group = (size: number, rank = 0) => ({ size, rank }) as unknown as ProcessGroup;
const step = () => {
  throw new Error('not reached');
};

describe('schedule configuration rules', () => {
  it('the interleaved schedule: micro-batch groups from pp to m, the last group empty or at least pp', () => {
    expect(ruleOf(() => checkScheduleShape({ pipelineSize: 4, virtualSize: 2, numMicroBatches: 3 }))).toBe(
      'interleaved-group-size: pipeline config: the interleaved schedule runs micro-batches in groups of microBatchGroupSize = 4 (the pipeline size), which must be from the pipeline size (4) to the number of micro-batches (3): use at least 4 micro-batches',
    );
    expect(ruleOf(() => checkScheduleShape({ pipelineSize: 4, virtualSize: 2, numMicroBatches: 6 }))).toBe(
      'interleaved-micro-batches: pipeline config: the interleaved schedule cannot take 6 micro-batches in groups of 4: the last group would hold 2, and it must hold 0 or at least the pipeline size (4); use a multiple of 4',
    );
    expect(ruleOf(() => checkScheduleShape({ pipelineSize: 2, virtualSize: 2, numMicroBatches: 5 }))).toMatch(/^interleaved-micro-batches:/);
    expect(ruleOf(() => checkScheduleShape({ pipelineSize: 2, virtualSize: 2, numMicroBatches: 5, microBatchGroupSize: 3 }))).toBeUndefined(); // 3 + 2
    expect(ruleOf(() => checkScheduleShape({ pipelineSize: 4, virtualSize: 2, numMicroBatches: 8, microBatchGroupSize: 2 }))).toMatch(/^interleaved-group-size:/);
    expect(ruleOf(() => checkScheduleShape({ pipelineSize: 4, virtualSize: 2, numMicroBatches: 8 }))).toBeUndefined();
    expect(ruleOf(() => checkScheduleShape({ pipelineSize: 1, virtualSize: 2, numMicroBatches: 8 }))).toMatch(/^virtual-needs-pipeline:/);
    expect(ruleOf(() => checkScheduleShape({ pipelineSize: 2, virtualSize: 1, numMicroBatches: 0 }))).toBe('micro-batches: pipeline config: numMicroBatches must be a positive integer, got 0');
  });

  it('each schedule checks that it fits the config', () => {
    expect(ruleOf(() => forwardBackwardNoPipelining({ forwardStep: step, model: [{}], numMicroBatches: 2, config: { pipeline: group(2) } }))).toMatch(/^no-pipelining: .*got pipeline size 2/);
    expect(ruleOf(() => forwardBackwardPipeliningWithoutInterleaving({ forwardStep: step, model: [{}, {}], numMicroBatches: 4, config: { pipeline: group(2), virtualPipelineSize: 2 } }))).toMatch(/^1f1b-virtual:/);
    expect(ruleOf(() => forwardBackwardPipeliningWithInterleaving({ forwardStep: step, model: {}, numMicroBatches: 4, config: { pipeline: group(2) } }))).toMatch(/^interleaved-virtual:/);
    expect(ruleOf(() => forwardBackwardPipeliningWithInterleaving({ forwardStep: step, model: {}, numMicroBatches: 4, config: { pipeline: group(2), virtualPipelineSize: 2 } }))).toBe(
      'model-chunks: pipeline config: this rank has 1 model chunk(s) but the virtual pipeline size is 2: pass one chunk per virtual stage',
    );
    expect(ruleOf(() => forwardBackwardPipeliningWithoutInterleaving({ forwardStep: step, model: {}, numMicroBatches: 4, config: { pipeline: group(2) } }))).toMatch(/^tensor-shape: .*see activationShape\(\)/);
  });

  it('getForwardBackwardFunc picks interleaved with virtual chunks, 1F1B with a pipeline, else no pipelining', () => {
    expect(getForwardBackwardFunc({ pipeline: group(4), virtualPipelineSize: 2 })).toBe(forwardBackwardPipeliningWithInterleaving);
    expect(getForwardBackwardFunc({ pipeline: group(4) })).toBe(forwardBackwardPipeliningWithoutInterleaving);
    expect(getForwardBackwardFunc({ pipeline: group(1) })).toBe(forwardBackwardNoPipelining);
    expect(getForwardBackwardFunc()).toBe(forwardBackwardNoPipelining);
  });
});
