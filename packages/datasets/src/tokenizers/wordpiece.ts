// BERT WordPiece (Megatron's BertWordPieceLowerCase / BertWordPieceCase; Hugging Face's
// BertNormalizer + BertPreTokenizer + WordPiece): clean control characters, space out CJK
// characters, strip accents and lower-case (uncased only), split on whitespace and punctuation,
// then greedy longest-match-first with "##" continuations; a word that fails is [UNK].
import type { Tokenizer } from './tokenizer.ts';

const WHITESPACE = /[\t\n\r\p{White_Space}]/u;
const CONTROL = /[\p{Cc}\p{Cf}\p{Co}\p{Cn}\p{Cs}]/u;
const PUNCT = /[\p{P}!-/:-@[-`{-~]/u;
const MARK_NONSPACING = /\p{Mn}/gu;
const ASCII_PUNCT = new Uint8Array(128).map((_, c) => (PUNCT.test(String.fromCharCode(c)) ? 1 : 0));

function isChinese(cp: number): boolean {
  return (
    (cp >= 0x4e00 && cp <= 0x9fff) || (cp >= 0x3400 && cp <= 0x4dbf) || (cp >= 0x20000 && cp <= 0x2a6df) ||
    (cp >= 0x2a700 && cp <= 0x2b73f) || (cp >= 0x2b740 && cp <= 0x2b81f) || (cp >= 0x2b920 && cp <= 0x2ceaf) ||
    (cp >= 0xf900 && cp <= 0xfaff) || (cp >= 0x2f800 && cp <= 0x2fa1f)
  );
}

export interface WordPieceOptions {
  /** vocab.txt lines: the line number is the id. */
  vocab: string[];
  lowercase: boolean;
  /** Strip accents (defaults to `lowercase`, as in BERT). */
  stripAccents?: boolean;
  unkToken?: string;
  maxInputCharsPerWord?: number;
  /** Extra tokens appended to the vocabulary (Megatron adds [BOS], [EOS] and <extra_id_N>). */
  extraTokens?: string[];
  uniqueIdentifiers?: { [key: string]: string | string[] };
}

export class WordPiece implements Tokenizer {
  readonly name: string;
  readonly vocabSize: number;
  readonly eod: number;
  readonly cls: number;
  readonly sep: number;
  readonly mask: number;
  readonly pad: number;
  readonly unk: number;
  readonly bos?: number;
  readonly eos?: number;
  readonly additionalSpecialTokensIds: number[];
  readonly uniqueIdentifiers: { [key: string]: string | string[] };
  private readonly vocab = new Map<string, number>();
  private readonly inverse: string[];
  private readonly lowercase: boolean;
  private readonly stripAccents: boolean;
  private readonly maxChars: number;
  private readonly cache = new Map<string, number[]>();

  constructor(o: WordPieceOptions) {
    this.inverse = [...o.vocab, ...(o.extraTokens ?? [])];
    this.inverse.forEach((t, i) => {
      if (!this.vocab.has(t)) this.vocab.set(t, i);
    });
    this.lowercase = o.lowercase;
    this.stripAccents = o.stripAccents ?? o.lowercase;
    this.maxChars = o.maxInputCharsPerWord ?? 100;
    this.name = o.lowercase ? 'BertWordPieceLowerCase' : 'BertWordPieceCase';
    this.vocabSize = this.inverse.length;
    const need = (t: string) => {
      const id = this.vocab.get(t);
      if (id === undefined) throw new Error(`WordPiece: the vocabulary has no ${t} token`);
      return id;
    };
    this.unk = need(o.unkToken ?? '[UNK]');
    this.cls = need('[CLS]');
    this.sep = need('[SEP]');
    this.mask = need('[MASK]');
    this.pad = need('[PAD]');
    this.eod = this.sep; // Megatron's BERT tokenizers use [SEP] as the end of document
    this.bos = this.vocab.get('[BOS]');
    this.eos = this.vocab.get('[EOS]');
    this.additionalSpecialTokensIds = this.inverse.flatMap((t, i) => (/^<extra_id_\d+>$/.test(t) ? [i] : []));
    this.uniqueIdentifiers = o.uniqueIdentifiers ?? { class: this.name };
  }

  /** BertNormalizer: clean text, pad CJK, strip accents, lower-case (per code point, without context). */
  normalize(text: string): string {
    let out = '';
    for (const ch of text) {
      const cp = ch.codePointAt(0)!;
      if (cp < 128) {
        // ASCII fast path: tab, LF, CR and space become ' '; other controls go.
        if (cp === 9 || cp === 10 || cp === 13 || cp === 32) out += ' ';
        else if (cp >= 33 && cp < 127) out += ch;
        continue;
      }
      // Hugging Face drops controls first (so VT, FF and NEL vanish), then maps whitespace to ' '.
      if (cp === 0 || cp === 0xfffd) continue;
      if (ch !== '\t' && ch !== '\n' && ch !== '\r' && CONTROL.test(ch)) continue;
      if (WHITESPACE.test(ch)) {
        out += ' ';
        continue;
      }
      out += isChinese(cp) ? ` ${ch} ` : ch;
    }
    if (this.stripAccents && !/^\p{ASCII}*$/u.test(out)) out = out.normalize('NFD').replace(MARK_NONSPACING, '');
    if (this.lowercase) {
      if (/^\p{ASCII}*$/u.test(out)) return out.toLowerCase();
      let lower = '';
      for (const ch of out) lower += ch.toLowerCase(); // one code point at a time: no final-sigma rule
      out = lower;
    }
    return out;
  }

  /** BertPreTokenizer: whitespace-separated words, each punctuation character on its own. */
  preTokenize(text: string): string[] {
    const words: string[] = [];
    let cur = '';
    for (const ch of text) {
      const c = ch.charCodeAt(0);
      const space = c < 128 ? c === 32 || (c >= 9 && c <= 13) : WHITESPACE.test(ch);
      const punct = c < 128 ? ASCII_PUNCT[c] === 1 : PUNCT.test(ch);
      if (space) {
        if (cur) words.push(cur);
        cur = '';
      } else if (punct) {
        if (cur) words.push(cur);
        words.push(ch);
        cur = '';
      } else cur += ch;
    }
    if (cur) words.push(cur);
    return words;
  }

  tokenize(text: string): number[] {
    const out: number[] = [];
    for (const word of this.preTokenize(this.normalize(text))) {
      let ids = this.cache.get(word);
      if (!ids) {
        ids = this.wordPiece(word);
        if (this.cache.size < 200_000) this.cache.set(word, ids);
      }
      for (const id of ids) out.push(id);
    }
    return out;
  }

  private wordPiece(word: string): number[] {
    const chars = Array.from(word);
    if (chars.length > this.maxChars) return [this.unk];
    const ids: number[] = [];
    let start = 0;
    while (start < chars.length) {
      let end = chars.length;
      let found: number | undefined;
      while (start < end) {
        const sub = (start > 0 ? '##' : '') + chars.slice(start, end).join('');
        found = this.vocab.get(sub);
        if (found !== undefined) break;
        end--;
      }
      if (found === undefined) return [this.unk];
      ids.push(found);
      start = end;
    }
    return ids;
  }

  /** Tokens joined with spaces, "##" continuations glued back (BERT's usual decoding). */
  detokenize(ids: ArrayLike<number>): string {
    let out = '';
    for (let i = 0; i < ids.length; i++) {
      const t = this.inverse[ids[i]!] ?? '[UNK]';
      out += t.startsWith('##') ? t.slice(2) : (out ? ' ' : '') + t;
    }
    return out;
  }

  idToToken(id: number): string | undefined {
    return this.inverse[id];
  }

  tokenToId(token: string): number | undefined {
    return this.vocab.get(token);
  }
}
