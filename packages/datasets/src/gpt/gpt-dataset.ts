// Megatron-Core's GPTDataset: fixed-length samples cut from the concatenated, shuffled documents
// of one split, with the index arrays cached on disk under Megatron's file names.
import { join } from 'node:path';
import { describe, IndexCache } from '../cache/index-cache.ts';
import type { NpyArray } from '../cache/npy.ts';
import { type PyJson, pyFloat } from '../cache/pyjson.ts';
import type { SequenceDataset } from '../indexed/indexed-dataset.ts';
import { RandomState } from '../random/random-state.ts';
import { buildDocumentIndex, buildSampleIndex, buildShuffleIndex, numEpochs, separateFinalEpoch } from './indices.ts';
import { ltorMasks } from './masks.ts';
import type { SplitMatrix, SplitName } from './split.ts';

export interface GPTDatasetConfig {
  /** `--seed` (Megatron's default 1234). */
  randomSeed: number;
  sequenceLength: number;
  /** End-of-document token id (the tokenizer's eod). */
  eod: number;
  /** Pad id; -1 (Megatron's fallback) when the tokenizer has none. */
  pad?: number;
  resetPositionIds?: boolean;
  resetAttentionMask?: boolean;
  eodMaskLoss?: boolean;
  createAttentionMask?: boolean;
  dropLastPartialValidationSequence?: boolean;
  addExtraTokenToSequence?: boolean;
  /** Where index caches go; undefined: `{path prefix}/cache/GPTDataset_indices`; null: no cache. */
  pathToCache?: string | null;
  /** Recorded in the description (and so the cache name) as Megatron records `split`. */
  split?: string | null;
  splitMatrix?: SplitMatrix | null;
  /** The tokenizer's `unique_identifiers`, for the description. */
  tokenizerIdentifiers?: PyJson;
}

export interface GPTText {
  /** sequenceLength + 1 tokens (padded with the pad id when the last sample is short). */
  text: Int32Array;
  documentIds: number[];
}

export interface GPTSample {
  tokens: Int32Array;
  labels: Int32Array;
  lossMask: Float32Array;
  positionIds: Int32Array;
  /** [s, s], 1 = masked; absent when createAttentionMask is false. */
  attentionMask?: Uint8Array;
}

/** The split matrix as Python holds it: the very first book-end is the int 0, the rest are floats. */
export function splitMatrixJson(matrix: SplitMatrix | null | undefined, firstIsInt = true): PyJson {
  if (!matrix) return null;
  return matrix.map((b, i) => (b === null ? null : [i === 0 && firstIsInt && b[0] === 0 ? 0 : pyFloat(b[0]), pyFloat(b[1])]));
}

export class GPTDataset {
  readonly dataset: SequenceDataset;
  readonly datasetPath: string | null;
  readonly indices: Int32Array;
  readonly numSamples: number | null;
  readonly split: SplitName;
  readonly config: GPTDatasetConfig;
  readonly uniqueIdentifiers: { [key: string]: PyJson };
  readonly cache: IndexCache | undefined;
  documentIndex!: Int32Array;
  sampleIndex!: Int32Array | Float64Array;
  shuffleIndex!: Uint32Array | Float64Array;
  private readonly extra: number;
  private readonly pad: number;
  private cachedMasks: ReturnType<typeof ltorMasks> | undefined;

  constructor(dataset: SequenceDataset, datasetPath: string | null, indices: Int32Array, numSamples: number | null, split: SplitName, config: GPTDatasetConfig) {
    this.dataset = dataset;
    this.datasetPath = datasetPath;
    this.indices = indices;
    this.numSamples = numSamples;
    this.split = split;
    this.config = config;
    this.extra = (config.addExtraTokenToSequence ?? true) ? 1 : 0;
    this.pad = config.pad ?? -1;
    this.uniqueIdentifiers = {
      class: 'GPTDataset',
      dataset_path: datasetPath,
      num_samples: numSamples,
      index_split: split,
      random_seed: config.randomSeed,
      sequence_length: config.sequenceLength,
      split: config.split ?? null,
      split_matrix: splitMatrixJson(config.splitMatrix),
      tokenizer: config.tokenizerIdentifiers ?? null,
    };
    const dir = config.pathToCache === undefined ? join(dataset.pathPrefix, 'cache', 'GPTDataset_indices') : config.pathToCache;
    const description = describe(this.uniqueIdentifiers);
    this.cache = dir === null ? undefined : new IndexCache(dir, `${description.md5}-GPTDataset-${split}`, description);
    this.buildIndices();
  }

  get length(): number {
    return this.sampleIndex.length / 2 - 1;
  }

  get tokensPerEpoch(): number {
    const sizes = this.dataset.sequenceLengths;
    let t = 0;
    for (let i = 0; i < this.indices.length; i++) t += sizes[this.indices[i]!]!;
    return t;
  }

