// Command-line flags, named as in Accelerate's megatron_lm_gpt_pretraining.py where they exist.
// Defaults depend on the device: a tiny model and a short run on the CPU, GPT-2 small in bf16 for
// one epoch on a GPU.
import { parseArgs } from 'node:util';
import { cudaAvailable, type DType } from '@tessera/core';
import { GPT_CONFIGS } from '@tessera/models';

export interface TrainArgs {
  model: string;
  blockSize: number;
  perDeviceTrainBatchSize: number;
  perDeviceEvalBatchSize: number;
  learningRate: number;
  weightDecay: number;
  numTrainEpochs: number;
  maxTrainSteps: number | undefined;
  maxEvalBatches: number | undefined;
  numWarmupSteps: number;
  lrSchedulerType: 'linear' | 'cosine' | 'constant';
  seed: number;
  tensorParallelSize: number;
  sequenceParallel: boolean;
  pipelineParallelSize: number;
  /** Model chunks per pipeline rank (interleaved 1F1B); 1 without interleaving. */
  virtualPipelineSize: number;
  /** Micro-batches of per_device_train_batch_size per schedule run (Megatron's num_micro_batches). */
  numMicroBatches: number;
  /** Schedule runs per optimizer step (separate from the micro-batches). */
  gradientAccumulationSteps: number;
  device: 'cpu' | 'cuda';
  dtype: DType;
  quiet: boolean;
}

const USAGE = `usage: train.ts [--model gpt2-tiny|gpt2|gpt2-medium|...] [--block_size N] [--per_device_train_batch_size N]
  [--per_device_eval_batch_size N] [--learning_rate X] [--weight_decay X] [--num_train_epochs N] [--max_train_steps N]
  [--max_eval_batches N] [--num_warmup_steps N] [--lr_scheduler_type linear|cosine|constant] [--seed N]
  [--tensor_parallel_size N] [--sequence_parallel] [--pipeline_parallel_size N] [--virtual_pipeline_size N]
  [--num_micro_batches N] [--gradient_accumulation_steps N] [--device cpu|cuda] [--dtype f32|bf16] [--quiet]
Run with several processes through the launcher: tessera launch --num_processes 4 --cpu train.ts --tensor_parallel_size 2
A step takes per_device_train_batch_size x num_micro_batches x gradient_accumulation_steps blocks per data-parallel rank.`;

export class ArgsError extends Error {}

export function parseTrainArgs(argv: string[]): TrainArgs {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        model: { type: 'string' },
        block_size: { type: 'string' },
        per_device_train_batch_size: { type: 'string' },
        per_device_eval_batch_size: { type: 'string' },
        learning_rate: { type: 'string' },
        weight_decay: { type: 'string' },
        num_train_epochs: { type: 'string' },
        max_train_steps: { type: 'string' },
        max_eval_batches: { type: 'string' },
        num_warmup_steps: { type: 'string' },
        lr_scheduler_type: { type: 'string' },
        seed: { type: 'string' },
        tensor_parallel_size: { type: 'string' },
        sequence_parallel: { type: 'boolean' },
        pipeline_parallel_size: { type: 'string' },
        virtual_pipeline_size: { type: 'string' },
        num_micro_batches: { type: 'string' },
        gradient_accumulation_steps: { type: 'string' },
        device: { type: 'string' },
        dtype: { type: 'string' },
        quiet: { type: 'boolean' },
        help: { type: 'boolean' },
      },
    }));
  } catch (err) {
    throw new ArgsError(`${(err as Error).message}\n${USAGE}`);
  }
  if (values.help) throw new ArgsError(USAGE);
  const device = (values.device as string | undefined) ?? (cudaAvailable() ? 'cuda' : 'cpu');
  if (device !== 'cpu' && device !== 'cuda') throw new ArgsError(`--device must be cpu or cuda, got '${device}'`);
  const gpu = device === 'cuda';
  const int = (name: string, fallback: number | undefined, min = 1): number | undefined => {
    const raw = values[name];
    if (raw === undefined) return fallback;
    const v = Number(raw);
    if (!Number.isInteger(v) || v < min) throw new ArgsError(`--${name} must be an integer >= ${min}, got '${raw}'`);
    return v;
  };
  const num = (name: string, fallback: number, min = 0): number => {
    const raw = values[name];
    if (raw === undefined) return fallback;
    const v = Number(raw);
    if (!(Number.isFinite(v) && v >= min)) throw new ArgsError(`--${name} must be a number >= ${min}, got '${raw}'`);
    return v;
  };
  const model = (values.model as string | undefined) ?? (gpu ? 'gpt2' : 'gpt2-tiny');
  if (!(model in GPT_CONFIGS)) throw new ArgsError(`--model must be one of ${Object.keys(GPT_CONFIGS).join(', ')}, got '${model}'`);
  const schedule = (values.lr_scheduler_type as string | undefined) ?? 'linear';
  if (!['linear', 'cosine', 'constant'].includes(schedule)) throw new ArgsError(`--lr_scheduler_type must be linear, cosine or constant, got '${schedule}'`);
  const dtype = (values.dtype as string | undefined) ?? (gpu ? 'bf16' : 'f32');
  if (dtype !== 'f32' && dtype !== 'bf16') throw new ArgsError(`--dtype must be f32 or bf16, got '${dtype}'`);
  return {
    model,
    blockSize: int('block_size', gpu ? 1024 : 64) as number,
    perDeviceTrainBatchSize: int('per_device_train_batch_size', 8) as number,
    perDeviceEvalBatchSize: int('per_device_eval_batch_size', 8) as number,
    learningRate: num('learning_rate', gpu ? 6e-4 : 2e-3),
    weightDecay: num('weight_decay', 0.01),
    numTrainEpochs: int('num_train_epochs', 1) as number,
    maxTrainSteps: int('max_train_steps', gpu ? undefined : 100),
    maxEvalBatches: int('max_eval_batches', gpu ? undefined : 10),
    numWarmupSteps: int('num_warmup_steps', gpu ? 100 : 10, 0) as number,
    lrSchedulerType: schedule as TrainArgs['lrSchedulerType'],
    seed: int('seed', 1234, 0) as number,
    tensorParallelSize: int('tensor_parallel_size', 1) as number,
    sequenceParallel: (values.sequence_parallel as boolean | undefined) ?? false,
    pipelineParallelSize: int('pipeline_parallel_size', 1) as number,
    virtualPipelineSize: int('virtual_pipeline_size', 1) as number,
    numMicroBatches: int('num_micro_batches', 1) as number,
    gradientAccumulationSteps: int('gradient_accumulation_steps', 1) as number,
    device,
    dtype,
    quiet: (values.quiet as boolean | undefined) ?? false,
  };
}
