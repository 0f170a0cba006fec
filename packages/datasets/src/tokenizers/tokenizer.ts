// The tokenizer interface of the datasets package, with Megatron's special-token names.

export interface Tokenizer {
  /** Megatron's --tokenizer-type name (or 'HuggingFaceTokenizer' for tokenizer.json). */
  readonly name: string;
  readonly vocabSize: number;
  /** End-of-document id appended by --append-eod. */
  readonly eod: number;
  readonly cls?: number;
  readonly sep?: number;
  readonly mask?: number;
  readonly pad?: number;
  readonly bos?: number;
  readonly eos?: number;
  /** T5 sentinel ids <extra_id_0>, <extra_id_1>, ... (empty when there are none). */
  readonly additionalSpecialTokensIds: number[];
  tokenize(text: string): number[];
  detokenize(ids: ArrayLike<number>): string;
  /** Token string by id. */
  idToToken(id: number): string | undefined;
  tokenToId(token: string): number | undefined;
  /** For the cache description, like Megatron's `tokenizer.unique_identifiers`. */
  readonly uniqueIdentifiers: { [key: string]: string | string[] };
}