  private buildIndices(): void {
    const files = ['document_index.npy', 'sample_index.npy', 'shuffle_index.npy'];
    if (this.cache?.has(files)) {
      this.documentIndex = this.cache.load(files[0]!).data as Int32Array;
      const sample = this.cache.load(files[1]!).data;
      this.sampleIndex = sample instanceof BigInt64Array ? Float64Array.from(sample, Number) : (sample as Int32Array);
      const shuffle = this.cache.load(files[2]!).data;
      this.shuffleIndex = shuffle instanceof BigInt64Array ? Float64Array.from(shuffle, Number) : (shuffle as Uint32Array);
      return;
    }
    const { sequenceLength } = this.config;
    const tokens = this.tokensPerEpoch;
    const epochs = numEpochs(tokens, sequenceLength, this.numSamples, this.extra);
    const { separate, samplesSansFinal } = this.numSamples === null
      ? { separate: false, samplesSansFinal: 0 }
      : separateFinalEpoch(epochs, tokens, sequenceLength, this.numSamples, this.extra);
    const rng = new RandomState(this.config.randomSeed);
    this.documentIndex = buildDocumentIndex(this.indices, epochs, rng, separate);
    const dropLast = this.split === 'valid' ? (this.config.dropLastPartialValidationSequence ?? true) : true;
    this.sampleIndex = buildSampleIndex(this.dataset.sequenceLengths, this.documentIndex, sequenceLength, epochs, tokens, dropLast, this.extra);
    const total = this.sampleIndex.length / 2 - 1;
    this.shuffleIndex = buildShuffleIndex(separate ? samplesSansFinal : total, total, rng);
    this.cache?.save([
      [files[0]!, this.documentIndex],
      [files[1]!, asNpy(this.sampleIndex), [total + 1, 2]],
      [files[2]!, asNpy(this.shuffleIndex)],
    ]);
  }

  /** The sequenceLength + 1 tokens of sample idx (after the shuffle), and the documents they come from. */
  getText(idx: number): GPTText {
    if (!(idx >= 0 && idx < this.length)) throw new RangeError(`GPTDataset(${this.split}): sample ${idx} is outside [0, ${this.length})`);
    const j = this.shuffleIndex[idx]!;
    const si = this.sampleIndex;
    const begDoc = si[2 * j]!;
    const begOff = si[2 * j + 1]!;
    const endDoc = si[2 * j + 2]!;
    const endOff = si[2 * j + 3]!;
    const want = this.config.sequenceLength + this.extra;
    const text = new Int32Array(want).fill(this.pad);
    const documentIds: number[] = [];
    let at = 0;
    for (let d = begDoc; d <= endDoc; d++) {
      const doc = this.documentIndex[d]!;
      documentIds.push(doc);
      const offset = d === begDoc ? begOff : 0;
      const length = d < endDoc ? undefined : endOff - offset + this.extra;
      const part = this.dataset.get(doc, offset, length);
      for (let k = 0; k < part.length; k++) text[at++] = Number(part[k]!);
    }
    return { text, documentIds };
  }

  get(idx: number): GPTSample {
    const { text } = this.getText(idx);
    const s = this.config.sequenceLength;
    let tokens: Int32Array;
    let labels: Int32Array;
    if (this.extra) {
      tokens = text.slice(0, s);
      labels = text.slice(1, s + 1);
    } else {
      tokens = text.slice();
      labels = new Int32Array(s);
      labels.set(text.subarray(1), 0);
      labels[s - 1] = this.pad;
    }
    const c = this.config;
    const cacheable = !(c.resetPositionIds || c.resetAttentionMask || c.eodMaskLoss);
    let masks = cacheable ? this.cachedMasks : undefined;
    if (!masks) {
      masks = ltorMasks(tokens, {
        eod: c.eod,
        resetPositionIds: c.resetPositionIds ?? false,
        resetAttentionMask: c.resetAttentionMask ?? false,
        eodMaskLoss: c.eodMaskLoss ?? false,
        createAttentionMask: c.createAttentionMask ?? true,
      });
      if (cacheable) this.cachedMasks = masks;
    }
    const lossMask = masks.lossMask.slice();
    for (let i = 0; i < s; i++) {
      if (labels[i] === this.pad) lossMask[i] = 0;
      if (tokens[i] === this.pad) tokens[i] = 0;
      if (labels[i] === this.pad) labels[i] = 0;
    }
    return { tokens, labels, lossMask, positionIds: masks.positionIds, attentionMask: masks.attentionMask };
  }
}

function asNpy(a: Int32Array | Uint32Array | Float64Array): NpyArray {
  return a instanceof Float64Array ? BigInt64Array.from(a, (v) => BigInt(v)) : a;
}
