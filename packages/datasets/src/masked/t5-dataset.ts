// Megatron-Core's T5MaskedWordPieceDataset: span corruption. Masked spans (geometric lengths,
// whole words) become sentinels <extra_id_0>, <extra_id_1>, ... in the encoder input; the decoder
// input is [BOS] + (sentinel + span)*, the labels (sentinel + span)* + [EOS].
import type { SplitName } from '../gpt/split.ts';
import type { SequenceDataset } from '../indexed/indexed-dataset.ts';
import { RandomState } from '../random/random-state.ts';
import { MaskedWordPieceDataset, type MaskedDatasetConfig, type MaskedTokenizer } from './masked-dataset.ts';
import { createMaskedLmPredictions } from './masking.ts';

export interface T5Tokenizer extends MaskedTokenizer {
  bos: number;
  eos: number;
  /** The sentinel ids, in order (<extra_id_0>, <extra_id_1>, ...). */
  sentinels: number[];
}

export interface T5DatasetConfig extends MaskedDatasetConfig {
  tokenizer: T5Tokenizer;
  sequenceLengthDecoder: number;
}

export interface T5Sample {
  textEnc: Int32Array;
  textDec: Int32Array;
  labels: Int32Array;
  lossMask: Int32Array;
  truncated: number;
  encMask: Int32Array;
  decMask: Int32Array;
}

export class T5Dataset extends MaskedWordPieceDataset<T5Sample> {
  constructor(dataset: SequenceDataset, datasetPath: string, indices: Int32Array, numSamples: number | null, split: SplitName, config: T5DatasetConfig) {
    if (config.tokenizer.sentinels.length === 0) throw new Error('T5Dataset: the tokenizer has no sentinel tokens; add <extra_id_N> tokens (Megatron: --vocab-extra-ids 100)');
    super(dataset, datasetPath, indices, numSamples, split, config, 'T5MaskedWordPieceDataset', { sequence_length_decoder: config.sequenceLengthDecoder });
    this.buildSampleIndex('T5MaskedWordPieceDataset', config.sequenceLength - 2, 1);
  }

  get(idx: number): T5Sample {
    const c = this.config as T5DatasetConfig;
    const tok = c.tokenizer;
    const { sentences, target } = this.sentences(idx);
    const rng = new RandomState((c.randomSeed + idx) % 2 ** 32);
    const all = sentences.flat();
    const truncated = all.length > target;
    const m = createMaskedLmPredictions(all.slice(0, target), target, rng, c, this.vocab(), () => tok.mask);
    const sentinels = tok.sentinels.slice();
    const enc: number[] = [];
    const decIn: number[] = [tok.bos];
    const decOut: number[] = [];
    let beg = 0;
    for (const span of m.spans) {
      const sentinel = sentinels.shift();
      if (sentinel === undefined) throw new Error(`T5 sample ${idx} needs more than ${tok.sentinels.length} sentinel tokens`);
      enc.push(...m.tokens.slice(beg, span.indices[0]), sentinel);
      decIn.push(sentinel, ...span.labels);
      decOut.push(sentinel, ...span.labels);
      beg = span.indices[span.indices.length - 1]! + 1;
    }
    enc.push(...m.tokens.slice(beg));
    decOut.push(tok.eos);
    const sEnc = c.sequenceLength;
    const sDec = c.sequenceLengthDecoder;
    if (enc.length > sEnc || decIn.length > sDec) throw new Error(`T5 sample ${idx}: ${enc.length} encoder / ${decIn.length} decoder tokens exceed ${sEnc} / ${sDec}`);
    const pad = tok.pad;
    const textEnc = new Int32Array(sEnc).fill(pad);
    textEnc.set(enc);
    const textDec = new Int32Array(sDec).fill(pad);
    textDec.set(decIn);
    const encMask = new Int32Array(sEnc).fill(1);
    for (let i = 0; i < sEnc; i++) if (textEnc[i] === pad) encMask[i] = 0;
    const decMask = new Int32Array(sDec).fill(1);
    for (let i = 0; i < sDec; i++) if (textDec[i] === pad) decMask[i] = 0;
    const labels = new Int32Array(sDec).fill(-1);
    labels.set(decOut.slice(0, sDec));
    const lossMask = new Int32Array(sDec);
    lossMask.fill(1, 0, decIn.length);
    for (let i = 0; i < sEnc; i++) if (textEnc[i] === pad) textEnc[i] = 0;
    for (let i = 0; i < sDec; i++) {
      if (textDec[i] === pad) textDec[i] = 0;
      if (labels[i] === pad) labels[i] = 0;
    }
    return { textEnc, textDec, labels, lossMask, truncated: truncated ? 1 : 0, encMask, decMask };
  }
}
