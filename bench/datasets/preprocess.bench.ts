// Preprocessing throughput: `tessera preprocess` (worker threads) against Megatron's
// preprocess_data.py path with Hugging Face tokenizers (preprocess_bench.py), same input, same
// worker count. Run: node --conditions=@tessera/source bench/datasets/preprocess.bench.ts [--workers N] [--copies K]
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { preprocess } from '../../packages/datasets/src/preprocess/preprocess.ts';
import { bundledDataPath } from '../../packages/datasets/src/tokenizers/files.ts';
import { report, runPython, writeCorpus } from './common.ts';

const arg = (name: string, dflt: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const workers = arg('workers', availableParallelism());
const copies = arg('copies', 4);
const dir = mkdtempSync(join(tmpdir(), 'tessera-bench-pre-'));
try {
  const input = join(dir, 'wiki.jsonl');
  const { bytes, lines } = writeCorpus(input, copies);
  const vocab = bundledDataPath('gpt2/vocab.json.gz');
  const merges = bundledDataPath('gpt2/merges.txt.gz');
  const ours = await preprocess({ input, outputPrefix: join(dir, 'ts'), workers, appendEod: true, progress: false, tokenizer: { tokenizerType: 'GPT2BPETokenizer', vocabFile: vocab, mergeFile: merges } });
  const tsRate = ours.tokens / ours.seconds;
  const py = runPython('preprocess_bench.py', ['--input', input, '--output-prefix', join(dir, 'py'), '--workers', String(workers)]);
  const pyRate = 'tokens_per_s' in py ? py.tokens_per_s : NaN;
  const rows = [
    { impl: 'tessera preprocess', workers, documents: ours.documents, tokens: ours.tokens, seconds: ours.seconds.toFixed(2), 'tokens/s': tsRate.toFixed(0) },
    { impl: 'megatron+HF tokenizers', workers, documents: 'documents' in py ? py.documents : '', tokens: 'tokens' in py ? py.tokens : '', seconds: 'seconds' in py ? py.seconds.toFixed(2) : '', 'tokens/s': Number.isNaN(pyRate) ? `n/a (${'error' in py ? py.error : ''})` : pyRate.toFixed(0) },
  ];
  report('preprocess', rows, { inputBytes: bytes, inputLines: lines, ratio: tsRate / pyRate, sameTokens: 'tokens' in py ? py.tokens === ours.tokens : null });
  if (!Number.isNaN(pyRate)) console.log(`ratio tessera / megatron: ${(tsRate / pyRate).toFixed(2)}x`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
