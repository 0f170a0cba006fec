// The schedules as plain functions with one signature, and getForwardBackwardFunc, which picks
// one from the config as Megatron's get_forward_backward_func does: a pipeline with virtual
// chunks -> interleaved 1F1B; a pipeline -> 1F1B; one stage -> no pipelining. Each checks its
// configuration, writes down this rank's plan (plan/*.ts) and runs it (executor.ts).
import { PipelineConfigError } from './errors.ts';
import { PlanExecutor } from './executor.ts';
import { StageP2P } from './p2p.ts';
import { interleavedPlan } from './plan/interleaved.ts';
import { noPipeliningPlan } from './plan/no-pipelining.ts';
import { oneFOneBPlan } from './plan/one-f-one-b.ts';
import type { Step } from './plan/types.ts';
import type { ForwardBackwardArgs, ForwardBackwardFunc, ForwardBackwardResult, PipelineModule, ScheduleConfig } from './types.ts';
import { checkScheduleShape } from './validate.ts';

type Kind = 'no-pipelining' | '1f1b' | 'interleaved';

function run<M extends PipelineModule, B>(kind: Kind, args: ForwardBackwardArgs<M, B>): ForwardBackwardResult | undefined {
  const config: ScheduleConfig = args.config ?? {};
  const chunks: readonly M[] = Array.isArray(args.model) ? (args.model as readonly M[]) : [args.model as M];
  const group = config.pipeline;
  const pp = group?.size ?? 1;
  const rank = group?.rank ?? 0;
  const v = config.virtualPipelineSize ?? 1;
  const m = args.numMicroBatches;
  const forwardOnly = args.forwardOnly ?? false;
  checkScheduleShape({ pipelineSize: pp, virtualSize: v, numMicroBatches: m, microBatchGroupSize: config.microBatchGroupSize });
  if (chunks.length !== v) {
    throw new PipelineConfigError('model-chunks', `this rank has ${chunks.length} model chunk(s) but the virtual pipeline size is ${v}: pass one chunk per virtual stage`);
  }
  if (kind === 'no-pipelining' && (pp > 1 || v > 1)) {
    throw new PipelineConfigError('no-pipelining', `the no-pipelining schedule runs one stage with one chunk, got pipeline size ${pp} and virtual pipeline size ${v}: use getForwardBackwardFunc()`);
  }
  if (kind === '1f1b' && v > 1) throw new PipelineConfigError('1f1b-virtual', `1F1B without interleaving runs one chunk per rank, got a virtual pipeline size of ${v}: use the interleaved schedule`);
  if (kind === 'interleaved' && v < 2) throw new PipelineConfigError('interleaved-virtual', `the interleaved schedule needs a virtual pipeline size of at least 2, got ${v}`);
  let p2p: StageP2P | undefined;
  if (pp > 1 && group) {
    if (!config.tensorShape) throw new PipelineConfigError('tensor-shape', 'a pipeline needs tensorShape, the shape of the hidden states its stages exchange ([s, b, h], or [s / tp, b, h] with sequence parallelism); see activationShape()');
    p2p = new StageP2P(group, config.tensorShape, config.dtype ?? 'f32', config.device);
  }
  const it = args.dataIterator;
  const iterators = Array.from({ length: v }, (_, c) => (it === undefined ? undefined : 'next' in it ? it : it[c]));
  const shape = { pipelineSize: pp, pipelineRank: rank, numMicroBatches: m, forwardOnly };
  let plan: Step[];
  if (kind === 'no-pipelining') plan = noPipeliningPlan(shape);
  else if (kind === '1f1b') plan = oneFOneBPlan(shape);
  else plan = interleavedPlan({ ...shape, virtualSize: v, microBatchGroupSize: config.microBatchGroupSize });
  const executor = new PlanExecutor<M, B>({ forwardStep: args.forwardStep, iterators, chunks, numMicroBatches: m, forwardOnly, pipelineRank: rank, pipelineSize: pp, p2p, config });
  return executor.run(plan);
}

/** Gradient accumulation over micro-batches on one stage (Megatron's forward_backward_no_pipelining). */
export function forwardBackwardNoPipelining<M extends PipelineModule, B>(args: ForwardBackwardArgs<M, B>): ForwardBackwardResult | undefined {
  return run('no-pipelining', args);
}

/** 1F1B (PipeDream-Flush; Megatron's forward_backward_pipelining_without_interleaving). */
export function forwardBackwardPipeliningWithoutInterleaving<M extends PipelineModule, B>(args: ForwardBackwardArgs<M, B>): ForwardBackwardResult | undefined {
  return run('1f1b', args);
}

/** Interleaved 1F1B over v model chunks per rank (Megatron's forward_backward_pipelining_with_interleaving). */
export function forwardBackwardPipeliningWithInterleaving<M extends PipelineModule, B>(args: ForwardBackwardArgs<M, B>): ForwardBackwardResult | undefined {
  return run('interleaved', args);
}

/** The schedule for a config: interleaved with virtual chunks, 1F1B with a pipeline, else no pipelining. */
export function getForwardBackwardFunc(config: Pick<ScheduleConfig, 'pipeline' | 'virtualPipelineSize'> = {}): ForwardBackwardFunc {
  const pp = config.pipeline?.size ?? 1;
  if (pp > 1 && (config.virtualPipelineSize ?? 1) > 1) return forwardBackwardPipeliningWithInterleaving;
  if (pp > 1) return forwardBackwardPipeliningWithoutInterleaving;
  return forwardBackwardNoPipelining;
}
