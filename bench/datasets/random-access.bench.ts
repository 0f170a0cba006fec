// Random-access GPT samples/s: Tessera's GPTDataset (mmap reader) against Megatron-Core's
// GPTDataset over the same files (random_access_bench.py), shuffled sample order.
// Run: node --conditions=@tessera/source bench/datasets/random-access.bench.ts [--seq 1024] [--samples 20000]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildGPTDatasets } from '../../packages/datasets/src/gpt/builder.ts';
import type { GPTDataset } from '../../packages/datasets/src/gpt/gpt-dataset.ts';
import { preprocess } from '../../packages/datasets/src/preprocess/preprocess.ts';
import { bundledDataPath } from '../../packages/datasets/src/tokenizers/files.ts';
import { report, runPython, writeCorpus } from './common.ts';

const arg = (name: string, dflt: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const seq = arg('seq', 1024);
const samples = arg('samples', 20000);
const reads = arg('reads', 20000);
const dir = mkdtempSync(join(tmpdir(), 'tessera-bench-ra-'));
try {
  const input = join(dir, 'wiki.jsonl');
  writeCorpus(input, 2);
  const prefix = join(dir, 'wiki');
  await preprocess({ input, outputPrefix: prefix, workers: 4, appendEod: true, progress: false, tokenizer: { tokenizerType: 'GPT2BPETokenizer', vocabFile: bundledDataPath('gpt2/vocab.json.gz'), mergeFile: bundledDataPath('gpt2/merges.txt.gz') } });
  const data = `${prefix}_text_document`;
  const t0 = performance.now();
  const [train] = buildGPTDatasets({ blend: { prefixes: [data] }, split: '100,0,0', sizes: [samples, null, null], config: { randomSeed: 1234, sequenceLength: seq, eod: 50256, pathToCache: null, createAttentionMask: false } });
  const buildSecs = (performance.now() - t0) / 1000;
  const ds = train as GPTDataset;
  const order = Array.from({ length: reads }, (_, k) => (k * 7919) % ds.length);
  const t1 = performance.now();
  let check = 0;
  for (const i of order) check += ds.get(i).tokens[0]!;
  const secs = (performance.now() - t1) / 1000;
  const tsRate = reads / secs;
  const py = runPython('random_access_bench.py', ['--data', data, '--seq', String(seq), '--samples', String(samples), '--reads', String(reads)]);
  const pyRate = 'samples_per_s' in py ? py.samples_per_s : NaN;
  report('random-access', [
    { impl: 'tessera GPTDataset', seq, 'index build s': buildSecs.toFixed(2), reads, 'samples/s': tsRate.toFixed(0) },
    { impl: 'megatron GPTDataset', seq, 'index build s': 'build_seconds' in py ? py.build_seconds.toFixed(2) : '', reads, 'samples/s': Number.isNaN(pyRate) ? `n/a (${'error' in py ? py.error : ''})` : pyRate.toFixed(0) },
  ], { ratio: tsRate / pyRate, checksum: check, sameChecksum: 'checksum' in py ? py.checksum === check : null });
  if (!Number.isNaN(pyRate)) console.log(`ratio tessera / megatron: ${(tsRate / pyRate).toFixed(2)}x`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
