// Tokenizers from a Hugging Face tokenizer.json: the two model families Megatron-style corpora
// use, byte-level BPE (GPT-2 style) and WordPiece (BERT style). Components outside these are
// refused with the name of what is missing, rather than tokenized differently.
import { ByteLevelBPE } from './bpe.ts';
import type { Tokenizer } from './tokenizer.ts';
import { WordPiece } from './wordpiece.ts';

interface AddedToken {
  id: number;
  content: string;
  special: boolean;
}

interface TokenizerJson {
  model: { type: string; vocab: Record<string, number>; merges?: (string | [string, string])[]; unk_token?: string; continuing_subword_prefix?: string; max_input_chars_per_word?: number };
  normalizer?: { type: string; lowercase?: boolean; strip_accents?: boolean | null } | null;
  pre_tokenizer?: { type: string; add_prefix_space?: boolean; use_regex?: boolean; pretokenizers?: { type: string }[] } | null;
  added_tokens?: AddedToken[];
}

export function tokenizerFromJson(text: string, source = 'tokenizer.json'): Tokenizer {
  const j = JSON.parse(text) as TokenizerJson;
  const type = j.model?.type;
  const added = j.added_tokens ?? [];
  if (type === 'BPE') {
    const pre = j.pre_tokenizer;
    const byteLevel = pre?.type === 'ByteLevel' || (pre?.type === 'Sequence' && pre.pretokenizers?.some((p) => p.type === 'ByteLevel'));
    if (!byteLevel) throw new Error(`${source}: only byte-level BPE is supported (pre_tokenizer ${pre?.type ?? 'none'}); use a GPT-2 style tokenizer.json`);
    if (j.normalizer) throw new Error(`${source}: BPE with a normalizer (${j.normalizer.type}) is not supported`);
    const vocab = { ...j.model.vocab };
    for (const t of added) vocab[t.content] = t.id;
    const merges = (j.model.merges ?? []).map((m) => (Array.isArray(m) ? m.join(' ') : m));
    const eod = added.find((t) => t.content === '<|endoftext|>') ?? added.find((t) => t.special);
    return new ByteLevelBPE({
      vocab,
      merges,
      name: 'HuggingFaceTokenizer',
      eodToken: eod?.content ?? '<|endoftext|>',
      specialTokens: added.map((t) => t.content),
      addPrefixSpace: pre?.type === 'ByteLevel' ? (pre.add_prefix_space ?? false) : false,
      uniqueIdentifiers: { class: 'HuggingFaceTokenizer', tokenizer_path: source },
    });
  }
  if (type === 'WordPiece') {
    const norm = j.normalizer;
    if (norm && norm.type !== 'BertNormalizer') throw new Error(`${source}: WordPiece with normalizer ${norm.type} is not supported (only BertNormalizer)`);
    const byId: string[] = [];
    for (const [t, id] of Object.entries(j.model.vocab)) byId[id] = t;
    const lowercase = norm?.lowercase ?? false;
    return new WordPiece({
      vocab: byId,
      lowercase,
      stripAccents: norm?.strip_accents ?? lowercase,
      unkToken: j.model.unk_token,
      maxInputCharsPerWord: j.model.max_input_chars_per_word,
      uniqueIdentifiers: { class: 'HuggingFaceTokenizer', tokenizer_path: source },
    });
  }
  throw new Error(`${source}: tokenizer model type ${type ?? '(missing)'} is not supported; supported: BPE (byte-level), WordPiece`);
}
