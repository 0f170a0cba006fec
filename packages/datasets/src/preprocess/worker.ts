// A preprocessing worker thread: builds the tokenizer once, then encodes the batches it is sent.
import { parentPort, workerData } from 'node:worker_threads';
import { buildTokenizer } from '../tokenizers/build.ts';
import { encodeBatch } from './batch.ts';
import type { BatchRequest, WorkerConfig } from './protocol.ts';

const config = workerData as WorkerConfig;
const tokenizer = buildTokenizer(config.tokenizer);
parentPort!.on('message', (req: BatchRequest) => {
  const res = encodeBatch(req, config, tokenizer);
  parentPort!.postMessage(res, res.keys.flatMap((k) => [k.ids.buffer, k.lengths.buffer, k.sentencesPerDoc.buffer]) as ArrayBuffer[]);
});
