// `tessera preprocess`: Megatron's flags and output names, worker threads giving the same files
// as one thread, plain text input, and errors that name the line.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { preprocessMain } from '../src/cli/preprocess.ts';
import { IndexedDataset } from '../src/indexed/indexed-dataset.ts';
import { bundledDataPath } from '../src/tokenizers/files.ts';
import { gpt2Tokenizer } from '../src/tokenizers/build.ts';
import { readWikiText2 } from '../src/wikitext.ts';
import { tempDir } from './helpers.ts';

const dir = tempDir('preprocess');
const lines = readWikiText2('valid').split('\n').slice(0, 1500);
const jsonl = join(dir, 'corpus.jsonl');
writeFileSync(jsonl, `${lines.map((t, i) => JSON.stringify({ text: t, title: `doc ${i}` })).join('\n')}\n`);
const gpt2Flags = ['--tokenizer-type', 'GPT2BPETokenizer', '--vocab-file', bundledDataPath('gpt2/vocab.json.gz'), '--merge-file', bundledDataPath('gpt2/merges.txt.gz'), '--no-progress'];

describe('tessera preprocess', () => {
  it('writes PREFIX_{key}_document.bin/.idx with Megatron semantics, identically with 1 or 3 workers', async () => {
    for (const workers of [1, 3]) {
      const prefix = join(dir, `w${workers}`);
      const code = await preprocessMain(['--input', jsonl, '--json-keys', 'text', 'title', '--append-eod', '--workers', String(workers), '--output-prefix', prefix, ...gpt2Flags]);
      expect(code).toBe(0);
    }
    for (const key of ['text', 'title']) {
      for (const ext of ['.bin', '.idx']) expect(readFileSync(join(dir, `w3_${key}_document${ext}`)).equals(readFileSync(join(dir, `w1_${key}_document${ext}`)))).toBe(true);
    }
    const ds = new IndexedDataset(join(dir, 'w1_text_document'));
    expect(ds.dtype).toBe('uint16'); // optimal dtype for a 50257-id vocabulary
    expect(ds.documentCount).toBe(lines.length);
    const tok = gpt2Tokenizer();
    for (const i of [0, 1, 3, 100, 1499]) {
      const want = tok.tokenize(lines[i]!);
      if (want.length) want.push(50256);
      expect(Array.from(ds.get(i) as Uint16Array)).toEqual(want);
    }
  });

  it('reads plain text, one document per line, skipping blank lines', async () => {
    const txt = join(dir, 'plain.txt');
    writeFileSync(txt, 'Hello world\n\n  \nsecond line\n');
    expect(await preprocessMain(['--input', txt, '--workers', '2', '--output-prefix', join(dir, 'plain'), ...gpt2Flags])).toBe(0);
    const ds = new IndexedDataset(join(dir, 'plain_text_document'));
    expect(ds.length).toBe(2);
    expect(Array.from(ds.get(0) as Uint16Array)).toEqual([15496, 995]);
  });

  it('names the line of malformed JSON, and bad flags', async () => {
    const bad = join(dir, 'bad.jsonl');
    writeFileSync(bad, '{"text": "ok"}\n{"text": "ok"}\n{"text": oops}\n');
    const errors: string[] = [];
    const write = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((s: string) => errors.push(String(s)) > 0) as typeof process.stderr.write;
    try {
      for (const workers of ['1', '2']) {
        expect(await preprocessMain(['--input', bad, '--workers', workers, '--output-prefix', join(dir, 'bad'), ...gpt2Flags])).toBe(1);
      }
      expect(await preprocessMain(['--input', bad, '--output-prefix', join(dir, 'bad'), ...gpt2Flags])).toBe(2);
      expect(await preprocessMain(['--input', jsonl, '--workers', '1', '--output-prefix', join(dir, 'x'), '--tokenizer-type', 'GPT2BPETokenizer'])).toBe(1);
    } finally {
      process.stderr.write = write;
    }
    const text = errors.join('');
    expect(text).toMatch(/bad\.jsonl:3: malformed JSON/);
    expect(text).toMatch(/the flag --workers is required/);
    expect(text).toMatch(/needs --vocab-file/);
  });
});
