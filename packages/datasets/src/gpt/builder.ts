// GPT datasets for all three splits from Megatron-style arguments (`--data-path`, `--split`,
// or per-split paths), as Megatron's BlendedMegatronDatasetBuilder(GPTDataset, ...) builds them.
import { type Blend, buildDatasets, type TopLevel } from '../blend/builder.ts';
import type { SequenceDataset } from '../indexed/indexed-dataset.ts';
import { GPTDataset, type GPTDatasetConfig, type GPTSample } from './gpt-dataset.ts';
import { parseSplit, splitMatrix } from './split.ts';

export interface GPTBuildOptions {
  config: Omit<GPTDatasetConfig, 'split' | 'splitMatrix'>;
  blend?: Blend;
  blendPerSplit?: (Blend | null)[];
  /** Default "969, 30, 1" when a blend is given. */
  split?: string;
  /** Samples per split [train, valid, test] (null: one epoch). */
  sizes: (number | null)[];
  surplus?: number;
  open?: (prefix: string) => SequenceDataset;
}

export function buildGPTDatasets(options: GPTBuildOptions): (TopLevel<GPTSample> | null)[] {
  const split = options.blend ? (options.split ?? '969, 30, 1') : undefined;
  const config: GPTDatasetConfig = { ...options.config, split: split ?? null, splitMatrix: split ? splitMatrix(parseSplit(split)) : null };
  return buildDatasets<GPTSample>(
    {
      numel: (ds) => ds.length,
      create: (ds, prefix, indices, numSamples, name) => new GPTDataset(ds, prefix, indices, numSamples, name, config),
    },
    {
      blend: options.blend,
      blendPerSplit: options.blendPerSplit,
      split,
      sizes: options.sizes,
      surplus: options.surplus,
      pathToCache: options.config.pathToCache ?? null,
      open: options.open,
    },
  );
}
