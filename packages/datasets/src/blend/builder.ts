// Megatron's BlendedMegatronDatasetBuilder: from a blend (prefixes, optional weights) and a
// split string, or one blend per split, build each split's dataset: a single mid-level dataset,
// or a BlendedDataset over several with Megatron's per-dataset sample budgets.
import type { SequenceDataset } from '../indexed/indexed-dataset.ts';
import { openIndexedDataset } from '../indexed/open.ts';
import { npNormalize } from '../random/numpy-math.ts';
import { parseSplit, SPLITS, type SplitMatrix, type SplitName, splitMatrix, splitRanges } from '../gpt/split.ts';
import { type BlendableDataset, BlendedDataset } from './blended-dataset.ts';

export interface Blend {
  prefixes: string[];
  /** Relative weights; omitted: blend in proportion to the datasets' sizes. */
  weights?: number[];
}

/** Megatron's `--data-path` list: "p1 p2" or "w1 p1 w2 p2". */
export function parseBlend(items: string[]): Blend {
  if (items.length % 2 === 0 && items.length > 0) {
    const weights = items.filter((_, i) => i % 2 === 0).map(Number);
    if (weights.every((w) => Number.isFinite(w))) return { prefixes: items.filter((_, i) => i % 2 === 1).map((p) => p.trim()), weights };
  }
  return { prefixes: items.map((p) => p.trim()) };
}

export interface MidLevelFactory<T> {
  /** Elements the split string divides: sequences for GPT, documents for BERT/T5. */
  numel(dataset: SequenceDataset): number;
  create(dataset: SequenceDataset, prefix: string, indices: Int32Array, numSamples: number | null, split: SplitName, matrix: SplitMatrix): BlendableDataset<T>;
}

export interface BuildOptions {
  /** Used with `split`; all splits come from these datasets. */
  blend?: Blend;
  /** One blend (or null) per split; excludes `blend` and `split`. */
  blendPerSplit?: (Blend | null)[];
  split?: string;
  /** Samples per split [train, valid, test]; null: one epoch. */
  sizes: (number | null)[];
  /** Extra samples built per member of a blend (Megatron's mid_level_dataset_surplus). */
  surplus?: number;
  /** Folder for BlendedDataset caches (GPT datasets take theirs from their own config). */
  pathToCache?: string | null;
  open?: (prefix: string) => SequenceDataset;
}

export type TopLevel<T> = BlendableDataset<T> | BlendedDataset<T>;

/** Per dataset, per split: ceil(ceil(target * weight) * (1 + surplus)). */
export function sizePerSplitPerDataset(normalizedWeights: number[], targets: (number | null)[], surplus = 0): number[][] {
  return normalizedWeights.map((w) => targets.map((t) => (t === null ? 0 : Math.ceil(Math.ceil(t * w) * (1 + surplus)))));
}

export function buildDatasets<T>(factory: MidLevelFactory<T>, options: BuildOptions): (TopLevel<T> | null)[] {
  const open = options.open ?? ((p: string) => openIndexedDataset(p));
  const surplus = options.surplus ?? 0.005;
  const cacheDir = options.pathToCache ?? null;
  const midSplits = (prefix: string, matrix: SplitMatrix, sizes: (number | null)[]) => {
    const ds = open(prefix);
    const ranges = splitRanges(matrix, factory.numel(ds));
    return SPLITS.map((name, i) => {
      const r = ranges[i];
      if (!r) return null;
      const indices = new Int32Array(r[1] - r[0]).map((_, k) => r[0] + k);
      return factory.create(ds, prefix, indices, sizes[i] ?? null, name, matrix);
    });
  };

  if (options.blend) {
    if (options.blendPerSplit) throw new Error('blend and blendPerSplit cannot be used together');
    if (!options.split) throw new Error('a split string (e.g. "969,30,1") is required with a blend');
    const matrix = splitMatrix(parseSplit(options.split));
    const { prefixes } = options.blend;
    const weights = options.blend.weights ? npNormalize(options.blend.weights) : undefined;
    if (weights && weights.length !== prefixes.length) throw new Error(`the blend has ${prefixes.length} prefixes but ${weights.length} weights`);
    if (prefixes.length === 1 && !weights) return midSplits(prefixes[0]!, matrix, options.sizes);
    const target = weights ? sizePerSplitPerDataset(weights, options.sizes) : undefined;
    const buffer = weights ? sizePerSplitPerDataset(weights, options.sizes, surplus) : prefixes.map(() => [null, null, null]);
    const members = prefixes.map((p, d) => midSplits(p, matrix, buffer[d]!));
    return SPLITS.map((_, i) => {
      if (!matrix[i]) return null;
      const parts = members.map((m) => m[i]!);
      if (weights && options.sizes[i] !== null) {
        const size = target!.reduce((a, t) => a + t[i]!, 0);
        return new BlendedDataset(parts, weights, size, cacheDir, surplus);
      }
      if (weights) throw new Error('blend weights need a sample count for every split');
      const lengths = parts.map((p) => p.length);
      const requested = options.sizes[i];
      const size = requested === null || requested === undefined ? null : Math.min(requested, lengths.reduce((a, b) => a + b, 0));
      return new BlendedDataset(parts, lengths, size, cacheDir, surplus);
    });
  }

  if (!options.blendPerSplit) throw new Error('give either blend (with split) or blendPerSplit');
  if (options.split) throw new Error('split and blendPerSplit cannot be used together');
  return SPLITS.map((_, i) => {
    const blend = options.blendPerSplit![i];
    if (!blend) return null;
    const spoof: SplitMatrix = [null, null, null];
    spoof[i] = [0, 1];
    const sizes: (number | null)[] = [0, 0, 0];
    sizes[i] = options.sizes[i] ?? null;
    const weights = blend.weights ? npNormalize(blend.weights) : undefined;
    if (blend.prefixes.length === 1) return midSplits(blend.prefixes[0]!, spoof, sizes)[i]!;
    const target = weights ? sizePerSplitPerDataset(weights, sizes) : undefined;
    const buffer = weights ? sizePerSplitPerDataset(weights, sizes, surplus) : blend.prefixes.map(() => [null, null, null]);
    const parts = blend.prefixes.map((p, d) => midSplits(p, spoof, buffer[d]!)[i]!);
    if (weights && options.sizes[i] !== null) {
      const size = target!.reduce((a, t) => a + t[i]!, 0);
      return new BlendedDataset(parts, weights, size, cacheDir, surplus);
    }
    if (weights) throw new Error('blend weights need a sample count for every split');
    const lengths = parts.map((p) => p.length);
    const requested = options.sizes[i];
    const size = requested === null || requested === undefined ? null : Math.min(requested, lengths.reduce((a, b) => a + b, 0));
    return new BlendedDataset(parts, lengths, size, cacheDir, surplus);
  });
}
