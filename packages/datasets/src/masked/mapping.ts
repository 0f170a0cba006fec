// helpers.cpp `build_mapping` for BERT/T5: samples as runs of whole sentences of one document,
// (first sentence, end sentence, target length) rows, then a Fisher-Yates shuffle driven by
// std::mt19937_64(seed + 1). Target lengths come from std::mt19937(seed).
import { MT19937 } from '../random/mt19937.ts';
import { MT19937_64 } from '../random/mt19937-64.ts';

export const LONG_SENTENCE_LEN = 512;

export interface MappingOptions {
  /** docs[k]..docs[k+1] are the sentences of the k-th document of the split. */
  docs: ArrayLike<number>;
  sizes: Int32Array;
  /** Stop starting new epochs once this many samples exist; null: one epoch. */
  maxNumSamples: number | null;
  maxSeqLength: number;
  shortSeqProb: number;
  seed: number;
  minNumSent: number;
}

/** C's round(): half away from zero. */
const cRound = (x: number) => Math.sign(x) * Math.round(Math.abs(x));

/** Rows of [start sentence, end sentence (exclusive), target length], flattened (uint32, like Megatron). */
export function buildMapping(o: MappingOptions): Uint32Array {
  if (!(o.seed > 0)) throw new RangeError(`buildMapping: the seed must be positive, got ${o.seed}`);
  if (!(o.maxSeqLength > 1)) throw new RangeError(`buildMapping: the maximum sequence length must be > 1, got ${o.maxSeqLength}`);
  const epochs = o.maxNumSamples === null ? 1 : 2147483647 - 1;
  const maxSamples = o.maxNumSamples ?? Number.POSITIVE_INFINITY;
  const ratio = o.shortSeqProb > 0 ? cRound(1 / o.shortSeqProb) : 0;
  const rand32 = new MT19937(o.seed >>> 0);
  const target = () => {
    if (ratio === 0) return o.maxSeqLength;
    const r = rand32.nextUint32();
    return r % ratio === 0 ? 2 + (r % (o.maxSeqLength - 1)) : o.maxSeqLength;
  };
  const rows: number[] = [];
  let count = 0;
  let productive = false;
  for (let epoch = 0; epoch < epochs; epoch++) {
    if (count >= maxSamples) break;
    if (epoch === 1 && !productive) throw new Error('buildMapping: no document of the split can make a sample (too few sentences, or sentences over 512 tokens)');
    for (let doc = 0; doc + 1 < o.docs.length; doc++) {
      const first = o.docs[doc]!;
      const last = o.docs[doc + 1]!;
      let remain = last - first;
      let long = false;
      if (remain > 1) {
        for (let s = first; s < last; s++) {
          if (o.sizes[s]! > LONG_SENTENCE_LEN) {
            long = true;
            break;
          }
        }
      }
      if (remain < o.minNumSent || long) continue;
      let prevStart = first;
      let seqLen = 0;
      let numSent = 0;
      let t = target();
      for (let s = first; s < last; s++) {
        seqLen += o.sizes[s]!;
        numSent++;
        remain--;
        if ((seqLen >= t && remain > 1 && numSent >= o.minNumSent) || remain === 0) {
          rows.push(prevStart, s + 1, t);
          count++;
          productive = true;
          prevStart = s + 1;
          t = target();
          seqLen = 0;
          numSent = 0;
        }
      }
    }
  }
  const maps = Uint32Array.from(rows);
  const rand64 = new MT19937_64(BigInt(o.seed) + 1n);
  for (let i = count - 1; i > 0; i--) {
    const j = Number(rand64.next() % BigInt(i + 1));
    for (let k = 0; k < 3; k++) {
      const t = maps[3 * i + k]!;
      maps[3 * i + k] = maps[3 * j + k]!;
      maps[3 * j + k] = t;
    }
  }
  return maps;
}
