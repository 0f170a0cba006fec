// The shared base of Megatron's BERT and T5 datasets: a split's documents, a cached sample
// mapping of whole-sentence runs, and a RandomState((seed + idx) % 2**32) per sample.
import { join } from 'node:path';
import { describe, IndexCache } from '../cache/index-cache.ts';
import { type PyJson, pyFloat } from '../cache/pyjson.ts';
import { splitMatrixJson } from '../gpt/gpt-dataset.ts';
import type { SplitMatrix, SplitName } from '../gpt/split.ts';
import type { SequenceDataset } from '../indexed/indexed-dataset.ts';
import { buildMapping } from './mapping.ts';
import type { MaskingConfig } from './masking.ts';

export interface MaskedTokenizer {
  cls: number;
  sep: number;
  mask: number;
  pad: number;
  /** Token strings by id (WordPiece pieces start with "##"). */
  invVocab: Map<number, string> | string[];
  uniqueIdentifiers?: PyJson;
}

export interface MaskedDatasetConfig extends MaskingConfig {
  randomSeed: number;
  sequenceLength: number;
  shortSequenceProbability: number;
  tokenizer: MaskedTokenizer;
  maskingDoPermutation?: boolean;
  pathToCache?: string | null;
  split?: string | null;
  splitMatrix?: SplitMatrix | null;
}

export abstract class MaskedWordPieceDataset<T> {
  readonly dataset: SequenceDataset;
  readonly datasetPath: string;
  readonly indices: Int32Array;
  readonly numSamples: number | null;
  readonly split: SplitName;
  readonly config: MaskedDatasetConfig;
  readonly uniqueIdentifiers: { [key: string]: PyJson };
  sampleIndex!: Uint32Array;
  protected readonly pieces: (id: number) => string | undefined;

  constructor(dataset: SequenceDataset, datasetPath: string, indices: Int32Array, numSamples: number | null, split: SplitName, config: MaskedDatasetConfig, className: string, extra: { [key: string]: PyJson }) {
    if (config.maskingDoPermutation) throw new Error(`${className}: masking_do_permutation draws from numpy's global RNG in Megatron (not reproducible) and is not supported`);
    this.dataset = dataset;
    this.datasetPath = datasetPath;
    this.indices = indices;
    this.numSamples = numSamples;
    this.split = split;
    this.config = config;
    const inv = config.tokenizer.invVocab;
    this.pieces = Array.isArray(inv) ? (id) => inv[id] : (id) => inv.get(id);
    this.uniqueIdentifiers = {
      class: className,
      dataset_path: datasetPath,
      num_samples: numSamples,
      index_split: split,
      random_seed: config.randomSeed,
      sequence_length: config.sequenceLength,
      split: config.split ?? null,
      split_matrix: splitMatrixJson(config.splitMatrix),
      tokenizer: config.tokenizer.uniqueIdentifiers ?? null,
      masking_probability: pyFloat(config.maskingProbability),
      short_sequence_probability: pyFloat(config.shortSequenceProbability),
      masking_max_ngram: config.maskingMaxNgram,
      masking_do_full_word: config.maskingDoFullWord,
      masking_do_permutation: config.maskingDoPermutation ?? false,
      masking_use_longer_ngrams: config.maskingUseLongerNgrams,
      masking_use_geometric_distribution: config.maskingUseGeometricDistribution,
      ...extra,
    };
  }

  get length(): number {
    return this.sampleIndex.length / 3;
  }

  protected buildSampleIndex(className: string, maxSeqLength: number, minNumSent: number): void {
    const dir = this.config.pathToCache === undefined ? join(this.dataset.pathPrefix, 'cache', `${className}_indices`) : this.config.pathToCache;
    const description = describe(this.uniqueIdentifiers);
    const cache = dir === null ? undefined : new IndexCache(dir, `${description.md5}-${className}`, description);
    if (cache?.has(['sample_index.npy'])) {
      this.sampleIndex = cache.load('sample_index.npy').data as Uint32Array;
      return;
    }
    const docIdx = this.dataset.documentIndices;
    const docs = new Float64Array(this.indices.length + 1);
    for (let k = 0; k < this.indices.length; k++) docs[k] = docIdx[this.indices[k]!]!;
    docs[this.indices.length] = docIdx[this.indices[this.indices.length - 1]! + 1]!;
    this.sampleIndex = buildMapping({
      docs,
      sizes: this.dataset.sequenceLengths,
      maxNumSamples: this.numSamples,
      maxSeqLength,
      shortSeqProb: this.config.shortSequenceProbability,
      seed: this.config.randomSeed,
      minNumSent,
    });
    cache?.save([['sample_index.npy', this.sampleIndex, [this.length, 3]]]);
  }

  /** The sentences of sample idx and its target length. */
  protected sentences(idx: number): { sentences: number[][]; target: number } {
    if (!(idx >= 0 && idx < this.length)) throw new RangeError(`${this.uniqueIdentifiers.class}(${this.split}): sample ${idx} is outside [0, ${this.length})`);
    const beg = this.sampleIndex[3 * idx]!;
    const end = this.sampleIndex[3 * idx + 1]!;
    const sentences: number[][] = [];
    for (let s = beg; s < end; s++) sentences.push(Array.from(this.dataset.get(s), Number));
    return { sentences, target: this.sampleIndex[3 * idx + 2]! };
  }

  protected vocab() {
    return {
      cls: this.config.tokenizer.cls,
      sep: this.config.tokenizer.sep,
      isContinuation: (id: number) => (this.pieces(id) ?? '').startsWith('##'),
    };
  }

  abstract get(idx: number): T;
}
