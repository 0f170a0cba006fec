// Megatron's tools/preprocess_data.py: tokenize a JSON-lines (or plain text) file in worker
// threads and write one indexed dataset per JSON key, `{prefix}_{key}_document.{bin,idx}`.
import { existsSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { optimalDtype } from '../indexed/dtype.ts';
import { IndexedDatasetBuilder } from '../indexed/builder.ts';
import { buildTokenizer, type TokenizerSpec } from '../tokenizers/build.ts';
import { encodeBatch } from './batch.ts';
import type { InputFormat } from './encode.ts';
import { fileSize, readLineBatches } from './lines.ts';
import { Progress } from './progress.ts';
import type { BatchResult, WorkerConfig } from './protocol.ts';

export interface PreprocessOptions {
  input: string;
  outputPrefix: string;
  tokenizer: TokenizerSpec;
  jsonKeys?: string[];
  appendEod?: boolean;
  workers?: number;
  /** 'json' (JSON lines, the default for .json/.jsonl) or 'text' (one document per line). */
  format?: InputFormat;
  logInterval?: number;
  progress?: boolean;
  batchLines?: number;
}

export interface PreprocessResult {
  documents: number;
  tokens: number;
  seconds: number;
  outputs: { key: string; prefix: string }[];
}

function workerUrl(): URL {
  for (const rel of ['./worker.ts', './worker.js', './preprocess/worker.js', '../preprocess/worker.js']) {
    const u = new URL(rel, import.meta.url);
    if (existsSync(u)) return u;
  }
  throw new Error('preprocess: the worker script (preprocess/worker.js) is missing from this installation');
}

export function defaultFormat(input: string): InputFormat {
  return /\.(jsonl?|json\.gz)$/i.test(input) ? 'json' : 'text';
}

export async function preprocess(o: PreprocessOptions): Promise<PreprocessResult> {
  if (!existsSync(o.input)) throw new Error(`--input ${o.input}: no such file`);
  const keys = o.jsonKeys?.length ? o.jsonKeys : ['text'];
  const format = o.format ?? defaultFormat(o.input);
  const config: WorkerConfig = { tokenizer: o.tokenizer, keys: format === 'text' ? ['text'] : keys, appendEod: o.appendEod ?? false, format, file: o.input };
  const tokenizer = buildTokenizer(o.tokenizer); // fails fast on bad tokenizer flags, before any thread starts
  const dtype = optimalDtype(tokenizer.vocabSize);
  const outputs = config.keys.map((key) => ({ key, prefix: `${o.outputPrefix}_${key}_document` }));
  const builders = outputs.map((out) => new IndexedDatasetBuilder(`${out.prefix}.bin`, { dtype }));
  const progress = new Progress(fileSize(o.input), { logInterval: o.logInterval, enabled: o.progress ?? true });
  const start = performance.now();
  let documents = 0;
  let tokens = 0;
  let bytes = 0;

  const write = (res: BatchResult) => {
    if (res.error) throw new Error(res.error);
    res.keys.forEach((k, i) => {
      const b = builders[i]!;
      let idAt = 0;
      let lenAt = 0;
      for (const nSent of k.sentencesPerDoc) {
        let n = 0;
        for (let s = 0; s < nSent; s++) n += k.lengths[lenAt + s]!;
        b.addDocument(k.ids.subarray(idAt, idAt + n), k.lengths.subarray(lenAt, lenAt + nSent));
        idAt += n;
        lenAt += nSent;
      }
    });
    documents += res.docs;
    tokens += res.tokens;
    progress.update(bytes, documents, tokens);
  };

  const batchLines = o.batchLines ?? 256;
  const nWorkers = Math.max(1, Math.floor(o.workers ?? 1));
  if (nWorkers === 1) {
    let seq = 0;
    for (const batch of readLineBatches(o.input, batchLines)) {
      bytes = batch.bytesRead;
      write(encodeBatch({ seq: seq++, firstLine: batch.firstLine, lines: batch.lines }, config, tokenizer));
    }
  } else {
    await runPool(nWorkers, config, o.input, batchLines, (b) => (bytes = b), write);
  }
  builders.forEach((b, i) => {
    b.finalize(`${outputs[i]!.prefix}.idx`);
  });
  progress.done(documents, tokens);
  return { documents, tokens, seconds: (performance.now() - start) / 1000, outputs };
}

/** Batches go to idle workers; results are written strictly in input order. */
async function runPool(n: number, config: WorkerConfig, input: string, batchLines: number, onBytes: (b: number) => void, write: (r: BatchResult) => void): Promise<void> {
  const url = workerUrl();
  const workers = Array.from({ length: n }, () => new Worker(url, { workerData: config }));
  const batches = readLineBatches(input, batchLines);
  const done = new Map<number, BatchResult>();
  let nextToWrite = 0;
  let nextSeq = 0;
  let exhausted = false;
  try {
    await new Promise<void>((resolve, reject) => {
      let inFlight = 0;
      const feed = (w: Worker) => {
        if (exhausted) return;
        // Bound the reorder buffer so a slow batch cannot make memory grow without limit.
        if (nextSeq - nextToWrite > 8 * n) return;
        const r = batches.next();
        if (r.done) {
          exhausted = true;
          if (inFlight === 0) resolve();
          return;
        }
        onBytes(r.value.bytesRead);
        inFlight++;
        w.postMessage({ seq: nextSeq++, firstLine: r.value.firstLine, lines: r.value.lines });
      };
      const idle: Worker[] = [];
      for (const w of workers) {
        w.on('error', reject);
        w.on('message', (res: BatchResult) => {
          inFlight--;
          done.set(res.seq, res);
          try {
            while (done.has(nextToWrite)) {
              write(done.get(nextToWrite)!);
              done.delete(nextToWrite++);
            }
          } catch (err) {
            reject(err);
            return;
          }
          idle.push(w);
          while (idle.length && !exhausted && nextSeq - nextToWrite <= 8 * n) feed(idle.shift()!);
          if (exhausted && inFlight === 0) resolve();
        });
        feed(w);
      }
    });
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
}
