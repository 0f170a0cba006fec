// Megatron-Core's BERTMaskedWordPieceDataset: [CLS] A [SEP] B [SEP] with the sentence-order swap
// (A and B exchanged with probability 0.5), random truncation, and whole-word masking 80/10/10.
import type { SplitName } from '../gpt/split.ts';
import type { SequenceDataset } from '../indexed/indexed-dataset.ts';
import { RandomState } from '../random/random-state.ts';
import { MaskedWordPieceDataset, type MaskedDatasetConfig } from './masked-dataset.ts';
import { createMaskedLmPredictions } from './masking.ts';

export interface BERTDatasetConfig extends MaskedDatasetConfig {
  /** The binary (sentence-order) head: two segments and is_random. */
  classificationHead: boolean;
}

export interface BERTSample {
  text: Int32Array;
  types: Int32Array;
  /** The original id at masked positions, -1 elsewhere. */
  labels: Int32Array;
  isRandom: number;
  paddingMask: Int32Array;
  lossMask: Int32Array;
  truncated: number;
}

export class BERTDataset extends MaskedWordPieceDataset<BERTSample> {
  private readonly tokenLookup: number[];

  constructor(dataset: SequenceDataset, datasetPath: string, indices: Int32Array, numSamples: number | null, split: SplitName, config: BERTDatasetConfig) {
    super(dataset, datasetPath, indices, numSamples, split, config, 'BERTMaskedWordPieceDataset', { classification_head: config.classificationHead });
    const inv = config.tokenizer.invVocab;
    this.tokenLookup = Array.isArray(inv) ? inv.map((_, i) => i) : [...inv.keys()].sort((a, b) => a - b);
    this.buildSampleIndex('BERTMaskedWordPieceDataset', config.sequenceLength - 3, config.classificationHead ? 2 : 1);
  }

  get(idx: number): BERTSample {
    const c = this.config as BERTDatasetConfig;
    const tok = c.tokenizer;
    const { sentences, target } = this.sentences(idx);
    const rng = new RandomState((c.randomSeed + idx) % 2 ** 32);
    let pivot = sentences.length;
    let isRandom = false;
    if (c.classificationHead) {
      if (sentences.length < 2) throw new Error(`BERT sample ${idx} has ${sentences.length} sentence; the binary head needs two`);
      pivot = sentences.length >= 3 ? rng.randint(1, sentences.length) : 1;
      isRandom = rng.random() < 0.5;
    }
    let a = sentences.slice(0, pivot).flat();
    let b = sentences.slice(pivot).flat();
    if (isRandom) [a, b] = [b, a];
    let truncated = false;
    while (a.length + b.length > target) {
      truncated = true;
      const seg = a.length > b.length ? a : b;
      if (rng.random() < 0.5) seg.shift();
      else seg.pop();
    }
    let tokens = [tok.cls, ...a, tok.sep];
    const types = new Array(a.length + 2).fill(0);
    if (b.length > 0) {
      tokens = tokens.concat(b, [tok.sep]);
      for (let i = 0; i <= b.length; i++) types.push(1);
    }
    const m = createMaskedLmPredictions(tokens, target, rng, c, this.vocab(), (r) => {
      if (r.random() < 0.8) return tok.mask;
      if (r.random() >= 0.5) return this.tokenLookup[r.randint(0, this.tokenLookup.length)]!;
      return null;
    });
    const s = c.sequenceLength;
    if (m.tokens.length > s) throw new Error(`BERT sample ${idx}: ${m.tokens.length} tokens exceed the sequence length ${s}`);
    const pad = tok.pad;
    const text = new Int32Array(s).fill(pad);
    text.set(m.tokens);
    const typesOut = new Int32Array(s).fill(pad);
    typesOut.set(types);
    const paddingMask = new Int32Array(s).fill(1);
    for (let i = 0; i < s; i++) if (text[i] === pad) paddingMask[i] = pad;
    const labels = new Int32Array(s).fill(-1);
    const lossMask = new Int32Array(s);
    m.positions.forEach((p, k) => {
      labels[p] = m.labels[k]!;
      lossMask[p] = 1;
    });
    for (let i = 0; i < s; i++) {
      if (text[i] === pad) text[i] = 0;
      if (labels[i] === pad) labels[i] = 0;
    }
    return { text, types: typesOut, labels, isRandom: isRandom ? 1 : 0, paddingMask, lossMask, truncated: truncated ? 1 : 0 };
  }
}
