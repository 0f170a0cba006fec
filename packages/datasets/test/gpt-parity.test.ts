// GPTDataset and BlendedDataset parity with Megatron-Core on files and indices its own code
// produced (tools/fixtures/make_datasets_fixtures.py).
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { BlendedDataset } from '../src/blend/blended-dataset.ts';
import { describe as describeCache } from '../src/cache/index-cache.ts';
import { buildGPTDatasets } from '../src/gpt/builder.ts';
import type { GPTDataset, GPTSample } from '../src/gpt/gpt-dataset.ts';
import { IndexedDatasetBuilder } from '../src/indexed/builder.ts';
import { IndexedDataset } from '../src/indexed/indexed-dataset.ts';
import { tempDir } from './helpers.ts';
import { fixturePath, loadGzJson } from './megatron-fixtures.ts';

const fx = loadGzJson('megatron-datasets.json.gz');
const suite = fx ? describe : describe.skip;
const TOKENIZER = { class: 'GPT2BPETokenizer', tokenizer_path: ['gpt2/vocab.json', 'gpt2/merges.txt'] };

suite('Megatron-Core parity: indexed dataset files', () => {
  it('reads the .bin/.idx files Megatron wrote and writes byte-identical ones', () => {
    const dir = tempDir('mgfiles');
    for (const name of ['gpt_corpus', 'gpt_corpus_b', 'bert_corpus']) {
      const ds = new IndexedDataset(fixturePath(name));
      expect(ds.dtype).toBe('uint16');
      const out = join(dir, name);
      const b = new IndexedDatasetBuilder(`${out}.bin`, { dtype: 'uint16' });
      const docs = ds.documentIndices;
      for (let d = 0; d + 1 < docs.length; d++) {
        const seqs = ds.slice(docs[d]!, docs[d + 1]!);
        const flat = new Uint16Array(seqs.reduce((a, s) => a + s.length, 0));
        let at = 0;
        for (const s of seqs) {
          flat.set(s as Uint16Array, at);
          at += s.length;
        }
        b.addDocument(flat, seqs.map((s) => s.length));
      }
      b.finalize(`${out}.idx`);
      for (const ext of ['.idx', '.bin']) expect(readFileSync(out + ext).equals(readFileSync(fixturePath(name) + ext))).toBe(true);
    }
  });
});

function checkGPT(ds: GPTDataset, rec: any): void {
  expect(ds.uniqueIdentifiers.num_samples).toBe(rec.num_samples);
  expect(ds.length).toBe(rec.length);
  expect(Array.from(ds.documentIndex)).toEqual(rec.document_index);
  expect(Array.from(ds.sampleIndex)).toEqual(rec.sample_index.flat());
  expect(Array.from(ds.shuffleIndex)).toEqual(rec.shuffle_index);
  for (const s of rec.samples) {
    const { text, documentIds } = ds.getText(s.idx);
    expect(Array.from(text)).toEqual(s.text);
    expect(documentIds).toEqual(s.document_ids);
    if (s.tokens) {
      const g: GPTSample = ds.get(s.idx);
      expect(Array.from(g.tokens)).toEqual(s.tokens);
      expect(Array.from(g.labels)).toEqual(s.labels);
      expect(Array.from(g.lossMask)).toEqual(s.loss_mask);
      expect(Array.from(g.positionIds)).toEqual(s.position_ids);
      if (s.attention_mask) expect(Array.from(g.attentionMask!).join('')).toBe(s.attention_mask);
    }
  }
}

