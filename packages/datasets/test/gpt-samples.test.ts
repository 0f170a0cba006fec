// GPT sample semantics that do not need Megatron to check: masks and position ids with the
// reset/EOD options, the shared boundary token, determinism per seed, .npy caches numpy can read,
// and zero-copy mapping that never writes through to the file.
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { mapFile } from '@tessera/core';
import { describe, expect, it } from 'vitest';
import { decodeNpy, encodeNpy } from '../src/cache/npy.ts';
import { pyFloatRepr } from '../src/cache/pyjson.ts';
import { buildGPTDatasets } from '../src/gpt/builder.ts';
import type { GPTDataset } from '../src/gpt/gpt-dataset.ts';
import { ltorMasks } from '../src/gpt/masks.ts';
import { parseSplit, splitMatrix, splitRanges } from '../src/gpt/split.ts';
import { IndexedDatasetBuilder } from '../src/indexed/builder.ts';
import { tempDir } from './helpers.ts';

const EOD = 9;

describe('ltorMasks', () => {
  const tokens = Int32Array.of(1, 2, EOD, 3, 4, EOD, 5);
  it('is causal with 1 = masked, and resets after each EOD when asked', () => {
    const plain = ltorMasks(tokens, { eod: EOD, resetPositionIds: false, resetAttentionMask: false, eodMaskLoss: false, createAttentionMask: true });
    expect(Array.from(plain.positionIds)).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(Array.from(plain.attentionMask!.subarray(7, 14))).toEqual([0, 0, 1, 1, 1, 1, 1]);
    const reset = ltorMasks(tokens, { eod: EOD, resetPositionIds: true, resetAttentionMask: true, eodMaskLoss: true, createAttentionMask: true });
    expect(Array.from(reset.positionIds)).toEqual([0, 1, 2, 0, 1, 2, 0]);
    expect(Array.from(reset.lossMask)).toEqual([1, 1, 0, 1, 1, 0, 1]);
    expect(Array.from(reset.attentionMask!.subarray(4 * 7, 5 * 7))).toEqual([1, 1, 1, 0, 0, 1, 1]); // row 4 sees 3..4 only
  });
});

describe('splits', () => {
  it('parses, normalizes and rounds like Megatron', () => {
    expect(parseSplit('969, 30, 1')).toEqual([0.969, 0.03, 0.001]);
    expect(splitMatrix(parseSplit('98,2'))[2]).toBeNull();
    expect(splitRanges(splitMatrix(parseSplit('1,1')), 5)).toEqual([[0, 2], [2, 5], null]); // round(2.5) = 2
    expect(() => parseSplit('0,0,0')).toThrow(/every split weight 0/);
  });
  it('formats floats like Python repr', () => {
    expect([1, 0.969, 1e-5, 1.5e-7, 1e16, 0.0001, 123.5, 0.9990000000000001].map(pyFloatRepr)).toEqual(['1.0', '0.969', '1e-05', '1.5e-07', '1e+16', '0.0001', '123.5', '0.9990000000000001']);
  });
});

describe('GPTDataset', () => {
  const dir = tempDir('gptsamples');
  const prefix = join(dir, 'corpus');
  const b = new IndexedDatasetBuilder(`${prefix}.bin`, { dtype: 'uint16' });
  for (let d = 0; d < 50; d++) {
    const n = 3 + ((d * 7) % 23);
    b.addDocument(Array.from({ length: n }, (_, k) => (k === n - 1 ? EOD : 10 + d + k)), [n]);
  }
  b.finalize(`${prefix}.idx`);
  const build = (seed: number, cache: string | null) =>
    buildGPTDatasets({ blend: { prefixes: [prefix] }, split: '90,10,0', sizes: [100, 10, 0], config: { randomSeed: seed, sequenceLength: 16, eod: EOD, pathToCache: cache } })[0] as GPTDataset;

  it('shares one token between consecutive samples and is deterministic per seed', () => {
    const a = build(1234, null);
    const texts = Array.from({ length: a.length }, (_, j) => j);
    // Unshuffled order: sample j's last token is sample j+1's first.
    const inv = new Map<number, number>();
    a.shuffleIndex.forEach((s, i) => {
      inv.set(s, i);
    });
    for (const j of texts.slice(0, -1)) expect(a.getText(inv.get(j)!).text[16]).toBe(a.getText(inv.get(j + 1)!).text[0]);
    expect(Array.from(build(1234, null).shuffleIndex)).toEqual(Array.from(a.shuffleIndex));
    expect(Array.from(build(1235, null).shuffleIndex)).not.toEqual(Array.from(a.shuffleIndex));
    const s = a.get(3);
    expect(Array.from(s.labels.subarray(0, 15))).toEqual(Array.from(s.tokens.subarray(1)));
  });

  it('caches its indices as .npy files under Megatron names and reloads them', () => {
    const cache = join(dir, 'cache');
    const first = build(7, cache);
    const files = readdirSync(cache).sort();
    expect(files.some((f) => /^[0-9a-f]{32}-GPTDataset-train-shuffle_index\.npy$/.test(f))).toBe(true);
    expect(files.some((f) => /^[0-9a-f]{32}-GPTDataset-train-description\.txt$/.test(f))).toBe(true);
    const again = build(7, cache);
    expect(Array.from(again.sampleIndex)).toEqual(Array.from(first.sampleIndex));
    const npy = decodeNpy(readFileSync(join(cache, files.find((f) => f.endsWith('train-sample_index.npy'))!)), 'x');
    expect(npy.shape).toEqual([first.length + 1, 2]);
  });

  it('rejects an empty split instead of looping forever', () => {
    expect(() => buildGPTDatasets({ blend: { prefixes: [prefix] }, split: '100,0,1', sizes: [10, 0, 5], config: { randomSeed: 1, sequenceLength: 8, eod: EOD, pathToCache: null } })).toThrow(/split has no tokens/);
  });
});

describe('npy and mapped files', () => {
  it('writes numpy headers padded to 64 bytes', () => {
    const bytes = encodeNpy(Int32Array.of(1, 2, 3, 4), [2, 2]);
    expect(bytes.length % 64).toBe(16);
    expect(Buffer.from(bytes.subarray(10, 70)).toString('latin1')).toMatch(/^\{'descr': '<i4', 'fortran_order': False, 'shape': \(2, 2\), \} +/);
  });
  it('maps files copy-on-write', () => {
    const dir = tempDir('map');
    const p = join(dir, 'f.bin');
    writeFileSync(p, Buffer.from([1, 2, 3]));
    const m = mapFile(p);
    expect(Array.from(m)).toEqual([1, 2, 3]);
    m[0] = 9;
    expect(readFileSync(p)[0]).toBe(1);
    expect(() => mapFile(join(dir, 'missing'))).toThrow(/cannot open .*missing.*No such file/);
  });
});
