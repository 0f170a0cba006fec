// The shape of a name map: data that says, for each Tessera GPT parameter, which Hugging Face
// tensor(s) hold it and how it is split over tensor-parallel ranks.

/**
 * How a parameter is partitioned (Megatron-Core's layout):
 * - replicated: every rank holds the whole tensor (norms, row-parallel biases, position embeddings);
 * - column: dim 0 split evenly (column-parallel weight and bias);
 * - row: dim 1 split evenly (row-parallel weight);
 * - vocab: dim 0 of the embedding, padded with zero rows to the padded vocab, then split;
 * - qkv: linear_qkv, grouped per query group; from [q, k, v] weights, or one [q; k; v] weight;
 * - glu: SwiGLU's linear_fc1, each rank holding its 1/tp of the gate rows then of the up rows.
 */
export type Split = 'replicated' | 'column' | 'row' | 'vocab' | 'qkv' | 'glu';

export interface NameMapEntry {
  /** The Tessera name; `{i}` stands for the layer number. */
  readonly tessera: string;
  /** The Hugging Face name(s), relative to the family's body prefix (unless `root`). */
  readonly hf: string | readonly string[];
  readonly split: Split;
  /** Hugging Face stores the weight as [in, out] (GPT-2's Conv1D); Tessera's is [out, in]. */
  readonly transposed?: boolean;
  /** The name is at the checkpoint's top level (lm_head), not under the body prefix. */
  readonly root?: boolean;
}

export interface NameMap {
  readonly family: string;
  /** Body prefixes a checkpoint may use ('transformer.' when saved from GPT2LMHeadModel, '' from GPT2Model). */
  readonly prefixes: readonly string[];
  /** The entry whose tensor identifies the prefix a checkpoint uses. */
  readonly probe: string;
  readonly entries: readonly NameMapEntry[];
  /** The output layer when it is tied to the embedding (read from the embedding's tensor). */
  readonly tiedOutput: NameMapEntry;
  /** Checkpoint tensors that are not parameters (buffers some versions saved); `{i}` is a layer. */
  readonly ignore: readonly string[];
  /** A tied checkpoint may still carry its output weight under this name; it is the embedding, so skipped. */
  readonly tiedOutputAlias: string;
}