suite('Megatron-Core parity: GPTDataset', () => {
  for (const [n, c] of (fx?.gpt ?? []).entries()) {
    it(`case ${n}: seed ${c.case.seed}, split "${c.case.split}", seq ${c.case.seq}, sizes ${JSON.stringify(c.case.sizes)}`, () => {
      const dir = tempDir(`gpt${n}`);
      const prefix = fixturePath('gpt_corpus');
      const built = buildGPTDatasets({
        blend: { prefixes: [prefix] },
        split: c.case.split,
        sizes: c.case.sizes,
        config: {
          randomSeed: c.case.seed,
          sequenceLength: c.case.seq,
          eod: 50256,
          pathToCache: dir,
          tokenizerIdentifiers: TOKENIZER,
          resetPositionIds: c.case.reset_position_ids ?? false,
          resetAttentionMask: c.case.reset_attention_mask ?? false,
          eodMaskLoss: c.case.eod_mask_loss ?? false,
          addExtraTokenToSequence: c.case.add_extra_token ?? true,
          dropLastPartialValidationSequence: c.case.drop_last_valid ?? true,
        },
      });
      c.splits.forEach((rec: any, i: number) => {
        if (rec === null) {
          expect(built[i]).toBeNull();
          return;
        }
        const ds = built[i] as GPTDataset;
        // Megatron recorded its own absolute corpus path; the rest of the description must match.
        const megatronPath = JSON.parse(rec.description).dataset_path;
        const ours = ds.cache!.description.text.replace(JSON.stringify(prefix), JSON.stringify(megatronPath));
        expect(ours).toBe(rec.description);
        checkGPT(ds, rec);
      });
      // Built again from the cache: identical.
      const again = buildGPTDatasets({ blend: { prefixes: [prefix] }, split: c.case.split, sizes: c.case.sizes, config: { randomSeed: c.case.seed, sequenceLength: c.case.seq, eod: 50256, pathToCache: dir, tokenizerIdentifiers: TOKENIZER, addExtraTokenToSequence: c.case.add_extra_token ?? true, dropLastPartialValidationSequence: c.case.drop_last_valid ?? true } });
      c.splits.forEach((rec: any, i: number) => {
        if (rec) checkGPT(again[i] as GPTDataset, { ...rec, samples: rec.samples.map((s: any) => ({ idx: s.idx, text: s.text, document_ids: s.document_ids })) });
      });
    });
  }

  it('names cache files with the md5 of the description, as Megatron does', () => {
    const c = fx.gpt[0];
    const rec = c.splits[0];
    const description = rec.description as string;
    expect(createHash('md5').update(description).digest('hex')).toBe(rec.md5);
  });
});

suite('Megatron-Core parity: BlendedDataset', () => {
  for (const [n, c] of (fx?.blend ?? []).entries()) {
    it(`blend case ${n}: weights ${JSON.stringify(c.case.weights)}, sizes ${JSON.stringify(c.case.sizes)}`, () => {
      const dir = tempDir(`blend${n}`);
      const a = fixturePath('gpt_corpus');
      const b = fixturePath('gpt_corpus_b');
      const built = buildGPTDatasets({
        blend: { prefixes: [a, b], weights: c.case.weights ?? undefined },
        split: c.case.split,
        sizes: c.case.sizes,
        config: { randomSeed: c.case.seed, sequenceLength: c.case.seq, eod: 50256, pathToCache: dir, tokenizerIdentifiers: TOKENIZER },
      });
      c.splits.forEach((rec: any, i: number) => {
        if (rec === null) {
          expect(built[i]).toBeNull();
          return;
        }
        const ds = built[i] as BlendedDataset<GPTSample>;
        expect(ds.size).toBe(rec.size);
        expect(ds.weights).toEqual(rec.weights);
        expect(Array.from(ds.datasetIndex)).toEqual(rec.dataset_index);
        expect(Array.from(ds.datasetSampleIndex)).toEqual(rec.dataset_sample_index);
        ds.datasets.forEach((m, k) => {
          checkGPT(m as GPTDataset, rec.members[k]);
        });
        for (const s of rec.samples) {
          const d = ds.datasetIndex[s.idx]!;
          expect(d).toBe(s.dataset_id);
          expect(Array.from((ds.datasets[d] as GPTDataset).getText(ds.datasetSampleIndex[s.idx]!).text)).toEqual(s.text);
        }
        const megatronPaths = JSON.parse(rec.description).datasets.map((x: any) => x.dataset_path);
        const ours = describeCache(ds.uniqueIdentifiers).text.replaceAll(JSON.stringify(a), JSON.stringify(megatronPaths[0])).replaceAll(JSON.stringify(b), JSON.stringify(megatronPaths[1]));
        expect(ours).toBe(rec.description);
      });
    });
  }
});
