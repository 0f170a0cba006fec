// The three index arrays of Megatron-Core's GPTDataset, built exactly as gpt_dataset.py and
// helpers.cpp build them: the document index (shuffled epochs of document ids), the sample index
// (where each sample starts: position in the document index and token offset), and the shuffle
// index (a permutation of samples). One RandomState serves both shuffles, documents first.
import type { RandomState } from '../random/random-state.ts';

/** Smallest E with E * tokensPerEpoch >= numSamples * seqLength + extra (one epoch when numSamples is null). */
export function numEpochs(tokensPerEpoch: number, seqLength: number, numSamples: number | null, extraToken = 1): number {
  if (numSamples === null) return 1;
  if (tokensPerEpoch <= 0) throw new Error('the split has no tokens: every document in it is empty');
  let epochs = 1;
  let tokens = tokensPerEpoch;
  const requested = numSamples * seqLength + extraToken;
  while (tokens < requested) {
    epochs++;
    tokens += tokensPerEpoch;
  }
  return epochs;
}

/**
 * Whether the last epoch is shuffled on its own: when it contributes fewer than 80% of an
 * epoch's samples, so that a partial epoch does not bias the global shuffle.
 */
export function separateFinalEpoch(epochs: number, tokensPerEpoch: number, seqLength: number, numSamples: number, extraToken = 1): { separate: boolean; samplesSansFinal: number } {
  if (epochs === 1) return { separate: false, samplesSansFinal: 0 };
  const samplesSansFinal = Math.floor(((epochs - 1) * tokensPerEpoch - extraToken) / seqLength);
  const fromFinal = numSamples - samplesSansFinal;
  const perEpoch = Math.floor((tokensPerEpoch - extraToken) / seqLength);
  if (fromFinal < 0 || fromFinal > perEpoch + 1) throw new Error(`inconsistent epoch arithmetic: ${fromFinal} samples from the final epoch of ${perEpoch}`);
  return { separate: fromFinal < Math.trunc(0.8 * perEpoch), samplesSansFinal };
}

/** `_build_document_index`: the split's documents tiled `epochs` times, then shuffled. */
export function buildDocumentIndex(documents: Int32Array, epochs: number, rng: RandomState, separateFinal: boolean): Int32Array {
  if (!separateFinal || epochs === 1) {
    const out = new Int32Array(epochs * documents.length);
    for (let e = 0; e < epochs; e++) out.set(documents, e * documents.length);
    rng.shuffle(out);
    return out;
  }
  const first = buildDocumentIndex(documents, epochs - 1, rng, false);
  const last = buildDocumentIndex(documents, 1, rng, false);
  const out = new Int32Array(first.length + last.length);
  out.set(first, 0);
  out.set(last, first.length);
  return out;
}

/** int32 unless an entry could exceed it (Megatron's rule: max(len(document index), max size)). */
export function sampleIndexNeedsInt64(sizes: Int32Array, documentIndex: Int32Array): boolean {
  let maxSize = 0;
  for (let i = 0; i < sizes.length; i++) if (sizes[i]! > maxSize) maxSize = sizes[i]!;
  return Math.max(documentIndex.length, maxSize) > 2147483647;
}

/**
 * helpers.cpp `build_sample_idx`: a [numSamples + 1, 2] array (flattened) of (position in the
 * document index, token offset). Each sample spans seqLength + extraToken tokens; consecutive
 * samples share one token when extraToken is 1.
 */
export function buildSampleIndex(
  sizes: Int32Array,
  documentIndex: Int32Array,
  seqLength: number,
  epochs: number,
  tokensPerEpoch: number,
  dropLastPartial = true,
  extraToken = 1,
): Int32Array | Float64Array {
  const numSamples = dropLastPartial
    ? Math.floor((epochs * tokensPerEpoch - extraToken) / seqLength)
    : Math.ceil(Math.fround(Math.fround(epochs * tokensPerEpoch - extraToken) / seqLength)); // C++ float arithmetic
  const out = sampleIndexNeedsInt64(sizes, documentIndex) ? new Float64Array(2 * (numSamples + 1)) : new Int32Array(2 * (numSamples + 1));
  let docPos = 0;
  let offset = 0;
  out[0] = 0;
  out[1] = 0;
  const lastDoc = documentIndex.length - 1;
  for (let s = 1; s <= numSamples; s++) {
    let remaining = seqLength + extraToken;
    while (remaining !== 0) {
      const docLength = sizes[documentIndex[docPos]!]! - offset;
      remaining -= docLength;
      if (remaining <= 0) {
        offset += remaining + docLength - extraToken;
        remaining = 0;
      } else {
        if (docPos === lastDoc) {
          // Only the final, partial sample (kept for validation) runs off the end.
          offset = sizes[documentIndex[docPos]!]! - extraToken;
          break;
        }
        docPos++;
        offset = 0;
      }
    }
    out[2 * s] = docPos;
    out[2 * s + 1] = offset;
  }
  return out;
}

/** `_build_shuffle_index`: [0, numSamples) shuffled, then [numSamples, total) shuffled separately. */
export function buildShuffleIndex(numSamples: number, totalSize: number, rng: RandomState): Uint32Array | Float64Array {
  const wide = totalSize >= 0xffffffff - 1;
  const make = (n: number) => (wide ? new Float64Array(n) : new Uint32Array(n));
  const first = make(numSamples);
  for (let i = 0; i < numSamples; i++) first[i] = i;
  rng.shuffle(first);
  if (numSamples === totalSize) return first;
  const last = make(totalSize - numSamples);
  for (let i = 0; i < last.length; i++) last[i] = numSamples + i;
  rng.shuffle(last);
  const out = make(totalSize);
  out.set(first, 0);
  out.set(last, numSamples);
  return out;
}
