// Megatron's `_create_masked_lm_predictions` for BERT and T5: whole-word candidates, n-gram spans
// (P(n) proportional to 1/n, or SpanBERT's geometric(0.2)), taken greedily within a budget of
// masking_probability * length, each token replaced as the dataset says.
import { npSum, pyRound } from '../random/numpy-math.ts';
import type { RandomState } from '../random/random-state.ts';

export interface MaskingConfig {
  maskingProbability: number;
  maskingMaxNgram: number;
  maskingDoFullWord: boolean;
  maskingUseLongerNgrams: boolean;
  maskingUseGeometricDistribution: boolean;
}

export interface MaskingVocab {
  cls: number;
  sep: number;
  /** True when the token continues the previous word (WordPiece "##"). */
  isContinuation(id: number): boolean;
}

export interface MaskedPredictions {
  tokens: number[];
  positions: number[];
  labels: number[];
  spans: { indices: number[]; labels: number[] }[];
}

/** `replace` returns the replacement id, or null to keep the token (it is still predicted). */
export function createMaskedLmPredictions(
  tokenIds: number[],
  targetLength: number,
  rng: RandomState,
  config: MaskingConfig,
  vocab: MaskingVocab,
  replace: (rng: RandomState) => number | null,
): MaskedPredictions {
  const candidates: number[][] = [];
  for (let i = 0; i < tokenIds.length; i++) {
    const id = tokenIds[i]!;
    if (id === vocab.cls || id === vocab.sep) continue;
    if (!vocab.isContinuation(id)) candidates.push([i]);
    else if (config.maskingDoFullWord && candidates.length > 0) candidates[candidates.length - 1]!.push(i);
    else candidates.push([i]);
  }
  const p = config.maskingProbability;
  const nMaskings = Math.min(p * targetLength, Math.max(1, pyRound(tokenIds.length * p)));
  const maxN = config.maskingMaxNgram;
  const nvals = Array.from({ length: maxN }, (_, i) => i + 1);
  let nprobs = nvals.map((n) => 1 / n);
  const total = npSum(nprobs);
  nprobs = nprobs.map((x) => x / total);
  if (config.maskingUseLongerNgrams) nprobs.reverse();
  // candidate k, n-gram length n -> the token indices of candidates[k .. k+n)
  const order = Array.from({ length: candidates.length }, (_, k) => k);
  rng.shuffle(order);
  const ngram = (k: number, n: number) => candidates.slice(k, k + n).flat();
  const masked = tokenIds.slice();
  const positionsAndLabels: [number, number][] = [];
  const spans: { indices: number[]; labels: number[] }[] = [];
  const maskedSet = new Set<number>();
  const probsTotal = npSum(nprobs);
  const choiceProbs = nprobs.map((x) => x / probsTotal);
  for (const k of order) {
    if (positionsAndLabels.length >= nMaskings) break;
    let n = config.maskingUseGeometricDistribution ? Math.min(rng.geometric(0.2), maxN) : rng.choice(nvals, choiceProbs);
    let indices: number[];
    let skip: boolean;
    for (;;) {
      indices = ngram(k, n);
      n -= 1;
      if (nMaskings >= positionsAndLabels.length + indices.length) {
        skip = false;
        break;
      }
      if (n === 0) {
        skip = true;
        break;
      }
    }
    if (skip || indices.some((i) => maskedSet.has(i))) continue;
    for (const i of indices) {
      maskedSet.add(i);
      const r = replace(rng);
      masked[i] = r === null ? tokenIds[i]! : r;
      positionsAndLabels.push([i, tokenIds[i]!]);
    }
    spans.push({ indices, labels: indices.map((i) => tokenIds[i]!) });
  }
  rng.shuffle(order); // Megatron shuffles the candidates once more; keep the stream in step
  positionsAndLabels.sort((a, b) => a[0] - b[0]);
  spans.sort((a, b) => a.indices[0]! - b.indices[0]!);
  return { tokens: masked, positions: positionsAndLabels.map((x) => x[0]), labels: positionsAndLabels.map((x) => x[1]), spans };
}
