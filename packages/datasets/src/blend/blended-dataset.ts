// Megatron's BlendedDataset: samples drawn from several datasets of one split in proportion to
// weights, with its two index arrays cached under Megatron's names. It adds no shuffle of its
// own (each member dataset is already shuffled).
import { describe, IndexCache } from '../cache/index-cache.ts';
import { type PyJson, pyFloat } from '../cache/pyjson.ts';
import { npNormalize } from '../random/numpy-math.ts';
import type { SplitName } from '../gpt/split.ts';
import { buildBlendingIndices, buildExhaustiveBlendingIndices } from './blending.ts';

export interface BlendableDataset<T> {
  readonly length: number;
  readonly split: SplitName;
  readonly uniqueIdentifiers: { [key: string]: PyJson };
  get(i: number): T;
}

export type Blended<T> = T & { datasetId: number };

export class BlendedDataset<T> {
  readonly datasets: BlendableDataset<T>[];
  readonly weights: number[];
  readonly size: number | null;
  readonly split: SplitName;
  readonly uniqueIdentifiers: { [key: string]: PyJson };
  readonly datasetIndex: Int16Array;
  readonly datasetSampleIndex: Float64Array;

  /**
   * weights: relative weights when `size` is given (normalized here), else integer sample counts
   * taken exhaustively. pathToCache: the cache folder, or null for none.
   */
  constructor(datasets: BlendableDataset<T>[], weights: number[], size: number | null, pathToCache: string | null, surplus = 0.005) {
    if (datasets.length !== weights.length) throw new Error(`BlendedDataset: ${datasets.length} datasets but ${weights.length} weights`);
    if (datasets.length === 0 || datasets.length >= 32767) throw new Error(`BlendedDataset: needs 1 to 32766 datasets, got ${datasets.length}`);
    if (!weights.every((w) => w > 0)) throw new Error(`BlendedDataset: every weight must be positive, got [${weights.join(', ')}]`);
    const split = datasets[0]!.split;
    if (!datasets.every((d) => d.split === split)) throw new Error('BlendedDataset: all datasets must belong to one split');
    if (size === null && !weights.every(Number.isInteger)) throw new Error('BlendedDataset: without a size, weights must be integer sample counts');
    this.datasets = datasets;
    this.split = split;
    this.size = size;
    this.weights = size !== null ? npNormalize(weights) : weights;
    this.uniqueIdentifiers = {
      class: 'BlendedDataset',
      datasets: datasets.map((d) => d.uniqueIdentifiers),
      split,
      weights: this.weights.map((w) => (size !== null ? pyFloat(w) : w)),
      size,
    };
    const description = describe(this.uniqueIdentifiers);
    const cache = pathToCache === null ? undefined : new IndexCache(pathToCache, `${description.md5}-BlendedDataset-${split}`, description);
    const files = ['dataset_index.npy', 'dataset_sample_index.npy'];
    if (cache?.has(files)) {
      this.datasetIndex = cache.load(files[0]!).data as Int16Array;
      this.datasetSampleIndex = Float64Array.from(cache.load(files[1]!).data as BigInt64Array, Number);
    } else {
      const built = size !== null ? buildBlendingIndices(this.weights, size) : buildExhaustiveBlendingIndices(this.weights);
      this.datasetIndex = built.datasetIndex;
      this.datasetSampleIndex = built.datasetSampleIndex;
      this.checkNotOversampled(surplus);
      cache?.save([
        [files[0]!, this.datasetIndex],
        [files[1]!, BigInt64Array.from(this.datasetSampleIndex, (v) => BigInt(v))],
      ]);
    }
  }

  get length(): number {
    return this.datasetIndex.length;
  }

  get(i: number): Blended<T> {
    if (!(i >= 0 && i < this.length)) throw new RangeError(`BlendedDataset(${this.split}): sample ${i} is outside [0, ${this.length})`);
    const d = this.datasetIndex[i]!;
    return { datasetId: d, ...this.datasets[d]!.get(this.datasetSampleIndex[i]!) };
  }

  private checkNotOversampled(surplus: number): void {
    const counts = new Float64Array(this.datasets.length);
    for (const d of this.datasetIndex) counts[d]! += 1;
    counts.forEach((n, d) => {
      if (n > this.datasets[d]!.length) {
        throw new Error(
          `The ${this.split} blend oversamples dataset ${d}: it requests ${n} samples, but the dataset has ${this.datasets[d]!.length}. ` +
            `Increase the mid-level dataset surplus (now ${surplus}), e.g. two- or ten-fold.`,
        );
      }
    });
  }
}
