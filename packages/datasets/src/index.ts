// @tessera/datasets: Megatron-compatible indexed datasets, tokenizers, preprocessing, GPT/BERT/T5
// samples, blending and data-parallel loaders.
export { DTYPE_CODES, type TokenArray, type TokenDType, binPath, idxPath, itemSize, optimalDtype } from './indexed/dtype.ts';
export { DatasetFileError } from './indexed/errors.ts';
export { IndexedDataset, type OpenOptions, type SequenceDataset } from './indexed/indexed-dataset.ts';
export { LegacyIndexedDataset } from './indexed/legacy.ts';
export { detectIndexFormat, type IndexFormat, openIndexedDataset } from './indexed/open.ts';
export { type BuilderOptions, IndexedDatasetBuilder } from './indexed/builder.ts';
export type { BinMode } from './indexed/bin-reader.ts';

export { RandomState } from './random/random-state.ts';
export { MT19937 } from './random/mt19937.ts';
export { MT19937_64 } from './random/mt19937-64.ts';

export { parseSplit, splitMatrix, splitRanges, SPLITS, type SplitMatrix, type SplitName } from './gpt/split.ts';
export { buildDocumentIndex, buildSampleIndex, buildShuffleIndex, numEpochs, separateFinalEpoch } from './gpt/indices.ts';
export { ltorMasks, type LtorMasks, type LtorOptions } from './gpt/masks.ts';
export { GPTDataset, type GPTDatasetConfig, type GPTSample, type GPTText } from './gpt/gpt-dataset.ts';
export { buildGPTDatasets, type GPTBuildOptions } from './gpt/builder.ts';
export { type Blend, buildDatasets, parseBlend, sizePerSplitPerDataset } from './blend/builder.ts';
export { BlendedDataset, type Blended, type BlendableDataset } from './blend/blended-dataset.ts';
export { buildBlendingIndices, buildExhaustiveBlendingIndices } from './blend/blending.ts';

export { buildMapping } from './masked/mapping.ts';
export { createMaskedLmPredictions, type MaskingConfig } from './masked/masking.ts';
export { BERTDataset, type BERTDatasetConfig, type BERTSample } from './masked/bert-dataset.ts';
export { T5Dataset, type T5DatasetConfig, type T5Sample, type T5Tokenizer } from './masked/t5-dataset.ts';
export { buildBERTDatasets, buildT5Datasets } from './masked/builder.ts';

export type { Tokenizer } from './tokenizers/tokenizer.ts';
export { ByteLevelBPE, GPT2_PATTERN } from './tokenizers/bpe.ts';
export { WordPiece } from './tokenizers/wordpiece.ts';
export { tokenizerFromJson } from './tokenizers/tokenizer-json.ts';
export { bertTokenizer, buildTokenizer, gpt2Tokenizer, TOKENIZER_TYPES, type TokenizerSpec } from './tokenizers/build.ts';

export { preprocess, type PreprocessOptions, type PreprocessResult } from './preprocess/preprocess.ts';
export { preprocessMain } from './cli/preprocess.ts';

export { pretrainingSampler, type SamplerOptions } from './loader/sampler.ts';
export { type Batch, type BatchField, collate } from './loader/collate.ts';
export { toTensors, type ToTensorsOptions } from './loader/tensors.ts';
export { type LoaderOptions, MicroBatchLoader, type SampleSource } from './loader/loader.ts';
export { TextDataset, type TextDatasetOptions } from './text/text-dataset.ts';
export { readWikiText2, wikiText2Articles, wikiText2File, type WikiTextSplit } from './wikitext.ts';

export { loadNpy, saveNpy } from './cache/npy.ts';
