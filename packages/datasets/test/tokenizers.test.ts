// Tokenizer ids: spot checks with known ids, and (when the fixture exists) parity with Hugging
// Face `tokenizers` on every line of WikiText-2 (tools/fixtures/make_datasets_fixtures.py).
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { crc32 } from 'node:zlib';
import { bertTokenizer, buildTokenizer, gpt2Tokenizer } from '../src/tokenizers/build.ts';
import { tokenizerFromJson } from '../src/tokenizers/tokenizer-json.ts';
import { readWikiText2 } from '../src/wikitext.ts';
import { loadGzJson } from './megatron-fixtures.ts';

const gpt2 = gpt2Tokenizer();
const uncased = bertTokenizer(true);
const cased = bertTokenizer(false);

describe('GPT-2 byte-level BPE', () => {
  it('gives the known ids', () => {
    expect(gpt2.tokenize('Hello world')).toEqual([15496, 995]);
    expect(gpt2.tokenize(' Hello world')).toEqual([18435, 995]);
    expect(gpt2.eod).toBe(50256);
    expect(gpt2.vocabSize).toBe(50257);
    expect(gpt2.tokenize("it's")).toEqual([270, 338]);
  });
  it('round-trips any text through the byte-level alphabet', () => {
    for (const t of ['naïve café — 東京 🚀', '  two  spaces\n\nand\ttabs ', '<|endoftext|>']) expect(gpt2.detokenize(gpt2.tokenize(t))).toBe(t);
  });
  it('treats <|endoftext|> as text unless asked to split special tokens', () => {
    expect(gpt2.tokenize('a<|endoftext|>b')).not.toContain(50256);
  });
});

describe('BERT WordPiece', () => {
  it('gives the known ids (uncased)', () => {
    expect(uncased.tokenize('Hello, world!')).toEqual([7592, 1010, 2088, 999]);
    expect(uncased.tokenize('unaffable')).toEqual([14477, 20961, 3468]);
    expect([uncased.cls, uncased.sep, uncased.mask, uncased.pad, uncased.unk]).toEqual([101, 102, 103, 0, 100]);
  });
  it('strips accents only when lower-casing', () => {
    expect(uncased.tokenize('Café')).toEqual(uncased.tokenize('cafe'));
    expect(cased.tokenize('Hello')).toEqual([100]); // the uncased vocabulary has no "Hello"
  });
  it('adds T5 sentinels after [BOS] and [EOS]', () => {
    const t5 = bertTokenizer(false, undefined, 100);
    expect(t5.vocabSize).toBe(30522 + 102);
    expect(t5.bos).toBe(30522);
    expect(t5.additionalSpecialTokensIds[0]).toBe(30524);
    expect(t5.idToToken(30524 + 99)).toBe('<extra_id_99>');
  });
});

describe('tokenizer.json and buildTokenizer', () => {
  it('builds WordPiece and byte-level BPE from tokenizer.json', () => {
    const wp = tokenizerFromJson(JSON.stringify({
      model: { type: 'WordPiece', vocab: { '[PAD]': 0, '[UNK]': 1, '[CLS]': 2, '[SEP]': 3, '[MASK]': 4, hello: 5, '##s': 6 }, unk_token: '[UNK]' },
      normalizer: { type: 'BertNormalizer', lowercase: true },
    }));
    expect(wp.tokenize('Hellos there')).toEqual([5, 6, 1]);
    const bpe = tokenizerFromJson(JSON.stringify({
      model: { type: 'BPE', vocab: { h: 0, i: 1, hi: 2, 'Ġ': 3, 'Ġhi': 4, '<|endoftext|>': 5 }, merges: ['h i', 'Ġ hi'] },
      pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false },
      added_tokens: [{ id: 5, content: '<|endoftext|>', special: true }],
    }));
    expect(bpe.tokenize('hi hi<|endoftext|>')).toEqual([2, 4, 5]);
    expect(bpe.eod).toBe(5);
    expect(() => tokenizerFromJson(JSON.stringify({ model: { type: 'Unigram', vocab: {} } }))).toThrow(/Unigram is not supported/);
  });
  it('names the missing flag', () => {
    expect(() => buildTokenizer({ tokenizerType: 'GPT2BPETokenizer' })).toThrow(/needs --vocab-file/);
    expect(() => buildTokenizer({ tokenizerType: 'SentencePieceTokenizer' })).toThrow(/unsupported --tokenizer-type SentencePieceTokenizer/);
  });
});

const fx = loadGzJson('tokenizer-parity.json.gz');
(fx ? describe : describe.skip)('parity with Hugging Face tokenizers on all of WikiText-2', () => {
  const toks = { gpt2, bert_uncased: uncased, bert_cased: cased } as const;
  for (const name of Object.keys(toks) as (keyof typeof toks)[]) {
    for (const split of ['train', 'valid', 'test'] as const) {
      it(`${name} ${split}`, () => {
        const exp = fx[name][split];
        const lines = readWikiText2(split).split('\n');
        expect(lines.length).toBe(exp.lines);
        const raw = Buffer.from(exp.crc32, 'base64');
        const crcs = new Uint32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.length));
        const stream = createHash('sha256');
        const bad: number[] = [];
        let total = 0;
        lines.forEach((line, i) => {
          const ids = toks[name].tokenize(line);
          total += ids.length;
          const bytes = Buffer.from(Uint32Array.from(ids).buffer);
          stream.update(Buffer.from(Uint32Array.of(ids.length).buffer));
          stream.update(bytes);
          if (crc32(bytes) !== crcs[i]) bad.push(i);
          const full = exp.samples[String(i)];
          if (full) expect(ids, `line ${i}: ${line.slice(0, 80)}`).toEqual(full);
        });
        expect(bad.slice(0, 10), `lines whose ids differ: ${bad.length}`).toEqual([]);
        expect(total).toBe(exp.tokens);
        expect(stream.digest('hex')).toBe(exp.sha256);
      });
    }
  }
  it('spot texts', () => {
    for (const s of fx.spot) {
      expect(gpt2.tokenize(s.text)).toEqual(s.gpt2);
      expect(uncased.tokenize(s.text)).toEqual(s.bert_uncased);
      expect(cased.tokenize(s.text)).toEqual(s.bert_cased);
    }
  });
});
