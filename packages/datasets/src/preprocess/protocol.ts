// Messages between the preprocessing main thread and its worker threads.
import type { TokenizerSpec } from '../tokenizers/build.ts';
import type { InputFormat } from './encode.ts';

export interface WorkerConfig {
  tokenizer: TokenizerSpec;
  keys: string[];
  appendEod: boolean;
  format: InputFormat;
  file: string;
}

/** A batch of consecutive lines; firstLine is 1-based. */
export interface BatchRequest {
  seq: number;
  firstLine: number;
  lines: string[];
}

/** Per key: all ids of the batch, every sentence length, and sentences per document. */
export interface BatchResult {
  seq: number;
  keys: { ids: Int32Array; lengths: Int32Array; sentencesPerDoc: Int32Array }[];
  docs: number;
  tokens: number;
  error?: string;
}
