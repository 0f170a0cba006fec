// BERT and T5 parity with Megatron-Core's BERTMaskedWordPieceDataset / T5MaskedWordPieceDataset
// (mappings, masking, segments, sentinels), on samples its own code produced.
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { describe as describeCache } from '../src/cache/index-cache.ts';
import type { BERTDataset } from '../src/masked/bert-dataset.ts';
import { buildBERTDatasets, buildT5Datasets } from '../src/masked/builder.ts';
import type { T5Dataset } from '../src/masked/t5-dataset.ts';
import { tempDir } from './helpers.ts';
import { fixturePath, loadGzJson } from './megatron-fixtures.ts';

const fx = loadGzJson('megatron-datasets.json.gz');
const suite = fx ? describe : describe.skip;
const vocab = gunzipSync(readFileSync(new URL('../data/bert-base-uncased/vocab.txt.gz', import.meta.url))).toString('utf8').split('\n').slice(0, 30522);

function tokenizer(extraIds: number) {
  const inv = vocab.slice();
  if (extraIds) inv.push('[BOS]', '[EOS]', ...Array.from({ length: extraIds }, (_, k) => `<extra_id_${k}>`));
  const n = vocab.length;
  return {
    cls: 101, sep: 102, mask: 103, pad: 0, bos: n, eos: n + 1,
    sentinels: Array.from({ length: extraIds }, (_, k) => n + 2 + k),
    invVocab: inv,
    uniqueIdentifiers: { class: 'BertWordPieceLowerCase', extra_ids: String(extraIds) },
  };
}

const common = { maskingProbability: 0.15, shortSequenceProbability: 0.1, maskingDoFullWord: true, maskingUseLongerNgrams: false };

function sameDescription(ours: string, megatron: string, prefix: string): void {
  const path = JSON.parse(megatron).dataset_path;
  expect(ours.replace(JSON.stringify(prefix), JSON.stringify(path))).toBe(megatron);
}

suite('Megatron-Core parity: BERT', () => {
  for (const [n, c] of (fx?.bert ?? []).entries()) {
    it(`case ${n}: seed ${c.case.seed}, seq ${c.case.seq}, binary head ${c.case.head}`, () => {
      const prefix = fixturePath('bert_corpus');
      const built = buildBERTDatasets({
        blend: { prefixes: [prefix] },
        split: c.case.split,
        sizes: c.case.sizes,
        config: { ...common, randomSeed: c.case.seed, sequenceLength: c.case.seq, maskingMaxNgram: 3, maskingUseGeometricDistribution: false, classificationHead: c.case.head, tokenizer: tokenizer(0), pathToCache: tempDir(`bert${n}`) },
      });
      c.splits.forEach((rec: any, i: number) => {
        if (rec === null) {
          expect(built[i]).toBeNull();
          return;
        }
        const ds = built[i] as BERTDataset;
        sameDescription(describeText(ds), rec.description, prefix);
        expect(Array.from(ds.sampleIndex)).toEqual(rec.sample_index.flat());
        for (const s of rec.samples) {
          const g = ds.get(s.idx);
          expect({ text: Array.from(g.text), types: Array.from(g.types), labels: Array.from(g.labels), is_random: g.isRandom, padding_mask: Array.from(g.paddingMask), loss_mask: Array.from(g.lossMask), truncated: g.truncated })
            .toEqual({ text: s.text, types: s.types, labels: s.labels, is_random: s.is_random, padding_mask: s.padding_mask, loss_mask: s.loss_mask, truncated: s.truncated });
        }
      });
    });
  }
});

suite('Megatron-Core parity: T5', () => {
  for (const [n, c] of (fx?.t5 ?? []).entries()) {
    it(`case ${n}: seed ${c.case.seed}, encoder ${c.case.seq}, decoder ${c.case.dec}`, () => {
      const prefix = fixturePath('bert_corpus');
      const built = buildT5Datasets({
        blend: { prefixes: [prefix] },
        split: c.case.split,
        sizes: c.case.sizes,
        config: { ...common, randomSeed: c.case.seed, sequenceLength: c.case.seq, sequenceLengthDecoder: c.case.dec, maskingMaxNgram: 10, maskingUseGeometricDistribution: true, tokenizer: tokenizer(100), pathToCache: tempDir(`t5${n}`) },
      });
      c.splits.forEach((rec: any, i: number) => {
        if (rec === null) {
          expect(built[i]).toBeNull();
          return;
        }
        const ds = built[i] as T5Dataset;
        sameDescription(describeText(ds), rec.description, prefix);
        expect(Array.from(ds.sampleIndex)).toEqual(rec.sample_index.flat());
        for (const s of rec.samples) {
          const g = ds.get(s.idx);
          expect({ text_enc: Array.from(g.textEnc), text_dec: Array.from(g.textDec), labels: Array.from(g.labels), loss_mask: Array.from(g.lossMask), truncated: g.truncated, enc_mask: Array.from(g.encMask), dec_mask: Array.from(g.decMask) })
            .toEqual({ text_enc: s.text_enc, text_dec: s.text_dec, labels: s.labels, loss_mask: s.loss_mask, truncated: s.truncated, enc_mask: s.enc_mask, dec_mask: s.dec_mask });
        }
      });
    });
  }
});

function describeText(ds: { uniqueIdentifiers: Parameters<typeof describeCache>[0] }): string {
  return describeCache(ds.uniqueIdentifiers).text;
}
