// Megatron's MegatronPretrainingSampler: walk sample indices from `consumedSamples`; each global
// batch of microBatchSize * dataParallelSize indices gives rank r the slice [r*mbs, (r+1)*mbs).
// A resumed run that passes its consumed-sample count continues exactly where it stopped.

export interface SamplerOptions {
  totalSamples: number;
  consumedSamples: number;
  microBatchSize: number;
  dataParallelRank: number;
  dataParallelSize: number;
  /** Drop the last partial global batch (Megatron's default). */
  dropLast?: boolean;
}

export function checkSamplerOptions(o: SamplerOptions): void {
  if (!(o.totalSamples > 0)) throw new RangeError(`no sample to consume: totalSamples is ${o.totalSamples}`);
  if (!(o.consumedSamples >= 0 && o.consumedSamples < o.totalSamples)) throw new RangeError(`no samples left to consume: consumedSamples ${o.consumedSamples}, totalSamples ${o.totalSamples}`);
  if (!(Number.isInteger(o.microBatchSize) && o.microBatchSize > 0)) throw new RangeError(`microBatchSize must be a positive integer, got ${o.microBatchSize}`);
  if (!(Number.isInteger(o.dataParallelSize) && o.dataParallelSize > 0)) throw new RangeError(`dataParallelSize must be a positive integer, got ${o.dataParallelSize}`);
  if (!(Number.isInteger(o.dataParallelRank) && o.dataParallelRank >= 0 && o.dataParallelRank < o.dataParallelSize)) {
    throw new RangeError(`dataParallelRank must be in [0, ${o.dataParallelSize}), got ${o.dataParallelRank}`);
  }
}

/** Yields this rank's micro-batch of sample indices, one global batch at a time. */
export function* pretrainingSampler(o: SamplerOptions): Generator<number[]> {
  checkSamplerOptions(o);
  const global = o.microBatchSize * o.dataParallelSize;
  const start = o.dataParallelRank * o.microBatchSize;
  let batch: number[] = [];
  for (let idx = o.consumedSamples; idx < o.totalSamples; idx++) {
    batch.push(idx);
    if (batch.length === global) {
      yield batch.slice(start, start + o.microBatchSize);
      batch = [];
    }
  }
  if (batch.length > 0 && !(o.dropLast ?? true)) yield batch.slice(start, start + o.microBatchSize);
}
