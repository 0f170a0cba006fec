// Megatron's `build_tokenizer` for the tokenizer types this package implements, from the same
// flags (--tokenizer-type, --vocab-file, --merge-file, --tokenizer-model, --vocab-extra-ids).
import { ByteLevelBPE } from './bpe.ts';
import { bundledDataPath, readText } from './files.ts';
import type { Tokenizer } from './tokenizer.ts';
import { tokenizerFromJson } from './tokenizer-json.ts';
import { WordPiece } from './wordpiece.ts';

export const TOKENIZER_TYPES = ['GPT2BPETokenizer', 'BertWordPieceLowerCase', 'BertWordPieceCase', 'HuggingFaceTokenizer'] as const;
export type TokenizerType = (typeof TOKENIZER_TYPES)[number];

export interface TokenizerSpec {
  tokenizerType: string;
  vocabFile?: string;
  mergeFile?: string;
  /** tokenizer.json for HuggingFaceTokenizer. */
  tokenizerModel?: string;
  /** T5 sentinels <extra_id_0..N-1> (BERT tokenizers; Megatron also adds [BOS] and [EOS] then). */
  vocabExtraIds?: number;
}

export function gpt2Tokenizer(vocabFile = bundledDataPath('gpt2/vocab.json'), mergeFile = bundledDataPath('gpt2/merges.txt')): ByteLevelBPE {
  const vocab = JSON.parse(readText(vocabFile)) as Record<string, number>;
  const merges = readText(mergeFile).split('\n');
  if (merges[0]?.startsWith('#version')) merges.shift();
  return new ByteLevelBPE({ vocab, merges, uniqueIdentifiers: { class: 'GPT2BPETokenizer', vocab_file: vocabFile, merge_file: mergeFile } });
}

export function bertTokenizer(lowercase: boolean, vocabFile = bundledDataPath('bert-base-uncased/vocab.txt'), vocabExtraIds = 0): WordPiece {
  const lines = readText(vocabFile).split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  const extra = vocabExtraIds > 0 ? ['[BOS]', '[EOS]', ...Array.from({ length: vocabExtraIds }, (_, k) => `<extra_id_${k}>`)] : [];
  return new WordPiece({ vocab: lines.map((l) => l.replace(/\r$/, '')), lowercase, extraTokens: extra, uniqueIdentifiers: { class: lowercase ? 'BertWordPieceLowerCase' : 'BertWordPieceCase', vocab_file: vocabFile } });
}

export function buildTokenizer(spec: TokenizerSpec): Tokenizer {
  const need = (v: string | undefined, flag: string) => {
    if (!v) throw new Error(`--tokenizer-type ${spec.tokenizerType} needs ${flag}`);
    return v;
  };
  switch (spec.tokenizerType) {
    case 'GPT2BPETokenizer':
      return gpt2Tokenizer(need(spec.vocabFile, '--vocab-file (vocab.json)'), need(spec.mergeFile, '--merge-file (merges.txt)'));
    case 'BertWordPieceLowerCase':
      return bertTokenizer(true, need(spec.vocabFile, '--vocab-file (vocab.txt)'), spec.vocabExtraIds ?? 0);
    case 'BertWordPieceCase':
      return bertTokenizer(false, need(spec.vocabFile, '--vocab-file (vocab.txt)'), spec.vocabExtraIds ?? 0);
    case 'HuggingFaceTokenizer': {
      const path = need(spec.tokenizerModel ?? spec.vocabFile, '--tokenizer-model (a tokenizer.json file)');
      return tokenizerFromJson(readText(path), path);
    }
    default:
      throw new Error(`unsupported --tokenizer-type ${spec.tokenizerType}; supported: ${TOKENIZER_TYPES.join(', ')}`);
  }
}
