// Tensor-parallel layout arithmetic for the GPT family, as Megatron-Core lays parameters out:
// which part of each full (unpartitioned) weight one rank holds. Pure functions of the sizes.
import type { ResolvedGptConfig } from '../gpt/config.ts';
import type { Range } from '../safetensors/selection.ts';

/** The sizes the weight layout depends on (a ResolvedGptConfig has them all). */
export type GptDims = Pick<
  ResolvedGptConfig,
  'numLayers' | 'hiddenSize' | 'numAttentionHeads' | 'numQueryGroups' | 'kvChannels' | 'ffnHiddenSize' | 'vocabSize' | 'paddedVocabSize' | 'maxPositionEmbeddings'
>;

export interface TpRank {
  readonly rank: number;
  readonly size: number;
}

/** Rank `rank`'s [start, end) of `n` items split evenly over `size` ranks. */
export function evenSplit(n: number, { rank, size }: TpRank, what: string): Range {
  if (n % size !== 0) throw new Error(`${what} (${n}) is not divisible by the tensor-parallel size ${size}`);
  const per = n / size;
  return [rank * per, (rank + 1) * per];
}

/** Rows of the fused linear_qkv weight, per query group [q heads of the group | k | v], in order. */
export interface QkvRows {
  /** Which part, the query group, and the rows of the separate q, k or v weight it comes from. */
  part: 'q' | 'k' | 'v';
  group: number;
  rows: Range;
}

/**
 * The linear_qkv rows rank `tp.rank` holds, in its order: for each of its numQueryGroups/tp whole
 * groups, the group's query heads, then its key head, then its value head (Megatron-Core's grouped
 * layout). `rows` index the separate [nq*d, h], [nkv*d, h], [nkv*d, h] q, k and v weights.
 */
export function qkvRows(dims: GptDims, tp: TpRank): QkvRows[] {
  const { numAttentionHeads: nq, numQueryGroups: g, kvChannels: d } = dims;
  if (nq % g !== 0) throw new Error(`the query groups (${g}) must divide the attention heads (${nq})`);
  const [first, last] = evenSplit(g, tp, 'the number of query groups');
  const perGroup = nq / g;
  const out: QkvRows[] = [];
  for (let group = first; group < last; group++) {
    out.push({ part: 'q', group, rows: [group * perGroup * d, (group + 1) * perGroup * d] });
    out.push({ part: 'k', group, rows: [group * d, (group + 1) * d] });
    out.push({ part: 'v', group, rows: [group * d, (group + 1) * d] });
  }
  return out;
}

/** Rows of the padded embedding rank `tp.rank` holds: the part inside the real vocab, then zero rows. */
export function vocabRows(dims: GptDims, tp: TpRank): { real: Range; padding: number } {
  const [start, end] = evenSplit(dims.paddedVocabSize, tp, 'the padded vocab size');
  const realEnd = Math.max(start, Math.min(end, dims.vocabSize));
  return { real: [start, realEnd], padding: end - realEnd };
}
