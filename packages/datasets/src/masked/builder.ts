// BERT and T5 datasets for all three splits from a blend and a split string (Megatron splits
// masked datasets by documents, not sequences).
import { type Blend, buildDatasets, type TopLevel } from '../blend/builder.ts';
import { parseSplit, splitMatrix } from '../gpt/split.ts';
import type { SequenceDataset } from '../indexed/indexed-dataset.ts';
import { BERTDataset, type BERTDatasetConfig, type BERTSample } from './bert-dataset.ts';
import { T5Dataset, type T5DatasetConfig, type T5Sample } from './t5-dataset.ts';

interface MaskedBuildOptions<C> {
  config: Omit<C, 'split' | 'splitMatrix'>;
  blend: Blend;
  split: string;
  sizes: (number | null)[];
  open?: (prefix: string) => SequenceDataset;
}

export function buildBERTDatasets(options: MaskedBuildOptions<BERTDatasetConfig>): (TopLevel<BERTSample> | null)[] {
  const config = { ...options.config, split: options.split, splitMatrix: splitMatrix(parseSplit(options.split)) } as BERTDatasetConfig;
  return buildDatasets<BERTSample>(
    { numel: (ds) => ds.documentIndices.length - 1, create: (ds, p, idx, n, name) => new BERTDataset(ds, p, idx, n, name, config) },
    { blend: options.blend, split: options.split, sizes: options.sizes, pathToCache: config.pathToCache ?? null, open: options.open },
  );
}

export function buildT5Datasets(options: MaskedBuildOptions<T5DatasetConfig>): (TopLevel<T5Sample> | null)[] {
  const config = { ...options.config, split: options.split, splitMatrix: splitMatrix(parseSplit(options.split)) } as T5DatasetConfig;
  return buildDatasets<T5Sample>(
    { numel: (ds) => ds.documentIndices.length - 1, create: (ds, p, idx, n, name) => new T5Dataset(ds, p, idx, n, name, config) },
    { blend: options.blend, split: options.split, sizes: options.sizes, pathToCache: config.pathToCache ?? null, open: options.open },
  );
}
