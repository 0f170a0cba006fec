// Micro-batches for one data-parallel rank, from a consumed-sample count, built ahead of use.
// Sample building runs on the main thread in setImmediate slices, so it overlaps the awaits of a
// training step (GPU work, collectives) instead of delaying the step that needs the batch.
import { type Batch, collate } from './collate.ts';
import { pretrainingSampler, type SamplerOptions } from './sampler.ts';

export interface SampleSource<S> {
  readonly length: number;
  get(i: number): S;
}

export interface LoaderOptions extends Omit<SamplerOptions, 'totalSamples'> {
  /** Batches built ahead (default 2); 0 builds each batch when asked for. */
  prefetch?: number;
  /** Extra dimensions for fields that are not flat (e.g. attentionMask: [s, s]). */
  shapes?: Record<string, number[]>;
  /** Replaces the default stacking. */
  collate?: (samples: unknown[]) => Batch;
  totalSamples?: number;
}

export class MicroBatchLoader<S extends object> implements AsyncIterable<Batch> {
  private readonly source: SampleSource<S>;
  private readonly options: LoaderOptions;
  /** Global samples consumed so far, counting every rank (save it with a checkpoint to resume). */
  consumedSamples: number;

  constructor(source: SampleSource<S>, options: LoaderOptions) {
    this.source = source;
    this.options = options;
    this.consumedSamples = options.consumedSamples;
  }

  get globalBatchSize(): number {
    return this.options.microBatchSize * this.options.dataParallelSize;
  }

  private build(indices: number[]): Batch {
    const samples = indices.map((i) => this.source.get(i));
    return this.options.collate ? this.options.collate(samples) : collate(samples, this.options.shapes);
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Batch> {
    const sampler = pretrainingSampler({ ...this.options, totalSamples: this.options.totalSamples ?? this.source.length, consumedSamples: this.consumedSamples });
    const depth = Math.max(0, this.options.prefetch ?? 2);
    const queue: Promise<Batch>[] = [];
    let exhausted = false;
    const schedule = () => {
      while (!exhausted && queue.length < Math.max(1, depth)) {
        const next = sampler.next();
        if (next.done) {
          exhausted = true;
          break;
        }
        const indices = next.value;
        queue.push(depth === 0 ? Promise.resolve(this.build(indices)) : new Promise((resolve, reject) => setImmediate(() => {
          try {
            resolve(this.build(indices));
          } catch (err) {
            reject(err);
          }
        })));
      }
    };
    schedule();
    while (queue.length > 0) {
      const batch = await queue.shift()!;
      this.consumedSamples += this.globalBatchSize;
      schedule();
      yield batch;
    }
  }
}
