// GPT-2 byte-level BPE (Megatron's GPT2BPETokenizer; Hugging Face's ByteLevel BPE): split text
// with GPT-2's pattern, map each piece's UTF-8 bytes to the byte-level alphabet, then apply merges
// lowest rank first. Words are cached: natural text repeats them heavily.
import { BYTE_TO_UNICODE, UNICODE_TO_BYTE } from './byte-level.ts';
import type { Tokenizer } from './tokenizer.ts';

// GPT-2's pre-tokenization pattern. `\s` is spelled out as Unicode White_Space, which is what
// Oniguruma (Hugging Face) and Python's `regex` mean by it (JS's \s also has U+FEFF, lacks U+0085).
const WS = '\\t\\n\\v\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';
export const GPT2_PATTERN = new RegExp(
  `'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^${WS}\\p{L}\\p{N}]+|[${WS}]+(?![^${WS}])|[${WS}]+`,
  'gu',
);

export interface BPEOptions {
  vocab: Record<string, number>;
  /** Merge rules in rank order, "a b" per entry (the lines of merges.txt after the version line). */
  merges: string[];
  /** Tokens split out of the text before BPE (e.g. "<|endoftext|>"); none by default, like Megatron. */
  specialTokens?: string[];
  name?: string;
  eodToken?: string;
  addPrefixSpace?: boolean;
  pattern?: RegExp | null;
  uniqueIdentifiers?: { [key: string]: string | string[] };
}

export function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

export class ByteLevelBPE implements Tokenizer {
  readonly name: string;
  readonly vocabSize: number;
  readonly eod: number;
  readonly additionalSpecialTokensIds: number[] = [];
  readonly uniqueIdentifiers: { [key: string]: string | string[] };
  private readonly vocab: Map<string, number>;
  private readonly inverse: string[];
  private readonly ranks = new Map<string, number>();
  private readonly cache = new Map<string, number[]>();
  private readonly special: RegExp | undefined;
  private readonly addPrefixSpace: boolean;
  private readonly pattern: RegExp | null;
  private readonly encoder = new TextEncoder();

  constructor(o: BPEOptions) {
    this.name = o.name ?? 'GPT2BPETokenizer';
    this.vocab = new Map(Object.entries(o.vocab));
    this.inverse = [];
    for (const [t, id] of this.vocab) this.inverse[id] = t;
    this.vocabSize = this.vocab.size;
    o.merges.forEach((m, rank) => {
      if (m.length > 0) this.ranks.set(m, rank);
    });
    const eodToken = o.eodToken ?? '<|endoftext|>';
    const eod = this.vocab.get(eodToken);
    this.eod = eod ?? -1;
    const specials = o.specialTokens ?? [];
    this.special = specials.length
      ? new RegExp(`(${specials.map(escapeRegExp).join('|')})`, 'u')
      : undefined;
    for (const s of specials) if (!this.vocab.has(s)) throw new Error(`ByteLevelBPE: special token "${s}" is not in the vocabulary`);
    this.addPrefixSpace = o.addPrefixSpace ?? false;
    this.pattern = o.pattern === undefined ? GPT2_PATTERN : o.pattern;
    this.uniqueIdentifiers = o.uniqueIdentifiers ?? { class: this.name };
  }

  tokenize(text: string): number[] {
    const out: number[] = [];
    if (this.special) {
      // With a capturing group, split() puts the matched special tokens at the odd indices.
      text.split(this.special).forEach((part, i) => {
        if (i % 2 === 1) out.push(this.vocab.get(part)!);
        else if (part !== '') this.encodeText(part, out);
      });
      return out;
    }
    this.encodeText(text, out);
    return out;
  }

  private encodeText(text: string, out: number[]): void {
    if (this.addPrefixSpace && !text.startsWith(' ')) text = ` ${text}`;
    const pieces = this.pattern ? text.match(this.pattern) ?? [] : [text];
    for (const piece of pieces) {
      const hit = this.cache.get(piece);
      if (hit) {
        for (const id of hit) out.push(id);
        continue;
      }
      const ids = this.encodeWord(piece);
      if (this.cache.size < 200_000) this.cache.set(piece, ids);
      for (const id of ids) out.push(id);
    }
  }

  private encodeWord(piece: string): number[] {
    const bytes = this.encoder.encode(piece);
    let word: string[] = Array.from(bytes, (b) => BYTE_TO_UNICODE[b]!);
    while (word.length > 1) {
      let best = -1;
      let bestRank = Number.POSITIVE_INFINITY;
      for (let i = 0; i + 1 < word.length; i++) {
        const r = this.ranks.get(`${word[i]} ${word[i + 1]}`);
        if (r !== undefined && r < bestRank) {
          bestRank = r;
          best = i;
        }
      }
      if (best < 0) break;
      const a = word[best]!;
      const b = word[best + 1]!;
      const merged: string[] = [];
      for (let i = 0; i < word.length; ) {
        if (i + 1 < word.length && word[i] === a && word[i + 1] === b) {
          merged.push(a + b);
          i += 2;
        } else merged.push(word[i++]!);
      }
      word = merged;
    }
    return word.map((t) => {
      const id = this.vocab.get(t);
      if (id === undefined) throw new Error(`ByteLevelBPE: "${t}" is not in the vocabulary; vocab.json and merges.txt do not belong together`);
      return id;
    });
  }

  detokenize(ids: ArrayLike<number>): string {
    const bytes: number[] = [];
    for (let i = 0; i < ids.length; i++) {
      const t = this.inverse[ids[i]!];
      if (t === undefined) throw new RangeError(`ByteLevelBPE: id ${ids[i]} is not in the vocabulary`);
      for (const ch of t) {
        const b = UNICODE_TO_BYTE.get(ch);
        if (b === undefined) for (const x of this.encoder.encode(ch)) bytes.push(x);
        else bytes.push(b);
      }
    }
    return new TextDecoder().decode(Uint8Array.from(bytes));
  }

  idToToken(id: number): string | undefined {
    return this.inverse[id];
  }

  tokenToId(token: string): number | undefined {
    return this.vocab.get(token);
  }
}
