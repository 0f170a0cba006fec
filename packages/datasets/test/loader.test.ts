// The data-parallel micro-batch loader (MegatronPretrainingSampler semantics), resume from a
// consumed-sample count, and the in-memory text dataset.
import { describe, expect, it } from 'vitest';
import { collate } from '../src/loader/collate.ts';
import { MicroBatchLoader } from '../src/loader/loader.ts';
import { pretrainingSampler } from '../src/loader/sampler.ts';
import { TextDataset } from '../src/text/text-dataset.ts';
import { gpt2Tokenizer } from '../src/tokenizers/build.ts';
import { readWikiText2 } from '../src/wikitext.ts';

describe('pretrainingSampler', () => {
  it('gives each rank its slice of every global batch, like Megatron', () => {
    const r0 = [...pretrainingSampler({ totalSamples: 10, consumedSamples: 0, microBatchSize: 2, dataParallelRank: 0, dataParallelSize: 2 })];
    const r1 = [...pretrainingSampler({ totalSamples: 10, consumedSamples: 0, microBatchSize: 2, dataParallelRank: 1, dataParallelSize: 2 })];
    expect(r0).toEqual([[0, 1], [4, 5]]);
    expect(r1).toEqual([[2, 3], [6, 7]]);
    expect([...pretrainingSampler({ totalSamples: 10, consumedSamples: 4, microBatchSize: 2, dataParallelRank: 1, dataParallelSize: 2, dropLast: false })]).toEqual([[6, 7], [], ]);
    expect(() => [...pretrainingSampler({ totalSamples: 10, consumedSamples: 10, microBatchSize: 2, dataParallelRank: 0, dataParallelSize: 1 })]).toThrow(/no samples left/);
    expect(() => [...pretrainingSampler({ totalSamples: 10, consumedSamples: 0, microBatchSize: 2, dataParallelRank: 2, dataParallelSize: 2 })]).toThrow(/dataParallelRank must be in \[0, 2\)/);
  });
});

describe('MicroBatchLoader', () => {
  const source = { length: 40, get: (i: number) => ({ tokens: Int32Array.of(i, i + 1, i + 2), w: i / 2 }) };
  it('stacks samples and resumes exactly from consumedSamples', async () => {
    const all: number[][] = [];
    const loader = new MicroBatchLoader(source, { consumedSamples: 0, microBatchSize: 3, dataParallelRank: 1, dataParallelSize: 2, prefetch: 2 });
    for await (const b of loader) {
      expect(b.tokens!.shape).toEqual([3, 3]);
      all.push(Array.from(b.tokens!.data as Int32Array).filter((_, k) => k % 3 === 0));
      if (all.length === 2) break;
    }
    expect(all).toEqual([[3, 4, 5], [9, 10, 11]]);
    expect(loader.consumedSamples).toBe(12);
    const resumed = new MicroBatchLoader(source, { consumedSamples: loader.consumedSamples, microBatchSize: 3, dataParallelRank: 1, dataParallelSize: 2 });
    const next = await resumed[Symbol.asyncIterator]().next();
    expect(Array.from((next.value as any).tokens.data).filter((_: unknown, k: number) => k % 3 === 0)).toEqual([15, 16, 17]);
    expect((next.value as any).w.data).toBeInstanceOf(Float32Array);
  });
  it('collates 2-D fields with the shape they are given', () => {
    const b = collate([{ m: new Uint8Array(4) }, { m: new Uint8Array(4) }], { m: [2, 2] });
    expect(b.m!.shape).toEqual([2, 2, 2]);
  });
});

describe('TextDataset', () => {
  it('tokenizes text into blocks sharing their boundary token, shuffled by seed', () => {
    const tok = gpt2Tokenizer();
    const text = readWikiText2('test').split('\n').slice(0, 200).join('\n');
    const ds = TextDataset.fromText(text, tok, { blockSize: 32 });
    expect(ds.length).toBe(Math.floor((ds.tokens.length - 1) / 32));
    const a = ds.get(0);
    const b = ds.get(1);
    expect(a.labels[31]).toBe(b.tokens[0]);
    expect(Array.from(a.labels.subarray(0, 31))).toEqual(Array.from(a.tokens.subarray(1)));
    const s1 = TextDataset.fromText(text, tok, { blockSize: 32, seed: 1234 });
    const s2 = TextDataset.fromText(text, tok, { blockSize: 32, seed: 1234 });
    expect(Array.from(s1.order)).toEqual(Array.from(s2.order));
    expect(Array.from(s1.order)).not.toEqual(Array.from(ds.order));
    expect(() => TextDataset.fromText('hi', tok, { blockSize: 32 })).toThrow(/too few for one block/);
  });
});
