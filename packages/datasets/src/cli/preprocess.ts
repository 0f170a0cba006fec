// `tessera preprocess` (bin: tessera-preprocess): Megatron's tools/preprocess_data.py flags.
//   tessera preprocess --input corpus.jsonl --json-keys text --tokenizer-type GPT2BPETokenizer \
//     --vocab-file gpt2-vocab.json --merge-file gpt2-merges.txt --append-eod --workers 16 \
//     --output-prefix out/corpus      -> out/corpus_text_document.{bin,idx}
import type { InputFormat } from '../preprocess/encode.ts';
import { defaultFormat, preprocess } from '../preprocess/preprocess.ts';
import { TOKENIZER_TYPES } from '../tokenizers/build.ts';
import { type FlagSpec, parseFlags, UsageError, usage } from './args.ts';

const FLAGS: Record<string, FlagSpec> = {
  input: { type: 'string', required: true, help: 'JSON-lines file (one {"text": ...} object per line), or plain text with --input-format text' },
  'json-keys': { type: 'list', help: 'keys to extract from each JSON object, one dataset per key (default: text)' },
  'input-format': { type: 'string', help: 'json or text (one document per line; blank lines skipped); default from the file extension' },
  'split-sentences': { type: 'boolean', help: 'not supported: give each document as a JSON list of sentences instead' },
  'keep-newlines': { type: 'boolean', help: 'accepted for compatibility (only meaningful with --split-sentences)' },
  'tokenizer-type': { type: 'string', required: true, help: `one of ${TOKENIZER_TYPES.join(', ')}` },
  'vocab-file': { type: 'string', help: 'vocab.json (GPT-2) or vocab.txt (BERT); .gz accepted' },
  'merge-file': { type: 'string', help: 'merges.txt (GPT-2)' },
  'tokenizer-model': { type: 'string', help: 'tokenizer.json for HuggingFaceTokenizer' },
  'vocab-extra-ids': { type: 'number', help: 'number of T5 <extra_id_N> sentinels to add (BERT tokenizers)' },
  'append-eod': { type: 'boolean', help: 'append the end-of-document token to every non-empty document' },
  lang: { type: 'string', help: 'accepted for compatibility (sentence splitting language)' },
  'output-prefix': { type: 'string', required: true, help: 'writes PREFIX_{key}_document.bin/.idx' },
  workers: { type: 'number', required: true, help: 'worker threads for tokenization' },
  partitions: { type: 'number', help: 'accepted for compatibility; output keeps input order (as --keep-sequential-samples)' },
  'keep-sequential-samples': { type: 'boolean', help: 'accepted; output always keeps input order' },
  'log-interval': { type: 'number', help: 'documents between progress lines when stderr is not a terminal (default 1000)' },
  'no-progress': { type: 'boolean', help: 'print nothing but errors' },
  help: { type: 'boolean', help: 'show this help' },
};

/** Runs the command; returns the process exit code (0 on success, 1 on errors, 2 on usage errors). */
export async function preprocessMain(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(`${usage('tessera preprocess', FLAGS)}\n`);
    return 0;
  }
  let flags: ReturnType<typeof parseFlags>;
  try {
    flags = parseFlags(argv, FLAGS);
    if (flags['split-sentences']) throw new UsageError('--split-sentences is not supported: split documents into sentences beforehand and give each as a JSON list of strings');
    const format = flags['input-format'] as string | undefined;
    if (format !== undefined && format !== 'json' && format !== 'text') throw new UsageError(`--input-format must be json or text, got "${format}"`);
    const workers = flags.workers as number;
    if (!Number.isInteger(workers) || workers < 1) throw new UsageError(`--workers must be a positive integer, got ${workers}`);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`tessera preprocess: ${err.message}\n${usage('tessera preprocess', FLAGS)}\n`);
      return 2;
    }
    throw err;
  }
  try {
    const input = flags.input as string;
    const result = await preprocess({
      input,
      outputPrefix: flags['output-prefix'] as string,
      jsonKeys: flags['json-keys'] as string[] | undefined,
      format: (flags['input-format'] as InputFormat | undefined) ?? defaultFormat(input),
      appendEod: Boolean(flags['append-eod']),
      workers: flags.workers as number,
      logInterval: flags['log-interval'] as number | undefined,
      progress: !flags['no-progress'],
      tokenizer: {
        tokenizerType: flags['tokenizer-type'] as string,
        vocabFile: flags['vocab-file'] as string | undefined,
        mergeFile: flags['merge-file'] as string | undefined,
        tokenizerModel: flags['tokenizer-model'] as string | undefined,
        vocabExtraIds: flags['vocab-extra-ids'] as number | undefined,
      },
    });
    if (!flags['no-progress']) for (const o of result.outputs) process.stderr.write(`wrote ${o.prefix}.bin and ${o.prefix}.idx\n`);
    return 0;
  } catch (err) {
    process.stderr.write(`tessera preprocess: ${(err as Error).message}\n`);
    return 1;
  }
}

if (import.meta.main) process.exitCode = await preprocessMain(process.argv.slice(2));
