// The shape of the hidden states stages hand each other, fixed for a run so that no shapes are
// exchanged per step (Megatron's tensor_shape): [s, b, h], or [s / tp, b, h] with sequence
// parallelism, where each TP rank sends its part of the sequence.
import { PipelineConfigError, positiveInteger } from './errors.ts';

export interface ActivationShapeOptions {
  seqLength: number;
  microBatchSize: number;
  hiddenSize: number;
  tensorParallelSize?: number;
  sequenceParallel?: boolean;
}

export function activationShape(o: ActivationShapeOptions): [number, number, number] {
  const s = positiveInteger('activation-shape', 'seqLength', o.seqLength);
  const b = positiveInteger('activation-shape', 'microBatchSize', o.microBatchSize);
  const h = positiveInteger('activation-shape', 'hiddenSize', o.hiddenSize);
  const tp = positiveInteger('activation-shape', 'tensorParallelSize', o.tensorParallelSize ?? 1);
  if (!o.sequenceParallel || tp === 1) return [s, b, h];
  if (s % tp !== 0) throw new PipelineConfigError('activation-shape', `with sequence parallelism the sequence length (${s}) must be divisible by the tensor-parallel size (${tp})`);
  return [s / tp, b, h];
}
