// Opens an indexed dataset in whichever format its .idx is (MMIDIDX or legacy TNTIDX), like
// Megatron's old `--data-impl infer`.
import { closeSync, openSync, readSync } from 'node:fs';
import { idxPath } from './dtype.ts';
import { DatasetFileError } from './errors.ts';
import { checkPartnerFiles, IndexedDataset, type OpenOptions, type SequenceDataset } from './indexed-dataset.ts';
import { LegacyIndexedDataset } from './legacy.ts';
import { isMMIdx, isTNTIdx } from './mmidx.ts';

export type IndexFormat = 'mmap' | 'legacy';

/** 'mmap' for MMIDIDX, 'legacy' for TNTIDX; throws a DatasetFileError naming the file otherwise. */
export function detectIndexFormat(prefix: string): IndexFormat {
  checkPartnerFiles(prefix);
  const file = idxPath(prefix);
  const head = new Uint8Array(9);
  const fd = openSync(file, 'r');
  let n: number;
  try {
    n = readSync(fd, head, 0, 9, 0);
  } finally {
    closeSync(fd);
  }
  if (isMMIdx(head.subarray(0, n))) return 'mmap';
  if (isTNTIdx(head.subarray(0, n))) return 'legacy';
  throw new DatasetFileError(file, n < 8 ? `truncated header: ${n} bytes` : 'wrong magic bytes: neither MMIDIDX nor legacy TNTIDX', 'This is not a Megatron .idx file');
}

export function openIndexedDataset(prefix: string, options: OpenOptions = {}): SequenceDataset {
  return detectIndexFormat(prefix) === 'legacy' ? new LegacyIndexedDataset(prefix, { mode: options.mode }) : new IndexedDataset(prefix, options);
}
